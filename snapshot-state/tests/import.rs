//! Importing directories written by the Python original into our stores.

use std::path::{Path, PathBuf};

use snapshot_state::Order;
use snapshot_state::Value;
use snapshot_state::codec::legacy::{LegacyOptions, decode_legacy};
use snapshot_state::import::{ImportOptions, Outcome, import_py_dir};
use snapshot_state::{Lookup, MemoryStore, SnapshotKey, SnapshotManager};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshot-codec/tests/data/py-snapshot")
}

#[tokio::test]
async fn the_sample_manager_directory_round_trips_into_a_disk_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = snapshot_state::open(dir.path().to_str().expect("utf-8")).expect("open");
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
            manager
                .load::<Value>(Lookup::Exact(*key))
                .await
                .expect("load"),
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
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        3
    );
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
        manager
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty(),
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
    // A file that is not the original's is left alone; one named like it but
    // unreadable is a failure.
    assert_eq!(report.failures(), 1, "{report}");
    assert_eq!(report.skipped(), 1, "{report}");
    let text = report.to_string();
    assert!(
        text.contains("skipped         notes.txt: not named like a py-snapshot file"),
        "{text}"
    );
    assert!(
        text.contains("FAILED          2024-06-01_13-00-00-000000: not a valid py-snapshot file"),
        "{text}"
    );
    let keys: Vec<String> = manager
        .list(Order::NewestFirst)
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
        .load::<Value>(Lookup::Exact(
            str::parse::<SnapshotKey>(&keys[0]).expect("key"),
        ))
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
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        3
    );
}

#[tokio::test]
async fn collision_files_never_take_a_real_files_instant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = std::fs::read(samples().join("basic.pysnap")).expect("sample");
    let b = std::fs::read(samples().join("game_state.pysnap")).expect("sample");
    let base = "2024-06-01_12-00-00-000000";
    let next = "2024-06-01_12-00-00-000001";
    std::fs::write(dir.path().join(base), &a).expect("write");
    std::fs::write(dir.path().join(format!("{base}_1")), &b).expect("write");
    std::fs::write(dir.path().join(format!("{base}_2")), &a).expect("write");
    std::fs::write(dir.path().join(next), &b).expect("write");
    let manager = SnapshotManager::new(MemoryStore::new());
    let report = import_py_dir(dir.path(), &manager, &ImportOptions::new())
        .await
        .expect("import");
    assert_eq!(report.imported(), 4, "{report}");
    let placed = |file: &str| {
        report
            .files
            .iter()
            .find(|f| f.file == file)
            .map(|f| match &f.outcome {
                Outcome::Imported(k) => k.to_string(),
                other => panic!("{other:?}"),
            })
            .expect("reported")
    };
    assert_eq!(placed(base), base);
    assert_eq!(placed(next), next, "the real file keeps its instant");
    assert_eq!(placed(&format!("{base}_1")), "2024-06-01_12-00-00-000002");
    assert_eq!(placed(&format!("{base}_2")), "2024-06-01_12-00-00-000003");
    let dry = import_py_dir(
        dir.path(),
        &SnapshotManager::new(MemoryStore::new()),
        &ImportOptions::new().with_dry_run(true),
    )
    .await
    .expect("dry run");
    assert_eq!(dry.imported(), 4, "{dry}");
}

#[cfg(unix)]
#[tokio::test]
async fn only_regular_files_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A FIFO would block a reader forever; a link to /dev/zero never ends.
    let fifo = dir.path().join("2024-06-01_12-00-00-000000");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("2024-06-01_12-00-00-000001"))
        .expect("symlink");
    std::fs::create_dir(dir.path().join("2024-06-01_12-00-00-000002")).expect("mkdir");
    std::fs::write(
        dir.path().join("2024-06-01_12-00-00-000003"),
        vec![1u8; 4096],
    )
    .expect("write");
    let manager = SnapshotManager::new(MemoryStore::new());
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        import_py_dir(
            dir.path(),
            &manager,
            &ImportOptions::new().with_max_file_size(1024),
        ),
    )
    .await
    .expect("never hangs")
    .expect("import");
    assert_eq!(report.skipped(), 3, "{report}");
    assert_eq!(report.failures(), 1, "{report}");
    assert!(
        report
            .to_string()
            .contains("larger than the 1024-byte limit"),
        "{report}"
    );
}

#[tokio::test]
async fn big_integers_can_be_kept_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    // {"n": 2**70}: the original writes integers it cannot pack as text.
    let digits = (1u128 << 70).to_string();
    let mut file = vec![0x01, 0x01, 0x01, b'n', digits.len() as u8];
    file.extend_from_slice(digits.as_bytes());
    file.push(0xC0);
    std::fs::write(dir.path().join("2024-06-01_12-00-00-000000"), &file).expect("write");
    let manager = SnapshotManager::new(MemoryStore::new());
    let strict = import_py_dir(dir.path(), &manager, &ImportOptions::new())
        .await
        .expect("import");
    assert_eq!(strict.failures(), 1, "{strict}");
    let lenient = import_py_dir(
        dir.path(),
        &manager,
        &ImportOptions::new().with_big_integers_as_text(true),
    )
    .await
    .expect("import");
    assert_eq!(lenient.imported(), 1, "{lenient}");
    let value = manager
        .load::<Value>(Lookup::Latest)
        .await
        .expect("load")
        .expect("some");
    assert_eq!(value["n"].as_str(), Some(digits.as_str()));
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
