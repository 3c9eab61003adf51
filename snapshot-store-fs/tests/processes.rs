//! Tests that need real processes: a writer killed with SIGKILL at random moments, two
//! processes writing into one directory, a read-only directory, and a write that fails
//! part-way (the file-size limit). This file is its own test harness: run with a
//! `SNAPSHOT_FS_CHILD` mode in the environment, it is the child process instead.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use snapshot_codec::{Compression, Value, value};
use snapshot_store::Lookup;
use snapshot_store::{Error, KeyRange, SnapshotManager, SnapshotStore};
use snapshot_store_fs::{FsError, FsStore, TEMP_PREFIX, TEMP_SUFFIX};

const MODE: &str = "SNAPSHOT_FS_CHILD";
const DIR: &str = "SNAPSHOT_FS_DIR";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A small deterministic generator, so failures can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn state(i: u64, size: usize) -> Value {
    let payload: String = (0..size)
        .map(|j| (b'a' + ((i as usize + j * 7) % 26) as u8) as char)
        .collect();
    value!({"i": i, "size": size, "payload": payload})
}

fn child(mode: &str) {
    let dir = PathBuf::from(std::env::var(DIR).expect("dir"));
    let rt = runtime();
    rt.block_on(async {
        let store = FsStore::create(&dir).expect("open in child");
        let manager = SnapshotManager::new(store).with_compression(Compression::None);
        match mode {
            // Dumps forever, sizes from 1 KiB to 4 MiB, until killed.
            "dumper" => {
                let mut rng = Rng(std::process::id() as u64 | 1);
                for i in 0.. {
                    let size = 1024 + (rng.next() % (4 << 20)) as usize;
                    manager.dump(&state(i, size)).await.expect("dump");
                }
            }
            // Dumps a given number of times and prints each key.
            "writer" => {
                let count: u64 = std::env::var("SNAPSHOT_FS_COUNT")
                    .expect("count")
                    .parse()
                    .expect("number");
                for i in 0..count {
                    let info = manager.dump(&state(i, 100)).await.expect("dump");
                    println!("{}", info.key);
                }
            }
            // Tries to dump into a directory it may not write; loads what is there.
            "readonly" => {
                let left = FsStore::open(&dir)
                    .expect("opens")
                    .last_cleanup()
                    .left
                    .len();
                println!("cleanup left {left}");
                let loaded = manager.load::<Value>(Lookup::Latest).await;
                println!(
                    "load {}",
                    if matches!(loaded, Ok(Some(_))) {
                        "ok"
                    } else {
                        "failed"
                    }
                );
                report(manager.dump(&value!("new")).await.map(drop));
            }
            // Dumps more than the process may write.
            "fsize" => {
                #[allow(unsafe_code)]
                // SAFETY: plain libc calls on this single-threaded child before any write;
                // the struct is fully initialised.
                unsafe {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit {
                        rlim_cur: 256 * 1024,
                        rlim_max: 256 * 1024,
                    };
                    assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0, "setrlimit");
                }
                report(manager.dump(&state(0, 2 << 20)).await.map(drop));
            }
            // Streams one snapshot slowly (20 pieces, 150 ms apart), printing
            // "writing" once its first piece is written, then how the put ended.
            "slow-writer" => {
                let key: snapshot_store::SnapshotKey = std::env::var("SNAPSHOT_FS_KEY")
                    .expect("key")
                    .parse()
                    .expect("key");
                let pieces = futures::stream::unfold(0u32, |i| async move {
                    if i == 20 {
                        return None;
                    }
                    if i == 1 {
                        println!("writing");
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Some((Ok(bytes::Bytes::from(vec![b'x'; 64 << 10])), i + 1))
                });
                let store = FsStore::create(&dir).expect("open");
                report(store.put_stream(key, Box::pin(pieces)).await.map(drop));
            }
            other => panic!("unknown child mode {other}"),
        }
    });
}

/// Prints a dump's outcome as one line the parent can check.
fn report(result: Result<(), Error>) {
    match result {
        Ok(()) => println!("dump ok"),
        Err(Error::Backend { backend, source }) => {
            let kind = source.downcast_ref::<FsError>().and_then(FsError::io_kind);
            println!("dump failed backend={backend} kind={kind:?} error={source}");
        }
        Err(Error::PermissionDenied {
            backend, location, ..
        }) => println!("dump failed permission-denied backend={backend} at={location}"),
        Err(e) => println!("dump failed other {e}"),
    }
}

