"""Importing a checked CSV file into the contact register without locking anyone out
(issue 10 item 1; SPEC section 11, "Nobody waits on anybody").

Still all or nothing, but never one long write transaction:

- The customer numbers of the lines without one are allocated in one step, in the first
  transaction: after the highest number in the register and in the file. That transaction
  writes the line with the highest number only: from its commit on, the register's highest
  number is the import's, so a contact someone else creates meanwhile gets the next number
  after it and never one the import still has to write.
- The other lines follow in batches of up to `config.CSV_IMPORT_BATCH_ROWS`, highest numbers
  first, each its own short transaction of a few bulk statements made before it begins
  (`contacts.insert_statements`): the write lock is held while the database works, not while
  Python prepares the rows. A batch that held the lock longer than
  `config.CSV_IMPORT_BATCH_SECONDS` (a busy machine; the search index grows dearer as the
  register grows) makes the next one smaller, and between two batches there is a pause of
  `config.CSV_IMPORT_PAUSE_SECONDS` at least, so that every writer waiting gets its turn.
- Every contact carries the import's id (`Contact.contact_import`). When a batch fails (a
  customer number from the file that someone else took meanwhile, a database error) the
  import's contacts are deleted again, also in short transactions, with what was created with
  them (change history, search index: the foreign keys and triggers do that), and the import
  is marked failed with the reason. While it runs, its contacts appear in the register;
  afterwards it is all there or none of it.
- Progress (`done` of `total`) is stored on the ContactImport row in each batch's
  transaction, so any process can show it. A running import that stops moving (its process
  ended) is taken out by `undo_abandoned`, run by a scheduled job.

Nothing here imports Flask: the view starts the work of a large file in a thread
(`start_in_background`, which reads the file there too), tests and the bench call `run`.
"""
import json
import logging
import threading
import time

from peewee import IntegrityError, fn

from kontor import audit, config, contact_io, contacts, maintenance, memory
from models import Contact, ContactChange, ContactImport, SupportCase, db
from models.clock import utcnow

log = logging.getLogger("kontor.contact_import")

RUNNING, DONE, FAILED = "running", "done", "failed"
LARGE_IMPORT = 1000    # contacts from which an import refreshes the planner's statistics

# imports running in a thread of this process, by id (for `wait`)
_threads = {}
_threads_lock = threading.Lock()


