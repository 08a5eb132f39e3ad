"""The Dutch, Norwegian and German catalogues: complete for the current source, nothing fuzzy,
placeholders intact, and actually used when a browser asks for the language (SPEC section 11).

The extraction runs here exactly as `make extract` runs it (same babel.cfg, keywords and
ignored directories, read from the Makefile), so a string added to a template or a view without
a translation fails this module until `make extract` is run and the new msgids are translated.
"""
import ast
import io
import os
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path

import pytest
from babel.messages.frontend import ExtractMessages
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale
from jinja2 import ChainableUndefined
from jinja2.ext import babel_extract

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "translations"
LANGUAGES = ("nl", "nb", "de")
SIGN_IN_TO_KONTOR = {"nl": "Inloggen bij Kontor", "nb": "Logg inn i Kontor",
                     "de": "Bei Kontor anmelden"}
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%]")


def extract_options():
    """Keywords and ignored directories of the Makefile's `extract` target."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in makefile.splitlines() if "pybabel" in line and " extract " in line)
    args = shlex.split(line.split("pybabel", 1)[1])
    keywords = [args[i + 1] for i, arg in enumerate(args) if arg == "-k"]
    ignore = next(arg.split("=", 1)[1] for arg in args if arg.startswith("--ignore-dirs="))
    return keywords, ignore


def read_catalog(path, locale=None):
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale)


def po_path(lang):
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def key(message):
    """What identifies a message: its context and its msgid (a tuple for plural ones)."""
    ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
    return (message.context, tuple(ids))


def forms(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def placeholders(text):
    return sorted(set(PLACEHOLDER.findall(text or "")))


@pytest.fixture(scope="module")
def fresh_catalog(tmp_path_factory):
    """A catalogue extracted from the current source, the way `make extract` does it."""
    keywords, ignore = extract_options()
    output = tmp_path_factory.mktemp("extract") / "messages.pot"
    command = ExtractMessages()
    command.initialize_options()
    command.mapping_file = str(ROOT / "babel.cfg")
    command.keywords = keywords
    command.ignore_dirs = ignore
    command.output_file = str(output)
    command.input_paths = [str(ROOT)]
    command.finalize_options()
    command.run()
    return read_catalog(output)


@pytest.fixture(scope="module")
def fresh_keys(fresh_catalog):
    keys = {key(m) for m in fresh_catalog if m.id}
    assert len(keys) > 100, "the extraction found almost nothing: is babel.cfg right?"
    return keys


@pytest.fixture(scope="module", params=LANGUAGES)
def catalog(request):
    catalog = read_catalog(po_path(request.param), locale=request.param)
    catalog.lang = request.param
    return catalog


@pytest.fixture(scope="module")
def compiled_catalogs():
    """The app reads .mo files: build any that are older than their .po (as `make` would)."""
    for lang in LANGUAGES:
        source = po_path(lang)
        target = source.with_suffix(".mo")
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            temporary = target.with_name(f".messages.{os.getpid()}.mo")
            with open(temporary, "wb") as handle:
                write_mo(handle, read_catalog(source, locale=lang))
            os.replace(temporary, target)


def test_extraction_skips_tests_and_bench_like_babel_cfg():
    """`make extract` and babel.cfg ignore the same directories, so both give one catalogue."""
    _, ignore = extract_options()
    assert {"tests", "bench"} <= set(ignore.split())
    config = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    for folder in ("tests", "bench"):
        assert f"[ignore: {folder}/**]" in config


def test_extraction_finds_no_test_or_bench_strings(fresh_catalog):
    for message in fresh_catalog:
        for filename, _ in message.locations:
            assert not filename.startswith((str(ROOT / "tests"), str(ROOT / "bench"))), filename


def test_messages_pot_is_up_to_date_with_the_source(fresh_keys):
    pot = {key(m) for m in read_catalog(TRANSLATIONS / "messages.pot") if m.id}
    assert sorted(fresh_keys - pot, key=str) == [], "new strings: run `make extract`"
    assert sorted(pot - fresh_keys, key=str) == [], \
        "strings gone from the source: run `make extract`"


def test_catalog_translates_every_message_of_the_source(catalog, fresh_keys):
    translated = {key(m) for m in catalog
                  if m.id and all(s.strip() for s in forms(m.string))}
    missing = sorted(fresh_keys - translated, key=str)
    assert missing == [], \
        f"{catalog.lang}: untranslated, run `make extract` and translate: {missing}"


def test_catalog_has_nothing_fuzzy(catalog):
    assert not catalog.fuzzy, f"{catalog.lang}: the catalogue header is marked fuzzy"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == [], f"{catalog.lang}: fuzzy entries {fuzzy}"


def test_plural_messages_have_every_form(catalog):
    for message in catalog:
        if message.id and message.pluralizable:
            assert len(forms(message.string)) == catalog.num_plurals, message.id
            assert all(s.strip() for s in forms(message.string)), message.id


def test_translations_keep_the_placeholders(catalog):
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        ids = forms(message.id)
        for index, text in enumerate(forms(message.string)):
            source = ids[0] if index == 0 or len(ids) == 1 else ids[1]
            if placeholders(text) != placeholders(source):
                wrong.append((source, text))
    assert wrong == [], f"{catalog.lang}: placeholders changed in {wrong}"


def test_catalog_compiles_without_warnings(catalog):
    """What `pybabel compile` reports as errors (format strings that do not match)."""
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []



# A number followed by a noun in the plural: "%(n)s minutes" reads "1 minutes" for one.
COUNTED_NOUN = re.compile(
    r"%\(\w+\)s[ -](?:\w+ )?(?:seconds|minutes|hours|days|weeks|months|years|entries|"
    r"contacts|characters|passwords|lines|files|cases|messages|users|employees|accounts|"
    r"sessions|times|items|persons|people|words)\b")


def test_every_count_with_a_noun_takes_its_plural_form_from_ngettext(fresh_catalog):
    """A count with a noun is a plural message (ngettext), so each language says "1 minute"
    and "2 minutes" its own way (issue 11 item 9): no singular-only msgid counts a noun."""
    singular_only = [m.id for m in fresh_catalog
                     if m.id and not m.pluralizable and COUNTED_NOUN.search(m.id)]
    assert singular_only == []


GETTEXT_NAMES = {"_", "_l", "gettext", "lazy_gettext", "ngettext", "lazy_ngettext"}


def test_no_translated_string_hides_where_extraction_cannot_see_it():
    """Babel on Python < 3.12 does not look inside f-strings, and `_(f"...")` has no fixed
    msgid: such strings never reach the catalogue and stay English."""
    _, ignore = extract_options()
    ignored = ignore.split()
    hidden = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts[:-1]
        if any(fnmatch(part, pattern) for part in parts for pattern in ignored):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            calls = []
            if isinstance(node, ast.JoinedStr):
                calls = [n for value in node.values for n in ast.walk(value)
                         if isinstance(n, ast.Call)]
            elif isinstance(node, ast.Call) and node.args \
                    and isinstance(node.args[0], ast.JoinedStr):
                calls = [node]
            for call in calls:
                name = getattr(call.func, "id", getattr(call.func, "attr", None))
                if name in GETTEXT_NAMES:
                    hidden.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert hidden == [], f"gettext inside or around an f-string: {hidden}"

@pytest.mark.parametrize("lang", LANGUAGES)
def test_login_page_speaks_the_browser_language(client, compiled_catalogs, lang):
    page = client.get("/login", headers={"Accept-Language": f"{lang},en;q=0.5"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in html
    assert SIGN_IN_TO_KONTOR[lang] in html
    assert "Sign in to Kontor" not in html


@pytest.mark.parametrize("header", ["no", "nn-NO", "nb-NO,nb;q=0.9"])
def test_any_norwegian_browser_gets_bokmal(client, compiled_catalogs, header):
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert '<html lang="nb">' in html
    assert SIGN_IN_TO_KONTOR["nb"] in html


def test_english_stays_the_default(client, compiled_catalogs):
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Sign in to Kontor" in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_email_subjects_are_translated(app, compiled_catalogs, lang):
    """The first line of each templates/email/*.txt is the subject: one msgid, rendered in the
    recipient's language."""

    catalog = read_catalog(po_path(lang), locale=lang)
    env = app.jinja_env.overlay(autoescape=False, undefined=ChainableUndefined)
    templates = sorted((ROOT / "templates" / "email").glob("*.txt"))
    assert templates
    for template in templates:
        first_line = template.read_text(encoding="utf-8").splitlines()[0]
        found = list(babel_extract(io.BytesIO(first_line.encode()), ["_", "gettext"], [], {}))
        assert len(found) == 1, f"{template.name}: the subject line is not one _(...)"
        msgid = forms(found[0][2])[0]   # _("...", company=...) gives ("...", None)
        message = catalog.get(msgid)
        assert message is not None and message.string, \
            f"{template.name}: subject {msgid!r} is not translated"
        with app.test_request_context(), force_locale(lang):
            subject = env.from_string(first_line).render(company=None)
        literal_parts = PLACEHOLDER.split(message.string)
        assert re.fullmatch(".*".join(map(re.escape, literal_parts)), subject), \
            (template.name, subject, message.string)