fn spawn(mode: &str, dir: &Path, configure: impl FnOnce(&mut Command)) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.env(MODE, mode)
        .env(DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    configure(&mut cmd);
    cmd.spawn().expect("spawn child")
}

fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        })
        .count()
}

/// Kills a dumping child with SIGKILL at random moments; after each kill every listed
/// snapshot loads and verifies, and no temporary file is listed.
fn killed_writers_leave_only_complete_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut verified, mut temp_seen, kills) = (0usize, 0usize, 40);
    let mut previous = 0;
    for round in 0..kills {
        let mut child = spawn("dumper", dir.path(), |_| {});
        std::thread::sleep(Duration::from_millis(30 + rng.next() % 250));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        temp_seen += temp_files(dir.path());
        rt.block_on(async {
            let store = FsStore::create(dir.path()).expect("open");
            let listed = store.list(KeyRange::all(), None).await.expect("list");
            assert!(
                listed.len() >= previous,
                "round {round}: snapshots disappeared"
            );
            previous = listed.len();
            let manager = SnapshotManager::new(store.clone());
            for meta in &listed {
                let name = meta.key.to_string();
                assert!(
                    !name.starts_with('.'),
                    "a temporary file was listed: {name}"
                );
                let bytes = store.get(meta.key).await.expect("get");
                assert_eq!(
                    bytes.len() as u64,
                    meta.size,
                    "round {round}: {name} changed size"
                );
                let value = snapshot_codec::decode(&bytes)
                    .unwrap_or_else(|e| panic!("round {round}: snapshot {name} is damaged: {e}"));
                assert_eq!(
                    value["payload"].as_str().map(str::len),
                    value["size"].as_u64().map(|s| s as usize)
                );
                verified += 1;
            }
            drop(manager);
        });
    }
    // Everything the killed writers left behind is removed once it counts as stale.
    let cleaned = FsStore::builder(dir.path())
        .with_stale_temp_age(Duration::ZERO)
        .build()
        .expect("open");
    assert_eq!(temp_files(cleaned.dir()), 0);
    println!(
        "crash test: {kills} SIGKILLs, {previous} snapshots survived, {verified} loads verified, \
         {temp_seen} temporary files counted after kills across rounds (never listed)"
    );
    assert!(previous > 0, "the writer never completed a snapshot");
}

/// Two processes dumping into one directory at once: every dump survives.
fn two_processes_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let count = 150;
    let children: Vec<Child> = (0..2)
        .map(|_| {
            spawn("writer", dir.path(), |c| {
                c.env("SNAPSHOT_FS_COUNT", count.to_string());
            })
        })
        .collect();
    let mut keys = Vec::new();
    for mut child in children {
        let out = child.stdout.take().expect("stdout");
        keys.extend(BufReader::new(out).lines().map(|l| l.expect("line")));
        assert!(child.wait().expect("wait").success(), "writer failed");
    }
    assert_eq!(keys.len(), 2 * count);
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "two dumps shared a key");
    runtime().block_on(async {
        let store = FsStore::create(dir.path()).expect("open");
        let listed: BTreeSet<String> = store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .iter()
            .map(|m| m.key.to_string())
            .collect();
        assert_eq!(
            listed,
            distinct.into_iter().cloned().collect(),
            "listing differs from the dumps"
        );
        for meta in store.list(KeyRange::all(), None).await.expect("list") {
            snapshot_codec::decode(&store.get(meta.key).await.expect("get"))
                .expect("valid snapshot");
        }
    });
    println!(
        "two processes: {} dumps, all distinct and loadable",
        keys.len()
    );
}

fn run_child(mode: &str, dir: &Path, configure: impl FnOnce(&mut Command)) -> String {
    let child = spawn(mode, dir, configure);
    let out = child.wait_with_output().expect("child output");
    assert!(out.status.success(), "{mode} child failed");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A read-only directory: loads work, dumps fail with a typed error, nothing appears.
fn read_only_directory_gives_typed_errors() {
    let outer = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = outer.path().join("store");
    runtime().block_on(async {
        // Shared for reading: files and the day directories the store makes.
        let store = FsStore::builder(&dir)
            .with_file_mode(0o644)
            .with_dir_mode(0o755)
            .with_create(true)
            .build()
            .expect("open");
        SnapshotManager::new(store)
            .dump(&value!("old"))
            .await
            .expect("dump");
    });
    // A temporary file of a writer that is gone: cleanup wants it removed, and cannot.
    let boot: String = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    std::fs::write(
        dir.join(format!("{TEMP_PREFIX}{boot}-4194000-1-abcdef{TEMP_SUFFIX}")),
        b"left by a killed writer",
    )
    .expect("write");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let before: Vec<_> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    // Root ignores permission bits, so as root the child runs as `nobody`.
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let out = run_child("readonly", &dir, |c| {
        if root {
            c.uid(65534).gid(65534);
        }
    });
    // Opening never fails on cleanup (a reader is never locked out); what it could not
    // remove is reported.
    assert!(out.contains("cleanup left 1"), "{out}");
    assert!(out.contains("load ok"), "{out}");
    assert!(
        out.contains("dump failed permission-denied backend=fs at="),
        "{out}"
    );
    let after: Vec<_> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after, "the failed dump left something behind");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    println!(
        "read-only directory: {}",
        out.lines().last().unwrap_or_default()
    );
}

