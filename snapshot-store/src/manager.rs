//! [`SnapshotManager`]: dump, find, load, list, prune.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, ExtType, Registry, Value};

use crate::{
    Error, KeyError, KeyRange, Result, RetentionPlan, RetentionPolicy, SnapshotKey, SnapshotMeta,
    SnapshotStore,
};

/// Anything that names a point in time for a lookup: a [`SnapshotKey`], a
/// `DateTime<Utc>`, or the key's text form.
pub trait IntoKey {
    /// Converts to a key.
    ///
    /// # Errors
    /// [`KeyError`] for malformed text or times outside the years 0000 to 9999.
    fn into_key(self) -> Result<SnapshotKey, KeyError>;
}

impl IntoKey for SnapshotKey {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        Ok(self)
    }
}
impl IntoKey for DateTime<Utc> {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        SnapshotKey::from_datetime(self)
    }
}
impl IntoKey for &str {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        SnapshotKey::parse(self)
    }
}
impl IntoKey for &String {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        SnapshotKey::parse(self)
    }
}
impl IntoKey for String {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        SnapshotKey::parse(&self)
    }
}

/// Which snapshot to load.
///
/// ```
/// use snapshot_store::Lookup;
///
/// let restore_point = Lookup::at_or_before("2024-01-15_09-00-00-000000")?;
/// assert!(matches!(restore_point, Lookup::AtOrBefore(_)));
/// assert!(Lookup::nearest("yesterday").is_err());
/// # Ok::<(), snapshot_store::KeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The newest snapshot.
    Latest,
    /// The snapshot with exactly this key.
    Exact(SnapshotKey),
    /// The snapshot closest in time to this one; on a tie, the earlier.
    Nearest(SnapshotKey),
    /// The newest snapshot at or before this time (point-in-time restore).
    AtOrBefore(SnapshotKey),
    /// The oldest snapshot at or after this time.
    AtOrAfter(SnapshotKey),
}

impl Lookup {
    /// [`Lookup::Exact`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn exact(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::Exact(at.into_key()?))
    }

    /// [`Lookup::Nearest`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn nearest(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::Nearest(at.into_key()?))
    }

    /// [`Lookup::AtOrBefore`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn at_or_before(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::AtOrBefore(at.into_key()?))
    }

    /// [`Lookup::AtOrAfter`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn at_or_after(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::AtOrAfter(at.into_key()?))
    }
}

/// What a dump stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpInfo {
    /// The key it was stored under.
    pub key: SnapshotKey,
    /// Its encoded size in bytes.
    pub size: u64,
    /// Snapshots the manager's retention policy removed after it (empty without one).
    pub removed: Vec<SnapshotKey>,
}

/// A loaded snapshot with its key and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<T = Value> {
    /// Which snapshot it is.
    pub meta: SnapshotMeta,
    /// Its contents.
    pub value: T,
}

/// A snapshot passed over because it could not be loaded, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The snapshot.
    pub key: SnapshotKey,
    /// Why it was passed over (a [`Error::Codec`] for a corrupt snapshot, or
    /// [`Error::NotFound`] if it was deleted while being read).
    pub error: Error,
}

/// The newest snapshot that loaded, with the newer ones that did not.
#[derive(Debug)]
pub struct Recovered<T = Value> {
    /// The snapshot loaded.
    pub snapshot: Snapshot<T>,
    /// Newer snapshots that were skipped, newest first.
    pub skipped: Vec<Skipped>,
}

/// What [`SnapshotManager::verify`] found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// How many snapshots were read.
    pub checked: usize,
    /// The ones that did not load, newest first.
    pub bad: Vec<Skipped>,
}

/// How many keys a dump tries before giving up.
const DEFAULT_KEY_ATTEMPTS: u32 = 10_000;
/// After a collision, how far ahead (in microseconds) one listing looks for the first
/// free key, instead of trying keys one at a time.
const FREE_KEY_WINDOW: i64 = 1_000_000;
/// How often a load retries when its snapshot vanishes between listing and reading.
const LOAD_ATTEMPTS: usize = 3;

