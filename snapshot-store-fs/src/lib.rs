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
use snapshot_store::{Error, KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore};

mod layout;
use layout::{Day, day_name};

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

/// Temporary files older than this are taken to be left by a killed process (when the
/// writer cannot be identified as gone sooner; see [`FsStore::remove_stale_temp_files`]).
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

/// What went wrong inside the disk backend; reaches callers as the source of
/// [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The path exists but is not a directory.
    #[error("{path} exists and is not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// An I/O operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A blocking task was cancelled or panicked.
    #[error("file task failed: {0}")]
    Task(String),
}

impl FsError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        FsError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// The underlying I/O error kind, if this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            FsError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Permission errors become [`Error::PermissionDenied`] (naming the path), the rest
/// [`Error::Backend`] with the [`FsError`] as source.
impl From<FsError> for Error {
    fn from(e: FsError) -> Self {
        match &e {
            FsError::Io { path, source, .. }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                Error::PermissionDenied {
                    backend: BACKEND,
                    location: path.display().to_string(),
                    source: e.into(),
                }
            }
            _ => Error::backend(BACKEND, e),
        }
    }
}

/// Configures and opens an [`FsStore`].
///
/// ```
/// use std::time::Duration;
/// use snapshot_store_fs::FsStore;
///
/// # let dir = tempfile::tempdir()?;
/// let store = FsStore::builder(dir.path())
///     .with_file_mode(0o640)
///     .with_stale_temp_age(Duration::from_secs(600))
///     .build()?;
/// assert_eq!(store.dir(), dir.path());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FsStoreBuilder {
    dir: PathBuf,
    file_mode: u32,
    stale_temp_age: Duration,
    sync: bool,
    create: bool,
    dir_mode: u32,
    fail_dir_sync: bool,
}

impl FsStoreBuilder {
    /// Sets the permission bits of directories the store creates (Unix),
    /// [`DEFAULT_DIR_MODE`] by default; the process umask can only remove bits. An
    /// existing directory's mode is never changed.
    pub fn with_dir_mode(mut self, mode: u32) -> Self {
        self.dir_mode = mode;
        self
    }

    /// Makes every directory fsync fail, to test what callers do with
    /// [`Error::NotDurable`]. For tests only.
    #[doc(hidden)]
    pub fn with_failing_dir_sync_for_tests(mut self) -> Self {
        self.fail_dir_sync = true;
        self
    }

    /// Creates the directory (and its parents) when it is missing; off by default, so
    /// that opening to read never creates anything.
    pub fn with_create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Sets the permission bits of snapshot files (Unix), [`DEFAULT_FILE_MODE`] by
    /// default. They are set exactly, whatever the process umask.
    pub fn with_file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode;
        self
    }

    /// Sets how old a temporary file must be to count as left by a killed process and
    /// be removed on open or by [`FsStore::remove_stale_temp_files`].
    pub fn with_stale_temp_age(mut self, age: Duration) -> Self {
        self.stale_temp_age = age;
        self
    }

    /// Turns fsync off (on by default). Without it a power loss can lose recent
    /// snapshots or leave them empty; a process crash still cannot. For tests and
    /// scratch data only.
    pub fn with_fsync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// Checks the directory (creating it if [`with_create`](Self::with_create) asks),
    /// removes stale temporary files (best effort: what cannot be removed is logged
    /// with `tracing` and kept in [`FsStore::last_cleanup`], never an error), and
    /// returns the store. Blocking; see [`open`](Self::open).
    ///
    /// # Errors
    /// [`Error::StoreNotFound`] if the directory does not exist and creating was not
    /// asked for; [`Error::Backend`] with [`FsError::NotADirectory`] if the path exists
    /// but is not a directory, or with [`FsError::Io`] if it cannot be created or read.
    pub fn build(self) -> Result<FsStore> {
        let inner = Inner {
            dir: self.dir,
            file_mode: self.file_mode,
            dir_mode: self.dir_mode,
            stale_temp_age: self.stale_temp_age,
            sync: self.sync,
            fail_dir_sync: self.fail_dir_sync,
            last_cleanup: std::sync::Mutex::new(Cleanup::default()),
        };
        inner.prepare(self.create)?;
        let cleanup = inner.remove_stale_temp_files();
        for (path, why) in &cleanup.left {
            tracing::warn!(path = %path.display(), reason = %why, "could not remove a temporary file");
        }
        *inner.last_cleanup.lock().unwrap_or_else(|e| e.into_inner()) = cleanup;
        Ok(FsStore {
            inner: Arc::new(inner),
        })
    }

    /// [`build`](Self::build), run on the blocking thread pool.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub async fn open(self) -> Result<FsStore> {
        blocking(move || self.build()).await
    }
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

    /// Removes temporary files left by processes killed mid-write: at once when the
    /// file names a writer on this machine that is gone (its process id and start time
    /// are in the name), otherwise once older than the configured age. Best effort:
    /// what could not be removed is in the report, never an error.
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

