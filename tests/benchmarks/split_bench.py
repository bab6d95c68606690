"""Long-file splitting benchmark (issue 7, benchmark 2): one long 1080p source encoded with the
`web` preset in one pass, and split at keyframes across two cluster workers and across two
local heavy slots; wall time, output size and quality against the source, side by side.

    .venv/bin/python tests/benchmarks/split_bench.py [--seconds 120] [--no-readme]

The source is testsrc2 with moving grain (so the encoder has real work, unlike a flat test
card), 1920x1080, 25 fps, AAC tone. Quality is each output's SSIM and PSNR against the source
scaled to the output's size, by ffmpeg's own filters (VMAF too when the ffmpeg build has
libvmaf). Split runs cut every `--seconds / 2` (two segments, one per worker or slot). Needs
`redis-server` on PATH. Writes bench-out/split/results.json and, unless --no-readme, the README
block between `<!-- split-bench:start -->` and `<!-- split-bench:end -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cluster_bench import FFMPEG, REELFORGE, Cluster, write_readme_block

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-out" / "split"
START, END = "<!-- split-bench:start -->", "<!-- split-bench:end -->"


# Light grain: enough that x264 has real work, unlike a flat test card, without the ~90 Mbit/s
# that strong grain (alls=12) costs at CRF 22, which made a 2-minute run take most of an hour.
GRAIN = 4


def grainy_source(seconds: int) -> Path:
    path = OUT / "media" / f"grain{GRAIN}-1080p-{seconds}s.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".part-{path.name}")
    subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=25:d={seconds},noise=alls={GRAIN}:allf=t",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
         "-g", "50", "-c:a", "aac", "-b:a", "128k", "-pix_fmt", "yuv420p", str(part)],
        check=True,
    )  # fmt: skip
    part.rename(path)
    return path


def settings_toml(home: Path, split_after: float, segment: float, heavy: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(
        f"split_after = {split_after}\nsegment_seconds = {segment}\nheavy_concurrency = {heavy}\n"
    )


def encode(name: str, source: Path, *, split: float, heavy: int, broker: str | None) -> dict:
    run = OUT / "runs" / name
    shutil.rmtree(run, ignore_errors=True)
    home, out = run / "home", run / "out"
    settings_toml(home, split, split, heavy)
    env = {k: v for k, v in os.environ.items() if k != "REELFORGE_BROKER"}
    env["REELFORGE_HOME"] = str(home)
    argv = [*REELFORGE, "process", str(source), "-p", "web", "-o", str(out), "--json"]
    if broker:
        argv += ["--broker", broker]
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - began
    jobs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or any(j["status"] != "succeeded" for j in jobs):
        raise RuntimeError(f"{name} failed: rc {done.returncode}\n{done.stderr[-2000:]}")
    [job] = [j for j in jobs if j["kind"] == "encode"]
    outputs = sorted(p for p in job["outputs"] if p.endswith(".mp4"))
    return {"wall": wall, "encode_s": job["seconds"], "worker": job["worker"], "outputs": outputs}


def quality(output: str, source: Path, vmaf: bool) -> dict[str, float]:
    """SSIM, PSNR (and VMAF on every 5th frame) of `output` against the source scaled to its
    size, in one decode of each."""
    names = ["ssim", "psnr"] + (["libvmaf=n_subsample=5:n_threads=2"] if vmaf else [])
    n = len(names)
    graph = (
        f"[1:v][0:v]scale2ref=flags=bicubic[ref][dist];[dist]split={n}"
        + "".join(f"[d{i}]" for i in range(n))
        + f";[ref]split={n}"
        + "".join(f"[r{i}]" for i in range(n))
        + "".join(f";[d{i}][r{i}]{name}" for i, name in enumerate(names))
    )
    text = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", output, "-i", str(source),
         "-lavfi", graph, "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    patterns = {"ssim": r"SSIM .*All:([\d.]+)", "psnr": r"PSNR .*average:([\d.]+)"}
    if vmaf:
        patterns["vmaf"] = r"VMAF score: ([\d.]+)"
    found = {}
    for key, pattern in patterns.items():
        m = re.findall(pattern, text)
        found[key] = float(m[-1]) if m else float("nan")
    return found


def describe(name: str, res: dict, source: Path, vmaf: bool) -> dict:
    rows = []
    for path in res["outputs"]:
        rows.append({"output": Path(path).name, "size": os.path.getsize(path),
                     **quality(path, source, vmaf)})  # fmt: skip
    print(f"  {name:<22} {res['wall']:7.1f} s  " + ", ".join(
        f"{r['output']} {r['size'] / 1e6:.1f} MB SSIM {r['ssim']:.4f} PSNR {r['psnr']:.2f}"
        for r in rows
    ), flush=True)  # fmt: skip
    return {**res, "rows": rows}


def render(res: dict[str, Any]) -> str:
    one = res["one_pass"]
    lines = [
        f"Measured {res['date']} on {res['cores']} cores (load average {res['load_before']:.1f} "
        f"before, {res['load_after']:.1f} after), by `.venv/bin/python "
        f"tests/benchmarks/split_bench.py`: {res['desc']}, preset `web`.",
        "",
        "| run | wall | vs one pass | rendition | size vs one pass | SSIM | PSNR dB |"
        + (" VMAF |" if res["vmaf"] else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if res["vmaf"] else ""),
    ]
    for key, label in (
        ("one_pass", "one pass, local pool"),
        ("cluster", "split in 2, two workers x 1 slot"),
        ("local", "split in 2, local pool, 2 heavy slots"),
    ):
        run = res[key]
        for i, row in enumerate(run["rows"]):
            base = one["rows"][i]
            first = i == 0
            wall = f"{run['wall']:.1f} s" if first else ""
            ratio = f"**{run['wall'] / one['wall']:.2f}x**" if first else ""
            lines.append(
                f"| {label if first else ''} | {wall} | {ratio} "
                f"| {row['output'].split('.')[-2]} | {row['size'] / base['size']:.3f}x "
                f"| {row['ssim']:.4f} | {row['psnr']:.2f} |"
                + (f" {row.get('vmaf', float('nan')):.2f} |" if res["vmaf"] else "")
            )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=120)
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()
    source = grainy_source(args.seconds)
    half = args.seconds / 2
    vmaf = (
        "libvmaf"
        in subprocess.run(
            [FFMPEG, "-hide_banner", "-filters"], capture_output=True, text=True
        ).stdout
    )
    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "cores": os.cpu_count(),
        "desc": f"{args.seconds} s 1920x1080 25 fps with grain (noise alls={GRAIN}), AAC",
        "vmaf": vmaf,
        "load_before": os.getloadavg()[0],
    }
    res["one_pass"] = describe(
        "one pass", encode("one-pass", source, split=0, heavy=1, broker=None), source, vmaf
    )
    cluster = Cluster([("light,heavy", 1), ("light,heavy", 1)])  # one piece each
    try:
        res["cluster"] = describe(
            "split, 2 workers",
            encode("cluster", source, split=half, heavy=1, broker=cluster.url),
            source,
            vmaf,
        )
    finally:
        cluster.stop()
    res["local"] = describe(
        "split, 2 heavy slots",
        encode("local", source, split=half, heavy=2, broker=None),
        source,
        vmaf,
    )
    res["load_after"] = os.getloadavg()[0]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(res, indent=2))
    block = render(res)
    print("\n" + block)
    if not args.no_readme:
        write_readme_block(START, END, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
