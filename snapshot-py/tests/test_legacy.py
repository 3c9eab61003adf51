"""The original py-snapshot's own files, imported with import_py."""

from __future__ import annotations

import json
import shutil

import snapshot_state as snapshot


def test_the_originals_manager_directory_imports(py_snapshot_files, manager):
    directory = py_snapshot_files / "manager-dir"
    report = manager.import_py(directory)
    assert (report.imported, report.skipped, report.failures) == (3, 0, 0)
    assert [s.key for s in manager.list()] == sorted((p.name for p in directory.iterdir()), reverse=True)
    for info in manager.list():
        assert isinstance(manager.exact(info.key), dict)
    again = manager.import_py(directory)
    assert again.imported == 0 and all(o.startswith("already present") for _, o in again.files)
    assert len(manager.list()) == 3


def test_every_sample_file_imports_with_its_expected_value(py_snapshot_files, tmp_path):
    files = py_snapshot_files
    expected = json.loads((files / "expected.json").read_text())
    directory = tmp_path / "legacy"
    directory.mkdir()
    names = {}
    for i, (name, entry) in enumerate(sorted(expected.items())):
        stamp = f"2024-01-15_10-00-{i:02}-000000"
        shutil.copy(files / entry["file"], directory / stamp)
        names[stamp] = entry["expected"]
    manager = snapshot.SnapshotManager("memory:")
    report = manager.import_py(directory)
    assert report.imported == len(expected), report.files
    for stamp, value in names.items():
        loaded = manager.exact(stamp)
        # expected.json holds the original's keys as text; int keys come back as the
        # text the original wrote.
        assert json.loads(json.dumps(loaded)) == value, stamp


def test_import_with_a_utc_offset(py_snapshot_files):
    import datetime

    manager = snapshot.SnapshotManager("memory:")
    directory = py_snapshot_files / "manager-dir"
    manager.import_py(directory, utc_offset=datetime.timedelta(hours=2))
    first = sorted(p.name for p in directory.iterdir())[0]
    assert manager.list()[-1].key == "2026-11-25_23" + first[13:]
