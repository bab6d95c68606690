"""`reelforge watch DIR --preset P --out OUT`: a clip copied in is processed once it is stable,
its outputs (inside the watched folder) are not taken again; Prometheus metrics are served;
Ctrl-C stops it with 130. Also the one-line usage errors."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from checkers import assert_no_traceback, cli_argv, cli_env, run_cli_subprocess


def _lines_until(proc: subprocess.Popen[bytes], predicate, timeout: float) -> list[dict]:
    import selectors

    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate(found):
        if sel.select(timeout=0.5):
            line = proc.stdout.readline()
            if not line:
                break
            found.append(json.loads(line))
    return found


def test_watch_processes_a_stable_clip_once(tiny_clip: Path, tmp_path: Path, reelforge_home):
    inbox = tmp_path / "inbox"
    out = inbox / "out"  # outputs inside the watched folder
    inbox.mkdir()
    err_log = tmp_path / "stderr.txt"
    with err_log.open("wb") as err:
        proc = subprocess.Popen(
            cli_argv(
                "watch", inbox, "-p", "thumbnails", "-o", out, "--json", "--metrics-port", "0"
            ),
            env=cli_env(reelforge_home),
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while "watching" not in err_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.copy(tiny_clip, inbox / "tiny.mp4")
        jobs = _lines_until(proc, lambda f: any(j["kind"] == "thumbnails" for j in f), 90)
        assert {j["kind"]: j["status"] for j in jobs} == {
            "probe": "succeeded",
            "thumbnails": "succeeded",
        }
        assert all(Path(o).is_relative_to(out) for j in jobs for o in j["outputs"])
        port = int(re.search(r"metrics on http://127\.0\.0\.1:(\d+)/", err_log.read_text())[1])
        wanted = 'reelforge_jobs_finished_total{lane="light",status="succeeded"} 2.0'
        # The JSON line can be printed before the exporter (a later subscriber of the same
        # event) counts the job: scrape until it shows, for a few seconds at most.
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                metrics = resp.read().decode()
            if wanted in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert wanted in metrics
        # Its own outputs sit inside the watched folder: a rescan must not take them.
        more = _lines_until(proc, lambda f: False, 5)
        assert more == []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err_log.read_text()
    assert_no_traceback(text)
    assert f"watching {inbox} (thumbnails -> {out})" in text and "taken: " in text
    events = run_cli_subprocess(["events", "--json"], home=reelforge_home)
    names = [json.loads(x).get("event") for x in events.stdout.splitlines()]
    assert names.count("WatchedFileTaken") == 1 and "JobFinished" in names


def test_watch_usage_errors(tmp_path: Path, reelforge_home) -> None:
    missing = run_cli_subprocess(["watch", tmp_path / "nope"], home=reelforge_home)
    assert (
        missing.rc == 2
        and missing.stderr.strip() == f"reelforge: not a folder: {tmp_path / 'nope'}"
    )
    none = run_cli_subprocess(["watch"], home=reelforge_home)
    assert none.rc == 2 and "no folders" in none.stderr
    bad = run_cli_subprocess(["watch", tmp_path, "-p", "nope"], home=reelforge_home)
    assert bad.rc == 2 and "nope" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
