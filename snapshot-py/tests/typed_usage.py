"""Typed code using the package, checked with `mypy --strict` by test_types.py (not
run: it only has to type-check against the stubs)."""

from __future__ import annotations

import datetime
from typing import Any

import snapshot_state as snapshot


def checkpoints(path: str) -> list[snapshot.SnapshotInfo]:
    manager = snapshot.SnapshotManager(path=path)
    info: snapshot.SnapshotInfo = manager.dump({"epoch": 3}, labels={"run": "a"}, step=10)
    when: datetime.datetime = info.time
    size: int = info.size
    assert size > 0 and when.tzinfo is not None
    state: Any = manager.load("2024-01-15")
    del state
    newest_first = manager.list()
    oldest_first: list[snapshot.SnapshotInfo] = sorted(newest_first)
    report = manager.verify()
    assert report.ok
    manager.apply(snapshot.RetentionPolicy(keep_last=3, keep_within="2d"))
    return oldest_first
