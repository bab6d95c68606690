"""The job state machine (domain/jobs.py), on its own and enforced by the repository."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from reelforge.domain.jobs import (
    LANE_OF,
    TERMINAL,
    IllegalTransition,
    JobKind,
    JobStatus,
    Lane,
    can_transition,
    check_transition,
)
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id
from reelforge.storage.engine import open_database
from reelforge.storage.repository import Repository

Q, R, I, S, F, C, K = (  # noqa: E741
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.INTERRUPTED,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.SKIPPED,
)

# Written out by hand, not read from the module: this is the specification being checked.
ALLOWED = {
    (Q, R), (Q, C), (Q, K), (Q, F),
    (R, S), (R, F), (R, C), (R, I), (R, K),
    (I, Q), (I, C), (I, F),
    (S, Q), (F, Q), (C, Q), (K, Q),
}  # fmt: skip
ALL_PAIRS = list(itertools.product(JobStatus, repeat=2))
ILLEGAL = [p for p in ALL_PAIRS if p not in ALLOWED]


def _id(pair: tuple[JobStatus, JobStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


@pytest.mark.parametrize("pair", sorted(ALLOWED), ids=_id)
def test_allowed_transition(pair: tuple[JobStatus, JobStatus]) -> None:
    cur, new = pair
    assert can_transition(cur, new)
    assert check_transition(cur, new) is new
    assert check_transition(cur.value, new.value) is new  # plain strings from the database


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_illegal_transition_raises(pair: tuple[JobStatus, JobStatus]) -> None:
    cur, new = pair
    assert not can_transition(cur, new)
    with pytest.raises(IllegalTransition, match=f"from {cur.value} to {new.value}"):
        check_transition(cur, new)


def test_no_self_transitions_and_terminal_states_only_requeue() -> None:
    for status in JobStatus:
        assert not can_transition(status, status)
    for status in TERMINAL:
        assert status.terminal
        assert [n for n in JobStatus if can_transition(status, n)] == [Q]
    assert not any(s.terminal for s in (Q, R, I))


def test_unknown_status_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="paused"):
        check_transition("queued", "paused")


def test_illegal_transition_is_a_value_error() -> None:
    assert issubclass(IllegalTransition, ValueError)


def test_every_kind_has_a_lane() -> None:
    assert set(LANE_OF) == set(JobKind)
    assert LANE_OF[JobKind.ENCODE] is Lane.HEAVY
    assert LANE_OF[JobKind.PROBE] is Lane.LIGHT


# -- through the repository ------------------------------------------------------------------

# A legal route from a new (queued) job to each state.
ROUTE = {
    Q: [],
    R: [R],
    I: [R, I],
    S: [R, S],
    F: [R, F],
    C: [C],
    K: [K],
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repository]:
    # One database for the module (every test makes its own job in it): migrating is the slow
    # part and these tests only need isolated jobs.
    engine = open_database(tmp_path_factory.mktemp("state") / "history.db")
    yield Repository(engine)
    engine.dispose()


def _job_in(repo: Repository, status: JobStatus) -> str:
    batch = repo.create_batch(["web"], "/out", "cli")
    spec = JobSpec(
        id=new_job_id(),
        kind=JobKind.ENCODE,
        preset="web",
        source="/videos/a.mp4",
        outputs=(OutputTarget(role="720p", path="/out/a-720p.mp4", media="video"),),
    )
    repo.add_jobs(batch, None, [spec], app_version="0.1.0", ffmpeg_version=None)
    for step in ROUTE[status]:
        repo.transition(spec.id, step)
    assert repo.get_job(spec.id).status is status  # type: ignore[union-attr]
    return spec.id


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_repository_refuses_illegal_transition_and_writes_nothing(
    repo: Repository, pair: tuple[JobStatus, JobStatus]
) -> None:
    cur, new = pair
    job_id = _job_in(repo, cur)
    before, trail = repo.get_job(job_id), repo.transitions(job_id)
    with pytest.raises(IllegalTransition):
        repo.transition(
            job_id,
            new,
            error="boom",
            warning="careful",
            seconds=1.5,
            worker="elsewhere",
            outputs=[{"role": "720p", "path": "/out/a-720p.mp4", "size": 10}],
        )
    assert repo.get_job(job_id) == before
    assert repo.transitions(job_id) == trail


@pytest.mark.parametrize("pair", [(Q, R), (R, S), (R, I), (I, Q), (S, Q), (F, Q)], ids=_id)
def test_repository_records_allowed_transition(
    repo: Repository, pair: tuple[JobStatus, JobStatus]
) -> None:
    cur, new = pair
    job_id = _job_in(repo, cur)
    record = repo.transition(job_id, new, reason="test")
    assert record.status is new
    last = repo.transitions(job_id)[-1]
    assert (last.from_status, last.to_status, last.reason) == (cur, new, "test")
