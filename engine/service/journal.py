"""The durable job journal: one SQLite database (WAL) in the user data folder.

Every accepted request is a row *before* the client gets its job id back, so nothing a producer
queued is lost when the engine, the app or the machine dies. One row per job; the state machine:

    queued ──claim──▶ running ──▶ done | failed | cancelled
      │                 │
      │                 ├──crash──▶ queued (attempts < max) | failed (attempts == max)
      │                 └──release─▶ queued (clean stop / preemption: the attempt is not counted)
      └──cancel──▶ cancelled

``attempts`` counts starts (a claim adds one, a release takes it back), so a job that keeps
killing the engine fails after ``max_attempts`` with the crash reason instead of looping.
Every transition is one ``BEGIN IMMEDIATE`` transaction guarded by the expected current state,
so two writers (the service, ``audioldm-bridge jobs cancel`` in another process) can never move
a job twice. Rendering a job twice is harmless: its files carry its id (engine.naming), atomic replace.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .. import paths
from ..errors import BridgeError

SCHEMA_VERSION = 1
JOURNAL_NAME = "jobs.sqlite3"

STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})
#: Lower runs first. The audition lane (short live previews) jumps ahead of batch renders.
LANES: dict[str, int] = {"audition": 0, "batch": 1}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    request          TEXT    NOT NULL,
    lane             TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    preemptions      INTEGER NOT NULL DEFAULT 0,
    preview_every    INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    client_key       TEXT UNIQUE,
    created          REAL    NOT NULL,
    started          REAL,
    finished         REAL,
    updated          REAL    NOT NULL,
    outputs          TEXT    NOT NULL DEFAULT '[]',
    error            TEXT,
    notes            TEXT    NOT NULL DEFAULT '[]',
    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled'))
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority, id);
"""


class JournalError(BridgeError):
    """The journal cannot be opened or a transition is not allowed."""


class InvalidTransition(JournalError):
    """A job is not in the state a transition expects (e.g. finishing a job that was cancelled)."""


class JournalCorrupt(JournalError):
    """The journal file is unreadable; only the service holding its lock may move it aside."""


class JournalLocked(JournalError):
    """Another service already owns this journal."""


def default_path() -> Path:
    return paths.data_dir() / JOURNAL_NAME


@dataclass(frozen=True)
class JobRecord:
    """One row of the journal, as plain data."""

    id: int
    request_json: str
    lane: str
    state: str
    attempts: int
    preemptions: int
    preview_every: int
    cancel_requested: bool
    client_key: str | None
    created: float
    started: float | None
    finished: float | None
    updated: float
    outputs: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def request(self):
        from ..request import RenderRequest

        return RenderRequest.from_json(self.request_json)

    @property
    def request_dict(self) -> dict[str, Any]:
        return json.loads(self.request_json)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "lane": self.lane, "attempts": self.attempts,
            "preemptions": self.preemptions, "preview_every": self.preview_every,
            "cancel_requested": self.cancel_requested, "client_key": self.client_key,
            "created": _iso(self.created), "started": _iso(self.started),
            "finished": _iso(self.finished), "outputs": list(self.outputs), "error": self.error,
            "notes": list(self.notes), "request": self.request_dict,
        }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def _row(r: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=r["id"], request_json=r["request"], lane=r["lane"], state=r["state"],
        attempts=r["attempts"], preemptions=r["preemptions"], preview_every=r["preview_every"],
        cancel_requested=bool(r["cancel_requested"]), client_key=r["client_key"],
        created=r["created"], started=r["started"], finished=r["finished"], updated=r["updated"],
        outputs=tuple(json.loads(r["outputs"] or "[]")), error=r["error"],
        notes=tuple(json.loads(r["notes"] or "[]")),
    )


