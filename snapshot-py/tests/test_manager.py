"""The manager against a directory, memory: and the S3 test server: the original's
README examples, lookups, retention, verify, buffers, labels, async, errors."""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import sys
import threading
import time

import pytest

import snapshot_state as snapshot

UTC = datetime.timezone.utc


def at(minute: int) -> datetime.datetime:
    return datetime.datetime(2024, 1, 15, 10, minute, tzinfo=UTC)


# The examples of the original's README, each dumped and loaded back.
README_EXAMPLES = [
    {
        "user_id": 12345,
        "name": "John Doe",
        "settings": {"theme": "dark", "notifications": True},
        "tags": ["python", "compression", "serialization"],
    },
    {"key": "value", "number": 42},
    {"name": "Alice", "age": 30},
    {
        "level": 5,
        "score": 12500,
        "inventory": ["sword", "shield", "potion"],
        "player_position": {"x": 100, "y": 200},
        "settings": {"difficulty": "hard", "sound": True},
    },
    {
        "timestamp": str(datetime.datetime(2024, 1, 15, 10, 30)),
        "users": [
            {"id": 1, "name": "Alice", "email": "alice@example.com"},
            {"id": 2, "name": "Bob", "email": "bob@example.com"},
        ],
        "metadata": {"query": "SELECT * FROM users", "count": 2},
    },
    {
        "database": {"host": "localhost", "port": 5432, "name": "myapp"},
        "api_keys": {"stripe": "sk_live_...", "aws": "AKIA..."},
        "features": {"new_ui": True, "beta_features": False},
    },
    {
        "active_connections": 42,
        "processed_requests": 1250,
        "queue": ["task1", "task2", "task3"],
        "metrics": {"avg_response_time": 0.125, "error_rate": 0.01},
    },
    {
        "stage": "transformation",
        "processed_records": 10000,
        "errors": [],
        "output_files": ["output_1.csv", "output_2.csv"],
        "metadata": {"start_time": "2024-01-15T10:00:00", "source": "data_warehouse"},
    },
    {
        "user_id": "user_12345",
        "cart": [
            {"item_id": 1, "quantity": 2, "price": 29.99},
            {"item_id": 5, "quantity": 1, "price": 49.99},
        ],
        "preferences": {"currency": "USD", "language": "en", "theme": "light"},
        "last_activity": "2024-01-15T10:30:00",
    },
]


def test_readme_examples_round_trip(manager):
    infos = [manager.dump(example) for example in README_EXAMPLES]
    assert manager.load() == README_EXAMPLES[-1]
    for info, example in zip(infos, README_EXAMPLES):
        assert manager.exact(info.key) == example
        assert manager.load(info.key) == example  # nearest to its own key
    listed = manager.list()
    assert [s.key for s in listed] == [i.key for i in reversed(infos)]  # newest first
    assert all(s.name == s.key and s.size > 0 for s in listed)


def test_buffers_as_in_the_original(manager):
    buffer = io.BytesIO()
    data = {"key": "value", "number": 42}
    written = manager.write_to_buffer(data, buffer)
    assert written == len(buffer.getvalue()) > 0
    buffer.seek(0)
    assert manager.read_from_buffer(buffer) == data
    assert snapshot.loads(buffer.getvalue()) == data


def test_lookups(manager):
    for minute in (0, 10, 20):
        manager.dump({"minute": minute}, at=at(minute))
    assert manager.latest() == {"minute": 20}
    assert manager.exact(at(10)) == {"minute": 10}
    assert manager.exact(at(11)) is None
    assert manager.exact("2024-01-15_10-10-00-000000") == {"minute": 10}
    assert manager.nearest(at(14)) == {"minute": 10}
    assert manager.nearest(at(16)) == {"minute": 20}
    assert manager.nearest(at(15)) == {"minute": 10}  # a tie: the earlier
    assert manager.at_or_before(at(19)) == {"minute": 10}
    assert manager.at_or_before(at(20)) == {"minute": 20}
    assert manager.at_or_before(at(0) - datetime.timedelta(seconds=1)) is None
    assert manager.at_or_after(at(1)) == {"minute": 10}
    assert manager.at_or_after(at(21)) is None
    assert manager.load(at(12)) == {"minute": 10}
    plus1 = datetime.timezone(datetime.timedelta(hours=1))
    assert manager.exact(datetime.datetime(2024, 1, 15, 11, 10, tzinfo=plus1)) == {"minute": 10}
    assert [s.key for s in manager.list(at(12))] == [
        "2024-01-15_10-10-00-000000",
        "2024-01-15_10-20-00-000000",
        "2024-01-15_10-00-00-000000",
    ]
    assert manager.list()[0].time == at(20)


