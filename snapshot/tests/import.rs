//! Importing directories written by the Python original into our stores.

use std::path::{Path, PathBuf};

use snapshot::codec::legacy::{LegacyOptions, decode_legacy};
use snapshot::import::{ImportOptions, Outcome, import_py_dir};
use snapshot::{Lookup, MemoryStore, SnapshotKey, SnapshotManager};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshot-codec/tests/data/py-snapshot")
}

#[tokio::test]
async fn the_sample_manager_directory_round_trips_into_a_disk_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = snapshot::open(dir.path().to_str().expect("utf-8")).expect("open");
    let src = samples().join("manager-dir");
    let report = import_py_dir(&src, &manager, &ImportOptions::new())
        .await
        .expect("import");
    assert_eq!(report.failures(), 0, "{report}");
    assert_eq!(report.imported(), 3);
    for file in &report.files {
        let Outcome::Imported(key) = &file.outcome else {
            panic!("{report}")
        };
        // UTC names keep their instant exactly.
        assert_eq!(key.to_string(), file.file);
        let want = decode_legacy(
            &std::fs::read(src.join(&file.file)).expect("read"),
            &LegacyOptions::new(),
        )
        .expect("decode");
        assert_eq!(
            manager.load(Lookup::Exact(*key)).await.expect("load"),
            Some(want)
        );
    }
    // A second import stores nothing twice.
    let again = import_py_dir(&src, &manager, &ImportOptions::new())
        .await
        .expect("import");
    assert!(
        again
            .files
            .iter()
            .all(|f| matches!(f.outcome, Outcome::AlreadyPresent(_))),
        "{again}"
    );
    assert_eq!(manager.list().await.expect("list").len(), 3);
}

#[tokio::test]
async fn collisions_stay_distinct_and_offsets_shift_the_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = std::fs::read(samples().join("basic.pysnap")).expect("sample");
    let other = std::fs::read(samples().join("game_state.pysnap")).expect("sample");
    let base = "2024-06-01_12-00-00-000000";
    std::fs::write(dir.path().join(format!("{base}_2")), &other).expect("write");
    std::fs::write(dir.path().join(base), &sample).expect("write");
    std::fs::write(dir.path().join(format!("{base}_1")), &other).expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"not a snapshot").expect("write");
    std::fs::write(
        dir.path().join("2024-06-01_13-00-00-000000"),
        b"\x05garbage",
    )
    .expect("write");

    let manager = SnapshotManager::new(MemoryStore::new());
    let offset = chrono::FixedOffset::east_opt(2 * 3600).expect("offset");
    let dry = import_py_dir(
        dir.path(),
        &manager,
        &ImportOptions::new()
            .with_utc_offset(offset)
            .with_dry_run(true),
    )
    .await
    .expect("dry run");
    assert_eq!(dry.imported(), 3);
    assert!(
        manager.list().await.expect("list").is_empty(),
        "a dry run wrote something"
    );

    let report = import_py_dir(
        dir.path(),
        &manager,
        &ImportOptions::new().with_utc_offset(offset),
    )
    .await
    .expect("import");
    assert_eq!(report.imported(), 3, "{report}");
    assert_eq!(report.failures(), 2, "{report}");
    let text = report.to_string();
    assert!(
        text.contains("FAILED          notes.txt: not named like a py-snapshot file"),
        "{text}"
    );
    assert!(
        text.contains("FAILED          2024-06-01_13-00-00-000000: not a valid py-snapshot file"),
        "{text}"
    );
    let keys: Vec<String> = manager
        .list()
        .await
        .expect("list")
        .iter()
        .rev()
        .map(|m| m.key.to_string())
        .collect();
    // 12:00 at UTC+2 is 10:00 UTC; _1 and _2 follow one microsecond apart, in order.
    assert_eq!(
        keys,
        [
            "2024-06-01_10-00-00-000000",
            "2024-06-01_10-00-00-000001",
            "2024-06-01_10-00-00-000002"
        ]
    );
    let first = manager
        .load(Lookup::Exact(SnapshotKey::parse(&keys[0]).expect("key")))
        .await
        .expect("load")
        .expect("some");
    assert_eq!(first["name"].as_str(), Some("John Doe"));
    // Identical collision files stay two snapshots, and a re-import adds nothing.
    let again = import_py_dir(
        dir.path(),
        &manager,
        &ImportOptions::new().with_utc_offset(offset),
    )
    .await
    .expect("import");
    let present = again
        .files
        .iter()
        .filter(|f| matches!(f.outcome, Outcome::AlreadyPresent(_)))
        .count();
    assert_eq!(present, 3, "{again}");
    assert_eq!(manager.list().await.expect("list").len(), 3);
}

#[tokio::test]
async fn a_missing_directory_is_an_error() {
    let manager = SnapshotManager::new(MemoryStore::new());
    assert!(
        import_py_dir("/nonexistent/py-snapshots", &manager, &ImportOptions::new())
            .await
            .is_err()
    );
}
