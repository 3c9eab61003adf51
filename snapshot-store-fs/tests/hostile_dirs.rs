//! Directories an adversary (or an accident) prepared: links named like snapshots,
//! directories named like temporary files, leftovers of killed writers, loose modes,
//! failing fsyncs. Nothing locks a reader out, nothing outside the store is touched.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bytes::Bytes;
use snapshot_codec::value;
use snapshot_store::{Error, KeyRange, SnapshotKey, SnapshotManager, SnapshotStore};
use snapshot_store_fs::{FsStore, TEMP_PREFIX, TEMP_SUFFIX};

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect()
}

/// The start time of this process, as the store writes it into temporary names.
fn own_start() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    stat[stat.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(19)
        .expect("field")
        .parse()
        .expect("number")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[tokio::test]
async fn links_named_like_snapshots_are_foreign_objects() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"not yours").expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::open(dir.path()).expect("open");
    let key = str::parse::<SnapshotKey>("2024-01-15_10-30-00-000000").expect("key");
    let link = dir.path().join(key.to_string());
    std::os::unix::fs::symlink(&secret, &link).expect("symlink");

    assert!(
        store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.get(key).await.expect_err("a link").is_not_found());
    assert!(store.delete(key).await.expect_err("a link").is_not_found());
    assert!(
        std::fs::symlink_metadata(&link).is_ok(),
        "the link was removed"
    );
    assert_eq!(std::fs::read(&secret).expect("read"), b"not yours");
    // Writing under that key refuses to replace the link.
    assert!(
        store
            .put(key, Bytes::from_static(b"x"))
            .await
            .expect_err("taken")
            .is_already_exists()
    );
    assert_eq!(std::fs::read(&secret).expect("read"), b"not yours");
}

/// Holds an exclusive `flock` on `path`, as a writer holds its temporary file.
fn lock(path: &Path) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).expect("open");
    #[allow(unsafe_code)]
    // SAFETY: flock on an open descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "lock {}", path.display());
    file
}

#[tokio::test]
async fn leftovers_of_a_gone_writer_are_removed_at_once_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let boot = boot_id();
    // Written on this machine since boot, its lock free: the writer is gone.
    let gone = dir
        .path()
        .join(format!("{TEMP_PREFIX}{boot}-4194000-1-abcdef{TEMP_SUFFIX}"));
    // Locked: a live writer, whatever its name says (here a pid of no process).
    let alive = dir
        .path()
        .join(format!("{TEMP_PREFIX}{boot}-4194001-1-ghijkl{TEMP_SUFFIX}"));
    // Another machine's (or boot's) writer: judged by age only.
    let elsewhere = dir
        .path()
        .join(format!("{TEMP_PREFIX}000000000000-1-1-mnopqr{TEMP_SUFFIX}"));
    // A directory named like a temporary file: not ours to remove, never an error.
    let trap = dir.path().join(format!("{TEMP_PREFIX}trap{TEMP_SUFFIX}"));
    for file in [&gone, &alive, &elsewhere] {
        std::fs::write(file, b"partial").expect("write");
    }
    std::fs::create_dir(&trap).expect("mkdir");
    let held = lock(&alive);

    let store = FsStore::open(dir.path()).expect("opening never fails on cleanup");
    assert!(!gone.exists(), "a gone writer's file stays");
    assert!(alive.exists() && elsewhere.exists() && trap.is_dir());
    let cleanup = store.last_cleanup();
    assert_eq!(cleanup.removed, 1);
    assert!(cleanup.left.is_empty(), "{:?}", cleanup.left);

    // Even past the age limit, a locked file stays; once its lock goes, it goes.
    let aged = FsStore::builder(dir.path())
        .with_stale_temp_age(std::time::Duration::ZERO)
        .build()
        .expect("open");
    assert!(alive.exists(), "a locked file was removed for its age");
    assert!(
        !elsewhere.exists(),
        "an unlocked file past the age limit stays"
    );
    drop(held);
    assert_eq!(aged.remove_stale_temp_files().await.removed, 1);
    assert!(!alive.exists());
}

