//! [`FsStoreBuilder`]: the settings of an [`FsStore`].

use super::*;

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
    pub(crate) dir: PathBuf,
    pub(crate) file_mode: u32,
    pub(crate) stale_temp_age: Duration,
    pub(crate) sync: bool,
    pub(crate) create: bool,
    pub(crate) dir_mode: u32,
    pub(crate) fail_dir_sync: bool,
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
