"""Background checkpoints: `checkpoint(state)` returns once the state is captured; the
write happens with the GIL released; at most N in flight, wait or skip; flush; a
process killed mid-upload leaves nothing partial visible."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

import snapshot_state as snapshot


def test_checkpoints_are_stored_in_the_background(manager):
    cp = manager.checkpointer(max_in_flight=2)
    assert (cp.max_in_flight, cp.in_flight) == (2, 0)
    handles = [cp.checkpoint({"step": i, "w": np.full(1000, i, dtype=np.float32)}, step=i) for i in range(5)]
    assert all(h is not None for h in handles)
    cp.flush()
    infos = [h.result() for h in handles]
    assert all(h.done() and h.exception() is None for h in handles)
    assert sorted(infos) == infos and len(set(infos)) == 5
    assert manager.list() == infos[::-1]  # newest first
    last = manager.load()
    assert last["step"] == 4 and last["w"].dtype == np.float32 and last["w"][0] == 4
    assert manager.load(infos[2])["step"] == 2


def test_the_state_is_captured_when_checkpoint_returns(tmp_path):
    manager = snapshot.SnapshotManager(tmp_path / "s")
    weights = np.arange(1_000_000, dtype=np.float64)
    state = {"weights": weights, "meta": {"epoch": 1, "tags": ["a"]}}
    cp = manager.checkpointer()
    handle = cp.checkpoint(state)
    # Changed at once, while the checkpoint may still be writing: the snapshot keeps
    # what the state was at the call.
    weights += 1
    state["meta"]["epoch"] = 2
    state["meta"]["tags"].append("b")
    info = handle.result(timeout=60)
    back = manager.load(info)
    assert back["meta"] == {"epoch": 1, "tags": ["a"]}
    assert np.array_equal(back["weights"], np.arange(1_000_000, dtype=np.float64))


def test_when_busy_skip_returns_none_and_never_loses_a_started_one():
    manager = snapshot.SnapshotManager("memory:")
    cp = manager.checkpointer(max_in_flight=1, when_busy="skip")
    big = np.random.default_rng(1).standard_normal(4_000_000)  # 32 MB: written for a while
    results = [cp.checkpoint({"i": i, "big": big}) for i in range(10)]
    cp.flush()
    started = [h for h in results if h is not None]
    assert started and len(started) < len(results), "the second call, right after the first, is skipped"
    assert len(manager.list()) == len(started)
    assert sorted(h.result().key for h in started) == sorted(i.key for i in manager.list())


def test_when_busy_wait_bounds_the_checkpoints_in_flight():
    manager = snapshot.SnapshotManager("memory:")
    cp = manager.checkpointer(max_in_flight=2, when_busy="wait")
    big = np.ones(2_000_000)
    for i in range(6):
        cp.checkpoint({"i": i, "big": big})
        assert cp.in_flight <= 2
    cp.flush()
    assert cp.in_flight == 0
    assert len(manager.list()) == 6


def test_a_state_that_cannot_be_stored_raises_at_once_and_frees_its_place():
    manager = snapshot.SnapshotManager("memory:")
    cp = manager.checkpointer(max_in_flight=1)
    with pytest.raises(TypeError, match="set"):
        cp.checkpoint({"bad": {1, 2}})
    assert cp.in_flight == 0
    assert cp.checkpoint({"good": 1}).result(timeout=30) is not None


def test_a_failed_write_is_raised_by_result_or_by_flush(tmp_path):
    path = tmp_path / "s"
    manager = snapshot.SnapshotManager(path)
    shutil.rmtree(path)
    path.write_text("not a directory any more")
    cp = manager.checkpointer()
    handle = cp.checkpoint({"a": 1})
    with pytest.raises(snapshot.SnapshotError):
        handle.result(timeout=30)
    assert isinstance(handle.exception(), snapshot.SnapshotError)
    cp.flush()  # the failure was seen through the handle
    cp.checkpoint({"a": 2})  # handle dropped: flush raises its failure
    with pytest.raises(snapshot.SnapshotError):
        cp.flush()
    cp.flush()  # reported once


def test_with_block_flushes_and_bad_arguments_are_refused():
    manager = snapshot.SnapshotManager("memory:")
    with manager.checkpointer(max_in_flight=3) as cp:
        for i in range(4):
            cp.checkpoint({"i": i}, labels={"run": "r"})
    assert [manager.load(i)["i"] for i in manager.list()] == [3, 2, 1, 0]
    with pytest.raises(ValueError):
        manager.checkpointer(max_in_flight=0)
    with pytest.raises(ValueError, match="when_busy"):
        manager.checkpointer(when_busy="later")
    h = manager.checkpointer().checkpoint({"x": 1})
    assert h.result(timeout=30).key and "Checkpoint(" in repr(h)


KILLED_WRITER = r"""
import sys, numpy as np, snapshot_state as snapshot
m = snapshot.SnapshotManager(sys.argv[1])
cp = m.checkpointer(max_in_flight=2)
state = {"w": np.random.default_rng(int(sys.argv[2])).standard_normal(4_000_000), "n": 1}
while True:
    if sys.argv[3] == "checkpointer":
        cp.checkpoint(state, step=state["n"])
        state["n"] += 1
        print("started", flush=True)
    else:
        # A blocking dump of 32 MB of arrays: streamed to the store as it is walked.
        print("started", flush=True)
        m.dump(state, step=state["n"])
        state["n"] += 1
"""


@pytest.mark.parametrize("mode", ["checkpointer", "streamed dump"])
@pytest.mark.parametrize("kind", ["dir", "s3"])
def test_a_process_killed_mid_upload_leaves_nothing_partial(kind, mode, tmp_path, request):
    """SIGKILL a process that writes 32 MB checkpoints (two at a time in the background,
    or streamed by blocking dumps), at spread-out moments: some were handed over but not
    stored when it died, yet every snapshot listed afterwards loads whole and verify
    finds nothing bad."""
    if kind == "s3":
        request.getfixturevalue("s3_server")
        url = f"s3://snapshots/killed-{uuid.uuid4().hex}"
    else:
        url = str(tmp_path / "s")
    started = 0
    # The last kill waits for a first stored checkpoint (however slow the server is under
    # load), then lands while the next ones are being written.
    for round_, delay in enumerate([0.1, 0.5, 1.5, None]):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, url, str(round_), mode],
            stdout=subprocess.PIPE, text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "started"
        if delay is None:
            deadline = time.monotonic() + 60
            while not snapshot.SnapshotManager(url).list() and time.monotonic() < deadline:
                time.sleep(0.1)
            delay = 0.5
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        started += 1 + sum(1 for line in writer.stdout if line.strip() == "started")
    manager = snapshot.SnapshotManager(url)
    # A PUT whose last bytes were in the socket's buffer at the kill still reaches the
    # server and completes a little later (whole, as every stored snapshot must be):
    # the store is read once it has stopped changing.
    listed, deadline = manager.list(), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.0)
        again = manager.list()
        if again == listed:
            break
        listed = again
    for info in listed:
        back = manager.load(info)
        assert back["w"].shape == (4_000_000,) and back["n"] >= 1
    report = manager.verify()
    assert report.ok and report.checked == len(listed), report
    assert listed, "no checkpoint was stored in a minute of writing"
    assert started > len(listed), "every kill came between checkpoints"
    print(f"{kind}, {mode}: {started} handed over, {len(listed)} stored whole, 4 kills")
