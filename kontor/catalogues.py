"""The compiled translations (translations/<lang>/LC_MESSAGES/messages.mo), built from the
.po files when missing or older: `make run` compiles them, but `python app.py` on a fresh
checkout would otherwise speak English only, without a word (found by a new user's try)."""
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def compile_missing(folder: Path = TRANSLATIONS) -> list:
    """Compile every messages.po under `folder` whose messages.mo is missing or older.
    Returns the language codes compiled (e.g. ["de", "nb"]); [] when all were current.
    Raises OSError when a .mo cannot be written."""
    compiled = []
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        with mo.open("wb") as target:
            write_mo(target, catalog)
        compiled.append(po.parent.parent.name)
    return compiled
