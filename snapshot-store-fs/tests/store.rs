//! FsStore runs the conformance suite in a temporary directory, and the behaviour only
//! a disk backend has: directory creation, file modes, temporary files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use snapshot_codec::Value;
use snapshot_codec::value;
use snapshot_store::Lookup;
use snapshot_store::conformance::{self, DynStore, ForeignObjects};
use snapshot_store::{Error, KeyRange, SnapshotKey, SnapshotManager, SnapshotStore};
use snapshot_store_fs::{FsError, FsStore, TEMP_PREFIX, TEMP_SUFFIX};

/// Writes plain files beside the snapshots.
struct Files(std::path::PathBuf);

#[async_trait]
impl ForeignObjects for Files {
    async fn put_foreign(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).expect("write foreign file");
    }
    async fn foreign_exists(&self, name: &str) -> bool {
        self.0.join(name).exists()
    }
}

fn open(dir: &Path) -> FsStore {
    FsStore::create(dir).expect("open store")
}

macro_rules! behaviours {
    ($($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let dir = tempfile::tempdir().expect("tempdir");
            conformance::$name(Arc::new(open(dir.path()))).await;
        }
    )*};
}

snapshot_store::for_each_store_behaviour!(behaviours);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_objects_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Files(dir.path().to_owned());
    conformance::foreign_objects_are_ignored(Arc::new(open(dir.path())), &files).await;
    // Directories named like snapshots are not snapshots either.
    std::fs::create_dir(dir.path().join("2024-01-15_10-30-00-000000")).expect("mkdir");
    let store = open(dir.path());
    assert!(
        store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_through_a_trait_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: DynStore = Arc::new(open(dir.path()));
    conformance::run_all(store, &Files(dir.path().to_owned())).await;
}

#[test]
fn missing_directories_are_created_with_their_parents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("a/b/c");
    let store = FsStore::create(&nested).expect("open");
    assert!(nested.is_dir());
    assert_eq!(store.dir(), nested);
}

#[test]
fn opening_a_missing_directory_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mistyped = dir.path().join("chekpoints");
    let err = FsStore::open(&mistyped).expect_err("must fail");
    assert!(err.is_store_not_found(), "{err:?}");
    assert!(err.chain_to_string().contains("chekpoints"), "{err}");
    assert!(!mistyped.exists());
    let err = FsStore::builder(&mistyped).build().expect_err("must fail");
    assert!(err.is_store_not_found(), "{err:?}");
    assert!(!mistyped.exists());
    // The existing directory opens as it is.
    FsStore::create(&mistyped).expect("create");
    FsStore::open(&mistyped).expect("now it exists");
}

