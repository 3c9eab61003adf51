//! Writing (a temporary file, then a no-clobber publish) and deleting.

use super::*;

impl Inner {
    pub(crate) fn put(&self, key: SnapshotKey, bytes: &[u8]) -> Result<()> {
        self.put_with(key, |file| file.write_all(bytes))
    }

    /// Writes a snapshot whose chunks arrive through `rx`, as they arrive; `None` ends
    /// it. A channel closed before `None` (the sender failed) stores nothing.
    pub(crate) fn put_from(
        &self,
        key: SnapshotKey,
        mut rx: tokio::sync::mpsc::Receiver<Option<Bytes>>,
    ) -> Result<()> {
        self.put_with(key, |file| {
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Some(chunk) => file.write_all(&chunk)?,
                    None => return Ok(()),
                }
            }
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the snapshot's bytes stopped before their end",
            ))
        })
    }

    /// Publishes what `write` writes into a fresh temporary file as `key`.
    fn put_with(
        &self,
        key: SnapshotKey,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        // A key a 0.1 store holds (or anything named like it) stays taken.
        if fs::symlink_metadata(self.flat_path_of(key)).is_ok() {
            return Err(Error::AlreadyExists { key });
        }
        let (day_dir, created) = self.day_dir(key)?;
        let recreated = match self.publish(key, &day_dir, write) {
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
    pub(crate) fn publish(
        &self,
        key: SnapshotKey,
        day_dir: &Path,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<bool> {
        let target = day_dir.join(key.to_string());
        // Refuse early when the key is taken, without writing anything; the no-clobber
        // publish below is what guarantees it under races.
        if fs::symlink_metadata(&target).is_ok() {
            return Err(Error::AlreadyExists { key });
        }
        let mut temp = self.locked_temp_file()?;
        let temp_path = temp.path().to_owned();
        let io_err = |action: &'static str| {
            let path = &temp_path;
            move |e| Error::from(FsError::io(action, path, e))
        };
        set_mode(temp.as_file(), self.file_mode).map_err(io_err("setting permissions of"))?;
        write(temp.as_file_mut()).map_err(io_err("writing"))?;
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

    /// A new temporary file, locked by this writer for as long as it is open: cleanup
    /// (of any process, in any PID namespace on this kernel) never removes a file whose
    /// lock is held. Cleanup takes the lock before removing a file, so a file removed
    /// between its creation and its locking is noticed here (no links left) and another
    /// is made.
    fn locked_temp_file(&self) -> Result<tempfile::NamedTempFile> {
        for _ in 0..8 {
            let temp = tempfile::Builder::new()
                .prefix(&identity::temp_prefix())
                .suffix(TEMP_SUFFIX)
                .tempfile_in(&self.dir)
                .map_err(|e| FsError::io("creating a temporary file in", &self.dir, e))?;
            match lock::hold(temp.as_file()) {
                Ok(()) => {}
                // No locks here (some network filesystems): cleanup goes by age.
                Err(e) if lock::unsupported(&e) => return Ok(temp),
                Err(e) => return Err(FsError::io("locking", temp.path(), e).into()),
            }
            if lock::still_linked(temp.as_file()) {
                return Ok(temp);
            }
        }
        Err(FsError::io(
            "creating a temporary file in",
            &self.dir,
            io::Error::other("each new temporary file was removed before it could be locked"),
        )
        .into())
    }

    pub(crate) fn delete(&self, key: SnapshotKey) -> Result<()> {
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
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
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
pub(crate) fn is_not_ours(e: &io::Error) -> bool {
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
/// time are in the file's name. Only the boot id decides anything (whether the writer's
/// lock can be seen from here); the process id is for people reading the directory, as
/// it means nothing in another PID namespace.
pub(crate) mod identity {
    use std::sync::OnceLock;

    use super::TEMP_PREFIX;

    /// `(boot id, process start time)` of this process, where the system tells them.
    pub(crate) fn this_process() -> Option<&'static (String, u64)> {
        static ID: OnceLock<Option<(String, u64)>> = OnceLock::new();
        ID.get_or_init(|| Some((boot_id()?, start_time(std::process::id())?)))
            .as_ref()
    }

    pub(crate) fn boot_id() -> Option<String> {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id: String = text
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(12)
            .collect();
        (id.len() == 12).then_some(id)
    }

    /// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat`).
    pub(crate) fn start_time(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces and parentheses).
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(19)?.parse().ok()
    }

    /// `.snapshot-<boot>-<pid>-<start>-` where known, else `.snapshot-`.
    pub(crate) fn temp_prefix() -> String {
        match this_process() {
            Some((boot, start)) => format!("{TEMP_PREFIX}{boot}-{}-{start}-", std::process::id()),
            None => TEMP_PREFIX.to_owned(),
        }
    }

    /// Whether `name` says it was written on this kernel (this machine, this boot,
    /// containers included): then the writer's lock on it tells whether it still runs.
    /// A file of another machine or boot is judged by its age only.
    pub(crate) fn written_here(name: &str) -> bool {
        let Some((boot, _)) = this_process() else {
            return false;
        };
        name[TEMP_PREFIX.len()..]
            .split('-')
            .next()
            .is_some_and(|b| b == boot)
    }
}

/// Advisory locks on temporary files: a writer holds an exclusive `flock` on its file
/// while it writes; the kernel releases it when the writer exits or is killed. Locks
/// are the kernel's, so they are seen across processes, PID namespaces and containers
/// sharing the filesystem, where process ids are not.
pub(crate) mod lock {
    use std::fs::File;
    use std::io;

    /// Takes this file's lock (waiting while a cleaner holds it for a moment).
    #[cfg(unix)]
    pub(crate) fn hold(file: &File) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        loop {
            #[allow(unsafe_code)]
            // SAFETY: flock on a valid, open descriptor has no other preconditions.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Elsewhere (Windows), the standard library's file locks.
    #[cfg(not(unix))]
    pub(crate) fn hold(file: &File) -> io::Result<()> {
        file.lock()
    }

    /// Tries to take the lock without waiting: `Ok(true)` when taken (no writer holds
    /// it), `Ok(false)` when a writer holds it.
    #[cfg(unix)]
    pub(crate) fn try_take(file: &File) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        loop {
            #[allow(unsafe_code)]
            // SAFETY: as in `hold`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Ok(false),
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn try_take(file: &File) -> io::Result<bool> {
        match file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Whether the filesystem (or system) has no such locks.
    pub(crate) fn unsupported(e: &io::Error) -> bool {
        #[cfg(unix)]
        if matches!(
            e.raw_os_error(),
            Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS)
        ) {
            return true;
        }
        e.kind() == io::ErrorKind::Unsupported
    }

    /// Whether the file still has a name (a cleaner did not remove it meanwhile).
    pub(crate) fn still_linked(file: &File) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            file.metadata().is_ok_and(|m| m.nlink() > 0)
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            true
        }
    }
}

#[cfg(unix)]
pub(crate) fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}
