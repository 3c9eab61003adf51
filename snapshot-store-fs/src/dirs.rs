//! Where a key's file lives, making and syncing directories, cleaning up temporary
//! files of killed writers.

use super::*;

impl Inner {
    pub(crate) fn path_of(&self, key: SnapshotKey) -> PathBuf {
        self.dir.join(day_name(key)).join(key.to_string())
    }

    /// Where 0.1 kept the snapshot `key`.
    pub(crate) fn flat_path_of(&self, key: SnapshotKey) -> PathBuf {
        self.dir.join(key.to_string())
    }

    /// Whether the day directory of `key` is a real directory (not a link).
    pub(crate) fn day_dir_is_real(&self, key: SnapshotKey) -> bool {
        fs::symlink_metadata(self.dir.join(day_name(key))).is_ok_and(|m| m.is_dir())
    }

    /// The paths `key` may be stored at, the current layout's first.
    pub(crate) fn places_of(&self, key: SnapshotKey) -> impl Iterator<Item = PathBuf> + '_ {
        let current = move || self.day_dir_is_real(key).then(|| self.path_of(key));
        std::iter::once_with(current)
            .flatten()
            .chain([self.flat_path_of(key)])
            // Once more: `move_to_day_layout` may have moved it between the two looks.
            .chain(std::iter::once_with(current).flatten())
    }

    /// The file holding `key` and its metadata, if a regular file holds it.
    pub(crate) fn locate(&self, key: SnapshotKey) -> Result<Option<(PathBuf, fs::Metadata)>> {
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
    pub(crate) fn day_dir(&self, key: SnapshotKey) -> Result<(PathBuf, bool)> {
        let path = self.dir.join(day_name(key));
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => return Ok((path, false)),
            // A file or a link named like a day: someone else's, never written through.
            Ok(_) => return Err(FsError::NotADirectory { path }.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::io("examining", &path, e).into()),
        }
        #[cfg_attr(not(unix), allow(unused_mut))]
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

    pub(crate) fn prepare(&self, create: bool) -> Result<()> {
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
    pub(crate) fn create_dirs(&self) -> Result<()> {
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

    pub(crate) fn remove_stale_temp_files(&self) -> Cleanup {
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
            let old = meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= self.stale_temp_age);
            // The writer's lock decides where it can be seen (this kernel); elsewhere,
            // or where locks do not work, age alone. A locked file is never removed,
            // however old: its writer is alive (a slow upload, a long encode).
            let held = match File::open(&path) {
                Ok(file) => match lock::try_take(&file) {
                    Ok(true) => Some(file),
                    Ok(false) => continue,
                    Err(_) => None,
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => None,
            };
            let gone = held.is_some() && identity::written_here(name);
            if !(gone || old) {
                continue;
            }
            // Removed while its lock is held here, so no writer can take it up again.
            let removed = fs::remove_file(&path);
            drop(held);
            match removed {
                Ok(()) => cleanup.removed += 1,
                // Another process cleaned it up first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => cleanup.left.push((path, format!("removing: {e}"))),
            }
        }
        cleanup
    }

    pub(crate) fn read_dir(&self) -> Result<fs::ReadDir> {
        fs::read_dir(&self.dir).map_err(|e| FsError::io("listing", &self.dir, e).into())
    }

    pub(crate) fn sync_dir(&self) -> Result<()> {
        self.sync_dir_at(&self.dir)
    }

    pub(crate) fn sync_dir_at(&self, dir: &Path) -> Result<()> {
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
        sync_directory(dir).map_err(|e| FsError::io("syncing directory", dir, e).into())
    }
}

/// Makes a directory's entries durable: fsync of the directory on Unix. Windows has no
/// such call through the standard library (a directory cannot even be opened as a
/// `File`), and NTFS journals its metadata, so there it does nothing.
#[cfg(unix)]
fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(not(unix))]
fn sync_directory(_dir: &Path) -> io::Result<()> {
    Ok(())
}
