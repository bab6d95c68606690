"""The job spec: the versioned, JSON-able description of one job.

The same JSON is stored in the history, handed to the local pool and sent to Celery workers, so
it carries everything the job function needs and nothing that only one executor understands.
Output paths are decided once, when the job is planned, and every attempt writes to them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from reelforge.domain.jobs import LANE_OF, JobKind, Lane

SPEC_VERSION = 1


class SpecVersionError(ValueError):
    """A spec written by an older or newer Reelforge: refused rather than guessed at."""


@dataclass(frozen=True)
class OutputTarget:
    role: str  # "1080p", "poster", "contact", "audio", "preview", "remux"
    path: str  # final absolute path
    media: str  # what verification expects: "video", "image" or "audio"
    width: int | None = None
    height: int | None = None
    has_audio: bool = False
    duration: float | None = None  # expected duration in seconds, None for stills


@dataclass(frozen=True)
class JobSpec:
    id: str
    kind: JobKind
    preset: str
    source: str  # absolute path of the source file
    source_duration: float = 0.0
    outputs: tuple[OutputTarget, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    v: int = SPEC_VERSION

    @property
    def lane(self) -> Lane:
        stage = self.params.get("stage")
        if isinstance(stage, dict) and stage.get("name") == "split":
            return Lane.LIGHT  # reading a keyframe index (domain/split.py): no encoding
        return LANE_OF[self.kind]

    @property
    def label(self) -> str:
        """Short human label: the preset and the roles it makes ("web: 1080p, 720p")."""
        if self.kind is JobKind.PROBE:
            return "probe"
        roles = ", ".join(o.role for o in self.outputs)
        return f"{self.preset}: {roles}" if roles else f"{self.preset}: {self.kind.value}"

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies params, which dominated bulk enqueues.
        return {
            "id": self.id,
            "kind": self.kind.value,
            "preset": self.preset,
            "source": self.source,
            "source_duration": self.source_duration,
            "outputs": [dict(o.__dict__) for o in self.outputs],
            "params": dict(self.params),
            "v": self.v,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        version = data.get("v")
        if version != SPEC_VERSION:
            raise SpecVersionError(
                f"job spec version {version} is not supported (this Reelforge reads version "
                f"{SPEC_VERSION})"
            )
        return cls(
            id=str(data["id"]),
            kind=JobKind(data["kind"]),
            preset=str(data["preset"]),
            source=str(data["source"]),
            source_duration=float(data.get("source_duration") or 0.0),
            outputs=tuple(OutputTarget(**o) for o in data.get("outputs", ())),
            params=dict(data.get("params") or {}),
            v=version,
        )

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        return cls.from_dict(json.loads(text))

    def with_outputs(self, outputs: tuple[OutputTarget, ...]) -> JobSpec:
        return replace(self, outputs=outputs)

    def content_hash(self, source_fingerprint: str) -> str:
        """Identity of the work: same source content + same parameters + same output paths.

        The job id is left out, so a rerun of the same work hashes the same and can be skipped.
        """
        d = self.to_dict()
        d.pop("id")
        d["params"].pop("split", None)  # in segments or in one pass, the outputs are the same
        d["source_fingerprint"] = source_fingerprint
        blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def new_job_id() -> str:
    return uuid.uuid4().hex
