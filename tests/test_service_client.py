"""One service per user, many front ends: `serve` in one process, ServiceClient in another.

The first test runs the real `audioldm-bridge serve` (real engine, tiny random model) as a separate
process and drives it from this one; the others use the stand-in engine behind a real socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Client
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidRequest
from engine.request import RenderRequest
from engine.service import (JobCancelled, JobDone, JobPreview, JobProgress, JobQueued, JobStarted, Journal,
                            RenderService, ServiceClient, ServiceConnection, ServiceUnavailable, connect)
from engine.service.protocol import Endpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runtime(monkeypatch):
    """A short runtime folder of its own (Unix socket paths are limited to ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="alb-"))
    monkeypatch.setenv("AUDIOLDM_BRIDGE_RUNTIME", str(folder))
    yield folder
    for p in folder.rglob("*"):
        if p.is_file() or p.is_socket():
            p.unlink()


def wait_for(stream, pred, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = stream.get(timeout=0.2)
        if event is not None and pred(event):
            return event
    raise AssertionError(f"no matching event within {timeout} s")


def connect_client(journal: Path, proc: subprocess.Popen, timeout: float = 120.0) -> ServiceClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ServiceClient(journal)
        except ServiceUnavailable:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_in_one_process_a_client_in_another(tmp_path, runtime, tiny_model_dir):
    journal, library = tmp_path / "jobs.sqlite3", tmp_path / "library"
    env = {**os.environ, "AUDIOLDM_BRIDGE_RUNTIME": str(runtime)}
    serve = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--journal", str(journal),
                              "--library", str(library), "--device", "cpu", "--osc-port", "0", "--preload", str(tiny_model_dir)],
                             stdout=open(tmp_path / "serve.out", "w"), stderr=subprocess.STDOUT, text=True,
                             env=env, cwd=str(REPO))
    client = None
    try:
        client = connect_client(journal, serve)
        assert client.server_pid == serve.pid
        stream = client.events()
        model = str(tiny_model_dir)

        # Submit, and watch typed events to JobDone.
        t0 = time.perf_counter()
        job = client.submit(RenderRequest(prompt="a low kick drum", duration_s=0.5, steps=3, seed=5, model=model),
                            preview_every=1)
        submit_s = time.perf_counter() - t0
        seen = []
        done = wait_for(stream, lambda e: seen.append(e) or (isinstance(e, JobDone) and e.job_id == job), 120)
        kinds = [type(e) for e in seen if getattr(e, "job_id", None) == job]
        assert kinds[0] is JobQueued and JobStarted in kinds and JobProgress in kinds
        previews = [e for e in seen if isinstance(e, JobPreview) and e.job_id == job]
        assert previews and previews[0].audio.dtype == np.float32 and len(previews[0].audio) == 8000
        [out] = done.outputs
        assert Path(out).is_file() and Path(out).parent == library.resolve() and f"-j{job}.wav" in out
        assert client.job(job).outputs == (out,)

        # Cancel a long job while it renders.
        long_job = client.submit(RenderRequest(prompt="rain", duration_s=0.5, steps=400, seed=6, model=model))
        wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == long_job)
        assert client.cancel(long_job) == "cancelling"
        end = wait_for(stream, lambda e: isinstance(e, (JobCancelled, JobDone)) and e.job_id == long_job)
        assert isinstance(end, JobCancelled) and client.job(long_job).state == "cancelled"

        # Status of the service in the other process.
        st = client.status()
        assert st.service_pid == serve.pid and st.pid not in (None, serve.pid, os.getpid())
        assert st.state == "ready" and st.model == model and st.queue["done"] == 1 and st.queue["cancelled"] == 1

        # A third process (the jobs command) goes through the service; this client hears of it.
        add = subprocess.run([sys.executable, "-m", "engine.cli", "jobs", "--journal", str(journal), "add", "hiss",
                              "--duration", "0.5", "--steps", "2", "--seed", "7", "--model", model],
                             capture_output=True, text=True, env=env, cwd=str(REPO), timeout=120)
        assert add.returncode == 0 and f"pid {serve.pid}" in add.stdout, add.stderr
        third = wait_for(stream, lambda e: isinstance(e, JobQueued) and e.job_id not in (job, long_job))
        # A job written straight into the journal (no service call) is announced too.
        direct = Journal(journal)
        try:
            rec, _ = direct.add(RenderRequest(prompt="wind", duration_s=0.5, steps=2, seed=8, model=model).to_json())
        finally:
            direct.close()
        wait_for(stream, lambda e: isinstance(e, JobQueued) and e.job_id == rec.id)
        assert client.wait(rec.id, 120).state == "done" and client.wait(third.job_id, 120).state == "done"

        # Bad input from a client is refused with the request's own message; the service goes on.
        with pytest.raises(InvalidRequest, match="steps"):
            client.submit({"prompt": "x", "steps": 0})
        assert client.status().state == "ready"

        # The serving process dies: the client gets a clear error within a second, not a hang.
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
        t0 = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="audioldm-bridge serve"):
            client.status()
        assert time.monotonic() - t0 < 1.0
        lost = wait_for(stream, lambda e: isinstance(e, ServiceConnection), 2.0)
        assert lost.connected is False
        t0 = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            ServiceClient(journal)
        assert time.monotonic() - t0 < 1.0
        print(f"\nclient across processes: submit {submit_s * 1000:.1f} ms (first call, real engine)")
    finally:
        if client is not None:
            client.close()
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()


