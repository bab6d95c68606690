"""Crash soak: SIGKILL the CLI's whole process group at random moments, resume, repeat, check.

    .venv/bin/python tests/reliability/soak.py --kills 50 [--seed S] [--keep DIR]

A batch of small generated clips runs as `python -m reelforge process SRC -p web -o OUT --json`
in a child process with its own REELFORGE_HOME. At a seeded random moment its process group is
SIGKILLed (ffmpeg runs in a session of its own, so only the parent-death signal can stop it),
then `python -m reelforge resume --json` starts, is killed in its turn, and so on. When a batch
is done before enough kills happened, the next round processes the same clips into a new
folder under OUT. After the last kill a final `resume` runs to the end and every guarantee is
checked against the real folder, the real database and the real process table:

- every job is in exactly one terminal state (nothing queued, running or interrupted), its
  transitions form one chain (each `from` is the previous `to`) with exactly one terminal step,
  and every job that was running at a kill shows `interrupted`, then `queued` again, then ends;
- every job succeeded (the clips are valid: a crash must not turn into a failed job) and every
  source got its probe, encode and poster;
- every file under OUT is an output the history lists (no orphan, no partial output at a final
  name), each one verifies with Debian's ffprobe (streams present, duration close to the
  source's), and no `.rftmp-*` temp file is left anywhere;
- no ffmpeg survives a kill by more than 1 s (a zombie counts as gone), none is left at the end;
- `PRAGMA integrity_check` is ok; a job id is printed at most once over all the runs' JSON
  lines, with the status the history still holds.

The same engine is the default-sized pytest in test_crash_recovery.py. Exit status: 0 when every
guarantee held, 1 when one was violated (each violation is printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from checkers import (  # noqa: E402
    TEMP_PREFIX,
    cli_argv,
    cli_env,
    ffprobe_json,
    streams,
)
from checkers import duration as probed_duration  # noqa: E402
from mediagen import make_clip  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "skipped"}
DEFAULT_SEED = 20261123
# Violations whose cause is a known, reported app bug: printed instead of failing the run.
# Empty: every bug this soak has found is fixed (see the git history of this file).
KNOWN_BUGS: dict[str, str] = {}


# --- the process table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    comm: str
    start: int  # clock ticks after boot: a pid plus this names one process, reuse excluded
    cmdline: bytes


def proc_table() -> list[Proc]:
    """Every process /proc shows right now (ones that vanish while we read are left out)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        found.append(Proc(int(entry.name), int(rest[1]), rest[0], comm, int(rest[19]), cmdline))
    return found


def alive(p: Proc) -> bool:
    """Still running: same pid and start time, and not a zombie (PID 1 may be slow to reap)."""
    try:
        with open(f"/proc/{p.pid}/stat", "rb") as fh:
            stat = fh.read().decode("utf-8", "replace")
    except OSError:
        return False
    rest = stat[stat.rindex(")") + 2 :].split()
    return int(rest[19]) == p.start and rest[0] not in ("Z", "X")


def ffmpeg_processes(needle: str | Path | None = None, parent: int | None = None) -> list[Proc]:
    """Live ffmpeg processes whose command line mentions `needle` and/or whose parent is
    `parent` (either condition matches when both are given)."""
    me = os.getpid()
    found = []
    for p in proc_table():
        if p.pid == me or p.state in ("Z", "X") or "ffmpeg" not in p.comm:
            continue
        by_text = needle is not None and os.fsencode(str(needle)) in p.cmdline
        by_parent = parent is not None and p.ppid == parent
        if by_text or by_parent:
            found.append(p)
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def kill_leftovers(procs: Iterable[Proc]) -> None:
    """Clean up after a violation so the next cycle is not disturbed by it."""
    for p in procs:
        if alive(p):
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGKILL)


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- the database, read as the crashed process left it -----------------------------------


