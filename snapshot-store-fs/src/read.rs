//! Reading snapshots and listing keys in both layouts.

use super::*;
use crate::write::is_not_ours;

impl Inner {
    pub(crate) fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        use std::io::Read;
        let (mut file, path, len) = self.open(key)?;
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| FsError::io("reading", &path, e))?;
        Ok(Bytes::from(bytes))
    }

    /// Opens the snapshot `key` for reading: the file, its path and its length.
    pub(crate) fn open(&self, key: SnapshotKey) -> Result<(fs::File, PathBuf, u64)> {
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
        let Some((file, path)) = opened else {
            return Err(Error::NotFound { key });
        };
        let meta = file
            .metadata()
            .map_err(|e| FsError::io("reading", &path, e))?;
        if !meta.is_file() {
            return Err(Error::NotFound { key });
        }
        Ok((file, path, meta.len()))
    }

    /// One pass over the top directory: calls `flat` with each entry named by a key in
    /// `range` (0.1's layout; of any kind, callers keep regular files) and returns the
    /// day directories whose days overlap `range`, oldest first.
    pub(crate) fn scan_top(
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
    pub(crate) fn scan_day(
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

    pub(crate) fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
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
    pub(crate) fn extreme_in(
        &self,
        range: KeyRange,
        largest: bool,
    ) -> Result<Option<SnapshotMeta>> {
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
}
