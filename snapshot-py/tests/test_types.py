"""The type stubs pass `mypy --strict`: the installed package itself, and typed code
that uses it (typed_usage.py). mypy is installed by scripts/test-python.sh; without it
this test fails rather than skips."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize(
    "target",
    [["-p", "snapshot_state"], [os.path.join(HERE, "typed_usage.py")]],
    ids=["package", "typed_usage"],
)
def test_stubs_pass_mypy_strict(target):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
        + ["--cache-dir", os.devnull]
        + target,
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout, result.stdout
