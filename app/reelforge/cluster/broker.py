"""Which broker to use, decided the same way everywhere: flag, then environment, then setting."""

from __future__ import annotations

import os

BROKER_ENV = "REELFORGE_BROKER"


def resolve_broker(flag: str | None, setting: str | None) -> str | None:
    """The broker URL, or None for "run jobs on this computer"."""
    for candidate in (flag, os.environ.get(BROKER_ENV), setting):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def shown(url: str) -> str:
    """The URL without a password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
