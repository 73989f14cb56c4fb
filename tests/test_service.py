"""The render service: a real engine process (tiny random model) killed, restarted and cancelled,
plus supervision tests against a torch-free stand-in engine (``faults={"fake_engine": True}``) so
hangs and crash loops cost a fraction of a second each.

Timing on a 2-core machine: every real engine start imports torch and diffusers (~7 s), so the
real-engine tests restart it as few times as the requirements allow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidRequest
from engine.request import RenderRequest
from engine.service import (EngineCrashed, EngineState, JobCancelled, JobDone, JobFailed, JobPreview, JobProgress,
                            JobRequeued, JobStarted, ModelLoaded, RenderService, ServiceError)
from engine.service.journal import Journal, JournalLocked

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers

def wait_for(stream, pred, timeout: float = 90.0, seen: list | None = None):
    """Read events until ``pred(event)``; return it. Everything read goes to ``seen``."""
    deadline = time.monotonic() + timeout
    tail = []
    while time.monotonic() < deadline:
        event = stream.get(timeout=0.2)
        if event is None:
            continue
        tail = (tail + [event])[-15:]
        if seen is not None:
            seen.append(event)
        if pred(event):
            return event
    raise AssertionError(f"no matching event within {timeout} s; last events: {tail}")


def rr(model, seed: int, steps: int = 2, prompt: str = "a low kick drum", duration: float = 0.5, **kw) -> RenderRequest:
    return RenderRequest(prompt=prompt, duration_s=duration, steps=steps, seed=seed, model=str(model), **kw)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def library_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_clean_library(folder: Path) -> None:
    names = library_files(folder)
    assert not [n for n in names if n.endswith(".part")], names
    assert not [n for n in names if ".bak-" in n], names


# --------------------------------------------------------------------------- import hygiene

def test_service_imports_neither_qt_nor_torch():
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import engine.service, engine.service.supervisor, engine.service.journal, engine.service.events\n"
            "import engine.service.cli, engine.service.worker, engine.service.client, engine.service.server\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'torch'))\n"
            "print(bad)" % str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_engine_messages_carry_only_plain_data():
    """Unpickling a torch object in the app would import torch there (seconds of stall, and the
    GUI process would carry torch); the engine flattens every message to plain data."""
    import torch

    from engine.service.worker import _plain

    out = _plain({"torch": torch.__version__, "n": np.int64(3), "x": np.float32(0.5), "dev": torch.device("cpu"),
                  "a": np.zeros(4, dtype=np.float32), "l": (1, "a", None, True)})
    assert type(out["torch"]) is str and type(out["n"]) is int and type(out["x"]) is float
    assert out["dev"] == "cpu" and out["l"] == [1, "a", None, True] and out["a"].dtype == np.float32
    assert {type(v).__module__.split(".")[0] for v in out.values()} <= {"builtins", "numpy"}


def test_cleanup_after_a_crash_removes_only_that_jobs_temp_files(tmp_path):
    from engine.service.worker import _cleanup

    lib = tmp_path / "lib"
    lib.mkdir()
    mine = [lib / ".rain-on-a-roof-7-j5.wav.abc123.part", lib / ".rain-on-a-roof-8-j5.wav.json.x1.part"]
    keep = [lib / "rain-on-a-roof-7-j5.wav", lib / ".thunder-3-j5.wav.zz.part",
            lib / ".rain-on-a-roof-7-j6.wav.q.part",  # the same prompt and seed, another job
            lib / ".rain-on-a-roof-7-j55.wav.q.part", lib / ".rain-on-a-roof-7.wav.q.part",  # a CLI render
            lib / ".rain-on-a-roof-9-j5.wav.old.part"]
    for p in mine + keep:
        p.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(keep[-1], (old, old))  # written long before the job started: not this attempt's
    request = RenderRequest(prompt="Rain on a roof", duration_s=0.5, seed=7, variations=2).to_json()
    _cleanup({"request": request, "job": 5, "library": str(lib), "since": time.time() - 5})
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in keep)
    # Edits are named after their source file and mode.
    edit_tmp = lib / ".take-3-style-transfer-9-j8.wav.q.part"
    edit_tmp.write_bytes(b"x")
    edit = RenderRequest(mode="style_transfer", prompt="a choir", source_path="/song/Take 3.wav", seed=9)
    _cleanup({"request": edit.to_json(), "job": 8, "library": str(lib), "since": time.time() - 5})
    assert not edit_tmp.exists() and all(p.exists() for p in keep)


def test_a_job_rerendered_replaces_only_its_own_files(tiny_model_dir, models, tmp_path):
    """Crash recovery renders a job again: its files are replaced (no .bak pile-up), nobody else's."""
    from engine.pipeline import render

    request = rr(tiny_model_dir, seed=21, prompt="rain on a roof")
    first = render(request, models, output=tmp_path, existing="replace", job_id=5).clips[0].path
    other = render(request, models, output=tmp_path, existing="replace", job_id=6).clips[0].path
    assert (first.name, other.name) == ("rain-on-a-roof-21-j5.wav", "rain-on-a-roof-21-j6.wav")
    before = other.read_bytes()
    again = render(request, models, output=tmp_path, existing="replace", job_id=5).clips[0].path
    assert again == first and other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rain-on-a-roof-21-j5.wav", "rain-on-a-roof-21-j5.wav.json",
        "rain-on-a-roof-21-j6.wav", "rain-on-a-roof-21-j6.wav.json"]


