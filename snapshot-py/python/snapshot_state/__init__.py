"""Snapshots of Python state: compact, checksummed, compressed, keyed by UTC time.

The engine is the Rust crate ``snapshot-state``; this package converts Python values to its
format and back. ``SnapshotManager(path)`` keeps the original py-snapshot's names
(``dump``, ``load``, ``list``, ``prune``, ``write_to_buffer``, ``read_from_buffer``);
``open(url)`` reaches directories, ``s3://bucket/prefix`` and ``memory:`` stores.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Mapping, Optional

from . import _snapshot
from ._snapshot import (
    AlreadyExistsError,
    AuthenticationError,
    Checkpoint,
    Checkpointer,
    CorruptSnapshotError,
    EncryptionKeyError,
    Ext,
    ImportReport,
    InternalError,
    InvalidKeyError,
    RetentionPlan,
    RetentionPolicy,
    SnapshotError,
    SnapshotInfo,
    SnapshotNotFoundError,
    SnapshotPermissionError,
    StoreError,
    StoreNotFoundError,
    VerifyReport,
    dumps,
    loads,
)

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "Checkpoint",
    "Checkpointer",
    "CorruptSnapshotError",
    "EncryptionKeyError",
    "Ext",
    "ImportReport",
    "InternalError",
    "InvalidKeyError",
    "RetentionPlan",
    "RetentionPolicy",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotManager",
    "SnapshotNotFoundError",
    "SnapshotPermissionError",
    "StoreError",
    "StoreNotFoundError",
    "VerifyReport",
    "dumps",
    "loads",
    "open",
]


class SnapshotManager(_snapshot.SnapshotManager):
    """Saves and restores snapshots of Python values in a store.

    ``SnapshotManager(path="./snapshot")`` opens (and creates) a directory; a
    ``file://``, ``s3://bucket/prefix`` or ``memory:`` URL picks another store. The
    blocking methods release the GIL while bytes are compressed, checksummed,
    encrypted, written and read; ``dump_async`` and ``load_async`` run that part in the
    event loop's default executor.
    """

    def latest(
        self,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """The newest snapshot (that matches the filters), or None."""
        return self._lookup("latest", None, labels=labels, step=step, max_step=max_step)

    def exact(
        self,
        target: Any,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """The snapshot stored exactly at ``target`` (a ``Time``), or None."""
        return self._lookup("exact", target, labels=labels, step=step, max_step=max_step)

    def nearest(
        self,
        target: Any,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """The snapshot nearest to ``target`` (the earlier on a tie), or None."""
        return self._lookup("nearest", target, labels=labels, step=step, max_step=max_step)

    def at_or_before(
        self,
        target: Any,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """The last snapshot at or before ``target``, or None."""
        return self._lookup("at_or_before", target, labels=labels, step=step, max_step=max_step)

    def at_or_after(
        self,
        target: Any,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """The first snapshot at or after ``target``, or None."""
        return self._lookup("at_or_after", target, labels=labels, step=step, max_step=max_step)

    async def dump_async(
        self,
        state: Any,
        *,
        at: Any = None,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
    ) -> SnapshotInfo:
        """``dump`` for asyncio: ``state`` is read now, on the calling thread (so later
        changes to it are not saved); compression and storage run in an executor."""
        pending = self._prepare(state, at=at, labels=labels, step=step)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._store, pending)

    async def load_async(
        self,
        target: Any = None,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any:
        """``load`` for asyncio: reading and decompressing run in an executor, the
        Python objects are made on the calling thread."""
        loop = asyncio.get_running_loop()
        fetch = functools.partial(
            self._fetch, target, labels=labels, step=step, max_step=max_step
        )
        fetched = await loop.run_in_executor(None, fetch)
        return self._build(fetched)


def open(
    url: str,
    *,
    create: bool = False,
    keys: Optional[str] = None,
    compression: str = "lz4",
    fsync: bool = True,
) -> SnapshotManager:
    """Opens the store ``url`` names: a path or ``file://`` URL (an existing directory
    unless ``create=True``), ``s3://bucket/prefix`` (endpoint, region and credentials
    from the ``AWS_*`` variables) or ``memory:`` (a new, empty store). ``fsync=False``
    (directories only) skips the fsyncs, as ``numpy.save`` does: a crashed process
    still leaves every saved snapshot whole, a power loss may not."""
    return SnapshotManager(url, create=create, keys=keys, compression=compression, fsync=fsync)
