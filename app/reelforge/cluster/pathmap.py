"""--path-map FROM=TO: where a worker mounts the shared storage under another prefix.

FROM is the path as the submitter sees it, TO as this worker sees it. Specs are translated on
the way in, output paths in results on the way back, so the history keeps the submitter's paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PathMapError(ValueError):
    pass


@dataclass(frozen=True)
class PathMap:
    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...] | None) -> PathMap:
        pairs = []
        for item in items or ():
            src, sep, dst = item.partition("=")
            if not sep or not src or not dst:
                raise PathMapError(f"--path-map wants FROM=TO, got {item!r}")
            pairs.append((src.rstrip("/") or "/", dst.rstrip("/") or "/"))
        # Longest prefix first, so /media/a=... wins over /media=... for files under /media/a.
        pairs.sort(key=lambda p: len(p[0]), reverse=True)
        return cls(tuple(pairs))

    def to_worker(self, path: str) -> str:
        return _swap(path, self.pairs)

    def to_submitter(self, path: str) -> str:
        return _swap(path, tuple(sorted(((d, s) for s, d in self.pairs),
                                        key=lambda p: len(p[0]), reverse=True)))  # fmt: skip

    def spec_to_worker(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        out["source"] = self.to_worker(str(spec.get("source", "")))
        out["outputs"] = [{**o, "path": self.to_worker(str(o["path"]))}
                          for o in spec.get("outputs") or ()]  # fmt: skip
        return out

    def result_to_submitter(self, result: dict[str, Any]) -> dict[str, Any]:
        out = dict(result)
        out["outputs"] = [{**o, "path": self.to_submitter(str(o["path"]))}
                          for o in result.get("outputs") or ()]  # fmt: skip
        return out


def _swap(path: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for src, dst in pairs:
        if src == "/":
            return dst.rstrip("/") + path
        if path == src or path.startswith(src + "/"):
            return dst + path[len(src) :]
    return path