# --------------------------------------------------------------------------- a shared real engine

@pytest.fixture(scope="module")
def _engine(tmp_path_factory, request):
    """One real engine for the module (each start costs ~7 s of imports). A test that stops it
    (the full-restart test) puts a new service on the same journal in its place."""
    root = tmp_path_factory.mktemp("svc")
    kw = dict(library=root / "library", journal=root / "jobs.sqlite3", device="cpu", torch_threads=1,
              crash_limit=10)
    holder = {"kw": kw, "svc": RenderService(**kw).start()}  # imports torch while the model is built
    model = request.getfixturevalue("tiny_model_dir")
    holder["kw"]["preload_model"] = str(model)
    holder["svc"].load_model(str(model))
    yield holder
    holder["svc"].stop()


@pytest.fixture
def service(_engine):
    svc = _engine["svc"]
    if svc.status().state == "stopped":
        svc = _engine["svc"] = RenderService(**_engine["kw"]).start()
    svc.wait_ready(180)
    return svc


def test_status_reports_engine_device_model_and_memory(service, tiny_model_dir):
    stream = service.events()
    try:
        job = service.submit(rr(tiny_model_dir, seed=1))
        assert service.wait(job, 60).state == "done"
    finally:
        stream.close()
    st = service.status()
    assert st.state == "ready" and st.reason is None
    assert st.pid is not None and st.pid != os.getpid()
    assert st.device == "cpu"
    assert st.model == str(tiny_model_dir)
    assert st.rss_bytes is not None and st.rss_bytes > 50 * 2**20
    assert st.heartbeat_age_s is not None and st.heartbeat_age_s < 5
    assert st.cold_start_s is not None and st.cold_start_s > 0
    assert st.queue["done"] >= 1
    assert "engine ready" in st.summary()


def test_cancel_running_job_stops_within_one_step(service, tiny_model_dir):
    stream = service.events()
    try:
        job = service.submit(rr(tiny_model_dir, seed=2, steps=400, duration=2.0))
        seen = wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job and e.step >= 3)
        assert service.cancel(job) == "cancelling"
        end = wait_for(stream, lambda e: isinstance(e, (JobCancelled, JobDone, JobFailed)) and e.job_id == job)
    finally:
        stream.close()
    assert isinstance(end, JobCancelled), end
    # Measured in the engine: steps that completed after the cancel flag was set.
    assert end.steps_after_cancel is not None and end.steps_after_cancel <= 1, end
    assert seen.step <= end.steps_done < 400
    rec = service.job(job)
    assert rec.state == "cancelled" and rec.outputs == ()
    assert not [n for n in library_files(service.library) if n.endswith("-2.wav")]
    print(f"\ncancel: stopped {end.steps_after_cancel} step(s) after the request, at step {end.steps_done}/400")


