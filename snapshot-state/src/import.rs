//! Importing a directory written by the Python original's `SnapshotManager` (feature
//! `legacy`).
//!
//! The original names each file `%Y-%m-%d_%H-%M-%S-%f` in the writer's *local* time,
//! adding `_1`, `_2`, ... when two dumps fall in one microsecond. Each file becomes one
//! snapshot at the same instant (the UTC offset of the writer's clock is a parameter;
//! UTC by default); collisions stay distinct snapshots, in suffix order, one microsecond
//! apart, after every file named without a suffix has its own instant: a collision file
//! never takes the instant of a real file. Nothing is skipped silently: the report
//! lists every file with what happened to it; files not named like the original's
//! (`.DS_Store`, `README.txt`) and entries that are not regular files are reported as
//! skipped, not failed. Importing twice stores nothing twice.

use std::fmt;
use std::path::Path;

use chrono::{FixedOffset, TimeZone};
use snapshot_codec::legacy::{LegacyOptions, decode_legacy};
use snapshot_store::{Error, OnTaken, Placed, SnapshotKey, SnapshotManager};

/// Settings for [`import_py_dir`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    utc_offset: FixedOffset,
    dry_run: bool,
    legacy: LegacyOptions,
    max_file_size: u64,
}

/// Files larger than this are not read unless [`ImportOptions::with_max_file_size`]
/// allows them (the original kept whole dictionaries in one file; 1 GiB is far above
/// what it could write in practice).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            utc_offset: FixedOffset::east_opt(0)
                .unwrap_or_else(|| unreachable!("zero is a valid offset")),
            dry_run: false,
            legacy: LegacyOptions::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

impl ImportOptions {
    /// UTC file times, writes enabled, default decoding limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// The UTC offset of the clock that named the files (for `+02:00`,
    /// `FixedOffset::east_opt(7200)`).
    pub fn with_utc_offset(mut self, offset: FixedOffset) -> Self {
        self.utc_offset = offset;
        self
    }

    /// Reads and checks every file and reports what would happen, writing nothing.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Decoding settings for the original's format.
    pub fn with_legacy_options(mut self, legacy: LegacyOptions) -> Self {
        self.legacy = legacy;
        self
    }

    /// Keeps integers beyond `i64`/`u64` as decimal strings instead of failing the
    /// file (the same as [`LegacyOptions::with_big_integers_as_text`]).
    pub fn with_big_integers_as_text(mut self, as_text: bool) -> Self {
        self.legacy = self.legacy.with_big_integers_as_text(as_text);
        self
    }

    /// The largest file read, [`DEFAULT_MAX_FILE_SIZE`] by default; larger ones fail.
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }
}

/// What happened to one file.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Stored as the snapshot with this key.
    Imported(SnapshotKey),
    /// An identical snapshot was already stored under this key (an earlier import).
    AlreadyPresent(SnapshotKey),
    /// A dry run: it would be stored at or after this key.
    WouldImport(SnapshotKey),
    /// Not a py-snapshot file (its name does not follow the original's pattern, or it
    /// is not a regular file): left alone, and why.
    Skipped(String),
    /// Looks like a py-snapshot file but could not be imported, and why.
    Failed(FileError),
}

