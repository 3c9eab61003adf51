"""numpy arrays come back as numpy arrays of the same dtype and shape; numpy scalars as
Python numbers; without numpy, stored arrays load as nested lists."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import snapshot_state as snapshot

DTYPES = [
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128,
]
SHAPES = [(), (0,), (7,), (2, 3), (2, 0, 3), (3, 1, 4, 2)]
FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "snapshot-codec/tests/data/v2/ndarray.snap"


def sample(dtype, shape) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(n + len(shape))
    if dtype is np.bool_:
        return rng.integers(0, 2, n).astype(np.bool_).reshape(shape)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(shape)
    if np.issubdtype(dtype, np.complexfloating):
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype).reshape(shape)
    return rng.standard_normal(n).astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_arrays_keep_dtype_shape_and_bits(dtype, shape):
    a = sample(dtype, shape)
    back = snapshot.loads(snapshot.dumps({"a": a}))["a"]
    assert isinstance(back, np.ndarray)
    assert back.dtype == a.dtype and back.shape == a.shape
    assert back.tobytes() == a.tobytes()
    assert back.flags.c_contiguous and back.flags.writeable


def test_bool_arrays_viewed_from_other_bytes_still_load(tmp_path):
    odd = np.array([0, 1, 2, 255], dtype=np.uint8).view(np.bool_)
    back = snapshot.loads(snapshot.dumps(odd))
    assert back.tolist() == [False, True, True, True]
    manager = snapshot.SnapshotManager(tmp_path / "s")
    manager.dump({"mask": odd})
    assert manager.load()["mask"].tolist() == [False, True, True, True]


def test_special_floats_keep_their_bits():
    a = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45], dtype=np.float32)
    back = snapshot.loads(snapshot.dumps(a))
    assert back.tobytes() == a.tobytes()


def test_layouts_and_byte_orders_are_normalised():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    for view in [base.T, base[::2, ::3], base[:, 1], np.asfortranarray(base)]:
        back = snapshot.loads(snapshot.dumps(view))
        assert back.shape == view.shape and np.array_equal(back, view)
    big = np.array([[1.5, 2.5], [3.5, -4.0]], dtype=">f8")
    back = snapshot.loads(snapshot.dumps(big))
    assert back.dtype == np.dtype("<f8") and np.array_equal(back, big)


def test_arrays_are_one_block():
    # A million float32s take 4 MB and a few header bytes, whatever the shape.
    a = np.ones((1000, 1000), dtype=np.float32) / 3
    size = len(snapshot.dumps(a, compression="none"))
    assert 4_000_000 < size < 4_000_100


def test_scalars_come_back_as_python_numbers():
    value = {"f32": np.float32(2.5), "i": np.int32(-7), "u": np.uint64(2**64 - 1), "b": np.bool_(True)}
    back = snapshot.loads(snapshot.dumps(value))
    assert back == {"f32": 2.5, "i": -7, "u": 2**64 - 1, "b": True}
    assert [type(v) for v in back.values()] == [float, int, int, bool]


def test_unsupported_dtypes_are_refused_by_name():
    for bad in [np.array(["text"]), np.array([object()]), np.array(["2024-01-01"], dtype="datetime64[D]")]:
        with pytest.raises(TypeError, match="numpy array of dtype"):
            snapshot.dumps({"x": bad})


def test_manager_round_trip(tmp_path):
    m = snapshot.SnapshotManager(tmp_path)
    state = {"step": 3, "weights": np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 100)}
    m.dump(state)
    back = m.load()
    assert back["step"] == 3 and back["weights"].dtype == np.float32
    assert np.array_equal(back["weights"], state["weights"])


def test_fixture_shared_with_rust():
    # The same bytes a Rust test reads as NdArray (snapshot-codec/tests/ndarray.rs).
    value = {
        "f32": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32),
        "i64": np.array([-1, 0, 2**40], dtype=np.int64),
        "bool": np.array([[True], [False]]),
    }
    assert snapshot.dumps(value, compression="none") == FIXTURE.read_bytes()
    back = snapshot.loads(FIXTURE.read_bytes())
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in value.items())


def test_without_numpy_arrays_load_as_lists():
    data = snapshot.dumps({
        "m": np.array([[1, 2], [3, 4]], dtype=np.int16),
        "f": np.array([0.5], dtype=np.float32),
        "c": np.array([1 + 2j]),
    })
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import snapshot_state as snapshot\n"
        f"v = snapshot.loads({data!r})\n"
        "assert v['m'] == [[1, 2], [3, 4]], v\n"
        "assert v['f'] == [0.5], v\n"
        "assert isinstance(v['c'], snapshot.Ext) and v['c'].type_id == 2, v\n"
        "assert snapshot.loads(snapshot.dumps(v))['c'] == v['c']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# float32 elements: 12 MiB of arrays, above the size from which a dump streams the state
# to the store as it is walked instead of building the whole snapshot first.
BIG = 3 * 1024 * 1024


def big_state(seed: int = 5) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "step": seed,
        "weights": rng.standard_normal(BIG, dtype=np.float32).reshape(1024, -1),
        "mask": rng.integers(0, 2, 1 << 16).astype(np.bool_),
        "layers": [{"name": f"layer{i}", "scale": i / 3} for i in range(100)],
    }


def assert_same(back: dict, state: dict) -> None:
    assert back.keys() == state.keys()
    for k, v in state.items():
        if isinstance(v, np.ndarray):
            assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
            assert back[k].tobytes() == v.tobytes(), k
            assert back[k].flags.writeable, k
        else:
            assert back[k] == v, k


def test_large_states_stream_to_every_store_and_load_whole(manager):
    state = big_state()
    info = manager.dump(state, labels={"run": "a"}, step=5)
    assert info.size > 12 * 1024 * 1024
    assert_same(manager.load(info.key), state)
    assert_same(manager.load(labels={"run": "a"}, step=5), state)
    assert manager.verify().ok


def test_a_large_state_that_cannot_be_stored_fails_as_a_small_one_and_stores_nothing(tmp_path):
    m = snapshot.SnapshotManager(tmp_path / "s")
    errors = []
    for weights in (np.ones(4, np.float32), np.ones(BIG, np.float32)):
        with pytest.raises(TypeError) as caught:
            m.dump({"weights": weights, "bad": [1, object()]})
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "bad" in errors[1], errors
    assert m.list() == []


def test_a_large_state_dumped_at_a_taken_time_moves_to_the_next_free_one(tmp_path):
    m = snapshot.SnapshotManager(tmp_path / "s")
    at = "2024-01-01_00-00-00-000000"
    first, second = big_state(1), big_state(2)
    a = m.dump(first, at=at)
    b = m.dump(second, at=at)
    assert (a.key, b.key) == (at, "2024-01-01_00-00-00-000001")
    assert_same(m.load(a.key), first)
    assert_same(m.load(b.key), second)


def test_a_large_array_that_compresses_is_compressed_when_streamed(tmp_path):
    m = snapshot.SnapshotManager(tmp_path / "s")
    info = m.dump({"zeros": np.zeros(BIG, np.float32)})
    assert info.size < BIG * 4 // 50, info.size
    assert_same(m.load(), {"zeros": np.zeros(BIG, np.float32)})


def test_a_large_encrypted_state_streams_and_needs_its_key(tmp_path):
    key = "snapshot-key:big:" + "33" * 32
    m = snapshot.SnapshotManager(tmp_path / "s", keys=key)
    state = big_state(3)
    m.dump(state)
    assert_same(m.load(), state)
    raw = b"".join(p.read_bytes() for p in sorted((tmp_path / "s").rglob("*")) if p.is_file())
    assert state["weights"].tobytes()[:4096] not in raw
    with pytest.raises(snapshot.EncryptionKeyError):
        snapshot.SnapshotManager(tmp_path / "s").load()


def test_fsync_off_is_for_directories_and_keeps_every_dump_whole(tmp_path):
    m = snapshot.SnapshotManager(tmp_path / "s", fsync=False)
    state = big_state(4)
    first = m.dump(state)
    m.dump({"small": 1})
    assert m.load() == {"small": 1}
    assert_same(m.load(first.key), state)
    assert snapshot.open(str(tmp_path / "s"), fsync=False).verify().ok
    for url in ("memory:", "s3://bucket/prefix"):
        with pytest.raises(ValueError, match="directories"):
            snapshot.SnapshotManager(url, fsync=False)


def test_an_array_another_thread_writes_during_a_dump_still_loads(tmp_path):
    # numpy releases the GIL inside `np.add`, so the other thread changes the array
    # while a dump copies it: the stored values may be torn between two steps, but what
    # is hashed is what is written, so every snapshot loads and verifies.
    for fsync in (False, True):
        m = snapshot.SnapshotManager(tmp_path / f"s{fsync}", fsync=fsync)
        a = np.zeros(4 * BIG, np.float32)
        stop = threading.Event()

        def writer() -> None:
            while not stop.is_set():
                np.add(a, 1, out=a)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            infos = [m.dump({"w": a}) for _ in range(4)]
            infos.append(m._store(m._prepare({"w": a})))  # the in-memory path too
        finally:
            stop.set()
            thread.join()
        for info in infos:
            back = m.load(info.key)["w"]
            assert back.shape == a.shape and back.dtype == np.float32
        assert m.verify().ok


def test_a_streamed_dump_releases_the_gil_outside_the_walk(tmp_path):
    # With a switch interval of 1000 s, another thread runs only when the GIL is
    # released: during a streamed dump, for the store's fsyncs at least.
    m = snapshot.SnapshotManager(tmp_path / "s")
    state = big_state(6)
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)

    old = sys.getswitchinterval()
    thread = threading.Thread(target=count)
    thread.start()
    try:
        sys.setswitchinterval(1000)
        before = counter[0]
        info = m.dump(state)
        during = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        thread.join()
    assert during > 0, "the streamed dump held the GIL throughout"
    assert_same(m.load(info.key), state)