/// Runs blocking file work off the runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::from(FsError::Task(e.to_string())))?
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

impl Inner {
    fn path_of(&self, key: SnapshotKey) -> PathBuf {
        self.dir.join(day_name(key)).join(key.to_string())
    }

    /// Where 0.1 kept the snapshot `key`.
    fn flat_path_of(&self, key: SnapshotKey) -> PathBuf {
        self.dir.join(key.to_string())
    }

    /// Whether the day directory of `key` is a real directory (not a link).
    fn day_dir_is_real(&self, key: SnapshotKey) -> bool {
        fs::symlink_metadata(self.dir.join(day_name(key))).is_ok_and(|m| m.is_dir())
    }

    /// The paths `key` may be stored at, the current layout's first.
    fn places_of(&self, key: SnapshotKey) -> impl Iterator<Item = PathBuf> + '_ {
        let current = move || self.day_dir_is_real(key).then(|| self.path_of(key));
        std::iter::once_with(current)
            .flatten()
            .chain([self.flat_path_of(key)])
            // Once more: `move_to_day_layout` may have moved it between the two looks.
            .chain(std::iter::once_with(current).flatten())
    }

    /// The file holding `key` and its metadata, if a regular file holds it.
    fn locate(&self, key: SnapshotKey) -> Result<Option<(PathBuf, fs::Metadata)>> {
        for path in self.places_of(key) {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => return Ok(Some((path, meta))),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(FsError::io("examining", &path, e).into()),
            }
        }
        Ok(None)
    }

    /// The day directory of `key`, created if missing; and whether it was created here
    /// (the top directory then needs a sync for the new entry to last).
    fn day_dir(&self, key: SnapshotKey) -> Result<(PathBuf, bool)> {
        let path = self.dir.join(day_name(key));
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => return Ok((path, false)),
            // A file or a link named like a day: someone else's, never written through.
            Ok(_) => return Err(FsError::NotADirectory { path }.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::io("examining", &path, e).into()),
        }
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, self.dir_mode);
        match builder.create(&path) {
            Ok(()) => Ok((path, true)),
            // Another writer made it first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    Ok((path, false))
                } else {
                    Err(FsError::NotADirectory { path }.into())
                }
            }
            Err(e) => Err(FsError::io("creating directory", &path, e).into()),
        }
    }

    fn prepare(&self, create: bool) -> Result<()> {
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(FsError::NotADirectory {
                path: self.dir.clone(),
            }
            .into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => Err(Error::StoreNotFound {
                location: self.dir.display().to_string(),
                reason: "the directory does not exist (opening to read never creates \
                             it; writers create it)"
                    .into(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.create_dirs(),
            Err(e) => Err(FsError::io("reading", &self.dir, e).into()),
        }
    }

    /// Creates the directory and its missing parents with the directory mode, then
    /// fsyncs the parent of each, so the new entries survive a power loss.
    fn create_dirs(&self) -> Result<()> {
        let mut missing = Vec::new();
        let mut at = Some(self.dir.as_path());
        while let Some(dir) = at {
            if dir.as_os_str().is_empty() || fs::symlink_metadata(dir).is_ok() {
                break;
            }
            missing.push(dir.to_owned());
            at = dir.parent();
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, self.dir_mode);
        builder
            .create(&self.dir)
            .map_err(|e| FsError::io("creating directory", &self.dir, e))?;
        for dir in missing.iter().rev() {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                self.sync_dir_at(parent)?;
            }
        }
        Ok(())
    }

    fn remove_stale_temp_files(&self) -> Cleanup {
        let mut cleanup = Cleanup::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) => {
                cleanup
                    .left
                    .push((self.dir.clone(), format!("listing: {e}")));
                return cleanup;
            }
        };
        let now = SystemTime::now();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    cleanup
                        .left
                        .push((self.dir.clone(), format!("listing: {e}")));
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_temp_name(name) {
                continue;
            }
            let path = entry.path();
            // Only regular files are ours to remove: a directory or a link named like
            // a temporary file is left alone.
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => meta,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    cleanup.left.push((path, format!("examining: {e}")));
                    continue;
                }
            };
            let writer_gone = identity::writer_is_gone(name);
            let old = meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= self.stale_temp_age);
            if !(writer_gone || old) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => cleanup.removed += 1,
                // Another process cleaned it up first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => cleanup.left.push((path, format!("removing: {e}"))),
            }
        }
        cleanup
    }

    fn read_dir(&self) -> Result<fs::ReadDir> {
        fs::read_dir(&self.dir).map_err(|e| FsError::io("listing", &self.dir, e).into())
    }

    fn sync_dir(&self) -> Result<()> {
        self.sync_dir_at(&self.dir)
    }

    fn sync_dir_at(&self, dir: &Path) -> Result<()> {
        if !self.sync {
            return Ok(());
        }
        if self.fail_dir_sync {
            return Err(FsError::io(
                "syncing directory",
                dir,
                io::Error::other("injected failure"),
            )
            .into());
        }
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FsError::io("syncing directory", dir, e).into())
    }

    fn put(&self, key: SnapshotKey, bytes: &[u8]) -> Result<()> {
        // A key a 0.1 store holds (or anything named like it) stays taken.
        if fs::symlink_metadata(self.flat_path_of(key)).is_ok() {
            return Err(Error::AlreadyExists { key });
        }
        let (day_dir, created) = self.day_dir(key)?;
        let recreated = match self.publish(key, &day_dir, bytes) {
            Ok(recreated) => recreated,
            Err(e) => {
                if created {
                    // Best effort: the day directory made for this failed write goes
                    // again if still empty (a writer that raced into it makes it anew).
                    let _ = fs::remove_dir(&day_dir);
                }
                return Err(e);
            }
        };
        // Published: from here on the snapshot exists, whatever happens. It lasts once
        // its day directory, and a new day directory's entry, are synced.
        let top_synced = if created || recreated {
            self.sync_dir()
        } else {
            Ok(())
        };
        top_synced
            .and_then(|()| self.sync_dir_at(&day_dir))
            .map_err(|e| Error::NotDurable {
                key,
                source: Box::new(e),
            })
    }

    /// Writes `bytes` to a temporary file and publishes it as `key` in `day_dir`, never
    /// over an existing file; returns whether the day directory had to be made again
    /// (another writer's failed write removed it meanwhile).
    fn publish(&self, key: SnapshotKey, day_dir: &Path, bytes: &[u8]) -> Result<bool> {
        let target = day_dir.join(key.to_string());
        // Refuse early when the key is taken, without writing anything; the no-clobber
        // publish below is what guarantees it under races.
        if fs::symlink_metadata(&target).is_ok() {
            return Err(Error::AlreadyExists { key });
        }
        let mut temp = tempfile::Builder::new()
            .prefix(&identity::temp_prefix())
            .suffix(TEMP_SUFFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| FsError::io("creating a temporary file in", &self.dir, e))?;
        let temp_path = temp.path().to_owned();
        let io_err = |action: &'static str| {
            let path = &temp_path;
            move |e| Error::from(FsError::io(action, path, e))
        };
        set_mode(temp.as_file(), self.file_mode).map_err(io_err("setting permissions of"))?;
        temp.write_all(bytes).map_err(io_err("writing"))?;
        if self.sync {
            temp.as_file().sync_all().map_err(io_err("syncing"))?;
        }
        // On any error above, dropping `temp` deletes the temporary file.
        let mut recreated = false;
        loop {
            match temp.persist_noclobber(&target) {
                Ok(_) => return Ok(recreated),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(Error::AlreadyExists { key });
                }
                Err(e) if e.error.kind() == io::ErrorKind::NotFound && !recreated => {
                    self.day_dir(key)?;
                    recreated = true;
                    temp = e.file;
                }
                Err(e) => return Err(FsError::io("publishing", &target, e.error).into()),
            }
        }
    }

    fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        use std::io::Read;
        let mut options = fs::OpenOptions::new();
        options.read(true);
        // A link named like a key is a foreign object, never followed.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let mut opened = None;
        for path in self.places_of(key) {
            match options.open(&path) {
                Ok(file) => {
                    opened = Some((file, path));
                    break;
                }
                Err(e) if is_not_ours(&e) => {}
                Err(e) => return Err(FsError::io("reading", &path, e).into()),
            }
        }
        let Some((mut file, path)) = opened else {
            return Err(Error::NotFound { key });
        };
        let meta = file
            .metadata()
            .map_err(|e| FsError::io("reading", &path, e))?;
        if !meta.is_file() {
            return Err(Error::NotFound { key });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| FsError::io("reading", &path, e))?;
        Ok(Bytes::from(bytes))
    }

    /// One pass over the top directory: calls `flat` with each entry named by a key in
    /// `range` (0.1's layout; of any kind, callers keep regular files) and returns the
    /// day directories whose days overlap `range`, oldest first.
    fn scan_top(
        &self,
        range: &KeyRange,
        mut flat: impl FnMut(SnapshotKey, &fs::DirEntry),
    ) -> Result<Vec<Day>> {
        let mut days = Vec::new();
        for entry in self.read_dir()? {
            let entry = entry.map_err(|e| FsError::io("listing", &self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(key) = str::parse::<SnapshotKey>(name) {
                if range.contains(key) {
                    flat(key, &entry);
                }
            } else if let Some(day) = Day::named(name, entry.path())
                && day.overlaps(range)
                // Does not follow links: a link named like a day is not ours.
                && entry.file_type().is_ok_and(|t| t.is_dir())
            {
                days.push(day);
            }
        }
        days.sort_unstable_by_key(|d| d.first);
        Ok(days)
    }

    /// Calls `each` with every entry of `day` named by a key of that day in `range`.
    fn scan_day(
        &self,
        day: &Day,
        range: &KeyRange,
        mut each: impl FnMut(SnapshotKey, &fs::DirEntry),
    ) -> Result<()> {
        let entries = match fs::read_dir(&day.path) {
            Ok(entries) => entries,
            // Removed since the top directory was read: nothing there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(FsError::io("listing", &day.path, e).into()),
        };
        for entry in entries {
            let entry = entry.map_err(|e| FsError::io("listing", &day.path, e))?;
            let name = entry.file_name();
            if let Some(key) = name
                .to_str()
                .and_then(|n| str::parse::<SnapshotKey>(n).ok())
                && day.holds(key)
                && range.contains(key)
            {
                each(key, &entry);
            }
        }
        Ok(())
    }

    fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        let mut error = None;
        let mut push = |metas: &mut Vec<SnapshotMeta>, key, entry: &fs::DirEntry| {
            // Does not follow links: a link named like a key is not a snapshot.
            match entry.metadata() {
                Ok(meta) if meta.is_file() => metas.push(SnapshotMeta {
                    key,
                    size: meta.len(),
                }),
                Ok(_) => {}
                // Deleted between listing and stat: it is gone, so it is not listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    error.get_or_insert(FsError::io("reading", &entry.path(), e));
                }
            }
        };
        let mut flat = Vec::new();
        let days = self.scan_top(&range, |key, entry| push(&mut flat, key, entry))?;
        flat.sort_unstable();
        let mut metas = Vec::new();
        for day in &days {
            self.scan_day(day, &range, |key, entry| push(&mut metas, key, entry))?;
            // Days come in order: once the first `limit` keys are known, stop.
            let before = flat.partition_point(|m| m.key <= day.last);
            if limit.is_some_and(|limit| metas.len() + before >= limit) {
                break;
            }
        }
        if let Some(e) = error {
            return Err(e.into());
        }
        metas.append(&mut flat);
        metas.sort_unstable();
        // A key in both layouts (written by 0.1 and 0.2 at once) is one snapshot.
        metas.dedup_by_key(|m| m.key);
        if let Some(limit) = limit {
            metas.truncate(limit);
        }
        Ok(metas)
    }

    /// The smallest (or largest) snapshot in `range`: one pass over the top directory,
    /// then the day directories from that end until one holds a key in range (no list
    /// of every snapshot is built).
    fn extreme_in(&self, range: KeyRange, largest: bool) -> Result<Option<SnapshotMeta>> {
        let better = |key: SnapshotKey, best: Option<SnapshotKey>| {
            best.is_none_or(|b| if largest { key > b } else { key < b })
        };
        // Does not follow links: a link named like a key is not a snapshot.
        let is_file = |entry: &fs::DirEntry| entry.file_type().is_ok_and(|t| t.is_file());
        let mut best: Option<SnapshotKey> = None;
        let mut days = self.scan_top(&range, |key, entry| {
            if better(key, best) && is_file(entry) {
                best = Some(key);
            }
        })?;
        if largest {
            days.reverse();
        }
        for day in &days {
            // Days come from the wanted end: one that cannot beat `best` ends the search.
            let edge = if largest { day.last } else { day.first };
            if !better(edge, best) {
                break;
            }
            let mut found = None;
            self.scan_day(day, &range, |key, entry| {
                if better(key, found) && is_file(entry) {
                    found = Some(key);
                }
            })?;
            if let Some(key) = found {
                if better(key, best) {
                    best = Some(key);
                }
                break;
            }
        }
        let Some(key) = best else {
            return Ok(None);
        };
        match self.locate(key)? {
            Some((_, meta)) => Ok(Some(SnapshotMeta {
                key,
                size: meta.len(),
            })),
            // Deleted since the pass (by retention, say): look again.
            None => self.extreme_in(range, largest),
        }
    }

    fn move_to_day_layout(&self) -> Result<usize> {
        let mut flat = Vec::new();
        self.scan_top(&KeyRange::all(), |key, entry| {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                flat.push((key, entry.path()));
            }
        })?;
        let mut moved = 0;
        let mut touched = std::collections::BTreeSet::new();
        for (key, old) in flat {
            let (day_dir, created) = self.day_dir(key)?;
            if created {
                touched.insert(self.dir.clone());
            }
            let new = day_dir.join(key.to_string());
            match fs::hard_link(&old, &new) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // Finished only if it is the same file (an interrupted move);
                    // another snapshot under the key stays as it is.
                    if !same_file(&old, &new) {
                        continue;
                    }
                }
                Err(e) => return Err(FsError::io("linking", &new, e).into()),
            }
            touched.insert(day_dir);
            match fs::remove_file(&old) {
                Ok(()) => moved += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(FsError::io("removing", &old, e).into()),
            }
            touched.insert(self.dir.clone());
        }
        for dir in touched {
            self.sync_dir_at(&dir)?;
        }
        Ok(moved)
    }

    fn delete(&self, key: SnapshotKey) -> Result<()> {
        // Only a regular file is a snapshot: a link or a directory named like a key is
        // someone else's, and is left alone.
        let Some((path, _)) = self.locate(key)? else {
            return Err(Error::NotFound { key });
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound { key }),
            Err(e) => return Err(FsError::io("deleting", &path, e).into()),
        }
        // Without this, a deletion can come back after a power loss. (An emptied day
        // directory stays: removing it could race with a writer about to use it.)
        match path.parent() {
            Some(dir) => self.sync_dir_at(dir),
            None => self.sync_dir(),
        }
    }
}