/// A write that fails part-way (the process's file-size limit): typed error, no
/// snapshot listed, no temporary file left.
fn a_write_failing_part_way_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_child("fsize", dir.path(), |_| {});
    assert!(
        out.contains("dump failed backend=fs kind=Some(FileTooLarge)"),
        "{out}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read_dir").collect();
    assert!(left.is_empty(), "files left after a failed write: {left:?}");
    println!("part-way failure: {}", out.trim());
}

/// The slow-writer child run through `unshare --pid --fork --mount-proc`: pid 1 of a
/// new PID namespace with its own /proc, as in a container.
fn slow_writer_in_a_new_pid_namespace(dir: &Path, key: &str) -> Child {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().expect("current exe"))
        .env(MODE, "slow-writer")
        .env(DIR, dir)
        .env("SNAPSHOT_FS_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("unshare (needs root)")
}

/// A writer in another PID namespace (a container on the same host): its process id
/// means nothing here, and a store opened here (whose cleanup runs at open) must leave
/// its temporary file alone while it writes. Needs root for `unshare --pid`.
fn writers_in_other_pid_namespaces_keep_their_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    FsStore::create(dir.path()).expect("create");
    let mut child = slow_writer_in_a_new_pid_namespace(dir.path(), "2030-06-01_12-00-00-000000");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(
        lines.next().expect("a line").expect("text"),
        "writing",
        "the child did not start writing"
    );
    let temp: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .collect();
    assert_eq!(temp.len(), 1, "{temp:?}");
    // The pid in the name is the child's pid in its own namespace.
    println!("  the other namespace's temporary file: {}", temp[0]);
    for _ in 0..3 {
        let cleanup = FsStore::open(dir.path()).expect("open").last_cleanup();
        assert_eq!(cleanup.removed, 0, "a live writer's file was removed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcome = lines.next().expect("an outcome").expect("text");
    assert_eq!(outcome, "dump ok", "the writer's put failed");
    assert!(child.wait().expect("wait").success());
    let rt = runtime();
    rt.block_on(async {
        let store = FsStore::open(dir.path()).expect("open");
        let key = "2030-06-01_12-00-00-000000".parse().expect("key");
        assert_eq!(store.get(key).await.expect("get").len(), 20 * (64 << 10));
    });

    // Killed in its namespace mid-write: the lock goes with it, and the next open
    // removes the file at once (no hour-long wait for its age).
    let mut child = slow_writer_in_a_new_pid_namespace(dir.path(), "2030-06-01_13-00-00-000000");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().expect("a line").expect("text"), "writing");
    assert_eq!(temp_files(dir.path()), 1);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // unshare --kill-child passes the kill on to the writer; give the kernel a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cleanup = FsStore::open(dir.path()).expect("open").last_cleanup();
        if cleanup.removed == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the killed writer's file stayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(temp_files(dir.path()), 0);
}

fn main() {
    if let Ok(mode) = std::env::var(MODE) {
        child(&mode);
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: [(&str, fn()); 5] = [
        (
            "writers_in_other_pid_namespaces_keep_their_files",
            writers_in_other_pid_namespaces_keep_their_files,
        ),
        (
            "killed_writers_leave_only_complete_snapshots",
            killed_writers_leave_only_complete_snapshots,
        ),
        ("two_processes_lose_nothing", two_processes_lose_nothing),
        (
            "read_only_directory_gives_typed_errors",
            read_only_directory_gives_typed_errors,
        ),
        (
            "a_write_failing_part_way_leaves_nothing",
            a_write_failing_part_way_leaves_nothing,
        ),
    ];
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        println!("test {name} ...");
        test();
        println!("test {name} ... ok ({:.1?})", started.elapsed());
    }
}