class ImportFailed(Exception):
    """The import was undone: nothing of it is left. `reason` is the code stored on the
    ContactImport ("number_taken", "interrupted" or "failed"), `detail` its value."""

    def __init__(self, reason, detail=""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def start(preview, user=None) -> ContactImport:
    """Record a new import of a clean `preview` (contact_io.Preview) by `user` (an id or None)
    and return its ContactImport (status "running", `total` its rows). Raises ValueError when
    the preview has errors: a file with a wrong line imports nothing."""
    if not preview.ok:
        raise ValueError("the preview has errors")
    return start_file(len(preview.rows) + len(preview.updates), user)


def start_file(lines, user=None) -> ContactImport:
    """Record a new import of a file of about `lines` contacts, not read yet (`run_file`)."""
    with db.atomic():
        return ContactImport.create(user=user, total=lines)


def lines_in(raw: bytes) -> int:
    """About how many contacts the CSV file `raw` holds (its lines but the header; a line
    break inside a quoted cell counts too; a last line without a line break counts): decides
    whether it is read in the background, and is the progress page's total until then."""
    lines = max(raw.count(b"\n"), raw.count(b"\r"))
    if raw.strip() and not raw.endswith((b"\n", b"\r")):
        lines += 1
    return max(0, lines - 1)


def import_rows(preview, user=None) -> int:
    """Create every contact of a clean preview (contact_io.Preview), all or nothing, in short
    batches, within the caller's thread; `user` is an id or None. Returns the number
    created. Raises ValueError when the preview has errors, ImportFailed when the import was
    undone (nothing of it is left)."""
    record = start(preview, user)
    return run(record.id, preview, user)


def run_file(import_id, raw: bytes, user=None, existing="new") -> int:
    """Read the CSV file `raw` (as contact_io.parse does for the preview), then `run` the
    started import `import_id` with it; for a large file, in the background, so that the
    request that confirmed it answers at once. The import's `total` becomes the file's
    number of contacts. When a line is wrong now (a customer number taken since the preview)
    nothing is imported: the import is marked failed with reason "file_errors" and
    ImportFailed is raised. `existing` is what becomes of lines like contacts in the register
    (contact_io.EXISTING; issue 11 item 10)."""
    preview = contact_io.parse(raw, existing)
    if not preview.ok:
        undo(import_id, "file_errors", str(len(preview.errors)))
        raise ImportFailed("file_errors", str(len(preview.errors)))
    with db.atomic():
        ContactImport.update(total=len(preview.rows) + len(preview.updates),
                             updated_at=utcnow()).where(ContactImport.id == import_id).execute()
    return run(import_id, preview, user)


def _in_order(preview):
    """The rows as (given number or None, values), highest number first: the lines without
    a number from the file's last to its first (they get the highest numbers, in the file's
    order), then the given numbers from high to low."""
    automatic = [(None, values) for _line, values in reversed(preview.rows)
                 if not values.get("customer_number")]
    given = sorted(((values["customer_number"], values) for _line, values in preview.rows
                    if values.get("customer_number")), key=lambda row: -row[0])
    return automatic + given


def _allocate(rows):
    """Give every row without a number its number, in one step: one read of the register's
    highest number, then a run of numbers above it and above every number of the file. The
    first row gets the highest. Call inside the first batch's transaction."""
    automatic = sum(1 for number, _values in rows if number is None)
    if not automatic:
        return rows
    highest = max([Contact.select(fn.MAX(Contact.customer_number)).scalar() or 0]
                  + [number for number, _values in rows if number is not None])
    first = max(contacts.FIRST_CUSTOMER_NUMBER, highest + 1)
    top = first + automatic - 1
    return [(top - index if number is None else number, values)
            for index, (number, values) in enumerate(rows)]


def run(import_id, preview, user=None, after_batch=None) -> int:
    """Create every contact of the clean `preview` for the started import `import_id`: the
    first line in a transaction of its own (with the numbers' allocation), then batches of
    up to `config.CSV_IMPORT_BATCH_ROWS` (see the module's docstring), each its own short
    transaction that also moves the import's `done` count. `after_batch(done, total)` is
    called after each batch is committed (progress; nothing is locked then). Then the
    preview's `updates` (a file imported with "update the existing contact") are saved in
    batches too (`_update_existing`). Returns the number of contacts created and updated and
    marks the import done (audit entry "contacts.imported"); after LARGE_IMPORT contacts or
    more, refreshes the planner's statistics (kontor/maintenance.py).

    On any failure every contact of the import is deleted again (`undo`), the import is marked
    failed, and ImportFailed is raised: reason "number_taken" with the number when a customer
    number of the file was taken meanwhile, else "failed" (the error is logged)."""
    rows = _in_order(preview)
    total = len(rows) + len(preview.updates)
    size = max(1, config.CSV_IMPORT_BATCH_ROWS)
    done = 0
    try:
        # The first transaction allocates the numbers and writes the line with the highest
        # one: from its commit on, a contact created meanwhile is numbered after the import.
        if rows:
            with db.atomic():
                rows = _allocate(rows)
                contacts.run_statements(contacts.insert_statements(rows[:1], user, import_id))
                done = _progress(import_id, 1)
            if after_batch is not None:
                after_batch(done, total)
        position, gap_started = 1, time.perf_counter()
        while position < len(rows):
            # made before the write lock is taken: the transaction only runs the SQL
            statements = contacts.insert_statements(rows[position:position + size], user,
                                                    import_id)
            # SQLite's waiting writers retry every 100 ms at most: a pause lets each of them in
            time.sleep(max(0.0, config.CSV_IMPORT_PAUSE_SECONDS
                           - (time.perf_counter() - gap_started)))
            started = time.perf_counter()
            with db.atomic():
                contacts.run_statements(statements)
                done = _progress(import_id, min(len(rows), position + size))
            gap_started = time.perf_counter()
            position += size
            size = _next_size(size, gap_started - started)
            if after_batch is not None:
                after_batch(done, total)
        done = _update_existing(import_id, preview.updates, user, done, total, after_batch)
    except Exception as exc:
        if db.in_transaction():     # a caller's transaction: nothing of it can be kept anyway
            raise
        reason, detail = _why(exc, rows, import_id)
        if reason == "failed":
            log.exception("contact import %s failed", import_id)
        undo(import_id, reason, detail)
        raise ImportFailed(reason, detail) from exc
    with db.atomic():
        ContactImport.update(status=DONE, updated_at=utcnow(), finished_at=utcnow()).where(
            ContactImport.id == import_id).execute()
        audit.record("contacts.imported", user=user, detail=f"{total} contacts")
    if total >= LARGE_IMPORT:
        # the planner's statistics of the register as it is now, not as it was before a
        # large import (issue 12 item 28); a few rows more change no plan
        maintenance.refresh_statistics(tables=("contact",))
    return total


def _update_existing(import_id, updates, user, done, total, after_batch):
    """Update the contacts of `updates` ((line, values) pairs of the preview, found by their
    customer number) after every new contact is written: in batches of
    `config.CSV_IMPORT_BATCH_ROWS`, each its own short transaction that also moves the import's
    `done`, with a pause between them. Each update is an ordinary edit (contacts.update: the
    change history, the search index) whose history row carries the import's id: `undo`
    puts the old values back when a later batch fails. An unchanged contact is left alone.
    Returns the new `done`. Rule: issue 11 item 10; all or nothing: issue 10 item 1."""
    size = max(1, config.CSV_IMPORT_BATCH_ROWS)
    for start_at in range(0, len(updates), size):
        batch = updates[start_at:start_at + size]
        time.sleep(config.CSV_IMPORT_PAUSE_SECONDS if done else 0)
        with db.atomic():
            for _line, values in batch:
                current = Contact.get(Contact.customer_number == values["customer_number"])
                contacts.update(current.id, values, current.version, user,
                                contact_import=import_id)
            done = _progress(import_id, done + len(batch))
        if after_batch is not None:
            after_batch(done, total)
    return done


def _next_size(size, held):
    """The next batch's size after one that held the write lock `held` seconds: smaller
    when it took longer than config.CSV_IMPORT_BATCH_SECONDS (a busy machine), back up to
    config.CSV_IMPORT_BATCH_ROWS when it was quick."""
    largest = max(1, config.CSV_IMPORT_BATCH_ROWS)
    smallest = min(largest, config.CSV_IMPORT_MIN_BATCH_ROWS)
    if held > config.CSV_IMPORT_BATCH_SECONDS:
        return max(smallest, int(size * config.CSV_IMPORT_BATCH_SECONDS / held))
    if held < config.CSV_IMPORT_BATCH_SECONDS / 2:
        return min(largest, size * 2)
    return size


def _progress(import_id, done):
    ContactImport.update(done=done, updated_at=utcnow()).where(
        ContactImport.id == import_id).execute()
    return done


def _why(exc, rows, import_id):
    """The reason code and detail of a failed batch."""
    if isinstance(exc, IntegrityError):
        numbers = [number for number, _values in rows if number is not None]
        for start_at in range(0, len(numbers), 1000):
            taken = (Contact.select(Contact.customer_number)
                     .where(Contact.customer_number.in_(numbers[start_at:start_at + 1000]),
                            Contact.contact_import.is_null()
                            | (Contact.contact_import != import_id))
                     .order_by(Contact.customer_number).limit(1).scalar())
            if taken is not None:
                return "number_taken", str(taken)
    return "failed", ""


def undo(import_id, reason="failed", detail="") -> int:
    """Delete every contact of import `import_id` (with their change history, persons and
    notes, and their search index entries: foreign keys and triggers), in transactions of
    `config.CSV_IMPORT_BATCH_ROWS` contacts, put back the values of the existing contacts it
    updated (`_undo_updates`), and mark the import failed with `reason` and `detail`. Returns
    how many contacts were deleted. The register is then as before, but for a contact that
    someone opened a support case for meanwhile (kept) and a contact someone edited after the
    import updated it (their edit stands)."""
    _undo_updates(import_id)
    size = max(1, config.CSV_IMPORT_BATCH_ROWS)
    deleted = 0
    in_use = fn.EXISTS(SupportCase.select(SupportCase.id).where(SupportCase.contact == Contact.id))
    while True:
        with db.atomic():
            ids = [contact_id for (contact_id,) in Contact.select(Contact.id)
                   .where(Contact.contact_import == import_id, ~in_use).limit(size).tuples()]
            if ids:
                deleted += Contact.delete().where(Contact.id.in_(ids)).execute()
        if not ids:
            break
    with db.atomic():
        # a contact someone opened a support case for while the import ran stays (deleting
        # it would take their case with it); it is no longer the import's
        Contact.update(contact_import=None).where(Contact.contact_import == import_id).execute()
        ContactImport.update(status=FAILED, failure=reason, detail=detail[:200],
                             updated_at=utcnow(), finished_at=utcnow()).where(
            ContactImport.id == import_id).execute()
    return deleted


def _undo_updates(import_id):
    """Put back the old values of every contact import `import_id` updated, newest change
    first, as an ordinary edit (history, search index) by the import's user, in transactions
    of `config.CSV_IMPORT_BATCH_ROWS` changes. A contact edited since is left as it is now
    (contacts.update refuses the stale version). Returns how many were put back."""
    record = ContactImport.get_or_none(ContactImport.id == import_id)
    user = record.user_id if record is not None else None
    size = max(1, config.CSV_IMPORT_BATCH_ROWS)
    restored, after = 0, None
    while True:
        query = (ContactChange.select().where(ContactChange.contact_import == import_id)
                 .order_by(ContactChange.id.desc()).limit(size))
        if after is not None:
            query = query.where(ContactChange.id < after)
        changes = list(query)
        if not changes:
            return restored
        with db.atomic():
            for change in changes:
                old = {field: values[0] for field, values in json.loads(change.changes).items()}
                try:
                    contacts.update(change.contact_id, old, change.version, user)
                    restored += 1
                except (contacts.EditConflict, Contact.DoesNotExist):
                    pass       # edited or deleted since: what is there now stands
        after = changes[-1].id


def undo_abandoned(older_than=None) -> int:
    """Undo every import still "running" whose progress has not moved for `older_than` (a
    timedelta; default config.CSV_IMPORT_ABANDONED_AFTER): its process ended half-way.
    Reason "interrupted". Returns how many imports were undone. Run by a scheduled job."""
    cutoff = utcnow() - (older_than or config.CSV_IMPORT_ABANDONED_AFTER)
    stale = [record.id for record in ContactImport.select(ContactImport.id)
             .where(ContactImport.status == RUNNING, ContactImport.updated_at < cutoff)]
    for import_id in stale:
        undo(import_id, "interrupted")
    return len(stale)


def start_in_background(import_id, raw: bytes, user=None, existing="new"):
    """Run `run_file(import_id, raw, user, existing)` in a thread of this process with its
    own database connection; returns the thread. Its result is on the ContactImport row; a
    failure is recorded there too."""
    def work():
        try:
            with db.connection_context():
                run_file(import_id, raw, user, existing)
        except ImportFailed:
            pass                       # recorded on the import; nothing left of it
        except Exception:              # never let a thread die silently
            log.exception("contact import %s stopped", import_id)
        finally:
            with _threads_lock:
                _threads.pop(import_id, None)
            memory.give_back_free_memory()    # the file's rows were tens of MB

    thread = threading.Thread(target=work, name=f"contact-import-{import_id}", daemon=True)
    with _threads_lock:
        _threads[import_id] = thread
    thread.start()
    return thread


def wait(timeout=None):
    """Wait for every import running in a thread of this process to end (`timeout` seconds
    each at most; None: as long as they take). For tests and a clean shutdown."""
    with _threads_lock:
        running = list(_threads.values())
    for thread in running:
        thread.join(timeout)


def visible_to(record, user) -> bool:
    """Whether `user` may see import `record`: the user who started it, and superusers."""
    return record is not None and (user.is_superuser or record.user_id == user.id)
