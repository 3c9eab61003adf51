//! Labels and steps: what a dump records about a snapshot ([`DumpOptions`]), how lookups,
//! listings and retention select by it ([`Filter`], [`Query`]), and the cache of
//! snapshot headers that keeps those selections from reading every snapshot again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use snapshot_codec::Metadata;

use super::{Filter, Lookup, Query};
use crate::{Error, KeyRange, Order, Result, SnapshotKey, SnapshotManager, SnapshotMeta};

/// How many headers are read at once.
const HEADER_READS_IN_FLIGHT: usize = 16;
/// The first read of a header: enough for any header with a few dozen labels.
const HEADER_PROBE: usize = 4096;
/// The longest a header can be.
const HEADER_MAX: usize = 6 + 10 + snapshot_codec::MAX_METADATA_LEN;

/// A snapshot as listed with its header: key, size, and what its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotDetails {
    /// The snapshot's key (its time).
    pub key: SnapshotKey,
    /// Its size in bytes.
    pub size: u64,
    /// Its metadata (labels, step, creation time); empty when it has none (every
    /// snapshot written before labels existed), `None` when it could not be read: the
    /// metadata is sealed and the manager lacks the key (see `sealed`), or the header
    /// is damaged.
    pub metadata: Option<Metadata>,
    /// The id of the key the snapshot is encrypted under, if it is.
    pub key_id: Option<String>,
    /// Whether the metadata is encrypted and could not be read without its key.
    pub sealed: bool,
}

impl SnapshotDetails {
    /// The key and size alone.
    pub fn meta(&self) -> SnapshotMeta {
        SnapshotMeta {
            key: self.key,
            size: self.size,
        }
    }

    /// The step, if the snapshot has one (and its metadata could be read).
    pub fn step(&self) -> Option<u64> {
        self.metadata.as_ref().and_then(|m| m.step)
    }

    /// The labels (empty when there are none or they could not be read).
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata
            .iter()
            .flat_map(|m| m.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Snapshot headers already read, by key. Headers never change (a snapshot is written
/// once), so an entry stays valid while the store lists the same key with the same
/// size; optionally kept in a file between processes.
#[derive(Debug, Default)]
pub(crate) struct HeaderCache {
    entries: Mutex<HashMap<SnapshotKey, (u64, Bytes)>>,
    file: Option<PathBuf>,
    loaded: std::sync::atomic::AtomicBool,
}

/// The cache file's contents: version, then (key, size, header bytes) per snapshot.
type CacheFile = (u32, Vec<(String, u64, serde_bytes_like::Bytes)>);

mod serde_bytes_like {
    //! Header bytes as one byte string (not a list of numbers).
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Debug, Clone)]
    pub(crate) struct Bytes(pub(crate) Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_byte_buf(Visit)
        }
    }
}

const CACHE_VERSION: u32 = 1;

impl HeaderCache {
    pub(crate) fn with_file(file: PathBuf) -> Self {
        Self {
            file: Some(file),
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SnapshotKey, (u64, Bytes)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the cache file once (a missing or unreadable file is an empty cache).
    async fn load(&self) {
        if self.loaded.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let Some(path) = self.file.clone() else {
            return;
        };
        let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
        let Ok(Ok(bytes)) = read else {
            return;
        };
        let parsed: std::result::Result<CacheFile, _> = snapshot_codec::from_slice(&bytes);
        match parsed {
            Ok((CACHE_VERSION, entries)) => {
                let mut held = self.lock();
                for (key, size, header) in entries {
                    if let Ok(key) = key.parse::<SnapshotKey>() {
                        held.entry(key).or_insert((size, Bytes::from(header.0)));
                    }
                }
            }
            _ => {
                tracing::debug!(target: "snapshot", "header cache file unreadable; starting empty")
            }
        }
    }

    /// Writes the cache file (best effort: a cache that cannot be written only costs
    /// reads later), keeping only the keys in `listed` when the listing was complete.
    async fn save(&self, listed: Option<&[SnapshotMeta]>) {
        if let Some(listed) = listed {
            // Entries of snapshots deleted since are dropped, in memory too.
            let keep: std::collections::HashSet<SnapshotKey> =
                listed.iter().map(|m| m.key).collect();
            self.lock().retain(|k, _| keep.contains(k));
        }
        let Some(path) = self.file.clone() else {
            return;
        };
        let entries: Vec<(String, u64, serde_bytes_like::Bytes)> = {
            let held = self.lock();
            held.iter()
                .map(|(k, (size, header))| {
                    (
                        k.to_string(),
                        *size,
                        serde_bytes_like::Bytes(header.to_vec()),
                    )
                })
                .collect()
        };
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let bytes =
                snapshot_codec::to_vec(&(CACHE_VERSION, entries)).map_err(std::io::Error::other)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            // Headers hold labels in the clear: the file is its owner's only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            {
                use std::io::Write;
                let mut file = options.open(&tmp)?;
                #[cfg(unix)]
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
                file.write_all(&bytes)?;
            }
            std::fs::rename(&tmp, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::debug!(target: "snapshot", "header cache file not written");
        }
    }
}

impl SnapshotManager {
    /// Keeps the headers read for label and step queries in `file` as well as in
    /// memory, so another process (the next run of a command, say) does not read them
    /// again. Headers never change, so the file never goes stale: an entry is used only
    /// while the store lists its snapshot with the same size. It holds headers as
    /// stored (sealed metadata stays sealed). Without this, headers are cached in
    /// memory only, for the life of the manager and its clones.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let file = std::env::temp_dir().join(format!("snapshot-doc-headers-{}", std::process::id()));
    /// let manager = SnapshotManager::new(MemoryStore::new()).with_header_cache(&file);
    /// manager.dump_with(&value!(1), &DumpOptions::new().label("run", "a")).await?;
    /// let found = manager.list(Order::NewestFirst).matching(Filter::new().label("run", "a")).await?;
    /// assert_eq!(found.len(), 1);
    /// let _ = std::fs::remove_file(&file);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_header_cache(mut self, file: impl Into<PathBuf>) -> Self {
        self.headers = Arc::new(HeaderCache::with_file(file.into()));
        self
    }