/// Whether two paths name one file (the same device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Errors that mean "no snapshot of ours here": missing, or a link (`ELOOP` from
/// `O_NOFOLLOW`).
fn is_not_ours(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::NotFound {
        return true;
    }
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return true;
    }
    false
}

/// Who writes a temporary file: this machine's boot, the process id and its start
/// time are in the file's name, so cleanup can tell at once that its writer is gone.
mod identity {
    use std::sync::OnceLock;

    use super::TEMP_PREFIX;

    /// `(boot id, process start time)` of this process, where the system tells them.
    fn this_process() -> Option<&'static (String, u64)> {
        static ID: OnceLock<Option<(String, u64)>> = OnceLock::new();
        ID.get_or_init(|| Some((boot_id()?, start_time(std::process::id())?)))
            .as_ref()
    }

    fn boot_id() -> Option<String> {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id: String = text
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(12)
            .collect();
        (id.len() == 12).then_some(id)
    }

    /// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat`).
    fn start_time(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces and parentheses).
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(19)?.parse().ok()
    }

    /// `.snapshot-<boot>-<pid>-<start>-` where known, else `.snapshot-`.
    pub(super) fn temp_prefix() -> String {
        match this_process() {
            Some((boot, start)) => format!("{TEMP_PREFIX}{boot}-{}-{start}-", std::process::id()),
            None => TEMP_PREFIX.to_owned(),
        }
    }

    /// Whether `name` says it was written by a process of this boot that no longer
    /// runs (the id is free, or taken by a process that started at another time).
    pub(super) fn writer_is_gone(name: &str) -> bool {
        let Some((boot, _)) = this_process() else {
            return false;
        };
        let mut parts = name[TEMP_PREFIX.len()..].splitn(4, '-');
        let (Some(b), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
            return false;
        };
        b == boot && start_time(pid) != Some(start)
    }
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
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
