"""Cluster-mode benchmark (issue 7): the same batch on the local pool and on two worker
processes of this machine, side by side in one run, plus the broker's round trip.

    .venv/bin/python tests/benchmarks/cluster_bench.py [--quick] [--repeats N] [--no-readme]

Both sides get the same slots: the local pool runs `--jobs 2` (2 heavy threads, plus its 2
light ones); the cluster runs two `reelforge worker` processes that mirror those lanes, one
`--queues heavy --concurrency 2` and one `--queues light --concurrency 2`, on a redis-server
started here on a free loopback port. (Until 2026-11-23 the cluster side was two workers of one
slot each serving both queues: 2 slots against the local pool's 4, so a poster waited behind
an encode there and not here; that measured the setup, not the cluster path.) Every run has a
fresh data folder and output folder, and the contenders alternate order across repeats; medians
are reported. Needs `redis-server` on PATH. Writes bench-out/cluster/results.json and, unless
--no-readme or --quick, the README block between `<!-- cluster-bench:start -->` and
`<!-- cluster-bench:end -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import redis

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-out" / "cluster"
MEDIA = OUT / "media"
README = ROOT / "README.md"
START, END = "<!-- cluster-bench:start -->", "<!-- cluster-bench:end -->"
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
REELFORGE = [sys.executable, "-m", "reelforge"]


def ff(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", *args], check=True)


def clip(path: Path, size: str, seconds: float, freq: int) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".part-{path.name}")
        ff(
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s={size}:r=25:d={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:sample_rate=48000:duration={seconds}",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-g",
            "50",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            str(part),
        )
        part.rename(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class Cluster:
    """redis-server and two workers, started once and kept warm, as a real cluster would be."""

    def __init__(self, workers: list[tuple[str, int]]) -> None:
        """`workers`: (queues, concurrency) of each worker process to start."""
        server = shutil.which("redis-server")
        if not server:
            raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.procs: list[subprocess.Popen[bytes]] = [
            subprocess.Popen(
                [
                    server,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        ]
        self.client = redis.Redis(port=self.port)
        wait_for(self._ping, 10, "redis-server")
        for i, (queues, concurrency) in enumerate(workers):
            home = OUT / "workers" / f"w{i}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            env = dict(os.environ, REELFORGE_HOME=str(home))
            log = (home / "worker.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        *REELFORGE,
                        "worker",
                        "--broker",
                        self.url,
                        "--concurrency",
                        str(concurrency),
                        "--name",
                        f"bench{i}",
                        "--queues",
                        queues,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
            wait_for(lambda n=i: self.client.exists(f"reelforge:worker:bench{n}"), 60, "a worker")
        time.sleep(2)  # the workers' consumers are up a moment after their heartbeats

    def _ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def round_trip_ms(self, n: int = 500) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            self.client.ping()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


LANES = [("heavy", 2), ("light", 2)]  # the local pool's lanes under `--jobs 2`


def run_batch(name: str, n: int, sources: list[Path], preset: str, broker: str | None) -> float:
    run = OUT / "runs" / f"{name}-{n}-{'cluster' if broker else 'local'}"
    shutil.rmtree(run, ignore_errors=True)
    home, out = run / "home", run / "out"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "REELFORGE_BROKER"}
    env["REELFORGE_HOME"] = str(home)
    argv = [
        *REELFORGE,
        "process",
        *map(str, sources),
        "-p",
        preset,
        "-o",
        str(out),
        "--json",
        "--jobs",
        "2",
        *(["--broker", broker] if broker else []),
    ]
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - began
    jobs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    bad = [j for j in jobs if j["status"] != "succeeded"]
    if done.returncode != 0 or bad:
        raise RuntimeError(f"{name} run failed: rc {done.returncode}, {bad[:2]}\n{done.stderr}")
    (run / "jobs.jsonl").write_text(done.stdout)
    return wall


def compare(name: str, sources: list[Path], preset: str, url: str, repeats: int) -> dict:
    samples: dict[str, list[float]] = {"local": [], "cluster": []}
    for r in range(repeats):
        order = ["local", "cluster"] if r % 2 == 0 else ["cluster", "local"]
        for side in order:
            wall = run_batch(name, r, sources, preset, url if side == "cluster" else None)
            samples[side].append(wall)
            print(f"  {name} #{r + 1} {side:<7} {wall:7.2f} s", flush=True)
    local, cluster = (statistics.median(samples[k]) for k in ("local", "cluster"))
    return {"local": local, "cluster": cluster, "ratio": cluster / local, "samples": samples}


def render(res: dict[str, Any]) -> str:
    web, tiny = res["web"], res["tiny"]
    per_job_ms = (tiny["cluster"] - tiny["local"]) / res["tiny_jobs"] * 1000
    return "\n".join(
        [
            f"Measured {res['date']} on {res['cores']} cores (load average "
            f"{res['load_before']:.1f} before, {res['load_after']:.1f} after, its own encodes "
            f"included), {res['repeats']} alternating repeats (medians), by "
            "`.venv/bin/python tests/benchmarks/cluster_bench.py`:",
            "",
            "| batch | local pool (`--jobs 2`: 2 heavy + 2 light) "
            "| 2 workers, same machine (heavy x 2, light x 2) "
            "| cluster / local |",
            "|---|---|---|---|",
            f"| web: {res['web_desc']} | {web['local']:.1f} s | {web['cluster']:.1f} s "
            f"| **{web['ratio']:.2f}x** (target <= 1.05x) |",
            f"| tiny: {res['tiny_desc']} | {tiny['local']:.1f} s | {tiny['cluster']:.1f} s "
            f"| {tiny['ratio']:.2f}x |",
            "",
            f"Redis round trip (PING, loopback): {res['rtt_ms']:.3f} ms. Cost of the cluster path "
            f"from the tiny batch: {per_job_ms:+.0f} ms a job against the local pool (an upper "
            "bound: it includes the submitter's one-off Celery import and connections, ~0.3 s).",
            "",
        ]
    )


def write_readme_block(start: str, end: str, block: str) -> None:
    """Replace what the README holds between the two markers (left alone if either is gone)."""
    text = README.read_text(encoding="utf-8")
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        README.write_text(f"{before}{start}\n{block}{end}{after}", encoding="utf-8")
        print(f"README.md updated between {start} and {end}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small inputs, README untouched")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()
    seconds, clips, tiny_n = (4, 2, 10) if args.quick else (10, 3, 30)
    web = [
        clip(MEDIA / f"web-1080p-{seconds}s-{i}.mp4", "1920x1080", seconds, 330 + 110 * i)
        for i in range(clips)
    ]
    tiny = [
        clip(MEDIA / "tiny" / f"t{i:03d}.mp4", "320x240", 1, 200 + 7 * i) for i in range(tiny_n)
    ]
    cluster = Cluster(LANES)
    try:
        res: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "cores": os.cpu_count(),
            "repeats": args.repeats,
            "web_desc": f"{clips} x {seconds} s 1080p, preset web",
            "tiny_desc": f"{tiny_n} x 1 s 320x240, preset audio",
            "tiny_jobs": tiny_n * 2,  # probe + audio per clip
            "rtt_ms": cluster.round_trip_ms(),
            "load_before": os.getloadavg()[0],
        }
        res["web"] = compare("web", web, "web", cluster.url, args.repeats)
        res["tiny"] = compare("tiny", tiny, "audio", cluster.url, args.repeats)
    finally:
        cluster.stop()
    res["load_after"] = os.getloadavg()[0]
    (OUT / "results.json").write_text(json.dumps(res, indent=2))
    block = render(res)
    print("\n" + block)
    if not (args.quick or args.no_readme):
        write_readme_block(START, END, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