def fake_service(tmp_path: Path, **kw) -> RenderService:
    return RenderService(library=tmp_path / "lib", journal=tmp_path / "jobs.sqlite3",
                         faults={"fake_engine": True, **kw.pop("faults", {})}, **kw)


def test_client_has_the_services_api_and_reconnects_to_a_new_service(tmp_path, runtime):
    svc = fake_service(tmp_path).start()
    client = ServiceClient(tmp_path / "jobs.sqlite3")
    try:
        stream = client.events()
        job = client.submit(RenderRequest(prompt="x", duration_s=0.5, steps=3, seed=1), lane="audition")
        assert client.wait(job, 30).state == "done"
        assert [j.id for j in client.jobs()] == [job] and client.jobs(["failed"]) == []
        assert client.jobs(newest_first=True, limit=1)[0].id == job
        long_job = client.submit(RenderRequest(prompt="long", duration_s=0.5, steps=1000, seed=9))
        behind = client.submit(RenderRequest(prompt="behind", duration_s=0.5, steps=2, seed=10))
        wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == long_job)
        assert client.cancel(behind) == "cancelled" and client.cancel(long_job) == "cancelling"
        assert client.wait(long_job, 30).state == "cancelled"
        assert client.retry(behind) == behind and client.wait(behind, 30).state == "done"
        assert client.job(999) is None and client.cancel(999) == "unknown"
        key_job = client.submit(RenderRequest(prompt="y", duration_s=0.5, steps=2, seed=2), key="take-1")
        assert client.submit(RenderRequest(prompt="y", duration_s=0.5, steps=2, seed=2), key="take-1") == key_job
        client.wait_idle(30)
        assert client.wait_ready(30).state == "ready"
        svc.stop()
        lost = wait_for(stream, lambda e: isinstance(e, ServiceConnection), 5)
        assert not lost.connected
        with pytest.raises(ServiceUnavailable):
            client.status()
        # A new service on the same journal: the next call and the subscription connect to it.
        svc = fake_service(tmp_path).start()
        assert client.status().state in ("starting", "ready")
        back = wait_for(stream, lambda e: isinstance(e, ServiceConnection), 5)
        assert back.connected and back.pid == os.getpid()
        job2 = client.submit(RenderRequest(prompt="z", duration_s=0.5, steps=2, seed=3))
        wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == job2, 30)
    finally:
        client.close()
        svc.stop()