def test_cancel_queued_job_removes_it_from_the_queue(service, tiny_model_dir):
    stream = service.events()
    try:
        blocker = service.submit(rr(tiny_model_dir, seed=3, steps=200), lane="audition")
        queued = service.submit(rr(tiny_model_dir, seed=4))
        (state, took) = timed(service.cancel, queued)
        assert state == "cancelled" and took < 0.5
        assert service.job(queued).state == "cancelled"
        assert service.cancel(queued) == "cancelled"  # final state, nothing else happens
        assert service.cancel(10**9) == "unknown"
        service.cancel(blocker)
        service.wait(blocker, 60)
        events = stream.drain()
    finally:
        stream.close()
    assert not [e for e in events if isinstance(e, JobStarted) and e.job_id == queued]
    assert service.job(queued).attempts == 0


def test_preview_waveforms_every_few_steps(service, tiny_model_dir):
    stream = service.events()
    try:
        job = service.submit(rr(tiny_model_dir, seed=5, steps=6), preview_every=2)
        seen: list = []
        wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == job, seen=seen)
    finally:
        stream.close()
    previews = [e for e in seen if isinstance(e, JobPreview) and e.job_id == job]
    steps = [e for e in seen if isinstance(e, JobProgress) and e.job_id == job]
    assert [p.step for p in previews] == [2, 4]
    assert [s.step for s in steps] == [1, 2, 3, 4, 5, 6] and all(s.total == 6 for s in steps)
    assert steps[-1].eta_s == 0 and steps[0].eta_s > 0
    for p in previews:
        assert p.sample_rate == 16000 and p.audio.dtype == np.float32
        assert p.audio.shape == (8000,) and np.all(np.isfinite(p.audio))


def test_audition_lane_jumps_the_queue(service, tiny_model_dir):
    stream = service.events()
    try:
        # An audition job keeps the engine busy (auditions are never preempted) ...
        first = service.submit(rr(tiny_model_dir, seed=6, steps=60), lane="audition")
        wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == first)
        batch = [service.submit(rr(tiny_model_dir, seed=7 + i)) for i in range(2)]
        audition = service.submit(rr(tiny_model_dir, seed=9), lane="audition")
        seen: list = []
        for j in [first, audition, *batch]:
            wait_for(stream, lambda e, j=j: isinstance(e, JobDone) and e.job_id == j, seen=seen)
    finally:
        stream.close()
    order = [e.job_id for e in seen if isinstance(e, JobStarted)]
    assert order == [audition, *batch]


def test_audition_preempts_a_running_batch_job(service, tiny_model_dir):
    stream = service.events()
    try:
        # Long enough that its ETA stays above the 1 s "almost done, let it finish" rule on a fast machine.
        batch = service.submit(rr(tiny_model_dir, seed=10, steps=600))
        wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == batch and e.step >= 2)
        t0 = time.monotonic()
        audition = service.submit(rr(tiny_model_dir, seed=11, steps=2), lane="audition")
        seen: list = []
        started = wait_for(stream, lambda e: isinstance(e, JobStarted) and e.job_id == audition, seen=seen)
        latency = time.monotonic() - t0
        wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == batch, seen=seen)
    finally:
        stream.close()
    requeued = [e for e in seen if isinstance(e, JobRequeued) and e.job_id == batch]
    assert requeued and not requeued[0].counted and "audition" in requeued[0].reason
    assert started.job_id == audition and latency < 5
    rec = service.job(batch)
    assert rec.state == "done" and rec.attempts == 1 and rec.preemptions == 1
    assert service.job(audition).state == "done"


