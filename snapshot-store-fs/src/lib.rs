//! [`FsStore`]: snapshots as files in a local directory, crash-safe.
//!
//! Each snapshot is one file named by its key, in a subdirectory per UTC day
//! (`2024-01-15/2024-01-15_10-30-00-000000`), so that finding the latest or the nearest
//! snapshot reads the list of days and one or two days, not a million names. Stores
//! written by 0.1 keep their snapshots directly in the directory
//! (`2024-01-15_10-30-00-000000`): those are still listed, loaded and deleted, and their
//! keys are never written again. A write goes to a temporary file in the store's
//! directory, is flushed and fsynced, and is then published under its final name with a
//! no-clobber link or rename, after which the day's directory is fsynced. So a reader never sees a half-written snapshot, an
//! existing snapshot is never replaced, and a crash at any moment leaves either the
//! state before the write or the complete new snapshot (plus, at worst, a temporary
//! file that is never listed and is removed later).
//!
//! ```
//! use snapshot_store::{Lookup, Order, SnapshotManager};
//! use snapshot_store_fs::FsStore;
//! use snapshot_codec::{value, Value};
//!
//! # let dir = tempfile::tempdir()?;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = FsStore::create(dir.path().join("checkpoints"))?; // made if missing
//! let manager = SnapshotManager::new(store);
//! let info = manager.dump(&value!({"level": 5, "inventory": ["sword"]})).await?;
//! let day = &info.key.to_string()[..10]; // 2024-01-15
//! assert!(dir.path().join("checkpoints").join(day).join(info.key.to_string()).is_file());
//! assert_eq!(manager.load::<Value>(Lookup::Latest).await?, Some(value!({"level": 5, "inventory": ["sword"]})));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All file I/O runs on tokio's blocking thread pool (`spawn_blocking`), never on the
//! runtime's worker threads, so the store needs a tokio runtime. [`FsStore::open`] does
//! its own (brief) I/O on the calling thread; [`FsStoreBuilder::open`] is the async form.
//!
//! Opening a store never creates it unless asked: [`FsStore::open`] on a missing
//! directory fails with [`Error::StoreNotFound`] naming the path (a mistyped path is
//! an error, not an empty store); [`FsStore::create`] (or
//! [`FsStoreBuilder::with_create`]) creates the directory and its parents for a
//! writer.
#![warn(missing_docs)]

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use snapshot_store::{
    ByteStream, Error, KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore,
};

mod builder;
mod dirs;
mod error;
mod layout;
mod read;
mod write;

pub use builder::FsStoreBuilder;
pub use error::FsError;
use layout::{Day, day_name};
use write::{identity, lock};

/// The backend's name in [`Error::Backend`].
pub const BACKEND: &str = "fs";

/// Temporary files start with this prefix (a dot: hidden from `ls`)...
pub const TEMP_PREFIX: &str = ".snapshot-";
/// ...and end with this suffix.
pub const TEMP_SUFFIX: &str = ".partial";

/// The default file mode: readable and writable by the owner only.
pub const DEFAULT_FILE_MODE: u32 = 0o600;

/// The default mode of directories the store creates: the owner only.
pub const DEFAULT_DIR_MODE: u32 = 0o700;

/// Unlocked temporary files older than this are taken to be left by a killed process
/// (when the writer cannot be seen to be gone sooner; see
/// [`FsStore::remove_stale_temp_files`]).
pub const DEFAULT_STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// What a cleanup of temporary files did.
#[derive(Debug, Default, Clone)]
pub struct Cleanup {
    /// How many temporary files were removed.
    pub removed: usize,
    /// Temporary files (or the directory itself) that could not be examined or
    /// removed, with why. Cleanup is best effort: these never make a read or a write
    /// fail.
    pub left: Vec<(PathBuf, String)>,
}