def test_an_empty_store_loads_none(manager):
    assert manager.load() is None
    assert manager.latest() is None
    assert manager.list() == []


def test_dumps_in_one_microsecond_never_overwrite(manager):
    infos = [manager.dump({"n": n}, at=at(0)) for n in range(3)]
    assert len({i.key for i in infos}) == 3
    assert [manager.exact(i.key) for i in infos] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_prune_removes_the_oldest_never_the_newest(manager):
    for minute in range(4):
        manager.dump({"m": minute}, at=at(minute))
    assert manager.prune() == 1
    assert manager.prune(max_prune=10) == 2
    assert [s.key for s in manager.list()] == ["2024-01-15_10-03-00-000000"]
    assert manager.prune(5) == 0


def test_retention_plan_and_apply(manager):
    for hour in range(6):
        manager.dump({"h": hour}, at=datetime.datetime(2024, 1, 15, hour, tzinfo=UTC))
    policy = snapshot.RetentionPolicy(keep_last=2)
    plan = manager.plan(policy)
    assert [k.key for k, _ in plan.keep] == ["2024-01-15_05-00-00-000000", "2024-01-15_04-00-00-000000"]
    assert plan.keep[0][1][0] == "newest snapshot"
    assert len(plan.remove) == 4
    assert "remove 2024-01-15_00-00-00-000000" in str(plan)
    assert len(manager.list()) == 6  # a plan removes nothing
    applied = manager.apply(policy)
    assert len(applied.remove) == 4
    assert len(manager.list()) == 2
    with pytest.raises(ValueError):
        snapshot.RetentionPolicy(keep_within="6min")


def test_labels_and_steps(manager):
    for step in range(1, 7):
        kind = "nightly" if step % 3 == 0 else "hourly"
        manager.dump({"step": step}, at=at(step), labels={"kind": kind}, step=step * 100)
    assert manager.latest(labels={"kind": "hourly"}) == {"step": 5}
    assert manager.latest(max_step=250) == {"step": 2}
    assert manager.latest(step=300) == {"step": 3}
    assert manager.at_or_before(at(5), labels={"kind": "nightly"}) == {"step": 3}
    assert manager.latest(labels={"kind": "weekly"}) is None
    scoped = snapshot.RetentionPolicy(keep_last=1, labels={"kind": "hourly"})
    removed = manager.apply(scoped).remove
    assert sorted(s.key for s in removed) == [f"2024-01-15_10-{m:02}-00-000000" for m in (1, 2, 4)]
    assert len(manager.list()) == 3


def test_verify(manager):
    manager.dump({"a": 1})
    report = manager.verify()
    assert report.ok and report.checked == 1 and report.bad == [] and report.not_decrypted == []


def test_dump_async_and_load_async(manager):
    async def main():
        state = {"n": 1}
        info = await manager.dump_async(state, labels={"via": "asyncio"})
        state["n"] = 2  # read at the call: later changes are not saved
        assert await manager.load_async() == {"n": 1}
        assert await manager.load_async(info.key) == {"n": 1}
        many = await asyncio.gather(*(manager.dump_async({"i": i}) for i in range(5)))
        assert len({m.key for m in many}) == 5
        assert manager.latest(labels={"via": "asyncio"}) == {"n": 1}

    asyncio.run(main())