def test_model_switch_evicts_and_reports(service, tiny_model_dir, tiny3_model_dir):
    stream = service.events()
    try:
        job = service.submit(rr(tiny3_model_dir, seed=12))
        seen: list = []
        wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == job, seen=seen)
        assert service.status().model == str(tiny3_model_dir)
        job = service.submit(rr(tiny_model_dir, seed=12))
        wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == job, seen=seen)
    finally:
        stream.close()
    loaded = [e.model for e in seen if isinstance(e, ModelLoaded)]
    assert loaded == [str(tiny3_model_dir), str(tiny_model_dir)]
    assert service.status().model == str(tiny_model_dir)


def test_two_jobs_with_the_same_seed_never_share_a_file(service, tiny_model_dir):
    """"Keep the seed, tweak the guidance": each job keeps its own file, and its journal outputs
    point at that file, whose provenance is that job's."""
    loose = rr(tiny_model_dir, seed=13, prompt="bright open hi-hat", guidance_scale=1.5)
    tight = loose.replace(guidance_scale=6.0)
    first = service.wait(service.submit(loose), 60)
    second = service.wait(service.submit(tight), 60)
    assert first.state == second.state == "done"
    assert first.outputs != second.outputs
    for rec, guidance in ((first, 1.5), (second, 6.0)):
        out = Path(rec.outputs[0])
        assert out.name == f"bright-open-hi-hat-13-j{rec.id}.wav" and out.parent == service.library
        meta = json.loads((out.parent / (out.name + ".json")).read_text())  # provenance sidecar
        assert (meta["seed"], meta["guidance_scale"]) == (13, guidance)
    assert Path(first.outputs[0]).read_bytes() != Path(second.outputs[0]).read_bytes()
    assert_clean_library(service.library)
    # An idempotency key returns the first job instead of queueing a duplicate.
    a = service.submit(loose, key="daw-take-1")
    assert service.submit(loose, key="daw-take-1") == a
    service.wait(a, 60)


def test_requests_cannot_write_outside_the_library(service, tiny_model_dir, tmp_path):
    bad = rr(tiny_model_dir, seed=14).to_dict()
    bad["output"] = str(tmp_path / "elsewhere.wav")
    with pytest.raises(InvalidRequest, match="output library"):
        service.submit(bad)
    with pytest.raises(InvalidRequest):
        service.submit({"prompt": "x", "output_dir": "/etc"})
    with pytest.raises(InvalidRequest, match="lane"):
        service.submit(rr(tiny_model_dir, seed=14), lane="vip")
    rec = service.wait(service.submit(json.dumps(rr(tiny_model_dir, seed=14, prompt="../../escape").to_dict())), 60)
    assert rec.state == "done"
    for p in rec.outputs:
        assert Path(p).resolve().parent == service.library
    assert not (tmp_path / "elsewhere.wav").exists()


def test_source_roots_limit_what_edits_may_read(tmp_path):
    svc = RenderService(library=tmp_path / "lib", journal=tmp_path / "j.sqlite3",
                        source_roots=(tmp_path / "project",))
    try:
        edit = dict(mode="style_transfer", prompt="x", source_path="/etc/passwd", seed=1)
        with pytest.raises(InvalidRequest, match="outside"):
            svc.submit(edit)
        (tmp_path / "project").mkdir()
        ok = svc.submit(dict(edit, source_path=str(tmp_path / "project" / "take.wav")))
        assert svc.job(ok).state == "queued"  # accepted (durably) even before the engine starts
    finally:
        svc.stop()


def test_second_service_on_the_same_journal_is_refused(service, tmp_path):
    other = RenderService(library=tmp_path / "lib", journal=service.journal.path)
    with pytest.raises(JournalLocked):
        other.start()
    other.stop()


