"""The History tab over a real SQLite history: lazy paging, filters, actions, empty states."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import Engine

from reelforge.domain.jobs import JobKind, JobStatus
from reelforge.domain.plan import probe_spec
from reelforge.domain.spec import JobSpec, OutputTarget, new_job_id
from reelforge.storage.engine import DatabaseLocked, open_database
from reelforge.storage.records import OutputRecord
from reelforge.storage.repository import Repository
from reelforge.ui import history_view
from reelforge.ui.history_view import (
    COL_PRESET,
    COL_PROBLEM,
    COL_SIZE,
    COL_SOURCE,
    COL_STATUS,
    COL_TOOK,
    COL_VERSIONS,
    COL_WHEN,
    COL_WORKER,
    COLUMNS,
    DATE_7_DAYS,
    DATE_30_DAYS,
    DATE_ANY,
    DATE_TODAY,
    JOB_ID_ROLE,
    STATUS_ROLE,
    HistoryModel,
    HistoryTab,
    human_seconds,
    human_size,
    since_for,
)

APP = "0.1.0"
FFMPEG = "n9.0.2"
PRESETS = ("web", "archive", "social")
WORDS = ("holiday", "wedding", "interview")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how the history stores UTC times on SQLite
ERROR = "ffmpeg exited with code 1:\n  Invalid data found when processing input"
ERROR_LINE = "ffmpeg exited with code 1: Invalid data found when processing input"
DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole


@dataclass(frozen=True)
class Job:
    """Ground truth for one job the fixture wrote, to compute expected filter results."""

    id: str
    source: str
    preset: str
    status: str
    created_at: datetime  # UTC


@dataclass
class History:
    engine: Engine
    repo: Repository
    root: Path
    jobs: list[Job]

    def expected(
        self,
        *,
        search: str | None = None,
        status: str | None = None,
        preset: str | None = None,
        since: datetime | None = None,
    ) -> list[str]:
        """Job ids matching the filters, newest first (the model's order)."""
        found = [
            j
            for j in self.jobs
            if (search is None or search.casefold() in j.source.casefold())
            and (status is None or j.status == status)
            and (preset is None or j.preset == preset)
            and (since is None or j.created_at >= since)
        ]
        found.sort(key=lambda j: j.created_at, reverse=True)
        return [j.id for j in found]

    def job(self, **match: str) -> Job:
        return next(j for j in self.jobs if all(getattr(j, k) == v for k, v in match.items()))


# Statuses of the 300 jobs: (status, how many, how they get there).
PLAN = (
    ("succeeded", 120, "add"),
    ("succeeded", 30, "run"),  # queued -> running -> succeeded, with outputs, log, worker
    ("failed", 60, "add"),
    ("skipped", 40, "add"),
    ("cancelled", 30, "add"),
    ("queued", 10, "add"),
    ("running", 5, "run"),
    ("interrupted", 5, "run"),
)
N_JOBS = sum(n for _, n, _ in PLAN)
# Age buckets by job index: the first 50 today, then 3, 20 and 90 days old.
AGES = ((50, None), (120, 3), (200, 20), (N_JOBS, 90))


def _spec(root: Path, i: int, preset: str) -> JobSpec:
    word = WORDS[i % len(WORDS)]
    # A few non-ASCII names, for the Unicode case-insensitive search.
    stem = f"Été_{word}_{i:03d}" if i % 25 == 0 else f"{word}_{i:03d}"
    source = str(root / "videos" / f"{stem}.mp4")
    if i % 50 == 7:
        return probe_spec(source)
    roles = ("1080p", "720p") if preset == "web" else ("master",)
    outputs = tuple(
        OutputTarget(role=r, path=str(root / "out" / f"{stem}-{r}.mp4"), media="video")
        for r in roles
    )
    return JobSpec(
        id=new_job_id(), kind=JobKind.ENCODE, preset=preset, source=source, outputs=outputs
    )


def _created_at(i: int, now: datetime) -> datetime:
    local_midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    for limit, days in AGES:
        if i < limit:
            if days is None:  # today, whatever the time of day the test runs
                base = max(
                    now - timedelta(minutes=2),
                    local_midnight.astimezone(UTC) + timedelta(minutes=2),
                )
            else:
                base = now - timedelta(days=days)
            return base - timedelta(seconds=i)
    raise AssertionError(i)


def build_history(root: Path) -> History:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    engine = open_database(root / "history.db")
    repo = Repository(engine)
    batch = repo.create_batch(list(PRESETS), str(root / "out"), "gui")
    now = datetime.now(UTC)
    jobs: list[Job] = []
    i = 0
    for status, count, how in PLAN:
        specs = []
        for _ in range(count):
            specs.append(_spec(root, i, PRESETS[i // 2 % len(PRESETS)]))
            i += 1
        initial = JobStatus.QUEUED if how == "run" else JobStatus(status)
        repo.add_jobs(
            batch,
            None,
            specs,
            status=initial,
            error=ERROR if status == "failed" else None,
            app_version=APP,
            ffmpeg_version=FFMPEG if status != "queued" else None,
        )
        for n, spec in enumerate(specs):
            if how == "run":
                repo.transition(spec.id, JobStatus.RUNNING, worker="studio-1")
                if status == "succeeded":
                    repo.transition(
                        spec.id,
                        JobStatus.SUCCEEDED,
                        seconds=4.25 + 60 * n,
                        log_path=str(root / "logs" / f"{spec.id}.log"),
                        warning="audio track missing\nthe output is silent" if n == 0 else None,
                        outputs=[
                            OutputRecord(role=o.role, path=o.path, size=1_572_864)
                            for o in spec.outputs
                        ],
                    )
                elif status == "interrupted":
                    repo.transition(spec.id, JobStatus.INTERRUPTED, reason="app stopped")
            jobs.append(Job(spec.id, spec.source, spec.preset, status, now))
    # Spread the jobs over three months (the repository always stamps "now").
    jobs = [
        Job(j.id, j.source, j.preset, j.status, _created_at(n, now)) for n, j in enumerate(jobs)
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE jobs SET created_at = :at WHERE id = :id"),
            [{"id": j.id, "at": j.created_at.astimezone(UTC).strftime(TIME_FORMAT)} for j in jobs],
        )
    return History(engine, repo, root, jobs)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """300 jobs across every status, three presets (and probes) and four age buckets.
    Module-scoped and read-only: tests that write build their own database."""
    h = build_history(tmp_path_factory.mktemp("history"))
    yield h
    h.engine.dispose()


@pytest.fixture
def empty_repo(tmp_path: Path) -> Iterator[Repository]:
    engine = open_database(tmp_path / "empty.db")
    yield Repository(engine)
    engine.dispose()


@pytest.fixture
def tab(qtbot: QtBot, history: History) -> HistoryTab:
    tab = HistoryTab(history.repo)
    tab.set_presets([*PRESETS, "probe"])
    qtbot.addWidget(tab)
    tab.resize(1200, 700)
    with qtbot.waitExposed(tab):
        tab.show()
    return tab


def all_ids(model: HistoryModel) -> list[str]:
    """Fetch every page and return the job ids in model order."""
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    return [model.index(r, 0).data(JOB_ID_ROLE) for r in range(model.rowCount())]


def row_of(model: HistoryModel, job_id: str) -> int:
    all_ids(model)
    row = model.row_of(job_id)
    assert row >= 0, job_id
    return row


def select_rows(tab: HistoryTab, *rows: int) -> None:
    sel = tab.table.selectionModel()
    sel.clearSelection()
    for r in rows:
        sel.select(tab.model.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
    sel.setCurrentIndex(tab.model.index(rows[0], 0), sel.SelectionFlag.NoUpdate)


# -- formatting ------------------------------------------------------------------------------


def test_human_units() -> None:
    assert human_size(0) == ""
    assert human_size(512) == "512 B"
    assert human_size(1_572_864) == "1.5 MB"
    assert human_size(3 * 1024**3) == "3.0 GB"
    assert human_size(5 * 1024**4) == "5.0 TB"
    assert human_seconds(None) == ""
    assert human_seconds(4.25) == "4.2 s"
    assert human_seconds(125) == "2 m 05 s"
    assert human_seconds(2 * 3600 + 7 * 60) == "2 h 07 m"


def test_since_for_date_choices() -> None:
    now = datetime(2024, 5, 10, 15, 30, tzinfo=UTC)
    assert since_for(DATE_ANY, now) is None
    today = since_for(DATE_TODAY, now)
    assert today is not None and today.tzinfo is not None
    local = today.astimezone()
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert local.date() == now.astimezone().date()
    assert since_for(DATE_7_DAYS, now) == now - timedelta(days=7)
    assert since_for(DATE_30_DAYS, now) == now - timedelta(days=30)


# -- the model -------------------------------------------------------------------------------


def test_model_loads_lazily_page_by_page(qtbot: QtBot, history: History) -> None:
    model = HistoryModel(history.repo, page_size=80, first_page=50)
    assert model.total == N_JOBS
    assert model.rowCount() == 50  # one page read, not the history
    assert model.canFetchMore(QModelIndex())
    reads = model.queries
    with qtbot.waitSignal(model.rowsInserted):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 130
    assert model.queries == reads + 1
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 290
    model.fetchMore(QModelIndex())
    assert model.rowCount() == N_JOBS
    assert not model.canFetchMore(QModelIndex())
    assert model.total == N_JOBS
    ids = [model.index(r, 0).data(JOB_ID_ROLE) for r in range(model.rowCount())]
    assert ids == history.expected()  # newest first, nothing twice
    assert not model.canFetchMore(model.index(0, 0))  # a table: no children


def test_model_default_first_page_is_small(history: History) -> None:
    model = HistoryModel(history.repo)
    assert 0 < model.rowCount() < N_JOBS
    assert model.rowCount() == history_view.FIRST_PAGE
    assert model.columnCount() == len(COLUMNS) == 9


def test_view_fetches_only_what_it_shows(qtbot: QtBot, tab: HistoryTab) -> None:
    qtbot.wait(50)  # let the view run its fetch-more check
    assert tab.model.rowCount() == history_view.FIRST_PAGE < N_JOBS
    assert tab.count_label.text() == f"{N_JOBS} jobs"


def test_scrolling_to_the_end_fetches_the_next_page(qtbot: QtBot, tab: HistoryTab) -> None:
    first = tab.model.rowCount()
    tab.table.scrollToBottom()
    qtbot.waitUntil(lambda: tab.model.rowCount() > first)
    assert tab.model.rowCount() <= first + history_view.PAGE_SIZE


def test_fetch_more_skips_rows_shifted_by_new_jobs(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "h.db")
    try:
        repo = Repository(engine)
        batch = repo.create_batch(["web"], "/out", "gui")
        repo.add_jobs(
            batch, None, [probe_spec(f"/v/{i}.mp4") for i in range(6)], app_version=APP,
            ffmpeg_version=None,
        )  # fmt: skip
        model = HistoryModel(repo, page_size=3, first_page=3)
        assert model.rowCount() == 3
        # Two newer jobs push every offset down by two.
        repo.add_jobs(
            batch, None, [probe_spec(f"/v/new{i}.mp4") for i in range(2)], app_version=APP,
            ffmpeg_version=None,
        )  # fmt: skip
        ids = all_ids(model)
        assert len(ids) == len(set(ids)) == 6
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (COL_SOURCE, "interview_122.mp4"),
        (COL_PRESET, "archive: master"),
        (COL_STATUS, "Succeeded"),
        (COL_TOOK, "2 m 04 s"),
        (COL_SIZE, "1.5 MB"),
        (COL_PROBLEM, ""),
        (COL_VERSIONS, f"app {APP} · ffmpeg {FFMPEG}"),
        (COL_WORKER, "studio-1"),
    ],
)
def test_data_of_a_succeeded_job(history: History, column: int, expected: str) -> None:
    model = HistoryModel(history.repo)
    job = history.job(source=str(history.root / "videos" / "interview_122.mp4"))
    index = model.index(row_of(model, job.id), column)
    assert index.data(DISPLAY) == expected


def test_data_roles(history: History) -> None:
    model = HistoryModel(history.repo)
    job = history.job(source=str(history.root / "videos" / "holiday_120.mp4"))  # web, warning
    row = row_of(model, job.id)

    def data(col: int, role: int = DISPLAY) -> object:
        return model.index(row, col).data(role)

    when = job.created_at.astimezone()
    assert data(COL_WHEN) == when.strftime("%Y-%m-%d %H:%M")
    assert str(when.second) in str(data(COL_WHEN, TOOLTIP))
    assert data(COL_SOURCE) == "holiday_120.mp4"
    assert data(COL_SOURCE, TOOLTIP) == job.source
    assert data(COL_PRESET) == "web: 1080p, 720p"
    assert "holiday_120-1080p.mp4" in str(data(COL_PRESET, TOOLTIP))
    assert data(COL_TOOK) == "4.2 s"
    assert data(COL_SIZE) == "3.0 MB"  # two outputs of 1.5 MB
    assert "720p" in str(data(COL_SIZE, TOOLTIP))
    assert data(COL_PROBLEM) == "audio track missing the output is silent"  # one line
    assert str(data(COL_PROBLEM, TOOLTIP)).startswith("Warning: ")
    assert isinstance(data(COL_PROBLEM, Qt.ItemDataRole.ForegroundRole), QColor)
    icon = data(COL_STATUS, Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert data(COL_SOURCE, Qt.ItemDataRole.DecorationRole) is None
    assert data(COL_WHEN, JOB_ID_ROLE) == data(COL_WORKER, JOB_ID_ROLE) == job.id
    assert data(COL_STATUS, STATUS_ROLE) == "succeeded"
    align = data(COL_TOOK, Qt.ItemDataRole.TextAlignmentRole)
    assert align is not None and Qt.AlignmentFlag(align) & Qt.AlignmentFlag.AlignRight
    assert model.headerData(COL_SIZE, Qt.Orientation.Horizontal) == "Output size"
    assert not model.index(row, 0).parent().isValid()
    assert model.flags(model.index(row, 0)) & Qt.ItemFlag.ItemIsSelectable


def test_data_of_failed_and_unfinished_jobs(history: History) -> None:
    model = HistoryModel(history.repo)
    all_ids(model)
    failed = history.job(status="failed")
    row = model.row_of(failed.id)
    assert model.index(row, COL_STATUS).data() == "Failed"
    assert model.index(row, COL_PROBLEM).data() == ERROR_LINE
    assert model.index(row, COL_PROBLEM).data(TOOLTIP) == f"Error: {ERROR_LINE}"
    assert model.index(row, COL_TOOK).data() == ""
    assert model.index(row, COL_SIZE).data() == ""
    assert model.index(row, COL_SIZE).data(TOOLTIP) is None
    queued = model.row_of(history.job(status="queued").id)
    assert model.index(queued, COL_VERSIONS).data() == f"app {APP}"  # ffmpeg not known yet
    assert model.index(queued, COL_WORKER).data() == ""
    # Every cell of every row is a string: nothing renders as "None".
    for r in range(model.rowCount()):
        for c in range(model.columnCount()):
            value = model.index(r, c).data()
            assert isinstance(value, str) and value != "None", (r, c, value)


# -- filters ---------------------------------------------------------------------------------


def test_filter_search_is_case_insensitive_on_the_source_path(history: History) -> None:
    model = HistoryModel(history.repo)
    model.set_filters(search="HOLIDAY")
    assert model.total == len(history.expected(search="holiday")) > 0
    assert all_ids(model) == history.expected(search="holiday")
    model.set_filters(search="été")  # non-ASCII: Unicode case folding
    assert all_ids(model) == history.expected(search="ÉTÉ") != []


@pytest.mark.parametrize("status", [s.value for s in JobStatus])
def test_filter_status(history: History, status: str) -> None:
    model = HistoryModel(history.repo)
    model.set_filters(status=status)
    expected = history.expected(status=status)
    assert expected
    assert model.total == len(expected)
    assert all_ids(model) == expected
    assert {model.index(r, 0).data(STATUS_ROLE) for r in range(model.rowCount())} == {status}


def test_filter_preset(history: History) -> None:
    model = HistoryModel(history.repo)
    model.set_filters(preset="archive")
    assert all_ids(model) == history.expected(preset="archive")
    model.set_filters(preset="probe")
    assert model.total == len(history.expected(preset="probe")) == 6


@pytest.mark.parametrize(
    ("choice", "count"),
    [(DATE_ANY, N_JOBS), (DATE_TODAY, 50), (DATE_7_DAYS, 120), (DATE_30_DAYS, 200)],
)
def test_filter_date(history: History, choice: int, count: int) -> None:
    model = HistoryModel(history.repo)
    model.set_filters(since=since_for(choice))
    assert model.total == count
    assert all_ids(model) == history.expected(since=since_for(choice))


def test_filters_combine(history: History) -> None:
    model = HistoryModel(history.repo)
    since = since_for(DATE_30_DAYS)
    model.set_filters(search="wedding", status="failed", preset="web", since=since)
    expected = history.expected(search="wedding", status="failed", preset="web", since=since)
    assert 0 < len(expected) < 20
    assert model.total == len(expected)
    assert all_ids(model) == expected
    model.set_filters()  # cleared
    assert model.total == N_JOBS


def test_refresh_keeps_filters_and_shows_new_jobs(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "h.db")
    try:
        repo = Repository(engine)
        batch = repo.create_batch(["web"], "/out", "gui")
        repo.add_jobs(batch, None, [probe_spec("/v/a.mp4")], app_version=APP, ffmpeg_version=None)
        model = HistoryModel(repo)
        model.set_filters(status="queued")
        assert model.total == 1
        repo.add_jobs(batch, None, [probe_spec("/v/b.mp4")], app_version=APP, ffmpeg_version=None)
        repo.add_jobs(
            batch, None, [probe_spec("/v/c.mp4")], status=JobStatus.SKIPPED, app_version=APP,
            ffmpeg_version=None,
        )  # fmt: skip
        model.refresh()
        assert model.filters.status == "queued"
        assert model.total == model.rowCount() == 2
        assert model.index(0, COL_SOURCE).data() == "b.mp4"  # newest first
    finally:
        engine.dispose()


# -- the tab: filter row, debounce, count ----------------------------------------------------


def test_filter_widgets(tab: HistoryTab) -> None:
    status_items = [tab.status_combo.itemText(i) for i in range(tab.status_combo.count())]
    assert status_items[0] == "All statuses" and len(status_items) == 8
    assert "Interrupted" in status_items
    preset_items = [tab.preset_combo.itemText(i) for i in range(tab.preset_combo.count())]
    assert preset_items == ["All presets", *PRESETS, "probe"]
    dates = [tab.date_combo.itemText(i) for i in range(tab.date_combo.count())]
    assert dates == ["Any time", "Today", "Last 7 days", "Last 30 days"]
    assert tab.search.isClearButtonEnabled()
    t = tab.table
    assert t.alternatingRowColors() and not t.wordWrap() and not t.isSortingEnabled()
    assert t.selectionBehavior() == t.SelectionBehavior.SelectRows
    assert t.selectionMode() == t.SelectionMode.ExtendedSelection
    assert t.horizontalHeader().stretchLastSection()


def test_columns_fit_the_window_until_the_user_resizes_one(qtbot: QtBot, tab: HistoryTab) -> None:
    table, header = tab.table, tab.table.horizontalHeader()
    fm = table.fontMetrics()
    assert table.horizontalScrollBar().maximum() == 0  # 1200 px wide: no sideways scrolling
    for col, name in enumerate(COLUMNS):
        assert header.sectionSize(col) >= fm.horizontalAdvance(name), name
    when = tab.model.index(0, COL_WHEN).data()
    assert header.sectionSize(COL_WHEN) > fm.horizontalAdvance(when)
    source = header.sectionSize(COL_SOURCE)
    tab.resize(1500, 700)
    qtbot.waitUntil(lambda: header.sectionSize(COL_SOURCE) > source)
    header.resizeSection(COL_SOURCE, 400)  # the user's choice sticks
    tab.resize(1300, 700)
    qtbot.wait(20)
    assert header.sectionSize(COL_SOURCE) == 400


def test_combos_filter_the_table(qtbot: QtBot, tab: HistoryTab, history: History) -> None:
    with qtbot.waitSignal(tab.model.modelReset):
        tab.status_combo.setCurrentIndex(tab.status_combo.findData("failed"))
    assert tab.model.total == 60
    assert tab.count_label.text() == "60 jobs"
    tab.preset_combo.setCurrentIndex(tab.preset_combo.findData("web"))
    tab.date_combo.setCurrentIndex(DATE_7_DAYS)
    expected = history.expected(status="failed", preset="web", since=since_for(DATE_7_DAYS))
    assert tab.model.total == len(expected)
    assert all_ids(tab.model) == expected
    tab.status_combo.setCurrentIndex(0)
    tab.preset_combo.setCurrentIndex(0)
    tab.date_combo.setCurrentIndex(DATE_ANY)
    assert tab.count_label.text() == f"{N_JOBS} jobs"


def test_search_is_debounced(qtbot: QtBot, tab: HistoryTab, history: History) -> None:
    resets: list[int] = []
    tab.model.modelReset.connect(lambda: resets.append(1))
    queries = tab.model.queries
    qtbot.keyClicks(tab.search, "wedd")
    assert resets == [] and tab.model.queries == queries  # nothing while typing
    assert tab.search_timer.isActive()
    assert tab.search_timer.interval() == history_view.SEARCH_DEBOUNCE_MS == 150
    qtbot.waitUntil(lambda: resets == [1], timeout=2000)
    qtbot.wait(history_view.SEARCH_DEBOUNCE_MS + 100)
    assert resets == [1]  # one query for four key presses
    assert tab.model.filters.search == "wedd"
    assert tab.model.total == len(history.expected(search="wedd"))
    # Enter applies at once; the clear button's clear() goes through the same debounce.
    tab.search.setText("holiday")
    tab.apply_search_now()
    assert resets == [1, 1] and not tab.search_timer.isActive()
    tab.search.clear()
    qtbot.waitUntil(lambda: tab.model.filters.search is None, timeout=2000)
    assert tab.model.total == N_JOBS


def test_count_label(qtbot: QtBot, tab: HistoryTab) -> None:
    assert tab.count_label.text() == "300 jobs"
    tab._update_counts(12345)
    assert tab.count_label.text() == "12,345 jobs"
    tab._update_counts(1)
    assert tab.count_label.text() == "1 job"


def test_set_presets_keeps_or_resets_the_choice(qtbot: QtBot, tab: HistoryTab) -> None:
    tab.preset_combo.setCurrentIndex(tab.preset_combo.findData("archive"))
    assert tab.model.filters.preset == "archive"
    tab.set_presets(["archive", "web", "new-one"])
    assert tab.preset_combo.currentData() == "archive"
    assert tab.model.filters.preset == "archive"
    with qtbot.waitSignal(tab.model.modelReset):
        tab.set_presets(["web"])  # the chosen preset is gone: back to all presets
    assert tab.preset_combo.currentIndex() == 0
    assert tab.model.filters.preset is None


# -- empty states ----------------------------------------------------------------------------


def test_empty_history(qtbot: QtBot, empty_repo: Repository) -> None:
    tab = HistoryTab(empty_repo)
    qtbot.addWidget(tab)
    tab.show()
    assert tab.model.rowCount() == 0
    assert tab.empty_label.isVisible()
    assert tab.empty_label.text() == "No jobs yet"
    assert tab.count_label.text() == "0 jobs"
    assert not tab.rerun_action.isEnabled()


def test_no_match_state(qtbot: QtBot, tab: HistoryTab) -> None:
    assert not tab.empty_label.isVisible()
    tab.search.setText("no-such-file-anywhere")
    tab.apply_search_now()
    assert tab.model.rowCount() == 0
    assert tab.empty_label.isVisible()
    assert tab.empty_label.text() == "No jobs match these filters"
    assert tab.count_label.text() == "0 jobs"
    assert tab.empty_label.geometry().width() > 100  # laid out over the viewport
    tab.search.clear()
    tab.apply_search_now()
    assert not tab.empty_label.isVisible()


def test_a_failing_database_shows_a_message(qtbot: QtBot) -> None:
    class LockedRepo:
        def history(self, **_kw: object) -> list[object]:
            raise DatabaseLocked("the history database stayed locked by another program")

        def count_history(self, **_kw: object) -> int:
            raise AssertionError("not reached")

    tab = HistoryTab(LockedRepo())  # type: ignore[arg-type]
    qtbot.addWidget(tab)
    tab.show()
    assert tab.model.rowCount() == 0 and not tab.model.canFetchMore(QModelIndex())
    assert tab.empty_label.text().startswith("Could not read the history: the history database")
    with qtbot.waitSignal(tab.model.load_failed):
        tab.status_combo.setCurrentIndex(1)
    assert "locked" in tab.notice.text()


# -- actions ---------------------------------------------------------------------------------


def test_context_menu_lists_the_actions(tab: HistoryTab) -> None:
    select_rows(tab, 0)
    menu = tab.build_menu()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Re-run", "Open output", "Reveal in folder", "Show log", "Copy error"]
    assert tab.rerun_action.shortcut().toString() == "Ctrl+R"
    assert tab.open_action.shortcut().toString() == "Return"


def test_right_click_selects_the_row_and_opens_the_menu(qtbot: QtBot, tab: HistoryTab) -> None:
    shown: list[list[str]] = []

    def close_popup() -> None:  # the menu runs its own event loop: read it, then close it
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            shown.append([a.text() for a in popup.actions() if not a.isSeparator()])
            popup.close()
        else:
            QTimer.singleShot(10, close_popup)

    QTimer.singleShot(10, close_popup)
    rect = tab.table.visualRect(tab.model.index(3, 1))
    tab.table.customContextMenuRequested.emit(rect.center())
    assert tab.selected_ids() == [tab.model.index(3, 0).data(JOB_ID_ROLE)]
    assert shown and shown[0][0] == "Re-run"
    tab.table.clearSelection()
    tab.table.customContextMenuRequested.emit(QPoint(5, tab.table.viewport().height() * 10))
    assert len(shown) == 1  # nothing under the pointer and nothing selected: no menu


def test_rerun_emits_the_selected_ids(qtbot: QtBot, tab: HistoryTab) -> None:
    select_rows(tab, 4, 1, 2)
    ids = [tab.model.index(r, 0).data(JOB_ID_ROLE) for r in (1, 2, 4)]
    with qtbot.waitSignal(tab.rerun_requested) as sig:
        tab.rerun_action.trigger()
    assert sig.args == [ids]  # table order


def test_rerun_shortcut(qtbot: QtBot, tab: HistoryTab) -> None:
    select_rows(tab, 0)
    tab.activateWindow()
    tab.table.setFocus()
    qtbot.waitUntil(tab.table.hasFocus)
    with qtbot.waitSignal(tab.rerun_requested, timeout=2000) as sig:
        qtbot.keyClick(tab.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == [[tab.model.index(0, 0).data(JOB_ID_ROLE)]]


def test_show_log_emits_the_job_id(qtbot: QtBot, tab: HistoryTab, history: History) -> None:
    job = history.job(source=str(history.root / "videos" / "wedding_121.mp4"))
    select_rows(tab, row_of(tab.model, job.id))
    assert tab.log_action.isEnabled()
    with qtbot.waitSignal(tab.show_log_requested) as sig:
        tab.log_action.trigger()
    assert sig.args == [job.id]
    select_rows(tab, row_of(tab.model, history.job(status="running").id))
    assert tab.log_action.isEnabled()  # no log recorded yet, but one is being written
    # Never ran (added as skipped): no log to show.
    select_rows(tab, row_of(tab.model, history.job(status="skipped").id))
    assert not tab.log_action.isEnabled()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {"open": [], "reveal": [], "copy": []}
    monkeypatch.setattr(history_view, "open_path", lambda p: calls["open"].append(str(p)) or True)
    monkeypatch.setattr(history_view, "reveal", lambda p: calls["reveal"].append(str(p)) or True)
    monkeypatch.setattr(history_view, "copy_text", lambda t: calls["copy"].append(t))
    return calls


def test_open_output_by_action_enter_and_double_click(
    qtbot: QtBot, tab: HistoryTab, history: History, opened: dict[str, list[str]]
) -> None:
    job = history.job(source=str(history.root / "videos" / "holiday_120.mp4"))
    first = history.root / "out" / "holiday_120-1080p.mp4"
    first.write_bytes(b"x")
    row = row_of(tab.model, job.id)
    select_rows(tab, row)
    tab.table.scrollTo(tab.model.index(row, 0))
    tab.open_action.trigger()
    assert opened["open"] == [str(first)]
    tab.activateWindow()
    tab.table.setFocus()
    qtbot.waitUntil(tab.table.hasFocus)
    qtbot.keyClick(tab.table, Qt.Key.Key_Return)
    assert opened["open"] == [str(first)] * 2
    rect = tab.table.visualRect(tab.model.index(row, COL_SOURCE))
    # An item view acts on a double click only after a press on the same item.
    qtbot.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened["open"] == [str(first)] * 3


def test_open_output_that_is_gone_or_missing(
    tab: HistoryTab, history: History, opened: dict[str, list[str]]
) -> None:
    job = history.job(source=str(history.root / "videos" / "interview_122.mp4"))
    select_rows(tab, row_of(tab.model, job.id))
    tab.open_action.trigger()  # recorded, but the file was deleted since
    assert opened["open"] == []
    assert "no longer exists" in tab.notice.text()
    select_rows(tab, row_of(tab.model, history.job(status="failed").id))
    assert not tab.open_action.isEnabled()  # a failed job has no outputs


def test_reveal_in_folder(tab: HistoryTab, history: History, opened: dict[str, list[str]]) -> None:
    job = history.job(source=str(history.root / "videos" / "holiday_120.mp4"))
    select_rows(tab, row_of(tab.model, job.id))
    tab.reveal_action.trigger()
    assert opened["reveal"] == [str(history.root / "out" / "holiday_120-1080p.mp4")]
    failed = history.job(status="failed")  # no outputs: its source, in its folder
    select_rows(tab, row_of(tab.model, failed.id))
    tab.reveal_action.trigger()
    assert opened["reveal"][-1] == failed.source


def test_copy_error(tab: HistoryTab, history: History, opened: dict[str, list[str]]) -> None:
    failed = [j for j in history.jobs if j.status == "failed"][:2]
    select_rows(tab, row_of(tab.model, failed[0].id))
    assert tab.copy_error_action.isEnabled()
    tab.copy_error_action.trigger()
    assert opened["copy"] == [ERROR_LINE]
    select_rows(tab, *(row_of(tab.model, j.id) for j in failed))
    tab.copy_error_action.trigger()
    assert opened["copy"][-1].count(ERROR_LINE) == 2
    select_rows(tab, row_of(tab.model, history.job(status="skipped").id))
    assert not tab.copy_error_action.isEnabled()


def test_tab_refresh_keeps_the_selection(qtbot: QtBot, tmp_path: Path) -> None:
    engine = open_database(tmp_path / "h.db")
    try:
        repo = Repository(engine)
        batch = repo.create_batch(["web"], "/out", "gui")
        for name in ("a", "b", "c"):
            repo.add_jobs(
                batch, None, [probe_spec(f"/v/{name}.mp4")], app_version=APP, ffmpeg_version=None
            )
        tab = HistoryTab(repo)
        qtbot.addWidget(tab)
        tab.show()
        select_rows(tab, 1)
        chosen = tab.selected_ids()
        repo.add_jobs(batch, None, [probe_spec("/v/d.mp4")], app_version=APP, ffmpeg_version=None)
        tab.refresh()
        assert tab.model.rowCount() == 4
        assert tab.count_label.text() == "4 jobs"
        assert tab.selected_ids() == chosen
        assert tab.model.index(0, COL_SOURCE).data() == "d.mp4"
    finally:
        engine.dispose()


def test_tab_refresh_keeps_the_scroll_position(qtbot: QtBot, tab: HistoryTab) -> None:
    all_ids(tab.model)
    tab.table.scrollTo(tab.model.index(150, 0), tab.table.ScrollHint.PositionAtTop)
    top_id = tab.model.index(tab.table.rowAt(0), 0).data(JOB_ID_ROLE)
    queries = tab.model.queries
    tab.refresh()
    assert tab.model.queries - queries <= 2  # one page read (and a count), not one per page
    assert tab.model.index(tab.table.rowAt(0), 0).data(JOB_ID_ROLE) == top_id
    # Only what was on screen, plus a margin, was read again.
    assert tab.table.rowAt(0) < tab.model.rowCount() < N_JOBS
