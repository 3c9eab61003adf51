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
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, TimeZone};
use snapshot_codec::legacy::{LegacyOptions, decode_legacy};
use snapshot_store::{Error, SnapshotKey, SnapshotManager};

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    Failed(String),
}

/// One line of an [`ImportReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's name in the directory.
    pub file: String,
    /// What happened to it.
    pub outcome: Outcome,
}

/// Every file of an import and what happened to it, in import order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
                Outcome::Failed(why) => writeln!(f, "FAILED          {}: {why}", file.file)?,
            }
        }
        Ok(())
    }
}

/// Why an import could not run at all (problems with single files go in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
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
    Some((SnapshotKey::parse(base).ok()?, suffix))
}

fn to_utc(local: SnapshotKey, offset: FixedOffset) -> Result<SnapshotKey, String> {
    let naive = local.to_datetime().naive_utc();
    let time = offset
        .from_local_datetime(&naive)
        .single()
        .ok_or("the local time does not exist at that offset")?;
    SnapshotKey::from_datetime(time.to_utc()).map_err(|e| e.to_string())
}

/// Imports every file of a directory written by the Python original into `manager`'s
/// store (see the module docs).
///
/// ```
/// use snapshot::{MemoryStore, SnapshotManager};
/// use snapshot::import::{import_py_dir, ImportOptions};
///
/// # let dir = tempfile::tempdir()?;
/// // {"a": 1}, written by the original at 2024-01-15 10:30 local time (UTC+2).
/// std::fs::write(dir.path().join("2024-01-15_10-30-00-000000"), [1, 1, 1, b'a', 0xC0, 1, 0xC0])?;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// let offset = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
/// let report = import_py_dir(dir.path(), &manager, &ImportOptions::new().with_utc_offset(offset)).await?;
/// assert_eq!(report.imported(), 1);
/// assert_eq!(manager.list().await?[0].key.to_string(), "2024-01-15_08-30-00-000000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ImportError::Io`] if the directory cannot be listed. Everything else, including
/// store failures, is reported per file.
pub async fn import_py_dir(
    dir: impl AsRef<Path>,
    manager: &SnapshotManager,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let dir = dir.as_ref();
    let io = |source| ImportError::Io {
        path: dir.to_owned(),
        source,
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
            Ok(Some(raw)) => import_one(&raw, at, manager, opts, &mut claimed, &reserved)
                .await
                .unwrap_or_else(Outcome::Failed),
            Ok(None) => Outcome::Skipped("not a regular file".into()),
            Err(why) => Outcome::Failed(why),
        };
        report.files.push(FileReport { file, outcome });
    }
    Ok(report)
}

/// Reads a regular file of at most `limit` bytes; `None` for anything else (a FIFO,
/// a device, a directory, a link to one), which is never opened for reading.
async fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    use tokio::io::AsyncReadExt;
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > limit {
        return Err(format!(
            "{} bytes, larger than the {limit}-byte limit for one file",
            meta.len()
        ));
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    let mut raw = Vec::with_capacity(meta.len() as usize);
    // A file that grows while being read still stops at the limit.
    file.take(limit + 1)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    if raw.len() as u64 > limit {
        return Err(format!("larger than the {limit}-byte limit for one file"));
    }
    Ok(Some(raw))
}

async fn import_one(
    raw: &[u8],
    first: SnapshotKey,
    manager: &SnapshotManager,
    opts: &ImportOptions,
    claimed: &mut std::collections::HashSet<SnapshotKey>,
    reserved: &std::collections::HashSet<SnapshotKey>,
) -> Result<Outcome, String> {
    let value = decode_legacy(raw, &opts.legacy)
        .map_err(|e| format!("not a valid py-snapshot file: {e}"))?;
    let bytes = manager.encode(&value).map_err(|e| e.to_string())?;
    if opts.dry_run {
        claimed.insert(first);
        return Ok(Outcome::WouldImport(first));
    }
    let store = manager.store();
    let mut at = first;
    for _ in 0..1000 {
        // Past the first instant only, never onto another file's own instant.
        if at != first && (claimed.contains(&at) || reserved.contains(&at)) {
            at = at.next();
            continue;
        }
        match store.put(at, bytes.clone()).await {
            Ok(()) => {
                claimed.insert(at);
                return Ok(Outcome::Imported(at));
            }
            Err(Error::AlreadyExists { .. }) => {
                if store.get(at).await.map_err(|e| e.to_string())? == bytes {
                    claimed.insert(at);
                    return Ok(Outcome::AlreadyPresent(at));
                }
                at = at.next();
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("no free key within 1000 µs of {first}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_collision_suffixes() {
        let k = SnapshotKey::parse("2026-11-26_01-19-26-039303").expect("key");
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