# --------------------------------------------------------------------------- crashes (real engine)

@pytest.mark.slow
def test_sigkill_mid_render_at_three_points_loses_and_duplicates_nothing(service, tiny_model_dir):
    """Kill the engine with SIGKILL at the first step, half-way and near the end of three
    different jobs: every job (including ones submitted while the engine was dead) ends done
    exactly once, with the expected files, and the client answers within milliseconds meanwhile."""
    svc, lib = service, service.library
    before = svc.status()
    first_new_id = max([r.id for r in svc.jobs()] or [0]) + 1
    stream = svc.events(max_pending=10**6)
    seen: list = []
    try:
        jobs = {}
        for seed in range(201, 207):
            steps = 40 if seed % 2 else 3
            jobs[svc.submit(rr(tiny_model_dir, seed=seed, steps=steps, prompt="footsteps on gravel"))] = steps
        ids = list(jobs)
        kills = [(ids[0], 1), (ids[2], 20), (ids[4], 36)]
        latencies = []
        for job, at_step in kills:
            started = wait_for(stream, lambda e, j=job: isinstance(e, JobStarted) and e.job_id == j, seen=seen)
            wait_for(stream, lambda e, j=job, s=at_step: isinstance(e, JobProgress) and e.job_id == j and e.step >= s,
                     seen=seen)
            os.kill(started.pid, signal.SIGKILL)
            # The client never blocks on a dead engine.
            extra, t = timed(svc.submit, rr(tiny_model_dir, seed=300 + at_step, steps=2, prompt="footsteps on gravel"))
            jobs[extra] = 2
            latencies.append(t)
            for call in (svc.status, lambda: svc.job(job), lambda: svc.jobs(limit=5)):
                latencies.append(timed(call)[1])
            crash = wait_for(stream, lambda e: isinstance(e, EngineCrashed), seen=seen)
            assert crash.pid == started.pid and "SIGKILL" in crash.reason and crash.will_restart
            latencies.append(timed(svc.status)[1])
        for job in jobs:
            svc.wait(job, timeout=150)
        time.sleep(0.2)
        seen += stream.drain()
        st = svc.status()
    finally:
        stream.close()

    rows = {r.id: r for r in svc.jobs() if r.id >= first_new_id}
    assert sorted(rows) == sorted(jobs)  # nothing lost, nothing extra
    assert all(r.state == "done" for r in rows.values()), {i: (r.state, r.error) for i, r in rows.items()}
    done_counts = Counter(e.job_id for e in seen if isinstance(e, JobDone))
    assert done_counts == Counter({i: 1 for i in jobs})  # each job finished exactly once
    killed = {k for k, _ in kills}
    assert {i: r.attempts for i, r in rows.items()} == {i: (2 if i in killed else 1) for i in jobs}
    requeued = [e for e in seen if isinstance(e, JobRequeued)]
    assert sorted(e.job_id for e in requeued) == sorted(killed) and all(e.counted for e in requeued)
    assert st.crash_count - before.crash_count == 3 and st.restarts - before.restarts == 3
    assert st.state == "ready"
    # Files: one per job, at its own name (seed and job id), no temp files, no backups.
    for i, r in rows.items():
        assert len(r.outputs) == 1 and Path(r.outputs[0]).is_file()
        assert Path(r.outputs[0]).parent == lib
        assert Path(r.outputs[0]).name == f"footsteps-on-gravel-{r.request.seed}-j{r.id}.wav"
    assert len({r.outputs[0] for r in rows.values()}) == len(jobs)
    assert_clean_library(lib)
    assert max(latencies) < 0.5, latencies
    print(f"\nkill test: client call latency while the engine was dead: max {max(latencies) * 1000:.1f} ms; "
          f"restart {st.last_restart_s:.1f} s")


