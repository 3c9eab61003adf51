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
/// time are in the file's name, so cleanup can tell at once that its writer is gone.
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

    /// Whether `name` says it was written by a process of this boot that no longer
    /// runs (the id is free, or taken by a process that started at another time).
    pub(crate) fn writer_is_gone(name: &str) -> bool {
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
pub(crate) fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}