def test_garbage_on_the_socket_gets_an_error_and_the_service_keeps_serving(tmp_path, runtime):
    svc = fake_service(tmp_path).start()
    try:
        info = json.loads(Endpoint(tmp_path / "jobs.sqlite3").info_file.read_text())
        assert oct(Endpoint(tmp_path / "jobs.sqlite3").info_file.stat().st_mode & 0o777) == "0o600"
        conn = Client(info["address"], family=info["family"], authkey=bytes.fromhex(info["authkey"]))
        for junk in (b"\xff\xfe not json", b"[1, 2]", b'{"id": 1, "method": "format_disk"}',
                     b'{"id": 2, "method": "cancel", "args": {"job_id": "all"}}',
                     b'{"id": 3, "method": "submit", "args": {"request": {"prompt": "x", "output": "/etc/x.wav"}}}',
                     b'{"id": 4, "method": "jobs", "args": [1]}'):
            conn.send_bytes(junk)
            reply = json.loads(conn.recv_bytes())
            assert reply["ok"] is False and reply["message"], junk
        conn.send_bytes(b'{"id": 5, "method": "ping"}')
        assert json.loads(conn.recv_bytes())["value"]["pid"] == os.getpid()
        conn.close()
        # A client with the wrong key is refused; one that hangs up mid-call leaves no trace.
        with pytest.raises(Exception):
            Client(info["address"], family=info["family"], authkey=b"wrong key")
        half = Client(info["address"], family=info["family"], authkey=bytes.fromhex(info["authkey"]))
        half.send_bytes(b'{"id": 1, "method": "status"}')
        half.close()
        client = ServiceClient(tmp_path / "jobs.sqlite3")
        try:
            assert client.ping()["pid"] == os.getpid()
            job = client.submit({"prompt": "after the junk", "duration_s": 0.5, "steps": 2, "seed": 4})
            assert client.wait(job, 30).state == "done"
        finally:
            client.close()
    finally:
        svc.stop()
    assert not Endpoint(tmp_path / "jobs.sqlite3").info_file.exists()


def test_jobs_command_uses_the_running_service(tmp_path, runtime, capsys):
    from engine import cli

    journal = str(tmp_path / "jobs.sqlite3")
    assert cli.main(["jobs", "--journal", journal, "status"]) == 2
    assert "no render service is running" in capsys.readouterr().err
    svc = fake_service(tmp_path).start()
    try:
        svc.wait_ready(30)
        assert cli.main(["jobs", "--journal", journal, "add", "a low kick drum", "--duration", "0.5",
                         "--steps", "2", "--seed", "3"]) == 0
        assert f"pid {os.getpid()}" in capsys.readouterr().out
        assert cli.main(["jobs", "--journal", journal, "watch", "1"]) == 0  # follows job 1 to its end
        out = capsys.readouterr().out
        assert "job 1: done" in out
        assert cli.main(["jobs", "--journal", journal, "status"]) == 0
        assert "engine ready" in capsys.readouterr().out
        assert cli.main(["jobs", "--journal", journal]) == 0
        captured = capsys.readouterr()
        assert "a low kick drum" in captured.out and f"service pid {os.getpid()}" in captured.err
    finally:
        svc.stop()


def test_connect_gives_the_running_service_or_starts_one(tmp_path, runtime):
    journal = tmp_path / "jobs.sqlite3"
    with pytest.raises(ServiceUnavailable, match="no render service is running"):
        connect(journal, start=False)
    own = connect(journal, library=tmp_path / "lib", faults={"fake_engine": True})
    try:
        assert isinstance(own, RenderService)
        other = connect(journal)
        try:
            assert isinstance(other, ServiceClient) and other.status().service_pid == os.getpid()
        finally:
            other.close()
    finally:
        own.stop()