@pytest.mark.slow
def test_hundred_jobs_survive_a_full_service_restart(_engine, service, tiny_model_dir):
    """100 short jobs; half-way the whole service is stopped and a new one opens the same journal."""
    kw = _engine["kw"]
    lib = service.library
    first_new_id = max([r.id for r in service.jobs()] or [0]) + 1
    done_before = service.status().queue["done"]
    t0 = time.perf_counter()
    ids = [service.submit(rr(tiny_model_dir, seed=1000 + i, steps=1 + i % 2, prompt="rain")) for i in range(100)]
    submit_s = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while service.status().queue["done"] < done_before + 50:
        assert time.monotonic() < deadline, service.status()
        time.sleep(0.05)
    service.stop()  # the running job goes back to the queue, not counted
    check = Journal(kw["journal"])
    rows = [r for r in check.list() if r.id >= first_new_id]
    check.close()
    counts = Counter(r.state for r in rows)
    assert counts["done"] >= 50 and counts["running"] == 0 and counts["done"] + counts["queued"] == 100
    svc2 = _engine["svc"] = RenderService(**kw).start()
    for job in ids:
        svc2.wait(job, timeout=150)
    rows = [r for r in svc2.jobs() if r.id >= first_new_id]
    assert [r.id for r in rows] == ids
    assert all(r.state == "done" and r.attempts == 1 for r in rows), [(r.id, r.state, r.attempts) for r in rows]
    outputs = {r.outputs[0] for r in rows}
    assert len(outputs) == 100 and all(Path(p).is_file() for p in outputs)
    assert len([n for n in library_files(lib) if n.startswith("rain-") and n.endswith(".wav")]) == 100
    assert_clean_library(lib)
    print(f"\n100 jobs: submitted in {submit_s * 1000:.0f} ms, {counts['done']} done before the restart, "
          f"all done {time.perf_counter() - t0:.1f} s after the first submit")


# --------------------------------------------------------------------------- supervision (stand-in engine)

def fake_service(tmp_path, **kw) -> RenderService:
    faults = {"fake_engine": True, **kw.pop("faults", {})}
    defaults = dict(library=tmp_path / "lib", journal=tmp_path / "jobs.sqlite3", faults=faults,
                    heartbeat_s=0.1, heartbeat_timeout_s=1.5, step_timeout_s=1.5, load_timeout_s=1.5,
                    restart_backoff_s=(0.0,))
    defaults.update(kw)
    return RenderService(**defaults)


def fr(seed: int, steps: int = 3, prompt: str = "a low kick drum", model: str = "builtin:random-tiny") -> RenderRequest:
    return RenderRequest(prompt=prompt, duration_s=0.5, steps=steps, seed=seed, model=model)


def test_hung_step_is_detected_killed_and_the_job_rerun(tmp_path):
    svc = fake_service(tmp_path, faults={"hang_step_prompt": "hang"}).start()
    stream = svc.events()
    try:
        job = svc.submit(fr(1, steps=5, prompt="hang"))
        crash = wait_for(stream, lambda e: isinstance(e, EngineCrashed), timeout=20)
        assert "no progress" in crash.reason and crash.will_restart
        rec = svc.wait(job, 20)
    finally:
        stream.close()
        svc.stop()
    assert rec.state == "done" and rec.attempts == 2
    assert any("no progress" in n for n in rec.notes)


def test_hung_model_load_times_out(tmp_path):
    svc = fake_service(tmp_path, faults={"hang_load_model": "slow-model"}).start()
    stream = svc.events()
    try:
        job = svc.submit(fr(1, model="slow-model"))
        crash = wait_for(stream, lambda e: isinstance(e, EngineCrashed), timeout=20)
        assert "loading model slow-model" in crash.reason
        rec = svc.wait(job, 20)
    finally:
        stream.close()
        svc.stop()
    assert rec.state == "done" and rec.attempts == 2