/// Saves and restores snapshots in any [`SnapshotStore`].
///
/// ```
/// use snapshot_store::{Lookup, MemoryStore, RetentionPolicy, SnapshotManager};
/// use snapshot_codec::value;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new())
///     .with_retention(RetentionPolicy::new().keep_last(2));
/// for level in 1..=3 {
///     manager.dump(&value!({"level": level})).await?;
/// }
/// let kept = manager.list().await?;
/// assert_eq!(kept.len(), 2);
/// assert_eq!(manager.load_latest().await?, Some(value!({"level": 3})));
/// let older = manager.load(Lookup::Exact(kept[1].key)).await?;
/// assert_eq!(older, Some(value!({"level": 2})));
/// # Ok::<(), snapshot_store::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SnapshotManager {
    store: Arc<dyn SnapshotStore>,
    encode: EncodeOptions,
    decode: DecodeOptions,
    registry: Registry,
    retention: Option<RetentionPolicy>,
    key_attempts: u32,
    /// The last key a `dump` of this manager (or a clone) stored, in microseconds: the
    /// next `dump` starts after it, so one process never collides with itself.
    last_dumped: Arc<std::sync::atomic::AtomicI64>,
}

impl SnapshotManager {
    /// A manager over `store` with default codec options and no retention policy.
    pub fn new(store: impl SnapshotStore + 'static) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// A manager over a shared store.
    pub fn from_arc(store: Arc<dyn SnapshotStore>) -> Self {
        Self {
            store,
            encode: EncodeOptions::default(),
            decode: DecodeOptions::default(),
            registry: Registry::new(),
            retention: None,
            key_attempts: DEFAULT_KEY_ATTEMPTS,
            last_dumped: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
        }
    }

    /// The store this manager works on.
    pub fn store(&self) -> &Arc<dyn SnapshotStore> {
        &self.store
    }

    /// Sets how snapshots are compressed.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.encode = self.encode.with_compression(compression);
        self
    }

    /// Sets all encoding options. The manager's registry, if any types are
    /// registered, stays in force.
    pub fn with_encode_options(mut self, options: EncodeOptions) -> Self {
        self.encode = options;
        self.sync_registry();
        self
    }

    /// Sets all decoding options (depth and decompression limits). The manager's
    /// registry, if any types are registered, stays in force.
    pub fn with_decode_options(mut self, options: DecodeOptions) -> Self {
        self.decode = options;
        self.sync_registry();
        self
    }

    /// Applies `policy` after every successful dump.
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// Registers a custom type; loads then check the payloads of its values.
    ///
    /// # Errors
    /// [`Error::Codec`] with [`snapshot_codec::Error::ExtensionIdTaken`] when another
    /// type has its identifier.
    pub fn register<T: ExtType>(&mut self) -> Result<()> {
        self.registry
            .register::<T>()
            .map_err(|e| Error::codec(None, e))?;
        self.sync_registry();
        Ok(())
    }

    /// Registers a custom type, replacing any type registered under its identifier.
    pub fn register_replacing<T: ExtType>(&mut self) {
        self.registry.register_replacing::<T>();
        self.sync_registry();
    }

    /// The custom types registered.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Loads check registered types' payloads, and so do dumps: nothing is stored
    /// that this manager would refuse to load.
    fn sync_registry(&mut self) {
        let registry = Arc::new(self.registry.clone());
        self.decode = self.decode.clone().with_registry(registry.clone());
        self.encode = self.encode.clone().with_registry(registry);
    }

