"""Every kind of value the package stores comes back as the table in the README says,
and every kind it does not store raises a clear exception naming where it is."""

from __future__ import annotations

import datetime
import math
import struct
import subprocess
import sys

import pytest

import snapshot_state as snapshot

UTC = datetime.timezone.utc


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(a, b) -> bool:
    """Equality, with floats compared bit for bit (NaN, -0.0) and types checked."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return bits(a) == bits(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(type(k) is type(j) for k, j in zip(a, b)) and all(
            same(a[k], b[k]) for k in a
        )
    return a == b


EDGE = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "i64min": -(2**63),
    "i64max": 2**63 - 1,
    "u64max": 2**64 - 1,
    "floats": [0.0, -0.0, 1.5, float("inf"), float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308],
    "nan_payload": struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0],
    "text": "",
    "unicode": "名前 📸 café",
    "surrogate_free": "\u0000 nul",
    "bytes": b"\x00\xff" * 3,
    "empty_bytes": b"",
    "list": [1, "a", None, [2.5, True], {}],
    "empty": [[], {}],
    "int_keys": {1: "one", -2: "minus two", 2**64 - 1: "max"},
    "mixed_keys": {1: "int", "1": "str"},
    "nested": {"a": {"b": {"c": [1, [2, [3]]]}}},
    "ints_then_float": [1, 2, 3.0, 4],
    "floats_then_int": [1.5, 2],
    "big_list": list(range(1000)),
    "big_floats": [i / 7 for i in range(1000)],
    "small_ints": [0, 255, 3],
    "datetime": datetime.datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC),
}


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_edge_values_round_trip_through_bytes(compression):
    back = snapshot.loads(snapshot.dumps(EDGE, compression=compression))
    for key, value in EDGE.items():
        assert same(back[key], value), key


def test_edge_values_round_trip_through_every_store(manager):
    info = manager.dump(EDGE)
    assert same(manager.exact(info.key), EDGE)
    assert same(manager.load(), EDGE)


def test_converted_types_say_what_they_become():
    back = snapshot.loads(snapshot.dumps({"t": (1, (2, 3)), "ba": bytearray(b"xy")}))
    assert back == {"t": [1, [2, 3]], "ba": b"xy"}
    assert type(back["ba"]) is bytes


def test_int_keys_keep_their_type_and_order():
    value = {3: "c", "b": 2, 1: "a"}
    back = snapshot.loads(snapshot.dumps(value))
    assert list(back) == [3, "b", 1]
    assert [type(k) for k in back] == [int, str, int]


def test_datetimes_come_back_in_utc():
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    local = datetime.datetime(2024, 1, 15, 12, 30, tzinfo=plus2)
    back = snapshot.loads(snapshot.dumps([local]))[0]
    assert back == local
    assert back.tzinfo == UTC
    assert back.hour == 10
    before_1970 = datetime.datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert snapshot.loads(snapshot.dumps(before_1970)) == before_1970


def test_naive_datetimes_are_refused():
    with pytest.raises(TypeError, match="naive datetime.*at value\\['when'\\]"):
        snapshot.dumps({"when": datetime.datetime(2024, 1, 1)})


def test_ext_values_round_trip():
    ext = snapshot.Ext(70, b"payload")
    back = snapshot.loads(snapshot.dumps({"custom": ext}))["custom"]
    assert back == ext and back.type_id == 70 and back.data == b"payload"
    assert "type_id=70" in repr(back)


@pytest.mark.parametrize(
    "value, error, where",
    [
        ({"a": {1.5: "x"}}, TypeError, "value['a'][1.5]"),
        ({(1, 2): 1}, TypeError, "value[(1, 2)]"),
        ({True: 1}, TypeError, "value[True]"),
        ({"x": [1, {2, 3}]}, TypeError, "value['x'][1]"),
        ({"c": 1 + 2j}, TypeError, "value['c']"),
        ({"big": [0, 2**64]}, OverflowError, "value['big'][1]"),
        ({"neg": -(2**63) - 1}, OverflowError, "value['neg']"),
        ({"k": {2**70: 1}}, OverflowError, "value['k']"),
        ([datetime.date(2024, 1, 1)], TypeError, "value[0]"),
    ],
)
def test_unsupported_values_name_their_path(value, error, where):
    with pytest.raises(error) as caught:
        snapshot.dumps(value)
    assert where in str(caught.value)


def test_cycles_and_deep_nesting_raise_value_error():
    a = []
    a.append(a)
    with pytest.raises(ValueError, match="cyclic"):
        snapshot.dumps(a)
    d = {}
    d["self"] = {"again": d}
    with pytest.raises(ValueError, match="cyclic"):
        snapshot.dumps(d)
    deep = leaf = []
    for _ in range(500):
        leaf.append([])
        leaf = leaf[0]
    with pytest.raises(ValueError, match="deeper than"):
        snapshot.dumps(deep)
    shared = [1]
    assert snapshot.loads(snapshot.dumps([shared, shared])) == [[1], [1]]  # not a cycle
    ok = leaf = []
    for _ in range(100):
        leaf.append([])
        leaf = leaf[0]
    assert snapshot.loads(snapshot.dumps(ok)) == ok


def test_corrupt_truncated_and_hostile_bytes_raise_snapshot_errors():
    good = snapshot.dumps({"a": list(range(100))})
    for bad in [b"", b"junk", good[:-1], good[:10], good[:-9] + bytes(9)]:
        with pytest.raises(snapshot.CorruptSnapshotError) as caught:
            snapshot.loads(bad)
        assert caught.value.key is None
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    with pytest.raises(snapshot.CorruptSnapshotError, match="checksum"):
        snapshot.loads(bytes(flipped))
    with pytest.raises(TypeError):
        snapshot.loads("not bytes")
    assert snapshot.loads(memoryview(good)) == {"a": list(range(100))}


def frame(body: bytes) -> bytes:
    """A version 2 snapshot around `body`, uncompressed, with a correct checksum (so
    only the body is hostile)."""
    import xxhash  # a test dependency (scripts/test-python.sh installs it)
    head = bytes([0x89, 0x53, 0x4E, 0x50, 0x02, 0x00]) + len(body).to_bytes(4, "little") + body
    head += bytes(4)
    return head + xxhash.xxh3_64_intdigest(head).to_bytes(8, "little")


def test_hostile_bodies_are_refused_not_a_crash():
    assert snapshot.loads(frame(b"\xc0")) is None  # the golden example of FORMAT.md
    # 100,000 nested one-item lists (0xA1): the frame is sound, the depth is not.
    with pytest.raises(snapshot.CorruptSnapshotError, match="deeper than the limit"):
        snapshot.loads(frame(b"\xa1" * 100_000 + b"\xc0"))
    # A list that claims 2**60 items (0xC8: varint count) in a few bytes.
    with pytest.raises(snapshot.CorruptSnapshotError):
        snapshot.loads(frame(b"\xc8" + b"\xff" * 8 + b"\x0f"))
    # Truncated inside a string, and trailing bytes after the value.
    with pytest.raises(snapshot.CorruptSnapshotError):
        snapshot.loads(frame(b"\x85abc"))
    with pytest.raises(snapshot.CorruptSnapshotError):
        snapshot.loads(frame(b"\xc0\xc0"))


def test_a_panic_becomes_internal_error():
    with pytest.raises(snapshot.InternalError, match="bug in snapshot"):
        snapshot._snapshot._panic_for_test()
    assert issubclass(snapshot.InternalError, snapshot.SnapshotError)


def test_without_numpy_nothing_breaks():
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import snapshot_state as snapshot\n"
        "assert snapshot.loads(snapshot.dumps({'a': [1.5, 2]})) == {'a': [1.5, 2]}\n"
        "try:\n"
        "    snapshot.dumps({1, 2})\n"
        "except TypeError as e:\n"
        "    assert 'set' in str(e)\n"
        "else:\n"
        "    raise SystemExit('no TypeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_float_bits_survive():
    for x in [math.pi, -0.0, float("nan"), 1e-310]:
        assert bits(snapshot.loads(snapshot.dumps(x))) == bits(x)


def test_records_of_varied_keys_keep_every_key_and_order():
    # Dicts of one shape are written as records; these vary it every way: same first
    # key with other keys, fewer and more keys, a key order change, long and empty keys,
    # an int key among str keys, more keys than a record takes.
    rows = [
        {"id": 1, "name": "a", "email": "x"},
        {"id": 2, "name": "b", "email": "y"},
        {"id": 3, "email": "z", "name": "c"},
        {"id": 4, "name": "d"},
        {"id": 5, "name": "e", "email": "w", "extra": None},
        {"id": 6, "nick": "f", "email": "v"},
        {"id": 7, "k" * 65: "long key", "": "empty key"},
        {"id": 8, 9: "int key", "name": "g"},
        {f"k{i}": i for i in range(100)},
        {"id": 1, "name": "a", "email": "x"},
    ]
    back = snapshot.loads(snapshot.dumps(rows))
    assert back == rows
    assert [list(r) for r in back] == [list(r) for r in rows]
    # Repeated records cost their values, not their keys.
    same_shape = [{"alpha_key": i, "beta_key": -i} for i in range(1000)]
    assert len(snapshot.dumps(same_shape, compression="none")) < 1000 * 8