#[test]
fn a_file_in_the_way_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let err = FsStore::create(&file).expect_err("must fail");
    let Error::Backend {
        backend: "fs",
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            source.downcast_ref::<FsError>(),
            Some(FsError::NotADirectory { .. })
        ),
        "{err}"
    );
    assert!(
        err.chain_to_string().contains("is not a directory"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_files_are_private_by_default_and_configurable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let private_store = open(dir.path());
    let private = SnapshotManager::new(private_store.clone());
    let info = private
        .dump(&value!({"api_key": "sk_live_..."}))
        .await
        .expect("dump");
    let mode = std::fs::metadata(private_store.path_of(info.key))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let shared_dir = tempfile::tempdir().expect("tempdir");
    let shared_store = FsStore::builder(shared_dir.path())
        .with_file_mode(0o644)
        .build()
        .expect("open");
    let shared = SnapshotManager::new(shared_store.clone());
    let info = shared.dump(&value!(1)).await.expect("dump");
    let mode = std::fs::metadata(shared_store.path_of(info.key))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_files_are_never_listed_and_stale_ones_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let manager = SnapshotManager::new(store.clone());
    manager.dump(&value!("real")).await.expect("dump");
    // What a process killed mid-write leaves behind.
    let temp = dir.path().join(format!("{TEMP_PREFIX}abc123{TEMP_SUFFIX}"));
    std::fs::write(&temp, b"half a snapshot").expect("write");
    assert_eq!(
        store.list(KeyRange::all(), None).await.expect("list").len(),
        1
    );
    // Too fresh to be stale under the default age.
    assert_eq!(store.remove_stale_temp_files().await.removed, 0);
    assert!(temp.exists());
    // With a zero age, opening the store removes it; other files stay.
    std::fs::write(dir.path().join("notes.txt"), b"mine").expect("write");
    let eager = FsStore::builder(dir.path())
        .with_stale_temp_age(Duration::ZERO)
        .build()
        .expect("open");
    assert!(!temp.exists(), "stale temporary file left after open");
    assert!(dir.path().join("notes.txt").exists());
    std::fs::write(&temp, b"again").expect("write");
    assert_eq!(eager.remove_stale_temp_files().await.removed, 1);
    assert_eq!(
        SnapshotManager::new(eager)
            .load::<Value>(Lookup::Latest)
            .await
            .expect("load"),
        Some(value!("real"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_put_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let key = str::parse::<SnapshotKey>("2024-01-15_10-30-00-000000").expect("key");
    store
        .put(key, Bytes::from_static(b"first"))
        .await
        .expect("put");
    let err = store
        .put(key, Bytes::from_static(b"second"))
        .await
        .expect_err("taken");
    assert!(err.is_already_exists());
    // The top directory holds the day's directory, and that the snapshot: nothing else.
    let names = |path: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(path)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(dir.path()), ["2024-01-15"]);
    assert_eq!(
        names(&dir.path().join("2024-01-15")),
        ["2024-01-15_10-30-00-000000"]
    );
    assert_eq!(
        store.get(key).await.expect("get"),
        Bytes::from_static(b"first")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_directory_is_a_backend_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let store = open(&path);
    std::fs::remove_dir(&path).expect("rmdir");
    let err = store
        .list(KeyRange::all(), None)
        .await
        .expect_err("listing a missing dir");
    assert!(
        matches!(err, Error::Backend { backend: "fs", .. }),
        "{err:?}"
    );
    let key = SnapshotKey::now();
    let err = store
        .put(key, Bytes::from_static(b"x"))
        .await
        .expect_err("writing into a missing dir");
    assert!(
        matches!(err, Error::Backend { backend: "fs", .. }),
        "{err:?}"
    );
}

/// The bounded concurrent soak on disk: 4 writers, a pruner and 2 readers for 5 s
/// (`SNAPSHOT_SOAK_SECS` for a long run). It checks behaviour, not speed: every role
/// made progress, and nothing was lost or left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_writers_pruner_and_readers() {
    let secs = std::env::var("SNAPSHOT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = conformance::soak(Arc::new(open(dir.path())), Duration::from_secs(secs)).await;
    println!("disk soak, {secs} s: {report:?}");
    assert!(
        report.dumps > 0 && report.loads > 0 && report.prune_passes > 0,
        "{report:?}"
    );
    // No temporary file is left behind once everything is quiet.
    let temps = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        })
        .count();
    assert_eq!(temps, 0);
}

/// Every entry under `dir`, recursively, as paths relative to it.
fn all_entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(
                path.strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out.sort();
    out
}

/// A streamed write whose bytes fail part way leaves no file, temporary or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stream_leaves_no_file() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let key = str::parse::<SnapshotKey>("2024-01-15_10-30-00-000000").expect("key");
    let chunks = (0..8)
        .map(|_| Ok(Bytes::from(vec![7u8; 1 << 20])))
        .chain([Err(Error::backend("encoder", "failed"))]);
    let err = store
        .put_stream(key, futures::stream::iter(chunks).boxed())
        .await
        .expect_err("the stream failed");
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "encoder",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(all_entries(dir.path()), Vec::<String>::new());
}

/// A state that takes a while to serialize (`parts` strings of 1 MiB).
struct Slow {
    parts: usize,
}

impl serde::Serialize for Slow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.parts))?;
        // Letters in no order: LZ4 finds nothing to shrink, so the bytes written keep
        // pace with the parts (a run of one letter compresses to almost nothing).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let part: String = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        for _ in 0..self.parts {
            std::thread::sleep(Duration::from_millis(5));
            seq.serialize_element(&part)?;
        }
        seq.end()
    }
}

/// A runtime shut down while a checkpoint streams into the store: nothing becomes
/// visible, and the abandoned temporary file is removed (the writer sees its input end
/// without the end marker).
#[test]
fn a_runtime_shut_down_mid_checkpoint_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = open(dir.path());
    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = progress.clone();
    let manager = SnapshotManager::new(store.clone()).with_progress(move |p| {
        seen.store(p.done, std::sync::atomic::Ordering::Relaxed);
    });
    rt.block_on(async {
        let checkpoints = manager.checkpointer();
        let _handle = checkpoints.checkpoint(Arc::new(Slow { parts: 400 })).await;
        // Wait until bytes are being written, then pull the runtime away.
        let waited = std::time::Instant::now();
        while progress.load(std::sync::atomic::Ordering::Relaxed) < 8 << 20 {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the checkpoint wrote {} bytes in a minute",
                progress.load(std::sync::atomic::Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            all_entries(dir.path())
                .iter()
                .any(|name| name.contains(TEMP_PREFIX)),
            "no temporary file while the checkpoint streams"
        );
    });
    rt.shutdown_timeout(Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<String> = all_entries(dir.path())
            .into_iter()
            .filter(|name| name.contains(TEMP_PREFIX) || name.contains('_'))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind after the shutdown: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
