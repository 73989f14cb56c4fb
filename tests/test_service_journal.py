"""The job journal: durability, the state machine, attempts, recovery, concurrency, locking."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.request import RenderRequest
from engine.service import RenderService
from engine.service.journal import (InvalidTransition, Journal, JournalCorrupt, JournalError, JournalLocked,
                                    ServiceLock, default_path)

REPO = Path(__file__).resolve().parents[1]


def req(seed: int = 1, prompt: str = "a low kick drum") -> str:
    return RenderRequest(prompt=prompt, duration_s=0.5, steps=2, seed=seed).to_json()


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "jobs.sqlite3")
    yield j
    j.close()


def test_default_location_is_the_user_data_folder(tmp_path):
    assert default_path() == tmp_path / "data" / "jobs.sqlite3"  # conftest points the data folder here
    j = Journal()
    try:
        assert j.path.is_file()
    finally:
        j.close()


def test_wal_mode_and_persisted_before_acknowledged(journal, tmp_path):
    rec, created = journal.add(req(7), "batch")
    assert created and rec.state == "queued" and rec.attempts == 0 and rec.id >= 1
    # A separate connection (another process would do the same) sees the committed row at once.
    conn = sqlite3.connect(tmp_path / "jobs.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        state, text = conn.execute("SELECT state, request FROM jobs WHERE id = ?", (rec.id,)).fetchone()
    finally:
        conn.close()
    assert state == "queued"
    assert RenderRequest.from_json(text).seed == 7
    assert rec.request.seed == 7


def test_full_lifecycle_with_timestamps_and_outputs(journal):
    rec, _ = journal.add(req(), "batch")
    claimed = journal.claim_next()
    assert claimed.id == rec.id and claimed.state == "running" and claimed.attempts == 1
    assert claimed.started is not None and claimed.finished is None
    done = journal.finish(rec.id, ["/lib/a.wav", "/lib/b.wav"])
    assert done.state == "done" and done.outputs == ("/lib/a.wav", "/lib/b.wav")
    assert done.created <= done.started <= done.finished
    assert journal.claim_next() is None
    assert journal.counts() == {"queued": 0, "running": 0, "done": 1, "failed": 0, "cancelled": 0}


def test_transitions_are_guarded(journal):
    rec, _ = journal.add(req(), "batch")
    with pytest.raises(InvalidTransition, match="queued"):
        journal.finish(rec.id, [])
    with pytest.raises(InvalidTransition):
        journal.fail(rec.id, "x")
    journal.claim_next()
    journal.fail(rec.id, "model missing")
    with pytest.raises(InvalidTransition, match="failed"):
        journal.finish(rec.id, [])
    with pytest.raises(InvalidTransition, match="missing"):
        journal.finish(9999, [])
    assert journal.get(rec.id).error == "model missing"


def test_audition_lane_runs_first_then_oldest(journal):
    ids = [journal.add(req(i), "batch")[0].id for i in range(3)]
    audition = journal.add(req(10), "audition")[0].id
    assert [r.id for r in journal.queue()] == [audition] + ids
    assert [journal.claim_next().id for _ in range(4)] == [audition] + ids


def test_unknown_lane_is_refused(journal):
    with pytest.raises(JournalError, match="lane"):
        journal.add(req(), "vip")


def test_crash_requeues_until_max_attempts_then_fails_with_reason(journal):
    rec, _ = journal.add(req(), "batch")
    for attempt in (1, 2):
        assert journal.claim_next().attempts == attempt
        back = journal.requeue_after_crash(rec.id, "engine process killed by SIGKILL", max_attempts=3)
        assert back.state == "queued" and back.attempts == attempt and back.started is None
    assert journal.claim_next().attempts == 3
    failed = journal.requeue_after_crash(rec.id, "engine process killed by SIGSEGV", max_attempts=3)
    assert failed.state == "failed"
    assert "3 times" in failed.error and "SIGSEGV" in failed.error
    assert len(failed.notes) == 3


def test_release_does_not_count_the_attempt(journal):
    rec, _ = journal.add(req(), "batch")
    journal.claim_next()
    back = journal.release(rec.id, "the service stopped")
    assert back.state == "queued" and back.attempts == 0 and back.preemptions == 0
    journal.claim_next()
    back = journal.release(rec.id, "preempted", preempted=True)
    assert back.attempts == 0 and back.preemptions == 1
    assert any("preempted" in n for n in back.notes)


def test_cancel_queued_and_running(journal):
    a, _ = journal.add(req(1), "batch")
    b, _ = journal.add(req(2), "batch")
    before, rec = journal.cancel(a.id)
    assert before == "queued" and rec.state == "cancelled" and rec.finished is not None
    assert journal.claim_next().id == b.id  # a cancelled job never runs
    before, rec = journal.cancel(b.id)
    assert before == "running" and rec.state == "running" and rec.cancel_requested
    assert journal.cancel_requested(b.id)
    assert journal.mark_cancelled(b.id).state == "cancelled"
    before, rec = journal.cancel(b.id)  # cancelling twice changes nothing
    assert before == "cancelled" and rec.state == "cancelled"
    assert journal.cancel(12345) == (None, None)


def test_cancel_requested_wins_over_requeue_and_release(journal):
    a, _ = journal.add(req(1), "batch")
    b, _ = journal.add(req(2), "batch")
    journal.claim_next()
    journal.cancel(a.id)
    assert journal.requeue_after_crash(a.id, "killed", 3).state == "cancelled"
    journal.claim_next()
    journal.cancel(b.id)
    assert journal.release(b.id, "stop").state == "cancelled"


def test_recover_on_start_counts_the_attempt(journal):
    ids = [journal.add(req(i), "batch")[0].id for i in range(3)]
    for _ in ids:
        journal.claim_next()
    journal.finish(ids[0], ["/x.wav"])
    # ids[1] and ids[2] were left running by a dead service; ids[2] already used its attempts.
    with sqlite3.connect(journal.path) as c:
        c.execute("UPDATE jobs SET attempts = 3 WHERE id = ?", (ids[2],))
    recovered = {r.id: r for r in journal.recover(max_attempts=3)}
    assert set(recovered) == {ids[1], ids[2]}
    assert recovered[ids[1]].state == "queued" and recovered[ids[1]].attempts == 1
    assert recovered[ids[2]].state == "failed"
    assert journal.get(ids[0]).state == "done"


def test_retry_queues_a_failed_job_again(journal):
    rec, _ = journal.add(req(), "batch")
    journal.claim_next()
    journal.fail(rec.id, "boom")
    again = journal.retry(rec.id)
    assert again.state == "queued" and again.attempts == 0 and again.error is None
    with pytest.raises(InvalidTransition):
        journal.retry(rec.id)


def test_client_key_makes_submit_idempotent(journal):
    a, created_a = journal.add(req(1), "batch", client_key="daw-42")
    b, created_b = journal.add(req(1), "batch", client_key="daw-42")
    assert created_a and not created_b and a.id == b.id
    assert len(journal.list()) == 1


def test_concurrent_claims_never_hand_out_a_job_twice(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    setup = Journal(path)
    n = 60
    for i in range(n):
        setup.add(req(i), "batch")
    setup.close()
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        j = Journal(path)  # one Journal per "client", as separate processes would have
        try:
            while (rec := j.claim_next()) is not None:
                with lock:
                    claimed.append(rec.id)
        finally:
            j.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == list(range(1, n + 1))


def test_service_lock_is_exclusive_and_released(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    first, second = ServiceLock(path), ServiceLock(path)
    first.acquire()
    try:
        with pytest.raises(JournalLocked, match=str(os.getpid())):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


def test_service_lock_is_released_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from engine.service.journal import ServiceLock\n"
            "ServiceLock(__import__('pathlib').Path(%r)).acquire(); print('locked', flush=True); time.sleep(60)"
            % (str(REPO), str(path)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(JournalLocked):
            ServiceLock(path).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    lock = ServiceLock(path)
    lock.acquire()
    lock.release()


def test_unreadable_journal_is_moved_aside_only_by_the_lock_holder(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list" * 100)
    # A second front end (jobs, a client) opening it says what is wrong and leaves it where it is.
    with pytest.raises(JournalCorrupt, match="unreadable.*audioldm-bridge serve"):
        Journal(path)
    assert b"shopping" in path.read_bytes()
    # While another process holds the service lock, starting a service neither recovers nor starts.
    lock = ServiceLock(path)
    lock.acquire()
    try:
        with pytest.raises(JournalLocked):
            RenderService(journal=path, library=tmp_path / "lib", listen=False,
                          faults={"fake_engine": True}).start()
        assert b"shopping" in path.read_bytes()
    finally:
        lock.release()
    # The service that takes the lock moves it aside and starts a fresh one.
    svc = RenderService(journal=path, library=tmp_path / "lib", listen=False, faults={"fake_engine": True}).start()
    try:
        recovered = Path(svc.status().journal_recovered_from)
        assert recovered.is_file() and b"shopping" in recovered.read_bytes()
        job = svc.submit(RenderRequest(prompt="x", duration_s=0.5, steps=2, seed=1))
        assert svc.wait(job, 30).state == "done"
    finally:
        svc.stop()
    j = Journal(path, recover=True)  # an explicit recovery of a readable journal changes nothing
    try:
        assert j.recovered_from is None and j.get(1).state == "done"
    finally:
        j.close()


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_ten_thousand_short_lived_threads_leave_no_descriptors(tmp_path):
    """python-osc's threading server uses a thread per packet: each writing a job must not leave a
    SQLite connection (two descriptors with WAL) behind."""
    j = Journal(tmp_path / "jobs.sqlite3")
    try:
        j.add(req(0), "batch")  # the journal's own connection is open before we count
        before = _open_descriptors()
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                j.add(req(i), "batch")
                j.get(i + 1)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        n = 10_000
        for start in range(0, n, 50):  # 50 threads alive at a time, 10,000 in all
            batch = [threading.Thread(target=write, args=(i,)) for i in range(start + 1, min(n, start + 50) + 1)]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
        assert not errors
        assert j.counts()["queued"] == n + 1
        assert _open_descriptors() <= before
    finally:
        j.close()


def test_acknowledged_jobs_survive_sigkill_of_the_writer(tmp_path):
    """A writer that prints each id only after add() returned is SIGKILLed mid-stream: every id it
    acknowledged is in the journal, which is intact."""
    path = tmp_path / "jobs.sqlite3"
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from engine.service.journal import Journal\n"
        "from engine.request import RenderRequest\n"
        "j = Journal(%r)\n"
        "for i in range(100000):\n"
        "    rec, _ = j.add(RenderRequest(prompt='p', duration_s=0.5, seed=i).to_json())\n"
        "    print(rec.id, flush=True)\n" % (str(REPO), str(path)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    acked = []
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 40 and time.monotonic() < deadline:
            acked.append(int(proc.stdout.readline()))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    acked += [int(x) for x in proc.stdout.read().split()]
    assert len(acked) >= 40
    j = Journal(path)
    try:
        assert j.recovered_from is None
        ids = {r.id for r in j.list()}
        assert set(acked) <= ids
        assert all(r.state == "queued" for r in j.list())
        with sqlite3.connect(path) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        j.close()