#[tokio::test]
async fn a_killed_writers_lock_goes_with_it_and_its_file_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::open(dir.path()).expect("open");
    // The name a write uses carries this boot, this pid and its start time.
    let boot = boot_id();
    let probe = tempfile::Builder::new()
        .prefix(&format!(
            "{TEMP_PREFIX}{boot}-{}-{}-",
            std::process::id(),
            own_start()
        ))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir.path())
        .expect("temp");
    let (_, path) = probe.keep().expect("keep");
    // Another process holds the lock, as a writer would: a shell opens the file,
    // locks it with util-linux `flock`, and becomes `sleep` holding it.
    let mut holder = std::process::Command::new("sh")
        .args([
            "-c",
            "exec 9<\"$1\" && flock --exclusive 9 && exec sleep 600",
            "sh",
        ])
        .arg(&path)
        .spawn()
        .expect("sh");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path).expect("open");
        #[allow(unsafe_code)]
        // SAFETY: flock on an open descriptor.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !free {
            break;
        }
        drop(file);
        assert!(
            std::time::Instant::now() < deadline,
            "flock(1) never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        store.remove_stale_temp_files().await.removed,
        0,
        "its writer is alive"
    );
    assert!(path.exists());
    holder.kill().expect("SIGKILL");
    holder.wait().expect("wait");
    assert_eq!(store.remove_stale_temp_files().await.removed, 1);
    assert!(!path.exists());
}

#[tokio::test]
async fn created_directories_are_private_and_existing_ones_keep_their_mode() {
    let root = tempfile::tempdir().expect("tempdir");
    let nested = root.path().join("a/b/store");
    let store = FsStore::create(&nested).expect("create");
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&root.path().join("a")), 0o700);
    assert_eq!(mode(&root.path().join("a/b")), 0o700);
    drop(store);

    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    FsStore::create(&shared).expect("open existing");
    assert_eq!(mode(&shared), 0o755, "an existing directory's mode changed");

    let group = root.path().join("group");
    FsStore::builder(&group)
        .with_create(true)
        .with_dir_mode(0o750)
        .build()
        .expect("create");
    assert_eq!(mode(&group), 0o750);
}

#[tokio::test]
async fn a_snapshot_published_but_not_made_durable_is_told_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::builder(dir.path())
        .with_failing_dir_sync_for_tests()
        .build()
        .expect("open");
    let manager = SnapshotManager::new(store.clone());
    let err = manager
        .dump(&value!({"step": 1}))
        .await
        .expect_err("not durable");
    assert!(err.chain_to_string().contains("power failure"), "{err}");
    let Error::NotDurable { key, .. } = err else {
        panic!("{err:?}")
    };
    // It is there, and only once: the manager did not write it again elsewhere.
    let listed = store.list(KeyRange::all(), None).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
    assert_eq!(
        manager
            .load(snapshot_store::Lookup::Exact(key))
            .await
            .expect("load"),
        Some(value!({"step": 1}))
    );
}

#[tokio::test]
async fn deletions_and_new_directories_are_made_durable() {
    // With directory fsyncs failing, the operations that must fsync a directory say so.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = str::parse::<SnapshotKey>("2024-01-15_10-30-00-000000").expect("key");
    FsStore::open(dir.path())
        .expect("open")
        .put(key, Bytes::from_static(b"x"))
        .await
        .expect("put");
    let failing = FsStore::builder(dir.path())
        .with_failing_dir_sync_for_tests()
        .build()
        .expect("open");
    let err = failing
        .delete(key)
        .await
        .expect_err("the deletion is not durable");
    assert!(err.chain_to_string().contains("syncing directory"), "{err}");
    let err = FsStore::builder(dir.path().join("new/store"))
        .with_create(true)
        .with_failing_dir_sync_for_tests()
        .build()
        .expect_err("the new directory is not durable");
    assert!(err.chain_to_string().contains("syncing directory"), "{err}");
}