def test_frozen_engine_without_heartbeat_is_restarted(tmp_path):
    svc = fake_service(tmp_path).start()
    stream = svc.events()
    try:
        svc.wait_ready(20)
        job = svc.submit(fr(1, steps=40))
        started = wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job)
        pid = svc.status().pid
        os.kill(pid, signal.SIGSTOP)  # a driver deadlock: no steps, no heartbeat
        t0 = time.monotonic()
        _, t = timed(svc.status)
        assert t < 0.2
        crash = wait_for(stream, lambda e: isinstance(e, EngineCrashed), timeout=20)
        detected = time.monotonic() - t0
        assert "no heartbeat" in crash.reason or "no progress" in crash.reason
        assert detected < 5
        rec = svc.wait(job, 30)
        assert started.step >= 1
    finally:
        stream.close()
        svc.stop()
    assert rec.state == "done" and rec.attempts == 2


def test_crash_loop_stops_the_engine_keeps_the_queue_and_restart_clears_it(tmp_path):
    svc = fake_service(tmp_path, crash_limit=3, crash_window_s=60).start()
    stream = svc.events()
    try:
        pids = set()
        for _ in range(3):
            deadline = time.monotonic() + 20
            while (pid := svc.status().pid) is None or pid in pids:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            pids.add(pid)
            os.kill(pid, signal.SIGKILL)
            wait_for(stream, lambda e: isinstance(e, EngineCrashed), timeout=20)
        stopped = wait_for(stream, lambda e: isinstance(e, EngineState) and e.state == "stopped", timeout=10)
        assert "crashed 3 times within 60 s" in stopped.reason and "SIGKILL" in stopped.reason
        # Stays stopped, answers at once, keeps accepting work.
        job, t_submit = timed(svc.submit, fr(1))
        st, t_status = timed(svc.status)
        assert t_submit < 0.5 and t_status < 0.2
        assert st.state == "stopped" and st.pid is None and "restart" in st.reason and st.crash_count == 3
        time.sleep(1.0)
        assert svc.status().pid is None and svc.job(job).state == "queued"
        with pytest.raises(ServiceError, match="stopped"):
            svc.wait_ready(1)
        svc.restart()
        assert svc.wait(job, 20).state == "done"
        st = svc.status()
        assert st.state == "ready" and st.reason is None and st.recent_crashes == 0
    finally:
        stream.close()
        svc.stop()


def test_spare_engine_takes_over_at_once(tmp_path):
    svc = fake_service(tmp_path, spare_engine=True).start()
    stream = svc.events()
    try:
        deadline = time.monotonic() + 20
        while (st := svc.status()).spare_state != "ready":
            assert time.monotonic() < deadline, st
            time.sleep(0.05)
        main, spare = st.pid, st.spare_pid
        assert main != spare
        job = svc.submit(fr(1, steps=100))
        wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job, timeout=20)
        os.kill(main, signal.SIGKILL)
        took = wait_for(stream, lambda e: isinstance(e, EngineState) and e.state == "ready", timeout=20)
        assert took.pid == spare and "spare" in took.reason
        assert svc.wait(job, 30).attempts == 2
        st = svc.status()
        assert st.pid == spare and st.last_restart_s < 1.0 and st.restarts == 1
        deadline = time.monotonic() + 20
        while svc.status().spare_pid in (None, main, spare):  # a new spare replaces the used one
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stream.close()
        svc.stop()
    assert svc.status().spare_pid is None


def test_poison_job_fails_after_three_attempts_with_the_reason(tmp_path):
    svc = fake_service(tmp_path, faults={"crash_prompt": "poison"}, crash_limit=10).start()
    try:
        bad = svc.submit(fr(1, prompt="poison"))
        good = svc.submit(fr(2))
        rec = svc.wait(bad, 30)
        assert rec.state == "failed" and rec.attempts == 3
        assert "crashed 3 times" in rec.error and "SIGKILL" in rec.error
        assert svc.wait(good, 30).state == "done"
    finally:
        svc.stop()


