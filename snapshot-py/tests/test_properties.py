"""Property tests: load(dump(x)) == x for every supported x (nested JSON-like values,
bytes, big integers, int keys), and a clear exception for every unsupported one."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snapshot_state as snapshot

from test_values import same

INT = st.integers(min_value=-(2**63), max_value=2**64 - 1)
SCALARS = (
    st.none()
    | st.booleans()
    | INT
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.builds(lambda b: struct.unpack("<d", b)[0], st.binary(min_size=8, max_size=8))
    | st.text()
    | st.binary()
)
KEYS = st.text(max_size=20) | INT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(KEYS, inner, max_size=8),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.sampled_from(["zstd", "lz4", "none"]))
def test_every_supported_value_round_trips(value, compression):
    assert same(snapshot.loads(snapshot.dumps(value, compression=compression)), value)


@settings(max_examples=100, deadline=None)
@given(st.lists(VALUES, max_size=5))
def test_through_a_manager(values):
    manager = snapshot.SnapshotManager("memory:")
    infos = [manager.dump(v) for v in values]
    for info, value in zip(infos, values):
        assert same(manager.exact(info.key), value)


UNSUPPORTED = (
    st.integers(min_value=2**64)
    | st.integers(max_value=-(2**63) - 1)
    | st.sets(st.integers(), max_size=3)
    | st.complex_numbers()
    | st.frozensets(st.text(), max_size=2)
    | st.dictionaries(st.floats(allow_nan=False) | st.tuples(st.integers()), st.none(), min_size=1, max_size=3)
)


@settings(max_examples=200, deadline=None)
@given(UNSUPPORTED, st.lists(st.text(max_size=5), max_size=3))
def test_every_unsupported_value_raises_a_clear_exception(bad, path):
    # The bad value sits at a path of dict keys; the message names it.
    value = bad
    for key in reversed(path):
        value = {key: value}
    try:
        snapshot.dumps(value)
    except (TypeError, OverflowError) as e:
        where = "value" + "".join(f"[{k!r}]" for k in path)
        assert where in str(e), (str(e), where)
    else:
        raise AssertionError(f"{bad!r} was accepted")