def test_encrypted_store(tmp_path):
    key = "snapshot-key:test:" + "11" * 32
    url = str(tmp_path / "secret")
    manager = snapshot.SnapshotManager(url, keys=key)
    info = manager.dump({"api_key": "sk-live-123"})
    assert manager.load() == {"api_key": "sk-live-123"}
    stored = (tmp_path / "secret").rglob("*")
    assert not any(b"sk-live" in p.read_bytes() for p in stored if p.is_file())
    without = snapshot.open(url)
    with pytest.raises(snapshot.EncryptionKeyError) as caught:
        without.load()
    assert caught.value.key == info.key
    assert without.verify().not_decrypted == [info.key]
    wrong = snapshot.open(url, keys="snapshot-key:test:" + "22" * 32)
    with pytest.raises(snapshot.EncryptionKeyError):
        wrong.load()
    with pytest.raises(ValueError):
        snapshot.open(url, keys="not a key")


def test_corrupt_snapshot_names_its_key(tmp_path):
    url = str(tmp_path / "snaps")
    manager = snapshot.SnapshotManager(url)
    info = manager.dump({"a": list(range(50))})
    files = [p for p in (tmp_path / "snaps").rglob("*") if p.is_file() and info.key in p.name]
    assert len(files) == 1
    data = bytearray(files[0].read_bytes())
    data[len(data) // 2] ^= 1
    files[0].write_bytes(bytes(data))
    with pytest.raises(snapshot.CorruptSnapshotError) as caught:
        manager.load()
    assert caught.value.key == info.key
    assert info.key in str(caught.value)
    report = manager.verify()
    assert not report.ok and report.bad[0][0] == info.key


def test_store_and_key_errors(tmp_path):
    with pytest.raises(snapshot.StoreNotFoundError, match="mistyped"):
        snapshot.open(str(tmp_path / "mistyped"))
    assert not (tmp_path / "mistyped").exists()
    manager = snapshot.open(str(tmp_path / "new"), create=True)
    with pytest.raises(snapshot.InvalidKeyError):
        manager.exact("yesterday")
    with pytest.raises(snapshot.InvalidKeyError):
        manager.dump({}, at="10000-01-01_00-00-00-000000")
    with pytest.raises(TypeError):
        manager.exact(12)
    with pytest.raises(snapshot.SnapshotNotFoundError):
        manager.delete("2024-01-15_10-00-00-000000")
    with pytest.raises(ValueError, match="unsupported store URL scheme"):
        snapshot.open("gs://bucket")
    with pytest.raises(ValueError, match="compression"):
        snapshot.SnapshotManager("memory:", compression="brotli")
    assert issubclass(snapshot.StoreNotFoundError, snapshot.SnapshotError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permissions cannot deny it")
def test_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    snapshot.SnapshotManager(str(locked)).dump({"a": 1})
    locked.chmod(0)
    try:
        with pytest.raises(snapshot.SnapshotPermissionError):
            snapshot.open(str(locked)).list()
    finally:
        locked.chmod(0o755)


def test_s3_wrong_credentials_are_an_authentication_error(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    manager = snapshot.open("s3://snapshots/auth-check")
    with pytest.raises(snapshot.AuthenticationError, match="credentials rejected"):
        manager.dump({"a": 1})
    with pytest.raises(snapshot.AuthenticationError):
        manager.list()


def test_s3_refused_writes_are_a_permission_error(s3_server, monkeypatch):
    snapshot.open("s3://snapshots/read-only").dump({"a": 1})
    # An identity of the test server that may read and list, not write.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "snapshot-readonly")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "snapshot-readonly-secret")
    reader = snapshot.open("s3://snapshots/read-only")
    assert reader.load() == {"a": 1}
    with pytest.raises(snapshot.SnapshotPermissionError, match="permission denied"):
        reader.dump({"b": 2})
    assert len(reader.list()) == 1


def test_s3_unreachable_is_a_store_error(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT", "http://127.0.0.1:9")
    manager = snapshot.open("s3://snapshots/unreachable")
    with pytest.raises(snapshot.StoreError):
        manager.list()


def test_blocking_calls_release_the_gil(tmp_path):
    # With a switch interval of 1000 s, another Python thread runs only while this one
    # releases the GIL: the counter can move during dump/load only if they release it.
    manager = snapshot.SnapshotManager(str(tmp_path / "gil"))
    state = {"blob": os.urandom(64 << 20)}
    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)  # hands the GIL back whenever the main thread waits for it

    old = sys.getswitchinterval()
    thread = threading.Thread(target=count)
    thread.start()
    try:
        sys.setswitchinterval(1000)
        before = counter[0]
        manager.dump(state)
        during_dump = counter[0] - before
        before = counter[0]
        loaded = manager.load()
        during_load = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        thread.join()
    assert loaded == state
    assert during_dump > 0, "dump held the GIL throughout"
    assert during_load > 0, "load held the GIL throughout"


def test_manager_classes_are_typed():
    assert snapshot.open("memory:").url == "memory:"
    assert "memory:" in repr(snapshot.open("memory:"))
    info = snapshot.open("memory:").dump({})
    assert repr(info).startswith("SnapshotInfo(key='")


def test_the_originals_keyword_names(manager):
    manager.dump({"m": 0}, at=at(0))
    manager.dump({"m": 10}, at=at(10))
    target = "2024-01-15_10-09-00-000000"
    assert manager.load(target_timestamp=target) == {"m": 10}
    assert [s.name for s in manager.list(target_timestamp=target)][0] == "2024-01-15_10-10-00-000000"
    with pytest.raises(TypeError, match="not both"):
        manager.load(target, target_timestamp=target)


def test_stubs_cover_the_public_names():
    import ast
    import pathlib

    package = pathlib.Path(snapshot.__file__).parent
    assert (package / "py.typed").exists()
    stub = ast.parse((package / "_snapshot.pyi").read_text())
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    for name in snapshot.__all__:
        assert name in stubbed or name in ("SnapshotManager", "open"), name
    for name in dir(snapshot.SnapshotManager):
        if not name.startswith("__"):
            assert name in (package / "_snapshot.pyi").read_text() + (package / "__init__.py").read_text(), name
    assert snapshot.SnapshotManager.dump.__doc__ and snapshot.open.__doc__ and snapshot.dumps.__doc__


def test_a_forked_child_uses_the_store(tmp_path):
    import multiprocessing

    url = str(tmp_path / "forked")
    manager = snapshot.SnapshotManager(url)
    manager.dump({"parent": True})  # the parent's runtime exists before the fork
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child_dumps, args=(url,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert manager.latest() == {"child": True}
    assert len(manager.list()) == 2


def _child_dumps(url):
    snapshot.SnapshotManager(url).dump({"child": True})


def test_infos_compare_sort_and_hash_by_time(tmp_path):
    manager = snapshot.open(str(tmp_path / "s"), create=True)
    for minute in (30, 10, 20):
        manager.dump({"m": minute}, at=at(minute))
    newest_first = manager.list()
    assert [i.time.minute for i in newest_first] == [30, 20, 10]
    assert sorted(newest_first) == newest_first[::-1]
    assert newest_first[1] < newest_first[0] and newest_first[0] >= newest_first[2]
    assert max(newest_first).time == at(30)
    assert len(set(newest_first) | set(manager.list())) == 3
    assert manager.exact(min(newest_first)) == {"m": 10}


def test_time_strings_in_every_common_unambiguous_form(tmp_path):
    manager = snapshot.open(str(tmp_path / "s"), create=True)
    manager.dump({"day": 15}, at="2024-01-15T10:00:00Z")
    manager.dump({"day": 16}, at="2024-01-16")  # a date: midnight UTC
    assert [i.key for i in manager.list()] == [
        "2024-01-16_00-00-00-000000",
        "2024-01-15_10-00-00-000000",
    ]
    assert manager.exact("2024-01-15T12:00:00+02:00") == {"day": 15}
    assert manager.at_or_before("2024-01-16") == {"day": 16}
    assert manager.at_or_before("2024-01-15T23:59:59.999999Z") == {"day": 15}
    # Without an offset a time could be any zone's: refused, naming the accepted forms.
    for text in ("2024-01-15 10:00", "2024-01-15T10:00:00", "15/01/2024", "yesterday"):
        with pytest.raises(snapshot.InvalidKeyError, match="RFC 3339") as caught:
            manager.at_or_before(text)
        assert "midnight UTC" in str(caught.value)
    with pytest.raises(snapshot.InvalidKeyError, match="microsecond"):
        manager.exact("2024-01-15T10:00:00.0000001Z")