def test_stop_requeues_the_running_job_without_counting_it(tmp_path):
    svc = fake_service(tmp_path, faults={"fake_step_s": 0.05}).start()
    stream = svc.events()
    job = svc.submit(fr(1, steps=500))
    wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job, timeout=20)
    _, took = timed(svc.stop)
    assert took < 5
    again = fake_service(tmp_path, faults={"fake_step_s": 0.001}).start()
    try:
        rec = again.job(job)
        assert rec.state in ("queued", "running") and rec.attempts <= 1
        rec = again.wait(job, 30)
    finally:
        again.stop()
    assert rec.state == "done" and rec.attempts == 1


def test_a_dead_app_leaves_running_jobs_that_the_next_start_resumes(tmp_path):
    """The whole app is SIGKILLed mid-job: the next service re-queues the job (attempt counted)."""
    journal = tmp_path / "jobs.sqlite3"
    code = (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from engine.service import RenderService, JobProgress\n"
        "from engine.request import RenderRequest\n"
        "if __name__ == '__main__':\n"
        "    s = RenderService(library=%r, journal=%r, faults={'fake_engine': True, 'fake_step_s': 0.05}).start()\n"
        "    ev = s.events()\n"
        "    s.submit(RenderRequest(prompt='p', duration_s=0.5, steps=1000, seed=1))\n"
        "    while not isinstance(ev.get(), JobProgress): pass\n"
        "    print('rendering', s.status().pid, flush=True)\n"
        "    time.sleep(60)\n" % (str(REPO), str(tmp_path / "lib"), str(journal)))
    script = tmp_path / "app.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "rendering"
        engine_pid = int(line[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    # The orphaned engine notices its parent is gone and exits by itself.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(engine_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(engine_pid, signal.SIGKILL)
        pytest.fail("the engine outlived the app")
    svc = fake_service(tmp_path, faults={"fake_step_s": 0.0005}).start()
    try:
        rec = svc.wait(1, 30)
    finally:
        svc.stop()
    assert rec.state == "done" and rec.attempts == 2


def test_serve_and_jobs_commands(tmp_path, capsys, monkeypatch):
    from engine import cli

    journal = str(tmp_path / "jobs.sqlite3")
    assert cli.main(["jobs", "--journal", journal]) == 0
    assert "no jobs" in capsys.readouterr().out
    assert cli.main(["jobs", "--journal", journal, "add", "a low kick drum", "--duration", "0.5", "--steps", "2",
                     "--seed", "3", "--model", "builtin:random-tiny"]) == 0
    assert cli.main(["jobs", "--journal", journal, "add", "x", "-o", "/tmp/x.wav"]) == 2
    assert "output library" in capsys.readouterr().err
    assert cli.main(["jobs", "--journal", journal, "add", "rain", "--duration", "0.5", "--seed", "4",
                     "--lane", "audition"]) == 0
    assert cli.main(["jobs", "--journal", journal, "cancel", "2"]) == 0
    assert "cancelled" in capsys.readouterr().out
    # serve with the stand-in engine (the real one is tested above); --until-idle exits when done.
    from engine.service import config

    real = config.ServiceConfig

    def fake_config(**kw):
        return real(**kw, faults={"fake_engine": True})

    monkeypatch.setattr(config, "ServiceConfig", fake_config)
    assert cli.main(["serve", "--journal", journal, "--library", str(tmp_path / "lib"), "--until-idle", "--osc-port", "0"]) == 0
    out = capsys.readouterr().out
    assert "job 1: done" in out and "job 2" not in out
    assert cli.main(["jobs", "--journal", journal, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["state"]) for r in rows] == [(1, "done"), (2, "cancelled")]
    assert rows[0]["request"]["seed"] == 3
    assert cli.main(["jobs", "--journal", journal, "retry", "2"]) == 0
    assert cli.main(["jobs", "--journal", journal, "--state", "queued"]) == 0
    assert "rain" in capsys.readouterr().out
