"""Uploaded files (SECURITY.md items 29-31): an allow-list of types checked by content, not
only by name; stored under random names in the data folder; the original name kept as data.

Everything that touches the upload folder is here: checking and storing a request's files
(all or none), reading one back, discarding those a wizard no longer lists, and purging the
ones no case refers to.
"""
import io
import secrets
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from kontor.errors import Refused
from kontor.storage import DataFolder, make_folder, write_private
from kontor.text import looks_like_text

# type → (file name endings it may have, how its content starts or is checked)
ALLOWED = {
    "pdf": ((".pdf",), "application/pdf"),
    "png": ((".png",), "image/png"),
    "jpeg": ((".jpg", ".jpeg"), "image/jpeg"),
    "gif": ((".gif",), "image/gif"),
    "text": ((".txt", ".csv", ".log"), "text/plain"),
    "rtf": ((".rtf",), "application/rtf"),
    "office": ((".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"),
               "application/vnd.openxmlformats-officedocument"),
    "zip": ((".zip",), "application/zip"),
}


class FileRefused(Refused):
    """A file Kontor does not accept: `reason` is "type", "empty" or "too_large"; `name` is
    the file's (reduced) original name."""

    def __init__(self, reason, name=""):
        super().__init__(reason, name)
        self.name = name


@dataclass
class Upload:
    """A file that passed `check`, not stored yet."""
    original_name: str
    data: bytes
    content_type: str


class StoredFile(NamedTuple):
    """A file stored in the upload folder, as a case records it (a tuple, so it unpacks as
    (original_name, stored_name, size, content_type))."""
    original_name: str
    stored_name: str
    size: int
    content_type: str


def folder(data_dir) -> Path:
    """The upload folder inside the data folder `data_dir` (a path or text)."""
    return DataFolder(data_dir).uploads


def sniff(data: bytes, name: str):
    """The allowed type `data` really is, given its name, or None."""
    lower = name.lower()
    head = data[:16]
    if head.startswith(b"%PDF-"):
        kind = "pdf"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif head.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        kind = "gif"
    elif head.startswith(b"{\\rtf"):
        kind = "rtf"
    elif head.startswith(b"PK\x03\x04"):
        kind = "office" if lower.endswith(ALLOWED["office"][0]) else "zip"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return None
        if kind == "office" and not any(n in ("[Content_Types].xml", "mimetype")
                                        for n in names):
            return None
    elif looks_like_text(data):
        kind = "text"
    else:
        return None
    endings, _ = ALLOWED[kind]
    return kind if lower.endswith(endings) else None


# the longest original name kept (the column holds 255; room for a browser's " (1)")
MAX_NAME_LENGTH = 200
# an ending longer than this is part of the name, not a file type
_MAX_ENDING = 16


def short_name(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """The name to keep for an uploaded file called `name` (as the browser sent it): its last
    path part (a Windows path too), at most `limit` characters, with its ending kept when it
    has to be shortened ("report … .pdf" stays a PDF: issue 11 item 12); "file" for none."""
    name = Path((name or "").replace("\\", "/")).name.strip()
    if len(name) > limit:
        stem, dot, ending = name.rpartition(".")
        if dot and stem and len(ending) < _MAX_ENDING:
            ending = "." + ending
            name = stem[:limit - len(ending)].rstrip() + ending
        else:
            name = name[:limit]
    return name or "file"


def check(name: str, data: bytes, max_bytes: int) -> Upload:
    """Accept one file or raise FileRefused; the name is reduced to its last path part and
    shortened by `short_name`."""
    original = short_name(name)
    if not data:
        raise FileRefused("empty", original)
    if len(data) > max_bytes:
        raise FileRefused("too_large", original)
    kind = sniff(data, original)
    if kind is None:
        raise FileRefused("type", original)
    return Upload(original, data, ALLOWED[kind][1])


def store(folder: Path, data: bytes) -> str:
    """Write the bytes under a new random name inside `folder`; return that name."""
    make_folder(folder)
    stored = secrets.token_hex(16)
    write_private(folder / stored, data)
    return stored


def check_all(files, max_bytes: int):
    """Check every file, store none: the per-file rules, for a form's validation.

    `files` are (name as uploaded, bytes) pairs; a file's bytes may be cut off one byte past
    `max_bytes` (that already shows it is too large). Returns ([Upload], []) when every file
    passes, else ([], [FileRefused]) with one refusal per refused file."""
    checked, refused = [], []
    for name, data in files:
        try:
            checked.append(check(name, data, max_bytes))
        except FileRefused as refusal:
            refused.append(refusal)
    return ([], refused) if refused else (checked, [])


def store_all(folder: Path, checked) -> list:
    """Store the files `check_all` passed in `folder`; returns their StoredFiles. Raises
    OSError when the folder cannot be written."""
    return [StoredFile(u.original_name, store(folder, u.data), len(u.data), u.content_type)
            for u in checked]


def accept(files, folder: Path, max_bytes: int):
    """Check every file first, then store them all in `folder`: nothing is half-saved.

    `files` are (name as uploaded, bytes) pairs. Returns ([StoredFile], []) when every file
    is accepted, else ([], [FileRefused]) with one refusal per refused file and nothing stored.
    Raises OSError when the folder cannot be written."""
    checked, refused = check_all(files, max_bytes)
    if refused:
        return [], refused
    return store_all(folder, checked), []


def read(folder: Path, stored_name: str) -> bytes:
    """The bytes of the stored file `stored_name`. Raises FileNotFoundError when it is gone,
    ValueError when `stored_name` is not a name `store` gives."""
    return path_of(folder, stored_name).read_bytes()


def discard(folder: Path, stored_names) -> None:
    """Delete these stored files (a wizard's list, cleared or shortened); missing ones are
    skipped. Raises ValueError for a name `store` does not give."""
    for stored_name in stored_names:
        path_of(folder, stored_name).unlink(missing_ok=True)


def path_of(folder: Path, stored_name: str) -> Path:
    """Where the stored file `stored_name` lives in `folder`. Raises ValueError for a name
    that is not one `store` gives (letters and digits only), so no path leaves the folder."""
    if not stored_name.isalnum():
        raise ValueError("not a stored file name")
    return folder / stored_name


def purge_orphans(folder: Path, in_use, older_than_seconds=24 * 3600) -> int:
    """Delete stored files no case refers to (a wizard left half-way), once they are old
    enough that no wizard can still be using them. Returns how many were deleted."""
    if not folder.exists():
        return 0
    cutoff = time.time() - older_than_seconds
    deleted = 0
    for path in folder.iterdir():
        if path.is_file() and path.name.isalnum() and path.name not in in_use \
                and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