/// Why one file that looks like a py-snapshot file was not imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    #[error("reading the file")]
    Read(#[source] std::io::Error),
    /// The file is larger than [`ImportOptions::with_max_file_size`] allows.
    #[error("{size} bytes, larger than the {limit}-byte limit for one file")]
    TooLarge {
        /// The file's size (at least; it may have grown while being read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The name's local time does not exist at the UTC offset given (or, moved to UTC,
    /// falls outside the years 0000 to 9999).
    #[error("the local time {local} does not exist at UTC offset {offset}")]
    NoSuchTime {
        /// The time in the name.
        local: SnapshotKey,
        /// The offset.
        offset: FixedOffset,
    },
    /// The contents are not a valid py-snapshot file.
    #[error("not a valid py-snapshot file")]
    Invalid(#[source] snapshot_codec::legacy::LegacyError),
    /// The snapshot could not be encoded or stored.
    #[error("storing it")]
    Store(#[source] Error),
}

/// One line of an [`ImportReport`].
#[derive(Debug)]
pub struct FileReport {
    /// The file's name in the directory.
    pub file: String,
    /// What happened to it.
    pub outcome: Outcome,
}

/// Every file of an import and what happened to it, in import order.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// One entry per directory entry.
    pub files: Vec<FileReport>,
}

impl ImportReport {
    /// How many files failed.
    pub fn failures(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Failed(_)))
            .count()
    }

    /// How many directory entries were not py-snapshot files and were left alone.
    pub fn skipped(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Skipped(_)))
            .count()
    }

    /// How many files were stored (or would be, in a dry run).
    pub fn imported(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Imported(_) | Outcome::WouldImport(_)))
            .count()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            match &file.outcome {
                Outcome::Imported(k) => writeln!(f, "imported        {} -> {k}", file.file)?,
                Outcome::AlreadyPresent(k) => writeln!(f, "already present {} = {k}", file.file)?,
                Outcome::WouldImport(k) => writeln!(f, "would import    {} -> {k}", file.file)?,
                Outcome::Skipped(why) => writeln!(f, "skipped         {}: {why}", file.file)?,
                Outcome::Failed(why) => writeln!(
                    f,
                    "FAILED          {}: {}",
                    file.file,
                    snapshot_store::chain_to_string(why)
                )?,
            }
        }
        Ok(())
    }
}

/// Parses `YYYY-MM-DD_HH-MM-SS-ffffff[_N]` into the local time's key and `N`.
fn parse_name(name: &str) -> Option<(SnapshotKey, u64)> {
    let (base, suffix) = match name.get(snapshot_store::KEY_LEN..) {
        Some("") => (name, 0),
        Some(rest) => {
            let n = rest.strip_prefix('_')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&name[..snapshot_store::KEY_LEN], n.parse().ok()?)
        }
        None => return None,
    };
    Some((str::parse::<SnapshotKey>(base).ok()?, suffix))
}

fn to_utc(local: SnapshotKey, offset: FixedOffset) -> Result<SnapshotKey, FileError> {
    let naive = local.to_datetime().naive_utc();
    offset
        .from_local_datetime(&naive)
        .single()
        .and_then(|time| SnapshotKey::from_datetime(time.to_utc()).ok())
        .ok_or(FileError::NoSuchTime { local, offset })
}