/// Snapshots as files in one local directory.
///
/// Files in the directory whose names are not snapshot keys are never listed, loaded or
/// deleted. Snapshot files are created with mode `0600` unless configured otherwise,
/// since snapshots often hold secrets.
#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    file_mode: u32,
    // Unix permissions; Windows has none to set (files inherit the directory's ACL).
    #[cfg_attr(not(unix), allow(dead_code))]
    dir_mode: u32,
    stale_temp_age: Duration,
    sync: bool,
    fail_dir_sync: bool,
    last_cleanup: std::sync::Mutex<Cleanup>,
}

impl FsStore {
    /// Opens the existing store in `dir`, with default settings.
    ///
    /// ```
    /// use snapshot_store_fs::FsStore;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("mistyped");
    /// let err = FsStore::open(&missing).unwrap_err();
    /// assert!(err.is_store_not_found());
    /// assert!(err.to_string().contains("mistyped"));
    /// assert!(!missing.exists()); // nothing was created
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`FsStoreBuilder::build`]: [`Error::StoreNotFound`] if `dir` does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        Self::builder(dir).build()
    }

    /// Opens the store in `dir`, creating the directory and its parents if missing.
    ///
    /// # Errors
    /// As [`FsStoreBuilder::build`].
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        Self::builder(dir).with_create(true).build()
    }

    /// A builder for a store in `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> FsStoreBuilder {
        FsStoreBuilder {
            dir: dir.into(),
            file_mode: DEFAULT_FILE_MODE,
            stale_temp_age: DEFAULT_STALE_TEMP_AGE,
            sync: true,
            create: false,
            dir_mode: DEFAULT_DIR_MODE,
            fail_dir_sync: false,
        }
    }

    /// The directory holding the snapshots.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where this version writes the snapshot `key`: `<dir>/<YYYY-MM-DD>/<key>` (see the
    /// crate docs; a store written by 0.1 holds `<dir>/<key>`, which is still read).
    pub fn path_of(&self, key: SnapshotKey) -> PathBuf {
        self.inner.path_of(key)
    }

    /// Removes temporary files left by processes killed mid-write. A writer holds an
    /// exclusive lock (`flock`) on its temporary file while it writes, and the kernel
    /// drops it when the writer dies, so: a file whose lock is held is never removed,
    /// whatever its age; a file written on this machine since its last boot (the boot
    /// id is in its name) whose lock is free is removed at once; a file of another
    /// machine or boot, or on a filesystem without locks, once older than the
    /// configured age. Locks, not process ids, decide, so this holds across PID
    /// namespaces and containers that share the directory. On Windows (no `flock`) the
    /// age alone decides. Best effort: what could not be removed is in the report,
    /// never an error.
    pub async fn remove_stale_temp_files(&self) -> Cleanup {
        let inner = self.inner.clone();
        let cleanup = tokio::task::spawn_blocking(move || inner.remove_stale_temp_files())
            .await
            .unwrap_or_else(|e| Cleanup {
                removed: 0,
                left: vec![(self.inner.dir.clone(), e.to_string())],
            });
        *self
            .inner
            .last_cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = cleanup.clone();
        cleanup
    }

    /// How many snapshots the directory holds in 0.1's layout (directly inside it, not
    /// in a day directory). Each listing of such a store reads all of their names.
    ///
    /// # Errors
    /// [`Error::Backend`] when the directory cannot be read.
    pub async fn count_in_flat_layout(&self) -> Result<usize> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut count = 0;
            inner.scan_top(&KeyRange::all(), |_, entry| {
                count += usize::from(entry.file_type().is_ok_and(|t| t.is_file()));
            })?;
            Ok(count)
        })
        .await
    }

    /// Moves the snapshots a 0.1 store keeps directly in the directory into their day
    /// directories (a hard link, then the old name removed; never over an existing
    /// file), so lookups and listings stop reading every old name. Returns how many were
    /// moved. A move interrupted by a crash leaves the snapshot under both names, which
    /// reads as one snapshot and is finished by the next call. Loads and lookups stay
    /// correct while it runs; a listing made at the same time may miss a snapshot being
    /// moved, so run it while no other process lists the store.
    ///
    /// # Errors
    /// [`Error::Backend`] when the directory cannot be read or a move fails.
    pub async fn move_to_day_layout(&self) -> Result<usize> {
        let inner = self.inner.clone();
        blocking(move || inner.move_to_day_layout()).await
    }

    /// What the last cleanup of temporary files (on open, or an explicit one) did.
    pub fn last_cleanup(&self) -> Cleanup {
        self.inner
            .last_cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Chunks a streamed read or write passes at a time, and their size.
const STREAM_CHUNKS: usize = 4;
const STREAM_CHUNK: usize = 1 << 20;

/// Sends the rest of `file` as chunks until it ends or the receiver hangs up.
fn read_chunks(mut file: fs::File, path: &Path, tx: &tokio::sync::mpsc::Sender<Result<Bytes>>) {
    use std::io::Read;
    loop {
        let mut buf = vec![0u8; STREAM_CHUNK];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(FsError::io("reading", path, e).into()));
                    return;
                }
            }
        }
        if filled == 0 {
            return;
        }
        buf.truncate(filled);
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return;
        }
    }
}

