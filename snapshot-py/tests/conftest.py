"""Shared fixtures: the stores every round trip runs against (a directory, memory: and
an S3 test server this suite starts itself on 127.0.0.1 and stops afterwards)."""

from __future__ import annotations

import os
import pathlib
import random
import subprocess
import uuid

import pytest

import snapshot_state as snapshot

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The original's sample files, committed with the codec's tests (nothing outside the
# repository is read).
PY_SNAPSHOT_FILES = ROOT / "snapshot-codec" / "tests" / "data" / "py-snapshot"


@pytest.fixture(scope="session")
def py_snapshot_files() -> pathlib.Path:
    if not PY_SNAPSHOT_FILES.is_dir():
        pytest.fail(f"the original's sample files are missing: {PY_SNAPSHOT_FILES}")
    return PY_SNAPSHOT_FILES


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """SeaweedFS from PyPI (installed into .tools/ by scripts/install-seaweedfs.sh),
    started for this session. A server that does not start fails the suite: it never
    skips."""
    state = tmp_path_factory.mktemp("s3")
    port = 30000 + random.randrange(8000)
    env = dict(os.environ, SNAPSHOT_S3_DEV_STATE=str(state), SNAPSHOT_S3_DEV_PORT=str(port))
    script = ROOT / "scripts" / "s3-dev.sh"
    started = subprocess.run(["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"the S3 test server did not start:\n{started.stderr}")
    variables = {}
    for line in started.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            variables[name] = value
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield variables
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, timeout=60)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(params=["dir", "memory", "s3"])
def store_url(request, tmp_path):
    """A fresh store of each kind, as the URL that opens it."""
    if request.param == "dir":
        return str(tmp_path / "snapshots")
    if request.param == "memory":
        return "memory:"
    request.getfixturevalue("s3_server")
    return f"s3://snapshots/pytest-{uuid.uuid4().hex}"


@pytest.fixture
def manager(store_url) -> snapshot.SnapshotManager:
    return snapshot.SnapshotManager(store_url)