class Journal:
    """Thread-safe access to the job journal (one SQLite connection behind a lock, WAL mode).

    Readers in other processes (``audioldm-bridge jobs``) see committed state at any time; only
    one service may *run* jobs from a journal, which :class:`ServiceLock` enforces.
    """

    def __init__(self, path: str | Path | None = None, *, busy_timeout_s: float = 10.0,
                 recover: bool = False) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.busy_timeout_s = busy_timeout_s
        #: Set when an unreadable journal was moved aside and a fresh one started.
        self.recovered_from: Path | None = None
        # One connection behind a lock, for every thread: a thread-per-packet server (OSC) must not
        # leave a connection per thread behind (tests/test_service_journal.py counts descriptors).
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the data folder {self.path.parent}: {exc.strerror}") from exc
        self._open_schema(recover)

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk (WAL fsynced) before the client hears "accepted".
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _open_schema(self, recover: bool) -> None:
        try:
            conn = self._connect()
            try:
                self._create(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise JournalError(f"the job journal {self.path} is locked by another program") from exc
            if not recover:
                # Only the service that holds the lock may move it aside (a second front end
                # must never move a live journal away from the service using it).
                raise JournalCorrupt(
                    f"the job journal {self.path} is unreadable ({exc}); start the service "
                    f"(audioldm-bridge serve) to keep a copy of it and begin a new one") from exc
            # Unreadable (not a database, malformed): keep it for inspection, start a fresh one.
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(aside) + suffix))
            self.recovered_from = aside
            conn = self._connect()
            try:
                self._create(conn)
            finally:
                conn.close()

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the job journal was written by a newer audioldm-bridge (schema {version}); update the app"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Fail early on a damaged file rather than in the middle of a transition.
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check}")

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """The connection, held by this thread for the block."""
        with self._lock:
            if self._closed:
                raise JournalError("the job journal is closed")
            if self._connection is None:
                self._connection = self._connect()
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None:
                try:
                    self._connection.close()
                except sqlite3.Error:
                    pass
                self._connection = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error), holding the connection."""
        with self._use() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ reading
    def get(self, job_id: int) -> JobRecord | None:
        return _row(r) if (r := self._one("SELECT * FROM jobs WHERE id = ?", (int(job_id),))) else None

    def get_by_key(self, client_key: str) -> JobRecord | None:
        """The job submitted with this idempotency key (an OSC client's job id), if any."""
        return _row(r) if (r := self._one("SELECT * FROM jobs WHERE client_key = ?", (str(client_key),))) else None

    def list(self, states: Iterable[str] | None = None, *, limit: int | None = None,
             newest_first: bool = False) -> list[JobRecord]:
        sql, args = "SELECT * FROM jobs", []
        if states is not None:
            states = list(states)
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += states
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_row(r) for r in self._all(sql, args)]

    def queue(self) -> list[JobRecord]:
        """Queued jobs in the order they will run."""
        return [_row(r) for r in self._all("SELECT * FROM jobs WHERE state = 'queued' ORDER BY priority, id")]

    def queued_after(self, job_id: int) -> list[JobRecord]:
        """Queued jobs with an id above ``job_id`` (jobs another process added since), oldest first."""
        return [_row(r) for r in self._all("SELECT * FROM jobs WHERE state = 'queued' AND id > ? ORDER BY id",
                                           (int(job_id),))]

    def max_id(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(id), 0) FROM jobs")[0])

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self._all("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def has_queued(self, lane: str | None = None) -> bool:
        if lane is None:
            return self._one("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1") is not None
        return self._one("SELECT 1 FROM jobs WHERE state = 'queued' AND lane = ? LIMIT 1", (lane,)) is not None

    def cancel_requested(self, job_id: int) -> bool:
        r = self._one("SELECT cancel_requested FROM jobs WHERE id = ?", (int(job_id),))
        return bool(r and r[0])

    def _one(self, sql: str, args: tuple | list = ()) -> sqlite3.Row | None:
        with self._use() as c:
            return c.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._use() as c:
            return c.execute(sql, args).fetchall()

    def __iter__(self) -> Iterator[JobRecord]:
        return iter(self.list())

    # ------------------------------------------------------------------ writing
    def add(self, request_json: str, lane: str = "batch", *, preview_every: int = 0,
            client_key: str | None = None) -> tuple[JobRecord, bool]:
        """Persist a new queued job; returns ``(record, created)``.

        With ``client_key``, submitting again (a client retrying after a timeout) returns the
        existing job instead of queueing a duplicate.
        """
        if lane not in LANES:
            raise JournalError(f"unknown lane {lane!r}; use one of: {', '.join(LANES)}")
        now = time.time()
        with self._tx() as c:
            if client_key is not None:
                r = c.execute("SELECT * FROM jobs WHERE client_key = ?", (client_key,)).fetchone()
                if r is not None:
                    return _row(r), False
            cur = c.execute(
                "INSERT INTO jobs (request, lane, priority, state, preview_every, client_key, created, updated)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                (request_json, lane, LANES[lane], int(preview_every), client_key, now, now))
            r = c.execute("SELECT * FROM jobs WHERE id = ?", (cur.lastrowid,)).fetchone()
            return _row(r), True

    def claim_next(self) -> JobRecord | None:
        """Move the first queued job (audition lane first, then oldest) to running; attempts + 1."""
        now = time.time()
        with self._tx() as c:
            r = c.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority, id LIMIT 1").fetchone()
            if r is None:
                return None
            c.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, started = ?, updated = ?,"
                      " finished = NULL WHERE id = ?", (now, now, r["id"]))
            return _row(c.execute("SELECT * FROM jobs WHERE id = ?", (r["id"],)).fetchone())

    def _move(self, c: sqlite3.Connection, job_id: int, expect: tuple[str, ...], sets: str,
              args: tuple) -> JobRecord:
        cur = c.execute(f"UPDATE jobs SET {sets}, updated = ? WHERE id = ? AND state IN "
                        f"({','.join('?' * len(expect))})", (*args, time.time(), int(job_id), *expect))
        if cur.rowcount != 1:
            r = c.execute("SELECT state FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
            now = r["state"] if r else "missing"
            raise InvalidTransition(f"job {job_id} is {now}, expected {' or '.join(expect)}")
        return _row(c.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone())

    def finish(self, job_id: int, outputs: list[str]) -> JobRecord:
        with self._tx() as c:
            return self._move(c, job_id, ("running",), "state = 'done', finished = ?, outputs = ?, error = NULL",
                              (time.time(), json.dumps([str(p) for p in outputs])))

    def fail(self, job_id: int, error: str) -> JobRecord:
        with self._tx() as c:
            return self._move(c, job_id, ("running",), "state = 'failed', finished = ?, error = ?",
                              (time.time(), error))

    def mark_cancelled(self, job_id: int, note: str | None = None) -> JobRecord:
        """A running job stopped because it was cancelled."""
        with self._tx() as c:
            rec = self._move(c, job_id, ("running",), "state = 'cancelled', finished = ?", (time.time(),))
            if note:
                rec = self._note(c, rec, note)
            return rec

    def cancel(self, job_id: int) -> tuple[str | None, JobRecord | None]:
        """Cancel a job: a queued one is cancelled at once; a running one is flagged
        (``cancel_requested``) and the service stops it. Returns ``(state before, record after)``;
        ``(None, None)`` for an unknown id; a finished job is left unchanged."""
        now = time.time()
        with self._tx() as c:
            r = c.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
            if r is None:
                return None, None
            before = r["state"]
            if before == "queued":
                c.execute("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished = ?, updated = ?"
                          " WHERE id = ?", (now, now, r["id"]))
            elif before == "running":
                c.execute("UPDATE jobs SET cancel_requested = 1, updated = ? WHERE id = ?", (now, r["id"]))
            return before, _row(c.execute("SELECT * FROM jobs WHERE id = ?", (r["id"],)).fetchone())

    def release(self, job_id: int, note: str, *, preempted: bool = False) -> JobRecord:
        """Put a running job back in the queue without counting the attempt (clean stop, preemption).
        A job whose cancel was requested meanwhile ends cancelled instead."""
        with self._tx() as c:
            r = c.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
            if r is not None and r[0]:
                return self._move(c, job_id, ("running",), "state = 'cancelled', finished = ?", (time.time(),))
            rec = self._move(c, job_id, ("running",),
                             "state = 'queued', attempts = MAX(attempts - 1, 0), started = NULL,"
                             " preemptions = preemptions + ?", (1 if preempted else 0,))
            return self._note(c, rec, note)

    def requeue_after_crash(self, job_id: int, reason: str, max_attempts: int) -> JobRecord:
        """The engine died while this job ran: queue it again, or fail it after ``max_attempts``."""
        with self._tx() as c:
            r = c.execute("SELECT attempts, cancel_requested FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
            if r is not None and r["cancel_requested"]:
                rec = self._move(c, job_id, ("running",), "state = 'cancelled', finished = ?", (time.time(),))
                return self._note(c, rec, f"engine died while cancelling: {reason}")
            attempts = r["attempts"] if r is not None else 0
            if attempts >= max_attempts:
                error = (f"the engine crashed {attempts} times while rendering this job "
                         f"(last: {reason}); not retrying")
                rec = self._move(c, job_id, ("running",), "state = 'failed', finished = ?, error = ?",
                                 (time.time(), error))
            else:
                rec = self._move(c, job_id, ("running",), "state = 'queued', started = NULL", ())
            return self._note(c, rec, f"attempt {attempts}: {reason}")

    def recover(self, max_attempts: int, reason: str = "the service stopped while this job was running"
                ) -> list[JobRecord]:
        """On service start: jobs left 'running' by a dead service go back to the queue (the attempt
        counts), or fail once they used ``max_attempts``."""
        out = []
        for rec in self.list(["running"]):
            try:
                out.append(self.requeue_after_crash(rec.id, reason, max_attempts))
            except InvalidTransition:
                pass
        return out

    def retry(self, job_id: int) -> JobRecord:
        """Queue a failed or cancelled job again, with fresh attempts."""
        with self._tx() as c:
            rec = self._move(c, job_id, ("failed", "cancelled"),
                             "state = 'queued', attempts = 0, cancel_requested = 0, started = NULL,"
                             " finished = NULL, error = NULL", ())
            return self._note(c, rec, "retried by the user")

    def _note(self, c: sqlite3.Connection, rec: JobRecord, note: str) -> JobRecord:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        notes = list(rec.notes)[-19:] + [f"{stamp} {note}"]
        c.execute("UPDATE jobs SET notes = ? WHERE id = ?", (json.dumps(notes), rec.id))
        return _row(c.execute("SELECT * FROM jobs WHERE id = ?", (rec.id,)).fetchone())


class ServiceLock:
    """An exclusive lock file next to the journal: one running service per journal, released by
    the OS when the process dies (so a crashed app never leaves a stale lock)."""

    def __init__(self, journal_path: Path) -> None:
        self.path = Path(str(journal_path) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_fd(fd)
        except OSError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() if hasattr(os, "pread") else "?"
            except OSError:
                holder = "?"
            os.close(fd)
            raise JournalLocked(
                f"another audioldm-bridge service (pid {holder or '?'}) is already running jobs from "
                f"{self.path.with_suffix('')}; stop it first, or use its client"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            _unlock_fd(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_fd(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
