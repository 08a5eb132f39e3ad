"""`python app.py` on a fresh checkout compiles the translations it needs (found by a new
user's try: without `make`, every page stayed English)."""
import os
import shutil

from babel.messages.mofile import read_mo

from kontor import catalogues


def test_missing_or_older_catalogues_are_compiled_and_current_ones_left(tmp_path):
    shutil.copytree(catalogues.TRANSLATIONS, tmp_path / "translations",
                    ignore=shutil.ignore_patterns("*.mo"))
    folder = tmp_path / "translations"
    assert catalogues.compile_missing(folder) == ["de", "nb", "nl"]
    with (folder / "nl/LC_MESSAGES/messages.mo").open("rb") as mo:
        assert read_mo(mo).get("Contacts").string == "Relaties"
    assert catalogues.compile_missing(folder) == []
    po = folder / "nb/LC_MESSAGES/messages.po"
    later = po.with_suffix(".mo").stat().st_mtime + 10     # edited after compiling
    os.utime(po, (later, later))
    assert catalogues.compile_missing(folder) == ["nb"]
