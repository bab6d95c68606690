"""Cluster mode end to end: a real redis-server, real `reelforge worker` processes, the real CLI.

Each test starts its own broker and workers (fixtures in conftest.py) and stops them even when
it fails. Workers run under `nice` so the machine stays usable for the submitter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from checkers import assert_no_temp_files, cli_argv, cli_env, run_cli
from clusterkit import RedisServer, StartWorker, cli_process, ffmpeg_writing_to, wait_for
from mediagen import make_clip
from reelforge.cluster import keys
from reelforge.cluster.celery_app import TASK_NAME, make_celery
from reelforge.cluster.pathmap import PathMap
from reelforge.domain.plan import plan_jobs, probe_spec
from reelforge.media.probe import probe
from reelforge.services.presets import PresetCatalog

pytestmark = pytest.mark.timeout(300)
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@pytest.fixture(scope="module", autouse=True)
def _qt(qapp: Any) -> None:
    """run_cli() builds the engine in this process; it needs a Q(Core)Application."""


@pytest.fixture(scope="module")
def small_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cluster-src")
    return [make_clip(folder / f"c{i}.mp4", size="320x180", seconds=1.0) for i in range(3)]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that its web encode is still running when a test interferes."""
    folder = tmp_path_factory.mktemp("cluster-long")
    return make_clip(folder / "long.mp4", size="1280x720", seconds=8.0)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def shape(jobs: list[dict[str, Any]], out: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What a batch made, independent of where and when: source, kind, status, output names."""
    return sorted(
        (
            Path(j["source"]).name,
            j["kind"],
            j["status"],
            tuple(str(Path(p).relative_to(out)) for p in j["outputs"]),
        )
        for j in jobs
    )


# --- a batch through two workers equals the local result --------------------------------


def test_two_workers_give_the_local_result(
    small_clips: list[Path], tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    local_out, cluster_out = tmp_path / "local", tmp_path / "cluster"
    local = run_cli(
        ["process", *small_clips, "-p", "web", "-o", local_out, "--json"],
        home=tmp_path / "home-local",
    )
    assert local.rc == 0, local.stderr
    start_worker("wA")
    start_worker("wB")
    cluster = run_cli(
        [
            "process",
            *small_clips,
            "-p",
            "web",
            "-o",
            cluster_out,
            "--json",
            "--broker",
            redis_server.url,
        ],
        home=tmp_path / "home-cluster",
    )
    assert cluster.rc == 0, cluster.stderr
    local_jobs, cluster_jobs = json_lines(local.stdout), json_lines(cluster.stdout)
    assert len(cluster_jobs) == 9
    assert shape(cluster_jobs, cluster_out) == shape(local_jobs, local_out)
    # Each history record says which worker ran the job; both took a share.
    assert {j["worker"] for j in cluster_jobs} == {"wA", "wB"}
    for a, b in zip(
        sorted(local_out.rglob("*.mp4")), sorted(cluster_out.rglob("*.mp4")), strict=True
    ):
        assert abs(probe(str(a)).duration - probe(str(b)).duration) < 0.05
    assert_no_temp_files(cluster_out)
    # The worker's job log came back and sits beside the history.
    for job in cluster_jobs:
        log = tmp_path / "home-cluster" / "logs" / "jobs" / f"{job['job']}.log"
        assert f"on {job['worker']}" in log.read_text()


# --- messages that must not run ------------------------------------------------------------


def send(url: str, spec: dict[str, Any], *, attempt: str | None = "current", **kw: Any) -> str:
    """Send one job the way the executor does (attempt key, then the task); returns its id."""
    task_id = uuid.uuid4().hex
    client = redis.Redis.from_url(url)
    if attempt is not None:
        client.set(keys.attempt(spec["id"]), task_id if attempt == "current" else attempt)
    client.close()
    app = make_celery(url)
    app.send_task(TASK_NAME, args=[spec, "sub-" + spec["id"]], task_id=task_id, queue="light", **kw)
    return task_id


def relayed(client: redis.Redis, job_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The relay messages of one job until its finished message (or the timeout)."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = client.blpop([keys.relay("sub-" + job_id)], timeout=1)
        if item is not None:
            messages.append(json.loads(item[1]))
            if messages[-1]["type"] == "finished":
                break
    return messages


def test_pickled_and_stale_messages_are_refused_unrun(
    small_clips: list[Path],
    redis_server: RedisServer,
    rclient: redis.Redis,
    start_worker: StartWorker,
) -> None:
    worker = start_worker("wP", queues="light")
    pickled = probe_spec(str(small_clips[0])).to_dict()
    send(redis_server.url, pickled, serializer="pickle")
    stale = probe_spec(str(small_clips[0])).to_dict()
    send(redis_server.url, stale, attempt="another-attempt")  # e.g. redelivered after a resend
    fresh = probe_spec(str(small_clips[0])).to_dict()
    send(redis_server.url, fresh)  # the worker is alive and answering after both
    assert relayed(rclient, fresh["id"])[-1]["result"]["status"] == "succeeded"
    wait_for(lambda: "ContentDisallowed" in worker.output(), 10, "the pickle refusal in the log")
    wait_for(lambda: "not the current attempt" in worker.output(), 10, "the stale drop")
    assert rclient.llen(keys.relay("sub-" + pickled["id"])) == 0
    assert rclient.llen(keys.relay("sub-" + stale["id"])) == 0
    assert rclient.llen("light") == 0  # nothing left to deliver again


def test_refusals_name_the_worker_and_the_path(
    small_clips: list[Path],
    tmp_path: Path,
    redis_server: RedisServer,
    rclient: redis.Redis,
    start_worker: StartWorker,
) -> None:
    start_worker("wR", queues="light")
    newer = {**probe_spec(str(small_clips[0])).to_dict(), "v": 99}
    send(redis_server.url, newer)
    result = relayed(rclient, newer["id"])[-1]["result"]
    assert result["status"] == "failed"
    assert "worker wR refuses job spec version 99" in result["error"]
    unseen = probe_spec(str(tmp_path / "not-mounted" / "x.mp4")).to_dict()
    send(redis_server.url, unseen)
    result = relayed(rclient, unseen["id"])[-1]["result"]
    assert result["error"].startswith(f"worker wR cannot see the source {tmp_path}")
    assert result["worker"] == "wR"


def test_path_map_translates_sources_and_outputs(
    small_clips: list[Path],
    tmp_path: Path,
    redis_server: RedisServer,
    rclient: redis.Redis,
    start_worker: StartWorker,
) -> None:
    """The submitter calls the storage /rf-shared-XXXX (which this machine does not have);
    the worker mounts it at tmp_path/mnt and says so with --path-map."""
    mount = tmp_path / "mnt"
    (mount / "in").mkdir(parents=True)
    source = Path(shutil.copy2(small_clips[0], mount / "in" / "clip.mp4"))
    shared = f"/rf-shared-{uuid.uuid4().hex[:8]}"
    start_worker("wM", queues="light", extra=("--path-map", f"{shared}={mount}"))
    info = probe(str(source))
    preset = PresetCatalog(Path(__file__).parents[2] / "resources" / "presets", tmp_path).get(
        "thumbnails"
    )
    spec = next(pj.spec for pj in plan_jobs(info, preset, mount / "out") if not pj.reject)
    as_submitter = PathMap.parse([f"{mount}={shared}"]).spec_to_worker(spec.to_dict())
    assert as_submitter["source"].startswith(shared)
    send(redis_server.url, as_submitter)
    result = relayed(rclient, spec.id)[-1]["result"]
    assert result["status"] == "succeeded", result["error"]
    assert result["worker"] == "wM"
    for out in result["outputs"]:  # reported in the submitter's terms, written on the mount
        assert out["path"].startswith(shared + "/out/")
        assert (mount / out["path"][len(shared) + 1 :]).is_file()


# --- cancel and a lost worker, through the real CLI ------------------------------------------


@linux_only
def test_ctrl_c_stops_ffmpeg_on_the_worker(
    long_clip: Path, tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    worker = start_worker("wC", queues="heavy,light")
    out = tmp_path / "out"
    proc = cli_process(long_clip, out, tmp_path / "home", redis_server.url)
    try:
        wait_for(lambda: ffmpeg_writing_to(out), 60, "the encode to start on the worker")
        assert {ppid for _, ppid in ffmpeg_writing_to(out)} == {worker.proc.pid}
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    assert proc.returncode == 130, stderr
    encode = next(j for j in json_lines(stdout) if j["kind"] == "encode")
    assert encode["status"] == "cancelled"
    assert encode["worker"] == "wC"
    wait_for(lambda: not ffmpeg_writing_to(out), 10, "ffmpeg to be gone")
    assert worker.proc.poll() is None  # the worker itself goes on
    assert_no_temp_files(out)
    assert not list(out.rglob("*.mp4"))


@linux_only
def test_sigkill_of_a_worker_resends_its_job_once(
    long_clip: Path, tmp_path: Path, redis_server: RedisServer, start_worker: StartWorker
) -> None:
    workers = {w.proc.pid: w for w in (start_worker("wK1"), start_worker("wK2"))}
    out, home = tmp_path / "out", tmp_path / "home"
    proc = cli_process(long_clip, out, home, redis_server.url)
    try:
        running = wait_for(lambda: ffmpeg_writing_to(out, ".mp4"), 60, "the encode to start")
        victim = workers[running[0][1]]  # type: ignore[index]
        killed_at = time.monotonic()
        victim.kill_group(signal.SIGKILL)  # the whole process group: "machine gone"
        wait_for(
            lambda: not any(pp == victim.proc.pid for _, pp in ffmpeg_writing_to(out)),
            10,
            "the killed worker's ffmpeg to die with it",
        )
        stdout, stderr = proc.communicate(timeout=220)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    assert proc.returncode == 0, stderr
    assert time.monotonic() - killed_at < 220
    survivor = next(w for w in workers.values() if w is not victim)
    assert f"worker {victim.name} stopped answering" in stderr
    jobs = json_lines(stdout)
    encode = next(j for j in jobs if j["kind"] == "encode")
    assert encode["status"] == "succeeded"
    assert encode["attempt"] == 2
    assert encode["worker"] == survivor.name
    assert len([j for j in jobs if j["kind"] == "encode"]) == 1  # one result
    # Exactly one copy of every output, at the names planned the first time.
    made = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert made == sorted(Path(p).name for j in jobs for p in j["outputs"])
    assert not [n for n in made if "(" in n]
    assert_no_temp_files(out)
    history = run_cli(["history", "--json"], home=home)
    record = next(
        json.loads(r) for r in history.stdout.splitlines() if json.loads(r)["job"] == encode["job"]
    )
    assert record["attempt"] == 2
    from reelforge.storage.engine import open_database
    from reelforge.storage.repository import Repository

    engine = open_database(home / "history.sqlite3")
    try:
        moves = [
            (t.from_status, t.to_status, t.reason or "")
            for t in Repository(engine).transitions(encode["job"])
            if t.from_status
        ]
    finally:
        engine.dispose()
    assert [m[:2] for m in moves] == [
        ("queued", "running"),
        ("running", "interrupted"),
        ("interrupted", "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]
    assert f"worker {victim.name} stopped answering" in moves[1][2]


# --- the broker goes away mid-batch ---------------------------------------------------------


class Lines:
    """A child's stream read on a thread, so a test can wait for a line while it runs."""

    def __init__(self, stream: Any) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.text += line

    def join(self) -> str:
        self._thread.join(10)
        return self.text


@linux_only
def test_broker_outage_is_reported_and_the_rest_resumes_when_it_returns(
    long_clip: Path,
    small_clips: list[Path],
    tmp_path: Path,
    redis_server: RedisServer,
    start_worker: StartWorker,
) -> None:
    start_worker("wO")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        cli_argv("process", long_clip, *small_clips, "-p", "web", "-o", out, "--json",
                 "--broker", redis_server.url),
        env=cli_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    stdout, stderr = Lines(proc.stdout), Lines(proc.stderr)
    try:
        wait_for(lambda: ffmpeg_writing_to(out), 60, "a job to be running on the worker")
        redis_server.stop()  # restarted below empty, as a broker without persistence would be
        wait_for(lambda: "unreachable" in stderr.text, 20, "the submitter to say so")
        finished_during_outage = len(json_lines(stdout.text))
        redis_server.start()
        proc.wait(timeout=220)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    err = stderr.join()
    assert proc.returncode == 0, err
    assert sum("unreachable" in ln for ln in err.splitlines()) == 1, err  # said once
    assert "is back" in err
    jobs = json_lines(stdout.join())
    assert len(jobs) == 12 > finished_during_outage  # 4 probes, 4 encodes, 4 posters
    assert len({j["job"] for j in jobs}) == 12  # each job settled exactly once
    assert {j["status"] for j in jobs} == {"succeeded"}
    made = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert made == sorted(Path(p).name for j in jobs for p in j["outputs"])
    assert_no_temp_files(out)