    /// Encodes `state` and stores it under the current time.
    ///
    /// If that microsecond is taken (two dumps in one microsecond, or another writer),
    /// the next free one is used: a dump never overwrites and is never lost.
    ///
    /// # Errors
    /// [`Error::Codec`] if `state` cannot be encoded (nothing is stored then), a backend
    /// error, [`Error::OutcomeUnknown`] if a failure left unknown whether the snapshot
    /// was stored (look up the key it names before dumping again), or [`Error::Retention`] if the snapshot was stored but the
    /// retention policy could not be applied.
    pub async fn dump<T: Serialize + ?Sized>(&self, state: &T) -> Result<DumpInfo> {
        use std::sync::atomic::Ordering;
        let now = SnapshotKey::from_datetime(Utc::now())?;
        // Never before this manager's last dump: dumps in one process stay in order
        // without probing keys the process itself took.
        let after_last = self.last_dumped.load(Ordering::Relaxed).saturating_add(1);
        let first = SnapshotKey::from_micros(now.as_micros().max(after_last)).unwrap_or(now);
        let bytes = self.encode(state)?;
        let info = self.put_encoded(first, bytes).await;
        let stored = match &info {
            Ok(info) => Some(info.key),
            Err(Error::NotDurable { key, .. } | Error::OutcomeUnknown { key, .. }) => Some(*key),
            Err(_) => None,
        };
        if let Some(key) = stored {
            self.last_dumped
                .fetch_max(key.as_micros(), Ordering::Relaxed);
        }
        info
    }

    /// Encodes `state` and stores it under `time`, or the first free microsecond after.
    ///
    /// # Errors
    /// As [`dump`](Self::dump), plus [`Error::InvalidKey`] for times outside the years
    /// 0000 to 9999.
    pub async fn dump_at<T: Serialize + ?Sized>(
        &self,
        time: impl IntoKey,
        state: &T,
    ) -> Result<DumpInfo> {
        let first = time.into_key()?;
        let bytes = self.encode(state)?;
        self.put_encoded(first, bytes).await
    }

    /// Encodes `state` with the manager's options, without storing it.
    ///
    /// # Errors
    /// [`Error::Codec`] if `state` cannot be encoded.
    pub fn encode<T: Serialize + ?Sized>(&self, state: &T) -> Result<Bytes> {
        self.encode
            .to_vec(state)
            .map(Bytes::from)
            .map_err(|e| Error::codec(None, e))
    }

    /// Stores an already encoded snapshot under `time`, or the first free microsecond
    /// after; the bytes are verified first, so nothing unreadable is ever stored.
    ///
    /// # Errors
    /// [`Error::Codec`] if `bytes` is not a valid snapshot, otherwise as
    /// [`dump_at`](Self::dump_at).
    pub async fn dump_encoded_at(&self, time: impl IntoKey, bytes: Bytes) -> Result<DumpInfo> {
        let first = time.into_key()?;
        self.decode
            .decode(&bytes)
            .map_err(|e| Error::codec(None, e))?;
        self.put_encoded(first, bytes).await
    }

