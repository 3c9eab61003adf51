//! Where snapshots live in the directory.
//!
//! Since 0.2 a snapshot is `<dir>/<YYYY-MM-DD>/<key>`: one subdirectory per UTC day, so
//! that a lookup reads the top directory (one entry per day) and one or two day
//! directories, never every snapshot's name. 0.1 wrote `<dir>/<key>`; such files are
//! still listed, read and deleted, and a key held by one is never written again under the
//! new layout. Only real directories named like a day count (a link named like one is a
//! foreign object), and inside one only regular files named by a key of that day.

use std::ops::Bound;
use std::path::PathBuf;

use snapshot_store::{KeyRange, SnapshotKey};

/// The name of the day directory of `key`: its first ten characters, `YYYY-MM-DD`.
pub(crate) fn day_name(key: SnapshotKey) -> String {
    let mut name = key.to_string();
    name.truncate(10);
    name
}

/// A day directory found in the top directory.
#[derive(Debug)]
pub(crate) struct Day {
    /// The first and last key the day can hold.
    pub(crate) first: SnapshotKey,
    pub(crate) last: SnapshotKey,
    pub(crate) path: PathBuf,
}

impl Day {
    /// The day `name` names, if it names one (exactly `YYYY-MM-DD` of a valid date).
    pub(crate) fn named(name: &str, path: PathBuf) -> Option<Day> {
        if name.len() != 10 {
            return None;
        }
        let first = str::parse::<SnapshotKey>(&format!("{name}_00-00-00-000000")).ok()?;
        let last = str::parse::<SnapshotKey>(&format!("{name}_23-59-59-999999")).ok()?;
        // Only the canonical spelling: the key must print back as the name.
        (day_name(first) == name).then_some(Day { first, last, path })
    }

    /// Whether some key of this day lies in `range`.
    pub(crate) fn overlaps(&self, range: &KeyRange) -> bool {
        let starts_before_end = match range.end {
            Bound::Included(end) => self.first <= end,
            Bound::Excluded(end) => self.first < end,
            Bound::Unbounded => true,
        };
        let ends_after_start = match range.start {
            Bound::Included(start) => self.last >= start,
            Bound::Excluded(start) => self.last > start,
            Bound::Unbounded => true,
        };
        starts_before_end && ends_after_start
    }

    /// Whether `key` belongs in this day's directory.
    pub(crate) fn holds(&self, key: SnapshotKey) -> bool {
        self.first <= key && key <= self.last
    }
}

use std::{fs, io};

use crate::FsError;
use crate::write::same_file;
use snapshot_store::Result;

impl crate::Inner {
    pub(crate) fn move_to_day_layout(&self) -> Result<usize> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> SnapshotKey {
        str::parse::<SnapshotKey>(text).expect("key")
    }

    #[test]
    fn days_are_named_by_their_date_only() {
        let day = Day::named("2024-01-15", PathBuf::new()).expect("a day");
        assert_eq!(day.first, key("2024-01-15_00-00-00-000000"));
        assert_eq!(day.last, key("2024-01-15_23-59-59-999999"));
        assert_eq!(day_name(key("2024-01-15_10-30-00-000000")), "2024-01-15");
        for not_a_day in [
            "2024-1-15",
            "2024-01-15x",
            "2024-02-30",
            "2024_01_15",
            "notadayatall",
        ] {
            assert!(
                Day::named(not_a_day, PathBuf::new()).is_none(),
                "{not_a_day}"
            );
        }
    }

    #[test]
    fn overlap_follows_the_range_bounds() {
        let day = Day::named("2024-01-15", PathBuf::new()).expect("a day");
        let first = key("2024-01-15_00-00-00-000000");
        let last = key("2024-01-15_23-59-59-999999");
        assert!(day.overlaps(&KeyRange::all()));
        assert!(day.overlaps(&KeyRange::new(..=first)));
        assert!(!day.overlaps(&KeyRange::new(..first)));
        assert!(day.overlaps(&KeyRange::new(last..)));
        assert!(!day.overlaps(&KeyRange::new(last.next()..)));
        assert!(day.holds(first) && day.holds(last) && !day.holds(last.next()));
    }
}