/// Runs blocking file work off the runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::from(FsError::Task(e.to_string())))?
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

#[async_trait]
impl SnapshotStore for FsStore {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || inner.put(key, &bytes)).await
    }

    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        let inner = self.inner.clone();
        blocking(move || inner.get(key)).await
    }

    /// Writes into the temporary file as the chunks arrive (a few chunks are buffered),
    /// then publishes it as [`put`](SnapshotStore::put) does.
    async fn put_stream(&self, key: SnapshotKey, mut body: ByteStream) -> Result<u64> {
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
        let inner = self.inner.clone();
        let writer = tokio::task::spawn_blocking(move || inner.put_from(key, rx));
        let mut written = 0u64;
        let mut failed = None;
        while let Some(piece) = body.next().await {
            match piece {
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    if tx.send(Some(chunk)).await.is_err() {
                        // The writer stopped (an error, or the key is taken).
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(body);
        if failed.is_none() {
            let _ = tx.send(None).await;
        }
        // Without the end marker the writer removes its temporary file.
        drop(tx);
        let stored = writer
            .await
            .map_err(|e| Error::from(FsError::Task(e.to_string())))?;
        match failed {
            Some(e) => Err(e),
            None => stored.map(|()| written),
        }
    }

    /// Reads the file a chunk at a time on the blocking pool.
    /// Reads only the first `len` bytes of the file.
    async fn get_head(&self, key: SnapshotKey, len: usize) -> Result<Bytes> {
        let inner = self.inner.clone();
        blocking(move || {
            use std::io::Read;
            let (file, path, size) = inner.open(key)?;
            let mut head = Vec::with_capacity(len.min(usize::try_from(size).unwrap_or(len)));
            file.take(len as u64)
                .read_to_end(&mut head)
                .map_err(|e| FsError::io("reading", &path, e))?;
            Ok(Bytes::from(head))
        })
        .await
    }

    async fn get_stream(&self, key: SnapshotKey) -> Result<(u64, ByteStream)> {
        let inner = self.inner.clone();
        let (file, path, len) = blocking(move || inner.open(key)).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
        tokio::task::spawn_blocking(move || read_chunks(file, &path, &tx));
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        Ok((len, chunks.boxed()))
    }

    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        let inner = self.inner.clone();
        blocking(move || inner.list(range, limit)).await
    }

    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || inner.delete(key)).await
    }

    async fn first_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        let inner = self.inner.clone();
        blocking(move || inner.extreme_in(range, false)).await
    }

    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        let inner = self.inner.clone();
        blocking(move || inner.extreme_in(range, true)).await
    }
}