    async fn put_encoded(&self, first: SnapshotKey, bytes: Bytes) -> Result<DumpInfo> {
        let size = bytes.len() as u64;
        let mut key = first;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.store.put(key, bytes.clone()).await {
                Ok(()) => break,
                Err(Error::AlreadyExists { .. })
                    if attempts < self.key_attempts && key < SnapshotKey::MAX =>
                {
                    key = self.first_free_after(key).await;
                }
                Err(Error::AlreadyExists { .. }) => {
                    return Err(Error::NoFreeKey { first, attempts });
                }
                Err(e) => return Err(e),
            }
        }
        let mut removed = Vec::new();
        if let Some(policy) = &self.retention {
            let plan = self.apply(policy).await.map_err(|e| Error::Retention {
                dumped: key,
                source: Box::new(e),
            })?;
            removed = plan.remove.iter().map(|m| m.key).collect();
        }
        Ok(DumpInfo { key, size, removed })
    }

    /// The first key after `taken` that the store does not hold, found with one listing
    /// of the next second (many writers at one instant cost one listing per collision,
    /// not one write per taken key); `taken.next()` if the listing fails.
    async fn first_free_after(&self, taken: SnapshotKey) -> SnapshotKey {
        let mut candidate = taken.next();
        let end = SnapshotKey::from_micros(taken.as_micros().saturating_add(FREE_KEY_WINDOW))
            .unwrap_or(SnapshotKey::MAX);
        if let Ok(held) = self.store.list(KeyRange::new(candidate..=end), None).await {
            for meta in held {
                if meta.key == candidate && candidate < SnapshotKey::MAX {
                    candidate = candidate.next();
                } else if meta.key > candidate {
                    break;
                }
            }
        }
        candidate
    }

    /// Finds which snapshot `lookup` selects, without loading it.
    ///
    /// # Errors
    /// A backend error from listing.
    pub async fn resolve(&self, lookup: Lookup) -> Result<Option<SnapshotMeta>> {
        let store = &self.store;
        // Each lookup is a first- or last-in-range question, which backends answer
        // without listing everything.
        Ok(match lookup {
            Lookup::Latest => store.last_in(KeyRange::all()).await?,
            Lookup::Exact(k) => store.first_in(KeyRange::new(k..=k)).await?,
            Lookup::AtOrBefore(t) => store.last_in(KeyRange::new(..=t)).await?,
            Lookup::AtOrAfter(t) => store.first_in(KeyRange::new(t..)).await?,
            Lookup::Nearest(t) => {
                let before = store.last_in(KeyRange::new(..=t)).await?;
                let after = store.first_in(KeyRange::new(t..)).await?;
                match (before, after) {
                    (Some(b), Some(a)) => Some(if t.distance(b.key) <= t.distance(a.key) {
                        b
                    } else {
                        a
                    }),
                    (b, a) => b.or(a),
                }
            }
        })
    }

    /// Loads the snapshot `lookup` selects, with its key and size, as raw verified
    /// bytes; `Ok(None)` when there is none.
    async fn fetch(&self, lookup: Lookup) -> Result<Option<(SnapshotMeta, Bytes)>> {
        // An exact key is one read: a missing snapshot is `None`, with no listing.
        if let Lookup::Exact(key) = lookup {
            return match self.store.get(key).await {
                Ok(bytes) => Ok(Some((
                    SnapshotMeta {
                        key,
                        size: bytes.len() as u64,
                    },
                    bytes,
                ))),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        for _ in 0..LOAD_ATTEMPTS {
            let Some(meta) = self.resolve(lookup).await? else {
                return Ok(None);
            };
            match self.store.get(meta.key).await {
                Ok(bytes) => return Ok(Some((meta, bytes))),
                // Deleted between listing and reading (by retention, say): look again.
                Err(Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        self.resolve(lookup)
            .await?
            .map_or(Ok(None), |meta| Err(Error::NotFound { key: meta.key }))
    }

    /// Loads the snapshot `lookup` selects with its key and size; `Ok(None)` when the
    /// store has none that matches (an empty store, say).
    ///
    /// # Errors
    /// [`Error::Codec`] (naming the key) if the snapshot is corrupt, or a backend error.
    pub async fn load_snapshot(&self, lookup: Lookup) -> Result<Option<Snapshot>> {
        let Some((meta, bytes)) = self.fetch(lookup).await? else {
            return Ok(None);
        };
        let value = self
            .decode
            .decode(&bytes)
            .map_err(|e| Error::codec(Some(meta.key), e))?;
        Ok(Some(Snapshot { meta, value }))
    }

    /// Loads the snapshot `lookup` selects; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// As [`load_snapshot`](Self::load_snapshot).
    pub async fn load(&self, lookup: Lookup) -> Result<Option<Value>> {
        Ok(self.load_snapshot(lookup).await?.map(|s| s.value))
    }

    /// Loads the newest snapshot; `Ok(None)` for an empty store.
    ///
    /// # Errors
    /// As [`load_snapshot`](Self::load_snapshot).
    pub async fn load_latest(&self) -> Result<Option<Value>> {
        self.load(Lookup::Latest).await
    }

    /// Loads the snapshot `lookup` selects as a `T`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// As [`load_snapshot`](Self::load_snapshot), and [`Error::Codec`] when the
    /// snapshot does not fit `T`.
    pub async fn load_as<T: DeserializeOwned>(&self, lookup: Lookup) -> Result<Option<T>> {
        let Some((meta, bytes)) = self.fetch(lookup).await? else {
            return Ok(None);
        };
        self.decode
            .from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::codec(Some(meta.key), e))
    }

    /// Loads the newest snapshot that is intact, passing over newer ones that are
    /// corrupt (or vanish while being read) and reporting each with its reason; `Ok(None)`
    /// if no snapshot loads. Nothing is deleted.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use snapshot_store::{MemoryStore, SnapshotManager, SnapshotStore};
    /// use snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// manager.dump_at("2024-01-15_10-00-00-000000", &value!({"good": true})).await?;
    /// let bad = "2024-01-15_11-00-00-000000".parse()?;
    /// manager.store().put(bad, Bytes::from_static(b"torn write")).await?;
    ///
    /// assert!(manager.load_latest().await.is_err()); // the newest is corrupt...
    /// let recovered = manager.load_newest_valid().await?.expect("an intact one");
    /// assert_eq!(recovered.snapshot.value, value!({"good": true})); // ...the one before is not
    /// assert_eq!(recovered.skipped[0].key, bad);
    /// assert_eq!(manager.list().await?.len(), 2); // nothing was deleted
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A backend error (an unreachable store is not a corrupt snapshot).
    pub async fn load_newest_valid(&self) -> Result<Option<Recovered>> {
        self.newest_valid(|bytes| self.decode.decode(bytes)).await
    }

    /// [`load_newest_valid`](Self::load_newest_valid), as a `T`; snapshots that do not
    /// fit `T` are skipped too.
    ///
    /// # Errors
    /// As [`load_newest_valid`](Self::load_newest_valid).
    pub async fn load_newest_valid_as<T: DeserializeOwned>(&self) -> Result<Option<Recovered<T>>> {
        self.newest_valid(|bytes| self.decode.from_slice(bytes))
            .await
    }

    async fn newest_valid<T>(
        &self,
        decode: impl Fn(&[u8]) -> snapshot_codec::Result<T>,
    ) -> Result<Option<Recovered<T>>> {
        let mut skipped = Vec::new();
        for meta in self.list().await? {
            let bytes = match self.store.get(meta.key).await {
                Ok(bytes) => bytes,
                Err(error @ Error::NotFound { .. }) => {
                    skipped.push(Skipped {
                        key: meta.key,
                        error,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            match decode(&bytes) {
                Ok(value) => {
                    return Ok(Some(Recovered {
                        snapshot: Snapshot { meta, value },
                        skipped,
                    }));
                }
                Err(e) => skipped.push(Skipped {
                    key: meta.key,
                    error: Error::codec(Some(meta.key), e),
                }),
            }
        }
        Ok(None)
    }

    /// Reads and verifies every snapshot; lists the ones that do not load. Nothing is
    /// deleted.
    ///
    /// # Errors
    /// A backend error.
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for meta in self.list().await? {
            report.checked += 1;
            let loaded = match self.store.get(meta.key).await {
                Ok(bytes) => self
                    .decode
                    .decode(&bytes)
                    .map(drop)
                    .map_err(|e| Error::codec(Some(meta.key), e)),
                Err(e @ Error::NotFound { .. }) => Err(e),
                Err(e) => return Err(e),
            };
            if let Err(error) = loaded {
                report.bad.push(Skipped {
                    key: meta.key,
                    error,
                });
            }
        }
        Ok(report)
    }

    /// Every snapshot, newest first.
    ///
    /// # Errors
    /// A backend error.
    pub async fn list(&self) -> Result<Vec<SnapshotMeta>> {
        let mut all = self.store.list(KeyRange::all(), None).await?;
        all.reverse();
        Ok(all)
    }

    /// Every snapshot, closest to `target` first; on equal distance, the earlier first.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an invalid target, or a backend error.
    pub async fn list_nearest(&self, target: impl IntoKey) -> Result<Vec<SnapshotMeta>> {
        let target = target.into_key()?;
        let mut all = self.store.list(KeyRange::all(), None).await?;
        all.sort_by_key(|m| (target.distance(m.key), m.key));
        Ok(all)
    }

    /// Deletes up to `n` of the oldest snapshots, never the newest; returns the keys
    /// deleted, oldest first.
    ///
    /// # Errors
    /// A backend error; snapshots deleted before it stay deleted.
    pub async fn prune(&self, n: usize) -> Result<Vec<SnapshotKey>> {
        let all = self.store.list(KeyRange::all(), None).await?;
        let candidates = all.len().saturating_sub(1).min(n);
        let mut deleted = Vec::with_capacity(candidates);
        for meta in &all[..candidates] {
            if self.delete_if_present(meta.key).await? {
                deleted.push(meta.key);
            }
        }
        Ok(deleted)
    }

    /// Deletes one snapshot.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no snapshot with that key.
    pub async fn delete(&self, key: impl IntoKey) -> Result<()> {
        self.store.delete(key.into_key()?).await
    }

    /// Deletes every snapshot, the newest included; returns how many were deleted.
    /// Objects in the store that are not snapshots are left alone.
    ///
    /// # Errors
    /// A backend error; snapshots deleted before it stay deleted.
    pub async fn delete_all(&self) -> Result<usize> {
        let mut count = 0;
        for meta in self.store.list(KeyRange::all(), None).await? {
            if self.delete_if_present(meta.key).await? {
                count += 1;
            }
        }
        Ok(count)
    }

    async fn delete_if_present(&self, key: SnapshotKey) -> Result<bool> {
        match self.store.delete(key).await {
            Ok(()) => Ok(true),
            // Someone else deleted it first: the outcome is the one asked for.
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What `policy` would keep and remove, and why, without deleting anything.
    ///
    /// # Errors
    /// A backend error from listing.
    pub async fn plan(&self, policy: &RetentionPolicy) -> Result<RetentionPlan> {
        Ok(policy.plan(&self.store.list(KeyRange::all(), None).await?))
    }

    /// Applies `policy`: deletes what it does not keep, and returns the plan carried
    /// out.
    ///
    /// # Errors
    /// A backend error; snapshots deleted before it stay deleted.
    pub async fn apply(&self, policy: &RetentionPolicy) -> Result<RetentionPlan> {
        let plan = self.plan(policy).await?;
        let remove: Vec<SnapshotKey> = plan.remove.iter().map(|m| m.key).collect();
        // In bulk where the backend can (S3: one request per 1000 snapshots).
        self.store.delete_many(&remove).await?;
        Ok(plan)
    }

    /// Encodes `state` to `writer` with the manager's options, outside any store;
    /// returns the number of bytes written.
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_codec::value;
    ///
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let mut buffer = Vec::new();
    /// let written = manager.write_to_buffer(&value!({"key": "value", "number": 42}), &mut buffer)?;
    /// assert_eq!(written as usize, buffer.len());
    /// assert_eq!(manager.read_from_buffer(&buffer[..])?, value!({"key": "value", "number": 42}));
    /// # Ok::<(), snapshot_store::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`], including the writer's I/O errors.
    pub fn write_to_buffer<T: Serialize + ?Sized, W: Write>(
        &self,
        state: &T,
        writer: W,
    ) -> Result<u64> {
        self.encode
            .to_writer(writer, state)
            .map_err(|e| Error::codec(None, e))
    }

    /// Decodes one snapshot from `reader` with the manager's options.
    ///
    /// # Errors
    /// [`Error::Codec`], including the reader's I/O errors.
    pub fn read_from_buffer<R: Read>(&self, reader: R) -> Result<Value> {
        self.decode
            .decode_from_reader(reader)
            .map_err(|e| Error::codec(None, e))
    }

    /// Decodes one snapshot from `reader` as a `T`.
    ///
    /// # Errors
    /// [`Error::Codec`], including the reader's I/O errors.
    pub fn read_from_buffer_as<T: DeserializeOwned, R: Read>(&self, reader: R) -> Result<T> {
        self.decode
            .from_reader(reader)
            .map_err(|e| Error::codec(None, e))
    }
}
