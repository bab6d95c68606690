"""Real parts for the cluster tests: a redis-server on a free loopback port, real
`reelforge worker` and `reelforge beat` processes, each in its own process group, always
stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from checkers import cli_argv, cli_env

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if REDIS is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                REDIS,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def up() -> bool:
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_for(up, 10, "redis-server to answer")
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rclient(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def home(self) -> Path:
        return self.log.parent

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill_group(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.proc.wait(5)
        self.kill_group(signal.SIGKILL)  # anything left in its group


StartWorker = Callable[..., Worker]
StartBeat = Callable[..., Worker]


def _spawn(name: str, home: Path, argv: list[str]) -> Worker:
    """`python -m reelforge ARGV` with this data folder, niced, in a process group of its own."""
    env = dict(os.environ, REELFORGE_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env.pop("REELFORGE_BROKER", None)
    log = home / "worker.log"
    argv = [sys.executable, "-m", "reelforge", *argv]
    nice = shutil.which("nice")
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [nice, "-n", "10", *argv] if nice else argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: SIGKILL of the group is "machine gone"
        )
    return Worker(name, proc, log)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One /metrics page: (sample name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(
    page: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """A sample's value; 0 when the series does not exist (yet)."""
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def start_worker(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartWorker]:
    started: list[Worker] = []
    client = redis.Redis.from_url(redis_server.url)

    def start(
        name: str, *, queues: str = "light,heavy", concurrency: int = 1, extra: tuple[str, ...] = ()
    ) -> Worker:
        home = tmp_path_factory.mktemp(f"worker-{name}")
        argv = [
            "worker",
            "--broker",
            redis_server.url,
            "--queues",
            queues,
            "--concurrency",
            str(concurrency),
            "--name",
            name,
            *extra,
        ]
        worker = _spawn(name, home, argv)
        proc = worker.proc
        started.append(worker)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"worker {name} exited:\n{worker.output()[-3000:]}")
            return " ready." in worker.output() and bool(client.exists(f"reelforge:worker:{name}"))

        wait_for(ready, 60, f"worker {name} to be ready")
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        client.close()


@pytest.fixture
def start_beat(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartBeat]:
    """`reelforge beat` with these settings.toml lines, checking the hours every `every` s."""
    started: list[Worker] = []
    client = redis.Redis.from_url(redis_server.url)

    def start(settings: str, *, every: float = 0.5) -> Worker:
        home = tmp_path_factory.mktemp("beat")
        (home / "settings.toml").write_text(settings)
        argv = ["beat", "--broker", redis_server.url, "--check-every", str(every)]
        beat = _spawn("beat", home, argv)
        started.append(beat)

        def ready() -> bool:
            if beat.proc.poll() is not None:
                raise AssertionError(f"beat exited:\n{beat.output()[-3000:]}")
            return " ready." in beat.output() and bool(client.exists("reelforge:housekeeping"))

        wait_for(ready, 60, "beat to be ready")
        return beat

    try:
        yield start
    finally:
        for beat in started:
            beat.stop()
        client.close()


def ffmpeg_writing_to(folder: Path, suffix: str = "") -> list[tuple[int, int]]:
    """(pid, parent pid) of every live ffmpeg whose command line names a file in this folder
    (ending with `suffix`: ".mp4" finds the encode, not the poster)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        named = "ffmpeg" in Path(argv[0]).name
        if (
            named
            and any(str(folder) in a and a.endswith(suffix) for a in argv)
            and (") Z " not in stat)
        ):
            found.append((int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])))
    return found


def cli_process(source: Path, out: Path, home: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_argv("process", source, "-p", "web", "-o", out, "--json", "--broker", url),
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
