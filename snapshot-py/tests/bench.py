"""Dump-to-bytes and load-from-bytes of 20,000 user maps: snapshot against pickle, json,
orjson, msgpack and a pure-Python writer/reader of the original py-snapshot's format, all
in one run. A benchmark, not a test: run it with a release build of the module.

    python snapshot-py/tests/bench.py [--rounds N] [--markdown]
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import platform
import random
import statistics
import sys
import time
import zlib

import snapshot_state as snapshot


def users(n: int) -> list[dict]:
    """The shape of the Rust benchmarks' users (snapshot-bench): id, name, email, age,
    active, score, 1-3 tags, an address map and a created-at string."""
    rng = random.Random(0x5EED0001)
    cities = ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem"]
    tags = ["customer", "premium", "basic", "beta", "admin", "newsletter", "trial", "vip"]

    def word(lo: int, hi: int) -> str:
        return "".join(chr(97 + rng.randrange(26)) for _ in range(rng.randint(lo, hi)))

    out = []
    for i in range(n):
        first, last = word(3, 8), word(4, 10)
        out.append(
            {
                "id": i + 1,
                "name": f"{first} {last}",
                "email": f"{first}.{last}@example.com",
                "age": 18 + rng.randrange(60),
                "active": rng.randrange(4) != 0,
                "score": rng.randrange(1_000_000) / 1000.0,
                "tags": [rng.choice(tags) for _ in range(1 + rng.randrange(3))],
                "address": {
                    "street": f"{1 + rng.randrange(9999)} {word(4, 9)} St",
                    "city": rng.choice(cities),
                    "zip": f"{rng.randrange(100_000):05}",
                },
                "created_at": "2024-%02d-%02dT%02d:%02d:%02dZ"
                % (1 + rng.randrange(12), 1 + rng.randrange(28), rng.randrange(24), rng.randrange(60), rng.randrange(60)),
            }
        )
    return out


# --- The original's format, written here from shared/reference/py-snapshot-format.md
# (not the original's code): what its pure-Python writer and reader have to do. It has
# no bool or float; bools are ints there and floats are written as text.


def _len(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 128:
        return bytes([0x40, n])
    return b"\x80" + n.to_bytes(4, "little")


def _text(s: str) -> bytes:
    raw = s.encode()
    packed = zlib.compress(raw)
    if len(packed) < len(raw):
        return b"\xc3" + _len(len(packed)) + packed
    return _len(len(raw)) + raw


def _int(v: int) -> bytes:
    if -128 <= v <= 127:
        return b"\xc0" + v.to_bytes(1, "little", signed=True)
    if -32768 <= v <= 32767:
        return b"\xc1" + v.to_bytes(2, "little", signed=True)
    if -(2**31) <= v < 2**31:
        return b"\xc2" + v.to_bytes(4, "little", signed=True)
    return _text(str(v))


def _value(v) -> bytes:
    if isinstance(v, dict):
        return b"\x02" + _len(len(v)) + b"".join(_entry(k, x) for k, x in v.items())
    if isinstance(v, list):
        return b"\x04" + _len(len(v)) + b"".join(_value(x) for x in v)
    if isinstance(v, int):
        return b"\x01" + _int(int(v))
    return b"\x03" + _text(str(v))


def _entry(k, v) -> bytes:
    out = _value(v)
    return out[:1] + _text(str(k)) + out[1:]


def original_encode(state) -> bytes:
    # The original's top level is a dict; the list of users goes under one key.
    return _len(1) + _entry("users", state) + b"\xc0"


class _In:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def len(self) -> int:
        b = self.byte()
        if b < 64:
            return b
        if b & 0xC0 == 0x40:
            return self.byte()
        return int.from_bytes(self.take(4), "little")

    def text(self) -> str:
        if self.data[self.pos] == 0xC3:
            self.pos += 1
            return zlib.decompress(self.take(self.len())).decode()
        return self.take(self.len()).decode()

    def value(self, ty: int):
        if ty == 0x01:
            tag = self.data[self.pos]
            if tag in (0xC0, 0xC1, 0xC2):
                self.pos += 1
                width = {0xC0: 1, 0xC1: 2, 0xC2: 4}[tag]
                return int.from_bytes(self.take(width), "little", signed=True)
            return int(self.text())
        if ty == 0x02:
            return dict(self.entry() for _ in range(self.len()))
        if ty == 0x03:
            return self.text()
        return [self.value(self.byte()) for _ in range(self.len())]

    def entry(self):
        ty = self.byte()
        key = self.text()
        return key, self.value(ty)


def original_decode(data: bytes):
    r = _In(data)
    out = dict(r.entry() for _ in range(r.len()))
    return out["users"]


def measure(fn, rounds: int) -> tuple[float, float]:
    # As timeit does: the cyclic garbage collector is off while timing (it would stop
    # every decoder of container-heavy data alike, at moments that vary run to run).
    gc.collect()
    gc.disable()
    try:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times) * 1000, min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    data = users(20_000)
    peers = [
        ("snapshot (default: lz4)", snapshot.dumps, snapshot.loads),
        ("snapshot (uncompressed)", lambda v: snapshot.dumps(v, compression="none"), snapshot.loads),
        ("pickle (protocol 5)", lambda v: pickle.dumps(v, protocol=5), pickle.loads),
        ("json (stdlib)", lambda v: json.dumps(v).encode(), json.loads),
    ]
    try:
        import orjson

        peers.append(("orjson", orjson.dumps, orjson.loads))
    except ImportError:
        print("orjson is not installed: skipped", file=sys.stderr)
    try:
        import msgpack

        peers.append(("msgpack", msgpack.packb, msgpack.unpackb))
    except ImportError:
        print("msgpack is not installed: skipped", file=sys.stderr)
    peers.append(("original's format, pure Python", original_encode, original_decode))

    rows = []
    for name, enc, dec in peers:
        blob = enc(data)
        back = dec(blob)
        if name.startswith("snapshot") or name.startswith("pickle") or name.startswith("orjson") or name.startswith("msgpack"):
            assert back == data, name
        rounds = max(3, args.rounds // 5) if name.startswith("original") else args.rounds
        enc_med, enc_min = measure(lambda: enc(data), rounds)
        dec_med, dec_min = measure(lambda: dec(blob), rounds)
        rows.append((name, len(blob), enc_med, enc_min, dec_med, dec_min))

    by = {r[0]: r for r in rows}
    ours = by["snapshot (default: lz4)"]
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {args.rounds} rounds "
        "(wall-clock medians, fastest in brackets; garbage collector off while timing)"
    )
    print()
    print("| 20,000 user maps | bytes | encode ms | decode ms | snapshot ÷ it, encode | snapshot ÷ it, decode |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, size, em, emin, dm, dmin in rows:
        print(
            f"| {name} | {size:,} | {em:.1f} ({emin:.1f}) | {dm:.1f} ({dmin:.1f}) "
            f"| {ours[2] / em:.2f} ({ours[3] / emin:.2f}) | {ours[4] / dm:.2f} ({ours[5] / dmin:.2f}) |"
        )
    print()
    stand_in = by["original's format, pure Python"]
    print(
        f"Speed-up over the original: {650 / ours[2]:.0f}x encode and {320 / ours[4]:.0f}x decode against its "
        f"quoted 650 ms / 320 ms (another machine); {stand_in[2] / ours[2]:.0f}x and {stand_in[4] / ours[4]:.0f}x "
        "against the pure-Python stand-in in this run (medians)."
    )


if __name__ == "__main__":
    main()
