"""Cluster mode's pure parts: path mapping, broker choice, and the Celery settings it relies on."""

from __future__ import annotations

import pytest

from reelforge.cluster.broker import BROKER_ENV, resolve_broker, shown
from reelforge.cluster.celery_app import make_celery
from reelforge.cluster.pathmap import PathMap, PathMapError


def test_path_map_translates_longest_prefix_both_ways() -> None:
    pm = PathMap.parse(["/media=/mnt/nas", "/media/special=/fast/ssd"])
    assert pm.to_worker("/media/a/b.mp4") == "/mnt/nas/a/b.mp4"
    assert pm.to_worker("/media/special/x.mp4") == "/fast/ssd/x.mp4"
    assert pm.to_worker("/mediaX/a.mp4") == "/mediaX/a.mp4"  # a prefix of a name is not a folder
    assert pm.to_worker("/other/a.mp4") == "/other/a.mp4"
    assert pm.to_submitter("/fast/ssd/x.mp4") == "/media/special/x.mp4"
    assert pm.to_submitter("/mnt/nas/a/b.mp4") == "/media/a/b.mp4"


def test_path_map_applies_to_spec_and_result() -> None:
    pm = PathMap.parse(["/shared/=/w/"])
    spec = {"source": "/shared/in.mp4", "outputs": [{"role": "720p", "path": "/shared/o/a.mp4"}]}
    mapped = pm.spec_to_worker(spec)
    assert mapped["source"] == "/w/in.mp4"
    assert mapped["outputs"][0]["path"] == "/w/o/a.mp4"
    assert spec["source"] == "/shared/in.mp4"  # the original is left alone
    back = pm.result_to_submitter({"outputs": [{"path": "/w/o/a.mp4", "size": 1}]})
    assert back["outputs"] == [{"path": "/shared/o/a.mp4", "size": 1}]


@pytest.mark.parametrize("bad", ["nothing", "=/x", "/x=", ""])
def test_path_map_refuses_malformed(bad: str) -> None:
    with pytest.raises(PathMapError):
        PathMap.parse([bad])


def test_broker_flag_then_environment_then_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BROKER_ENV, raising=False)
    assert resolve_broker(None, "") is None
    assert resolve_broker(None, "redis://s") == "redis://s"
    monkeypatch.setenv(BROKER_ENV, "redis://env")
    assert resolve_broker(None, "redis://s") == "redis://env"
    assert resolve_broker("redis://flag", "redis://s") == "redis://flag"
    assert resolve_broker("  ", None) == "redis://env"


def test_shown_url_hides_the_password() -> None:
    assert shown("redis://:secret@host:6379/0") == "redis://***@host:6379/0"
    assert shown("redis://user:secret@host/0") == "redis://user:***@host/0"
    assert shown("redis://host:6379/0") == "redis://host:6379/0"


def test_celery_settings_are_json_only_late_ack_one_at_a_time() -> None:
    conf = make_celery("redis://127.0.0.1:1/0", visibility_timeout=7200).conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.event_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.worker_send_task_events is True
    assert conf.task_send_sent_event is True
