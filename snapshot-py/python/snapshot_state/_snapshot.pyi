"""Type stubs of the native module (the Rust engine's bindings)."""

from __future__ import annotations

import datetime
import os
from typing import IO, Any, Literal, Mapping, Optional, Union

Time = Union[str, datetime.datetime, "SnapshotInfo"]
"""A snapshot time: a string (a key ``YYYY-MM-DD_HH-MM-SS-ffffff``, RFC 3339 with an
offset, or a date ``YYYY-MM-DD``, midnight UTC), a datetime (aware; naive means local
time, as ``datetime.timestamp`` reads it) or a SnapshotInfo."""

class SnapshotError(Exception):
    """The base of every error this package raises."""

class SnapshotNotFoundError(SnapshotError):
    """The snapshot named does not exist."""

class StoreNotFoundError(SnapshotError):
    """No store at that location (a missing directory opened without create=True)."""

class CorruptSnapshotError(SnapshotError):
    """A snapshot does not load: damaged, truncated, tampered with or not a snapshot."""

    key: Optional[str]

class EncryptionKeyError(SnapshotError):
    """A snapshot is encrypted under a key not given, or a wrong key was given."""

    key: Optional[str]

class SnapshotPermissionError(SnapshotError):
    """The store refused access."""

class AuthenticationError(SnapshotError):
    """The store rejected the credentials."""

class InvalidKeyError(SnapshotError):
    """A key or time that cannot name a snapshot."""

class AlreadyExistsError(SnapshotError):
    """A snapshot already holds that key."""

class StoreError(SnapshotError):
    """The store failed (unreachable, misbehaving, full; or an outcome unknown)."""

class InternalError(SnapshotError):
    """A bug in this package (a Rust panic, caught)."""

class Ext:
    """An extension value: a custom type's id and payload."""

    type_id: int
    data: bytes
    def __init__(self, type_id: int, data: bytes | bytearray | memoryview) -> None: ...

class SnapshotInfo:
    """A stored snapshot. Infos compare and sort by time (then size), and hash."""

    def __lt__(self, other: SnapshotInfo) -> bool: ...
    def __le__(self, other: SnapshotInfo) -> bool: ...
    def __gt__(self, other: SnapshotInfo) -> bool: ...
    def __ge__(self, other: SnapshotInfo) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

    key: str
    """``YYYY-MM-DD_HH-MM-SS-ffffff``, the UTC time it is stored under."""
    name: str
    """The key, as the original's ``Path.name`` gave it."""
    size: int
    """Its size in bytes, as stored."""
    time: datetime.datetime
    """Its time, aware, in UTC."""

class RetentionPolicy:
    """Retention rules (restic's): the newest snapshot is always kept."""

    def __init__(
        self,
        *,
        keep_last: int = 0,
        keep_hourly: int = 0,
        keep_daily: int = 0,
        keep_weekly: int = 0,
        keep_monthly: int = 0,
        keep_yearly: int = 0,
        keep_within: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> None: ...

class RetentionPlan:
    """What a policy keeps (with reasons) and removes, newest first."""

    keep: list[tuple[SnapshotInfo, list[str]]]
    remove: list[SnapshotInfo]

class VerifyReport:
    """What ``verify()`` found."""

    checked: int
    bad: list[tuple[str, str]]
    not_decrypted: list[str]
    ok: bool

class ImportReport:
    """What ``import_py()`` did per file."""

    files: list[tuple[str, str]]
    imported: int
    skipped: int
    failures: int

class _Pending: ...
class _Fetched: ...

class Checkpoint:
    """A checkpoint being written in the background (a future-like handle)."""

    def done(self) -> bool: ...
    def result(self, timeout: Optional[float] = None) -> SnapshotInfo: ...
    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]: ...

class Checkpointer:
    """Writes checkpoints in the background, at most ``max_in_flight`` at a time."""

    @property
    def in_flight(self) -> int: ...
    @property
    def max_in_flight(self) -> int: ...
    def checkpoint(
        self,
        state: Any,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
    ) -> Optional[Checkpoint]: ...
    def flush(self) -> None: ...
    def __enter__(self) -> Checkpointer: ...
    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool: ...

class SnapshotManager:
    url: str
    def __init__(
        self,
        path: Union[str, os.PathLike[str], None] = None,
        *,
        create: bool = True,
        keys: Optional[str] = None,
        compression: str = "lz4",
        fsync: bool = True,
    ) -> None: ...
    def dump(
        self,
        state: Any,
        *,
        at: Optional[Time] = None,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
    ) -> SnapshotInfo: ...
    def checkpointer(
        self, *, max_in_flight: int = 1, when_busy: Literal["wait", "skip"] = "wait"
    ) -> Checkpointer: ...
    def load(
        self,
        target: Optional[Time] = None,
        *,
        target_timestamp: Optional[Time] = None,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any: ...
    def _lookup(
        self,
        kind: str,
        target: Optional[Time] = None,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> Any: ...
    def list(
        self, target: Optional[Time] = None, *, target_timestamp: Optional[Time] = None
    ) -> list[SnapshotInfo]: ...
    def prune(self, max_prune: int = 1) -> int: ...
    def delete(self, key: Time) -> None: ...
    def plan(self, policy: RetentionPolicy) -> RetentionPlan: ...
    def apply(self, policy: RetentionPolicy) -> RetentionPlan: ...
    def verify(self) -> VerifyReport: ...
    def import_py(
        self,
        directory: Union[str, os.PathLike[str]],
        *,
        utc_offset: Optional[datetime.timedelta] = None,
    ) -> ImportReport: ...
    def write_to_buffer(self, state: Any, buffer: IO[bytes]) -> int: ...
    def read_from_buffer(self, buffer: IO[bytes]) -> Any: ...
    def _prepare(
        self,
        state: Any,
        *,
        at: Optional[Time] = None,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
    ) -> _Pending: ...
    def _store(self, pending: _Pending) -> SnapshotInfo: ...
    def _fetch(
        self,
        target: Optional[Time] = None,
        *,
        labels: Optional[Mapping[str, str]] = None,
        step: Optional[int] = None,
        max_step: Optional[int] = None,
    ) -> _Fetched: ...
    def _build(self, fetched: _Fetched) -> Any: ...

def dumps(value: Any, *, compression: str = "lz4") -> bytes:
    """Encodes ``value`` as a snapshot (compressed, checksummed)."""

def loads(data: bytes | bytearray | memoryview) -> Any:
    """Decodes a snapshot."""

def _panic_for_test() -> None: ...