/// Imports every file of a directory written by the Python original into `manager`'s
/// store (see the module docs).
///
/// ```
/// use snapshot_state::{MemoryStore, Order, SnapshotManager};
/// use snapshot_state::import::{import_py_dir, ImportOptions};
///
/// # let dir = tempfile::tempdir()?;
/// // {"a": 1}, written by the original at 2024-01-15 10:30 local time (UTC+2).
/// std::fs::write(dir.path().join("2024-01-15_10-30-00-000000"), [1, 1, 1, b'a', 0xC0, 1, 0xC0])?;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// let offset = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
/// let report = import_py_dir(dir.path(), &manager, &ImportOptions::new().with_utc_offset(offset)).await?;
/// assert_eq!(report.imported(), 1);
/// assert_eq!(manager.list(Order::NewestFirst).await?[0].key.to_string(), "2024-01-15_08-30-00-000000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::StoreNotFound`] for a missing directory, [`Error::PermissionDenied`] for
/// one that may not be read, [`Error::Backend`] otherwise, if the directory cannot be
/// listed. Everything else, including store failures, is reported per file.
pub async fn import_py_dir(
    dir: impl AsRef<Path>,
    manager: &SnapshotManager,
    opts: &ImportOptions,
) -> Result<ImportReport, Error> {
    let dir = dir.as_ref();
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => Error::StoreNotFound {
            location: dir.display().to_string(),
            reason: "no such directory of py-snapshot files".into(),
        },
        std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            backend: "fs",
            location: dir.display().to_string(),
            source: source.into(),
        },
        _ => Error::backend("fs", source),
    };
    let mut entries = tokio::fs::read_dir(dir).await.map_err(io)?;
    let mut named = Vec::new();
    let mut report = ImportReport::default();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        let file = entry.file_name().to_string_lossy().into_owned();
        let outcome =
            match parse_name(&file).map(|(k, n)| to_utc(k, opts.utc_offset).map(|k| (k, n))) {
                Some(Ok((key, n))) => {
                    named.push((key, n, file, entry.path()));
                    continue;
                }
                Some(Err(why)) => Outcome::Failed(why),
                None => Outcome::Skipped(
                    "not named like a py-snapshot file (%Y-%m-%d_%H-%M-%S-%f[_N])".into(),
                ),
            };
        report.files.push(FileReport { file, outcome });
    }
    // Files without a suffix first, each at its own instant; then the collision files
    // (`_1`, `_2`, ...) in time and suffix order, each at the first instant after its
    // base that no file and no earlier collision file has.
    named.sort_by_key(|(key, n, ..)| (*n > 0, *key, *n));
    let mut claimed = std::collections::HashSet::new();
    let reserved: std::collections::HashSet<SnapshotKey> = named
        .iter()
        .filter(|(_, n, ..)| *n == 0)
        .map(|(key, ..)| *key)
        .collect();
    for (key, n, file, path) in named {
        let avoid = |at: &SnapshotKey| claimed.contains(at) || (n > 0 && reserved.contains(at));
        let mut at = key;
        while avoid(&at) {
            at = at.next();
        }
        let outcome = match read_regular(&path, opts.max_file_size).await {
            Ok(Some(raw)) => import_one(&raw, at, manager, opts)
                .await
                .unwrap_or_else(Outcome::Failed),
            Ok(None) => Outcome::Skipped("not a regular file".into()),
            Err(why) => Outcome::Failed(why),
        };
        if let Outcome::Imported(k) | Outcome::AlreadyPresent(k) | Outcome::WouldImport(k) =
            &outcome
        {
            claimed.insert(*k);
        }
        report.files.push(FileReport { file, outcome });
    }
    Ok(report)
}

/// Reads a regular file of at most `limit` bytes; `None` for anything else (a FIFO,
/// a device, a directory, a link to one), which is never opened for reading.
async fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
    use tokio::io::AsyncReadExt;
    let meta = tokio::fs::metadata(path).await.map_err(FileError::Read)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let too_large = |size| FileError::TooLarge { size, limit };
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let file = tokio::fs::File::open(path).await.map_err(FileError::Read)?;
    let mut raw = Vec::with_capacity(meta.len() as usize);
    // A file that grows while being read still stops at the limit.
    file.take(limit + 1)
        .read_to_end(&mut raw)
        .await
        .map_err(FileError::Read)?;
    if raw.len() as u64 > limit {
        return Err(too_large(raw.len() as u64));
    }
    Ok(Some(raw))
}

async fn import_one(
    raw: &[u8],
    at: SnapshotKey,
    manager: &SnapshotManager,
    opts: &ImportOptions,
) -> Result<Outcome, FileError> {
    let value = decode_legacy(raw, &opts.legacy).map_err(FileError::Invalid)?;
    let bytes = manager.raw().encode(&value).map_err(FileError::Store)?;
    if opts.dry_run {
        return Ok(Outcome::WouldImport(at));
    }
    // Identical bytes at the key are an earlier import of this file; otherwise the
    // first free key after it (files are placed before their collision files, so a
    // collision file never lands on a real file's instant).
    match manager
        .raw()
        .put_encoded(at, bytes, OnTaken::SameOrNextFree)
        .await
        .map_err(FileError::Store)?
    {
        Placed::AlreadyPresent(key) => Ok(Outcome::AlreadyPresent(key)),
        stored => Ok(Outcome::Imported(stored.key())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_collision_suffixes() {
        let k = str::parse::<SnapshotKey>("2026-11-26_01-19-26-039303").expect("key");
        assert_eq!(parse_name("2026-11-26_01-19-26-039303"), Some((k, 0)));
        assert_eq!(parse_name("2026-11-26_01-19-26-039303_12"), Some((k, 12)));
        for bad in [
            "2026-11-26_01-19-26-039303_",
            "2026-11-26_01-19-26-039303_x",
            "2026-11-26_01-19-26-039303.bak",
            "notes.txt",
            "",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