def db_query(home: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A short read-only query (the CLI may be writing: WAL readers never block it)."""
    db = home / "history.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as err:  # not created yet: no such table
        if "no such table" in str(err):
            return []
        raise
    finally:
        conn.close()


def transition_count(home: Path) -> int:
    rows = db_query(home, "SELECT count(*) FROM transitions")
    return int(rows[0][0]) if rows else 0


def running_jobs(home: Path) -> set[str]:
    return {r[0] for r in db_query(home, "SELECT id FROM jobs WHERE status = 'running'")}


# --- the workload ----------------------------------------------------------------------------


@dataclass
class Workload:
    root: Path
    short: int = 8  # 320x240, 1.5 s: each encode is a fraction of a second
    long: int = 2  # 320x240, 4 s: long enough that kills land mid-encode
    jobs: int = 1  # heavy lane slots (`--jobs`)

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "runs"

    def make(self) -> dict[str, float]:
        """The clips (distinct content each) and their durations, by file name."""
        for folder in (self.src, self.out, self.home, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        durations = {}
        for i in range(self.short + self.long):
            seconds = 1.5 if i < self.short else 4.0
            name = f"clip{i:02d}.mp4" if i < self.short else f"long{i - self.short:02d}.mp4"
            make_clip(
                self.src / name,
                size="320x240",
                seconds=seconds,
                extra=("-metadata", f"comment=reliability clip {i}"),
            )
            durations[name] = seconds
        return durations


@dataclass
class Cycle:
    command: str
    seconds: float
    killed: bool
    rc: int | None
    phase: str  # "start-up" or "working"
    mid_encode: bool = False


@dataclass
class Report:
    seed: int
    cycles: list[Cycle] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)  # (category, text)
    running_at_kill: set[str] = field(default_factory=set)
    rounds: int = 0
    jobs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    outputs_checked: int = 0
    seconds: float = 0.0

    @property
    def kills(self) -> int:
        return sum(c.killed for c in self.cycles)

    @property
    def resumes(self) -> int:
        return sum(c.command == "resume" for c in self.cycles)

    def violate(self, category: str, text: str) -> None:
        self.violations.append((category, text))

    def unexpected(self) -> list[str]:
        return [f"[{c}] {t}" for c, t in self.violations if c not in KNOWN_BUGS]

    def known(self) -> list[str]:
        return [f"[{c}] {t}" for c, t in self.violations if c in KNOWN_BUGS]

    def summary(self) -> str:
        mid = sum(c.mid_encode for c in self.cycles)
        startup = sum(c.killed and c.phase == "start-up" for c in self.cycles)
        lines = [
            f"seed {self.seed}: {self.kills} kills ({mid} with ffmpeg running, {startup} during "
            f"start-up/recovery), {len(self.cycles)} runs ({self.resumes} resumes), "
            f"{self.rounds} round(s), {self.jobs} jobs, final states "
            f"{dict(sorted(self.statuses.items()))}, {self.outputs_checked} outputs verified "
            f"with ffprobe, {len(self.running_at_kill)} jobs were running at a kill, "
            f"{self.seconds:.1f} s",
        ]
        lines += [f"VIOLATION {v}" for v in self.unexpected()]
        lines += [f"KNOWN BUG {v}: {KNOWN_BUGS[v.split(']')[0][1:]]}" for v in self.known()]
        return "\n".join(lines)


# --- the kill loop ----------------------------------------------------------------------------


class KillLoop:
    """Runs the CLI again and again, killing each run at a random moment."""

    START_UP_SHARE = 0.3  # share of kills aimed at start-up and recovery (before any work)
    MAX_SLICE = 1.5  # seconds of work a run may do before its kill, at most
    RUN_TIMEOUT = 180.0  # a run that takes longer is a hang (a violation)

    def __init__(
        self, work: Workload, rng: random.Random, report: Report, log: Callable[[str], None] = print
    ) -> None:
        self.work, self.rng, self.report, self.log = work, rng, report, log
        self.startup = 2.5  # seconds from spawn to the first history write; learnt per run
        self.round_out: Path | None = None
        self.n = 0

    def _argv(self, command: str) -> list[str]:
        jobs = ("--jobs", str(self.work.jobs))
        if command == "process":
            assert self.round_out is not None
            return cli_argv(
                "process", self.work.src, "-p", "web", "-o", self.round_out, "--json", *jobs
            )
        return cli_argv("resume", "--json", *jobs)

    def _spawn(self, command: str) -> tuple[subprocess.Popen[bytes], Path]:
        self.n += 1
        stem = self.work.logs / f"{self.n:03d}-{command}"
        with open(f"{stem}.out", "wb") as out, open(f"{stem}.err", "wb") as err:
            proc = subprocess.Popen(
                self._argv(command),
                env=cli_env(self.work.home),
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: killpg reaches all of it
            )
        return proc, stem

    def new_round(self) -> None:
        self.report.rounds += 1
        self.round_out = self.work.out / f"round-{self.report.rounds}"

    def run(self, kills: int, deadline: float | None = None) -> None:
        """Kill runs until `kills` kills happened (or the deadline passed)."""
        self.new_round()
        command = "process"
        while self.report.kills < kills:
            if deadline is not None and time.monotonic() > deadline:
                self.report.violate("budget", f"only {self.report.kills} kills before deadline")
                break
            cycle = self.cycle(command)
            self.report.cycles.append(cycle)
            if cycle.killed:
                command = "resume"
            elif cycle.rc == 0:  # this round's batch is done: next round, same clips
                self.new_round()
                command = "process"
            else:
                command = "resume"  # a failed job: reported at the end, keep going

    def cycle(self, command: str) -> Cycle:
        home = self.work.home
        before = transition_count(home)
        started = time.monotonic()
        proc, stem = self._spawn(command)
        aim = "start-up" if self.rng.random() < self.START_UP_SHARE else "working"
        if aim == "start-up":
            kill_at = started + self.rng.uniform(0.05, 1.0) * self.startup
        else:
            wait_until(
                lambda: proc.poll() is not None or transition_count(home) > before,
                self.RUN_TIMEOUT,
                step=0.01,
            )
            active = time.monotonic()
            self.startup = 0.7 * self.startup + 0.3 * (active - started)
            kill_at = active + self.rng.uniform(0.0, self.MAX_SLICE)
        wait_until(
            lambda: proc.poll() is not None or time.monotonic() >= kill_at,
            self.RUN_TIMEOUT,
            step=0.005,
        )
        if proc.poll() is not None:
            seconds = time.monotonic() - started
            self.log(
                f"  run {self.n:3d} {command:<7} finished by itself, rc {proc.returncode}, "
                f"{seconds:.1f} s"
            )
            if proc.returncode not in (0, 1):
                err = Path(f"{stem}.err").read_text(errors="replace").strip()
                self.report.violate("exit", f"{command} exited {proc.returncode}: {err[-300:]}")
            return Cycle(command, seconds, False, proc.returncode, aim)
        return self._kill(proc, command, started, aim)

    def _kill(self, proc: subprocess.Popen[bytes], command: str, started: float, aim: str) -> Cycle:
        out = self.work.out
        encoders = ffmpeg_processes(out)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        seconds = time.monotonic() - started
        # ffmpeg is in a session of its own: the group kill missed it, the parent-death
        # signal must not. Pids recorded before the kill, plus anything working on OUT.
        gone = wait_until(
            lambda: not any(alive(p) for p in encoders) and not ffmpeg_processes(out), 1.0
        )
        if not gone:
            left = [p for p in encoders if alive(p)] + ffmpeg_processes(out)
            self.report.violate(
                "ffmpeg-survived",
                f"{len(left)} ffmpeg still running 1 s after the CLI was killed: "
                f"{[(p.pid, p.comm, p.state) for p in left]}",
            )
            kill_leftovers(left)
        running = running_jobs(self.work.home)
        self.report.running_at_kill |= running
        self.log(
            f"  run {self.n:3d} {command:<7} killed after {seconds:.2f} s ({aim}), "
            f"{len(encoders)} ffmpeg, {len(running)} job(s) running"
        )
        return Cycle(command, seconds, True, None, aim, mid_encode=bool(encoders))

    def finish(self) -> Cycle:
        """The last resume, never killed: it must finish what the kills left."""
        started = time.monotonic()
        proc, stem = self._spawn("resume")
        try:
            rc = proc.wait(timeout=self.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.report.violate("hang", f"the final resume did not end in {self.RUN_TIMEOUT} s")
            rc = None
        err = Path(f"{stem}.err").read_text(errors="replace")
        if rc not in (0, None):
            self.report.violate("exit", f"final resume exited {rc}: {err.strip()[-300:]}")
        if "Traceback" in err:
            self.report.violate("traceback", f"final resume printed a traceback: {err[-500:]}")
        cycle = Cycle("resume", time.monotonic() - started, False, rc, "final")
        self.report.cycles.append(cycle)
        self.log(f"  final resume: rc {rc}, {cycle.seconds:.1f} s")
        return cycle


# --- the checks ------------------------------------------------------------------------------


def _printed_jobs(logs: Path) -> list[dict[str, Any]]:
    """Every complete JSON line every run printed (a killed run may end in half a line)."""
    found = []
    for path in sorted(logs.glob("*.out")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines(True):
            if not line.endswith("\n"):
                continue  # cut by the kill
            if line.strip():
                found.append(json.loads(line))
    return found


def _check_output(path: Path, recorded_size: int, source_seconds: float) -> str | None:
    """None when the file is a good output; else what is wrong with it (ffprobe's view)."""
    if not path.is_file():
        return "missing"
    if path.stat().st_size != recorded_size:
        return f"size {path.stat().st_size} != recorded {recorded_size}"
    try:
        info = ffprobe_json(path)
    except AssertionError as err:
        return str(err).splitlines()[0]
    if path.suffix == ".jpg":
        pics = streams(info, "video")
        if len(pics) != 1 or pics[0].get("codec_name") != "mjpeg":
            return f"not one JPEG picture: {[s.get('codec_name') for s in pics]}"
        return None
    if len(streams(info, "video")) != 1 or len(streams(info, "audio")) != 1:
        return "expected one video and one audio stream"
    got = probed_duration(info)
    if abs(got - source_seconds) > 0.25 + 0.05 * source_seconds:
        return f"duration {got:.2f} s, source {source_seconds:.2f} s"
    return None


def check(work: Workload, durations: dict[str, float], report: Report) -> None:
    """Every guarantee, against the real folder, database and process table."""
    from reelforge.storage.engine import open_database
    from reelforge.storage.repository import Repository

    engine = open_database(work.home / "history.sqlite3")
    try:
        repo = Repository(engine)
        _check_history(repo, work, durations, report)
        if not repo.integrity_ok():
            report.violate("integrity", "PRAGMA integrity_check is not ok")
    finally:
        engine.dispose()
    left = ffmpeg_processes(work.out)
    if left:
        report.violate("ffmpeg-left", f"ffmpeg still running at the end: {left}")
        kill_leftovers(left)


def _check_history(repo: Any, work: Workload, durations: dict[str, float], report: Report) -> None:
    jobs = repo.history()
    report.jobs = len(jobs)
    report.statuses = Counter(j.status.value for j in jobs)
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):
        report.violate("duplicate", "a job id appears more than once in the history")
    by_id = {j.id: j for j in jobs}

    for job in jobs:
        status = job.status.value
        if status not in TERMINAL:
            report.violate("not-terminal", f"{job.label} of {job.source_path} is {status}")
        elif status != "succeeded":
            report.violate(
                "not-succeeded", f"{job.label} of {job.source_path} is {status}: {job.error}"
            )
        steps = repo.transitions(job.id)
        chain = [(t.from_status and t.from_status.value, t.to_status.value) for t in steps]
        previous = None
        for src, dst in chain:
            if src != previous:
                report.violate("chain", f"job {job.id}: transitions do not chain: {chain}")
                break
            previous = dst
        if previous != status:
            report.violate("chain", f"job {job.id}: last transition {previous} != {status}")
        # One terminal step per attempt, and the last attempt has it. A second attempt after a
        # terminal step is allowed for one reason only: a probe whose plan the kill cut off
        # (probed, but the jobs it fans out into were never recorded) is probed again.
        attempts: list[list[str]] = []
        for step, (_, dst) in zip(steps, chain, strict=True):
            if dst == "queued":
                if (
                    attempts
                    and attempts[-1][-1] in TERMINAL
                    and not (
                        job.kind.value == "probe"
                        and (step.reason or "").endswith("plan was cut off")
                    )
                ):
                    report.violate("re-run", f"job {job.id}: settled, then queued again {chain}")
                attempts.append([])
            if not attempts:  # added already settled (skipped, failed): no queued step
                attempts.append([])
            attempts[-1].append(dst)
        ends = [sum(dst in TERMINAL for dst in a) for a in attempts]
        if not ends or ends[-1] != 1 or any(n > 1 for n in ends):
            report.violate("terminal-count", f"job {job.id}: terminal steps {ends} in {chain}")
        for i, (_, dst) in enumerate(chain):
            if dst == "interrupted":
                after = [d for _, d in chain[i + 1 :]]
                if not after or after[0] != "queued" or after[-1] not in TERMINAL:
                    report.violate("interrupted", f"job {job.id}: interrupted but then {after}")
    for job_id in sorted(report.running_at_kill):
        job = by_id.get(job_id)
        if job is None:
            report.violate("lost-job", f"job {job_id} was running at a kill and is gone")
        elif "interrupted" not in {t.to_status.value for t in repo.transitions(job_id)}:
            report.violate("interrupted", f"job {job_id} was running at a kill; no interrupted")

    # Every source of every round: one probe, one encode, one poster, all succeeded.
    per_source: dict[tuple[int, str], Counter[str]] = {}
    for job in jobs:
        per_source.setdefault((job.batch_id, job.source_path), Counter())[job.kind.value] += 1
    batches = {job.batch_id for job in jobs}
    for batch in sorted(batches):
        for name in sorted(durations):
            src = str((work.src / name).absolute())
            kinds = per_source.get((batch, src), Counter())
            if kinds == Counter(probe=1):
                report.violate("lost-plan", f"batch {batch}: {name} was probed, never planned")
            elif kinds != Counter(probe=1, encode=1, thumbnails=1):
                report.violate("jobs", f"batch {batch}: {name} has jobs {dict(kinds)}")

    # The folder holds exactly the recorded outputs, each one good; no temp file anywhere.
    recorded: dict[Path, tuple[int, float]] = {}
    for job in jobs:
        seconds = durations.get(Path(job.source_path).name, 0.0)
        for o in job.outputs:
            recorded[Path(o.path).resolve()] = (o.size, seconds)
    for path in sorted(p for p in work.out.rglob("*") if not p.is_dir()):
        if path.name.startswith(TEMP_PREFIX):
            report.violate("temp-left", f"temp file left: {path.relative_to(work.out)}")
        elif path.resolve() not in recorded:
            report.violate("orphan", f"file the history does not list: {path}")
    for path, (size, seconds) in sorted(recorded.items()):
        problem = _check_output(path, size, seconds)
        report.outputs_checked += 1
        if problem:
            report.violate("bad-output", f"{path}: {problem}")

    # What the runs printed agrees with the history: each job at most once, same status.
    printed = Counter(j["job"] for j in _printed_jobs(work.logs))
    for job_id, times in printed.items():
        if times > 1:
            report.violate("printed-twice", f"job {job_id} printed {times} times")
    for line in _printed_jobs(work.logs):
        job = by_id.get(line["job"])
        if job is None or job.status.value != line["status"]:
            said = job.status.value if job else "nothing"
            report.violate(
                "printed-status", f"printed {line['status']} for {line['job']}, history: {said}"
            )


def soak(
    root: Path,
    kills: int,
    seed: int,
    *,
    deadline: float | None = None,
    log: Callable[[str], None] = print,
    **workload: Any,
) -> Report:
    """The whole soak in `root`: make clips, kill loop, final resume, checks."""
    started = time.monotonic()
    work = Workload(root, **workload)
    durations = work.make()
    report = Report(seed)
    loop = KillLoop(work, random.Random(seed), report, log)
    loop.run(kills, deadline)
    loop.finish()
    check(work, durations, report)
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=50, help="SIGKILLs to deliver (default 50)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from time)")
    p.add_argument("--short", type=int, default=8, help="1.5 s clips per round (default 8)")
    p.add_argument("--long", type=int, default=2, help="4 s clips per round (default 2)")
    p.add_argument("--jobs", type=int, default=1, help="encodes at once (default 1)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir)")
    p.add_argument(
        "--allow-known",
        action="store_true",
        help="exit 0 when the only violations are known, reported app bugs",
    )
    args = p.parse_args(argv)
    if args.kills < 1 or args.short + args.long < 1 or args.jobs < 1:
        p.error("--kills, --jobs and the clip count must be at least 1")
    if shutil.which("ffprobe") is None:
        print("soak: ffprobe not found on PATH (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"soak: seed {seed}, {args.kills} kills", flush=True)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reelforge-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        report = soak(
            root,
            args.kills,
            seed,
            short=args.short,
            long=args.long,
            jobs=args.jobs,
            log=lambda s: print(s, flush=True),
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(report.summary())
    failed = report.unexpected() or (report.known() and not args.allow_known)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