    /// The snapshots in `range`, in `order`, with what their headers say, those `filter`
    /// does not select left out (see [`Listing::details`](super::Listing::details)).
    pub(crate) async fn details_in(
        &self,
        range: KeyRange,
        order: Order,
        filter: Option<&Filter>,
    ) -> Result<Vec<SnapshotDetails>> {
        let all = self.metas_in(range, order).await?;
        let details = self.details_of(&all, Some(&all)).await?;
        let mut selected = Vec::new();
        let mut unreadable = Unreadable::default();
        for d in details {
            match filter.map_or(Some(true), |f| f.selects(&d)) {
                Some(true) => selected.push(d),
                Some(false) => {}
                None => unreadable.pass_over(&d),
            }
        }
        match unreadable.into_error(self) {
            Some(e) => Err(e),
            None => Ok(selected),
        }
    }

    /// The details of `metas`, in their order (those deleted meanwhile left out);
    /// `listed` is the complete listing when `metas` came from one.
    pub(crate) async fn details_of(
        &self,
        metas: &[SnapshotMeta],
        listed: Option<&[SnapshotMeta]>,
    ) -> Result<Vec<SnapshotDetails>> {
        self.headers.load().await;
        let cached: Vec<Option<Bytes>> = {
            let held = self.headers.lock();
            metas
                .iter()
                .map(|m| {
                    held.get(&m.key)
                        .filter(|(size, _)| *size == m.size)
                        .map(|(_, h)| h.clone())
                })
                .collect()
        };
        let wanted: Vec<SnapshotKey> = metas
            .iter()
            .zip(&cached)
            .filter(|(_, c)| c.is_none())
            .map(|(m, _)| m.key)
            .collect();
        let missing = wanted.len();
        let fetched: Vec<Option<Bytes>> = futures::stream::iter(wanted)
            .map(move |key| self.read_header(key))
            .buffered(HEADER_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        if missing > 0 {
            {
                let mut held = self.headers.lock();
                for (meta, header) in metas
                    .iter()
                    .zip(&cached)
                    .filter(|(_, c)| c.is_none())
                    .map(|(m, _)| m)
                    .zip(&fetched)
                {
                    if let Some(header) = header {
                        held.insert(meta.key, (meta.size, header.clone()));
                    }
                }
            }
            self.headers.save(listed).await;
        }
        let mut fetched = fetched.into_iter();
        let mut out = Vec::with_capacity(metas.len());
        for (meta, cached) in metas.iter().zip(cached) {
            let header = match cached {
                Some(h) => Some(h),
                None => match fetched.next() {
                    Some(Some(h)) => Some(h),
                    // Gone since the listing.
                    Some(None) => continue,
                    None => None,
                },
            };
            out.push(self.describe(*meta, header.as_deref()));
        }
        Ok(out)
    }

    /// Reads the header of the snapshot under `key`: `None` when it is gone; a damaged
    /// header is returned as read (its details say it could not be parsed).
    async fn read_header(&self, key: SnapshotKey) -> Result<Option<Bytes>> {
        let probe = match self.store.get_head(key, HEADER_PROBE).await {
            Ok(b) => b,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let head = match snapshot_codec::header_len(&probe) {
            Ok(len) => probe.slice(..len),
            Err(snapshot_codec::Error::Truncated) if probe.len() == HEADER_PROBE => {
                match self.store.get_head(key, HEADER_MAX).await {
                    Ok(b) => match snapshot_codec::header_len(&b) {
                        Ok(len) => b.slice(..len),
                        Err(_) => b,
                    },
                    Err(Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            Err(_) => probe,
        };
        Ok(Some(head))
    }

    fn describe(&self, meta: SnapshotMeta, header: Option<&[u8]>) -> SnapshotDetails {
        let header = header.unwrap_or_default();
        let key_id = snapshot_codec::encryption_key_id(header).ok().flatten();
        let (metadata, sealed) = match self.decode.read_metadata(header) {
            Ok(m) => (Some(m.unwrap_or_default()), false),
            Err(
                snapshot_codec::Error::KeyMissing { .. }
                | snapshot_codec::Error::WrongKey { .. }
                | snapshot_codec::Error::AuthenticationFailed { .. },
            ) => (None, true),
            Err(_) => (None, false),
        };
        SnapshotDetails {
            key: meta.key,
            size: meta.size,
            metadata,
            key_id,
            sealed,
        }
    }

    /// The snapshot a query with a filter selects: candidates in the lookup's order
    /// of preference, their headers read a batch at a time until one matches.
    pub(crate) async fn resolve_filtered(&self, query: &Query) -> Result<Option<SnapshotMeta>> {
        let store = &self.store;
        let (candidates, listed) = match query.lookup {
            Lookup::Latest => {
                let mut all = store.list(KeyRange::all(), None).await?;
                let listed = all.clone();
                all.reverse();
                (all, Some(listed))
            }
            Lookup::Exact(k) => (store.list(KeyRange::new(k..=k), None).await?, None),
            Lookup::AtOrBefore(t) => {
                let mut before = store.list(KeyRange::new(..=t), None).await?;
                before.reverse();
                (before, None)
            }
            Lookup::AtOrAfter(t) => (store.list(KeyRange::new(t..), None).await?, None),
            Lookup::Nearest(t) => {
                let listed = store.list(KeyRange::all(), None).await?;
                let mut all = listed.clone();
                all.sort_by_key(|m| (t.distance(m.key), m.key));
                (all, Some(listed))
            }
        };
        let mut batch = 32;
        let mut rest = &candidates[..];
        let mut unreadable = Unreadable::default();
        while !rest.is_empty() {
            let (now, later) = rest.split_at(batch.min(rest.len()));
            let details = self.details_of(now, listed.as_deref()).await?;
            for d in &details {
                match query.filter.selects(d) {
                    // A match preferred to every snapshot passed over is the answer;
                    // one found after an unreadable snapshot may not be.
                    Some(true) => {
                        return match unreadable.into_error(self) {
                            Some(e) => Err(e),
                            None => Ok(Some(d.meta())),
                        };
                    }
                    Some(false) => {}
                    None => unreadable.pass_over(d),
                }
            }
            rest = later;
            batch = (batch * 2).min(1024);
        }
        match unreadable.into_error(self) {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Why the metadata of `details` could not be read, as the error a load of it gives.
    fn metadata_error(&self, details: &SnapshotDetails) -> Error {
        let key = details.key;
        let header = self.headers.lock().get(&key).map(|(_, h)| h.clone());
        let source = match header.map(|h| self.decode.read_metadata(&h)) {
            Some(Err(e)) => e,
            // Not cached (gone meanwhile) or readable after all: say what is known.
            _ => match &details.key_id {
                Some(id) if details.sealed => {
                    snapshot_codec::Error::KeyMissing { key_id: id.clone() }
                }
                _ => snapshot_codec::Error::Truncated,
            },
        };
        Error::undecodable(key, source)
    }
}

/// The snapshots a selection passed over because their metadata could not be read.
#[derive(Default)]
struct Unreadable {
    first: Option<SnapshotDetails>,
    count: usize,
}

impl Unreadable {
    fn pass_over(&mut self, details: &SnapshotDetails) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(details.clone());
        }
    }

    fn into_error(self, manager: &SnapshotManager) -> Option<Error> {
        let first = self.first?;
        Some(Error::Unreadable {
            first: first.key,
            count: self.count,
            source: Box::new(manager.metadata_error(&first)),
        })
    }
}
