"""Per-call speed, numpy arrays and background checkpoints of the Python package against
pickle, orjson, msgspec and numpy.save, in one process, peers interleaved round by
round. A benchmark, not a test: run it with a release build of the module.

    python snapshot-py/tests/bench_calls.py [--rounds N] [--array-mib 256] [--checkpoint-gib 1]

`--s3` runs the checkpoint row on S3 alone (scripts/bench-python.sh starts the local
SeaweedFS server for it, after the other measurements, so it idles during none of them).
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid

import msgspec
import numpy as np
import orjson

import snapshot_state as snapshot
from bench import users


def interleaved(cases: dict, rounds: int) -> dict:
    """Each case once per round, in turn; medians and fastest per case, in ms."""
    times: dict = {name: [] for name in cases}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    finally:
        gc.enable()
    return {n: (statistics.median(t) * 1000, min(t) * 1000) for n, t in times.items()}


def fmt(t: tuple) -> str:
    return f"{t[0]:.1f} ({t[1]:.1f})"


def per_call(rounds: int) -> None:
    docs = users(20_000)
    peers = {
        "snapshot (default: lz4)": (snapshot.dumps, snapshot.loads),
        "snapshot (uncompressed)": (lambda v: snapshot.dumps(v, compression="none"), snapshot.loads),
        "pickle (protocol 5)": (lambda v: pickle.dumps(v, protocol=5), pickle.loads),
        "orjson": (orjson.dumps, orjson.loads),
        "msgspec (msgpack)": (msgspec.msgpack.encode, msgspec.msgpack.decode),
    }
    for name, (enc, dec) in peers.items():
        assert dec(enc(docs)) == docs and dec(enc(docs[0])) == docs[0], name
    sep = {n: [enc(d) for d in docs] for n, (enc, _) in peers.items()}
    whole = {n: enc(docs) for n, (enc, _) in peers.items()}
    cases = {}
    for n, (enc, dec) in peers.items():
        cases[(n, "sep-enc")] = lambda enc=enc: [enc(d) for d in docs]
        cases[(n, "sep-dec")] = lambda dec=dec, n=n: [dec(b) for b in sep[n]]
        cases[(n, "list-enc")] = lambda enc=enc: enc(docs)
        cases[(n, "list-dec")] = lambda dec=dec, n=n: dec(whole[n])
    r = interleaved(cases, rounds)
    ours = "snapshot (default: lz4)"
    print("#### 20,000 user maps: each one its own call, and all in one list")
    print()
    print("| | separate: encode | separate: decode | one list: encode | one list: decode | list bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in peers:
        print(
            f"| {n} | {fmt(r[(n, 'sep-enc')])} | {fmt(r[(n, 'sep-dec')])} | {fmt(r[(n, 'list-enc')])} "
            f"| {fmt(r[(n, 'list-dec')])} | {len(whole[n]):,} |"
        )
    print()

    def ratio(kind: str, peer: str) -> str:
        a, b = r[(ours, kind)], r[(peer, kind)]
        return f"{a[0] / b[0]:.2f} ({a[1] / b[1]:.2f})"

    print("| target (ours ÷ peer, medians; fastest in brackets) | measured | target |")
    print("|---|---:|---:|")
    print(f"| separate dicts, encode ÷ pickle | {ratio('sep-enc', 'pickle (protocol 5)')} | ≤ 1.5 |")
    print(f"| separate dicts, decode ÷ pickle | {ratio('sep-dec', 'pickle (protocol 5)')} | ≤ 1.5 |")
    print(f"| one list, encode ÷ orjson | {ratio('list-enc', 'orjson')} | ≤ 2.0 |")
    print(f"| one list, decode ÷ pickle | {ratio('list-dec', 'pickle (protocol 5)')} | ≤ 1.0 |")
    print(f"| separate dicts, encode ÷ msgspec | {ratio('sep-enc', 'msgspec (msgpack)')} | (peer) |")
    print(f"| one list, decode ÷ msgspec | {ratio('list-dec', 'msgspec (msgpack)')} | (peer) |")
    print()


def arrays(rounds: int, mib: int, where: pathlib.Path) -> None:
    n = mib * 1024 * 1024 // 4
    a = np.random.default_rng(7).standard_normal(n, dtype=np.float32)
    npy = where / "array.npy"
    # A dump is durable (fsync of the file and its directory); `numpy.save` writes to
    # the page cache. Each is compared with the other's kind: ours with fsync against
    # numpy.save + fsync, ours with fsync=False against numpy.save.
    durable = snapshot.SnapshotManager(where / "store")
    scratch = snapshot.SnapshotManager(where / "scratch", fsync=False)
    keys: dict = {id(durable): [], id(scratch): []}

    # numpy.save rewrites one file, whose dirty pages from the last round the kernel
    # then drops unwritten; a dump writes a new file, so the timed dump also deletes the
    # one before it (what keeping only the latest checkpoint does), or the dirty pages of
    # every round pile up and throttle both sides' writes.
    def dump(manager) -> None:
        mine = keys[id(manager)]
        mine.append(manager.dump({"weights": a}))
        while len(mine) > 1:
            manager.delete(mine.pop(0))

    def ours_load() -> None:
        back = durable.load(keys[id(durable)][-1])
        assert back["weights"].shape == a.shape

    def np_save() -> None:
        np.save(npy, a)

    def np_save_fsync() -> None:
        with open(npy, "wb") as f:
            np.save(f, a)
            f.flush()
            os.fsync(f.fileno())

    def np_load() -> None:
        back = np.load(npy)
        assert back.shape == a.shape

    dump(durable)
    dump(scratch)
    assert np.array_equal(durable.load(keys[id(durable)][-1])["weights"], a)
    assert np.array_equal(scratch.load(keys[id(scratch)][-1])["weights"], a)
    np_save()

    writes = {
        "ours dump": lambda: dump(durable),
        "np.save + fsync": np_save_fsync,
        "ours dump, fsync=False": lambda: dump(scratch),
        "np.save": np_save,
    }
    reads = {"ours load": ours_load, "np.load": np_load}
    r = interleaved(writes, rounds)
    # The writes without fsync leave dirty pages that the kernel writes back later:
    # loads are timed apart, once everything is on disk, so neither side's read meets
    # the other's writeback.
    os.sync()
    r.update(interleaved(reads, rounds))
    cases = {**writes, **reads}
    mb = a.nbytes / 1e6
    print(f"#### A {mib} MiB float32 numpy array to a directory and back (same disk)")
    print()
    print("| | ms | MB/s | ours ÷ it (speed) | target |")
    print("|---|---:|---:|---:|---:|")
    peers = {"np.save + fsync": "ours dump", "np.save": "ours dump, fsync=False", "np.load": "ours load"}
    for n in cases:
        peer = peers.get(n)
        speed = f"{r[n][0] / r[peer][0]:.2f}" if peer else ""
        target = "≥ 0.8" if peer else ""
        print(f"| {n} | {fmt(r[n])} | {mb / r[n][0] * 1000:,.0f} | {speed} | {target} |")
    print()
    shutil.rmtree(where / "store", ignore_errors=True)
    shutil.rmtree(where / "scratch", ignore_errors=True)


def checkpoints(gib: float, url: str, label: str) -> None:
    """The caller's blocked time for 1 GiB of arrays + 100,000 small objects, and how
    much a Python loop slows down while the checkpoint is written."""
    per = 64 * 1024 * 1024
    count = max(1, int(gib * 1024**3 // per))
    rng = np.random.default_rng(3)
    state = {
        "weights": [rng.standard_normal(per // 4, dtype=np.float32) for _ in range(count)],
        "objects": [{"id": i, "name": f"item-{i}", "score": i * 0.5} for i in range(100_000)],
    }
    manager = snapshot.SnapshotManager(url)

    def step() -> None:  # about a millisecond of pure-Python work
        s = 0
        for i in range(20_000):
            s += i * i
        return s

    def steps_for(seconds: float) -> list:
        out, end = [], time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            step()
            out.append(time.perf_counter() - t)
        return out

    blocked, total, during, baseline = [], [], [], []
    cp = manager.checkpointer()
    for _ in range(3):
        baseline += steps_for(1.0)
        t0 = time.perf_counter()
        handle = cp.checkpoint(state)
        blocked.append(time.perf_counter() - t0)
        while not handle.done():
            t = time.perf_counter()
            step()
            during.append(time.perf_counter() - t)
        handle.result()
        total.append(time.perf_counter() - t0)
    dumped = []
    for _ in range(2):
        t0 = time.perf_counter()
        manager.dump(state)
        dumped.append(time.perf_counter() - t0)
    size = manager.list()[0].size
    for info in manager.list():
        manager.delete(info)
    base, dur = statistics.median(baseline), statistics.median(during)
    print(
        f"| {label} | {gib:g} GiB + 100,000 objects ({size / 1e6:,.0f} MB stored) | "
        f"{statistics.median(blocked) * 1000:,.0f} | {statistics.median(total) * 1000:,.0f} | "
        f"{statistics.median(dumped) * 1000:,.0f} | {base * 1000:.2f} → {dur * 1000:.2f} ({dur / base:.2f}x) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--array-mib", type=int, default=256)
    parser.add_argument("--checkpoint-gib", type=float, default=1.0)
    parser.add_argument(
        "--s3", action="store_true",
        help="only the checkpoint row on S3 (AWS_* variables), which continues the table",
    )
    args = parser.parse_args()
    if args.s3:
        checkpoints(args.checkpoint_gib, f"s3://snapshots/bench-{uuid.uuid4().hex}", "S3 (local SeaweedFS)")
        return
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, orjson {orjson.__version__}, "
        f"msgspec {msgspec.__version__}; {args.rounds} rounds, peers interleaved "
        "(medians, fastest in brackets, ms; garbage collector off while timing)"
    )
    print()
    per_call(args.rounds)
    where = pathlib.Path(tempfile.mkdtemp(prefix="snapshot-bench-", dir=os.environ.get("SNAPSHOT_BENCH_DIR")))
    try:
        arrays(max(3, args.rounds // 3), args.array_mib, where)
        print("#### Background checkpoints: what the caller waits for")
        print()
        print(
            "| store | state | checkpoint() blocks, ms | until stored, ms | a blocking dump, ms "
            "| 1 ms loop step: idle → while writing |"
        )
        print("|---|---|---:|---:|---:|---|")
        checkpoints(args.checkpoint_gib, str(where / "ckpt"), "directory")
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
