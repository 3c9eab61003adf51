//! [`SnapshotManager`]: dump, find, load, list, prune.
//!
//! This file holds the manager's settings and the write path; loading is in `load.rs`,
//! listing and maintenance (verify, copy, prune, retention) in `maintain.rs`.

mod load;
mod lookup;
mod maintain;
mod results;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Registry};
use tracing::Instrument;

use crate::{Error, KeyRange, Result, RetentionPolicy, SnapshotKey, SnapshotStore};

pub use lookup::{IntoKey, Lookup};
pub use results::{
    Copied, CopyReport, DumpInfo, OnTaken, Placed, Recovered, RetentionOutcome, Skipped, Snapshot,
    VerifyReport,
};

/// The span every dump runs in (`snapshot.dump`, with the key and size once stored).
fn dump_span() -> tracing::Span {
    tracing::info_span!(
        target: "snapshot",
        "snapshot.dump",
        key = tracing::field::Empty,
        bytes = tracing::field::Empty
    )
}

/// How many keys a dump tries before giving up.
const DEFAULT_KEY_ATTEMPTS: u32 = 10_000;
/// After a collision, how far ahead (in microseconds) one listing looks for the first
/// free key, instead of trying keys one at a time.
const FREE_KEY_WINDOW: i64 = 1_000_000;

/// Saves and restores snapshots in any [`SnapshotStore`].
///
/// Settings are given by consuming `with_*` methods when the manager is made; a
/// manager is cheap to clone and clones share their store.
///
/// ```
/// use snapshot_store::{Lookup, MemoryStore, Order, RetentionPolicy, SnapshotManager};
/// use snapshot_codec::{value, Value};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new())
///     .with_retention(RetentionPolicy::new().keep_last(2));
/// for level in 1..=3 {
///     let info = manager.dump(&value!({"level": level})).await?;
///     assert!(info.removed().len() <= 1);
/// }
/// let kept = manager.list(Order::NewestFirst).await?;
/// assert_eq!(kept.len(), 2);
/// assert_eq!(manager.load(Lookup::Latest).await?, Some(value!({"level": 3})));
/// let older: Option<Value> = manager.load(Lookup::Exact(kept[1].key)).await?;
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
    last_dumped: Arc<AtomicI64>,
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
            last_dumped: Arc::new(AtomicI64::new(i64::MIN)),
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

    /// Sets all encoding options. The manager's registry stays in force.
    pub fn with_encode_options(mut self, options: EncodeOptions) -> Self {
        self.encode = options;
        self.sync_registry();
        self
    }

    /// Sets all decoding options (depth, decompression and memory limits). The
    /// manager's registry stays in force.
    pub fn with_decode_options(mut self, options: DecodeOptions) -> Self {
        self.decode = options;
        self.sync_registry();
        self
    }

    /// Applies `policy` after every successful dump (see [`DumpInfo::retention`]).
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// The custom types this manager knows: every load checks the payloads of their
    /// values (as [`Value`](snapshot_codec::Value) or as any serde type), and so does
    /// every dump, so nothing is stored that this manager would refuse to load.
    ///
    /// ```
    /// use snapshot_codec::Registry;
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    ///
    /// let mut types = Registry::new();
    /// types.register::<chrono::DateTime<chrono::Utc>>()?;
    /// let manager = SnapshotManager::new(MemoryStore::new()).with_registry(types);
    /// assert_eq!(manager.registry().name(snapshot_codec::CHRONO_DATETIME_TYPE_ID), Some("chrono::DateTime<Utc>"));
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self.sync_registry();
        self
    }

    /// The custom types registered.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn sync_registry(&mut self) {
        let registry = Arc::new(self.registry.clone());
        self.decode = self.decode.clone().with_registry(registry.clone());
        self.encode = self.encode.clone().with_registry(registry);
    }

    /// Encodes `state` and stores it under the current time.
    ///
    /// If that microsecond is taken (two dumps in one microsecond, or another writer),
    /// the next free one is used: a dump never overwrites and is never lost. A returned
    /// [`DumpInfo`] means the snapshot is stored, even when the retention pass after it
    /// failed (that is reported in [`DumpInfo::retention`]).
    ///
    /// # Errors
    /// [`Error::Codec`] if `state` cannot be encoded (nothing is stored then), a store
    /// error, or [`Error::OutcomeUnknown`] if a failure left unknown whether the
    /// snapshot was stored (look up the key it names before dumping again).
    pub async fn dump<T: Serialize + ?Sized>(&self, state: &T) -> Result<DumpInfo> {
        let now = SnapshotKey::from_datetime(Utc::now())?;
        // Never before this manager's last dump: dumps in one process stay in order
        // without probing keys the process itself took.
        let after_last = self.last_dumped.load(Ordering::Relaxed).saturating_add(1);
        let first = SnapshotKey::from_micros(now.as_micros().max(after_last)).unwrap_or(now);
        self.dump_from(first, state).await
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
        self.dump_from(time.into_key()?, state).await
    }

    async fn dump_from<T: Serialize + ?Sized>(
        &self,
        first: SnapshotKey,
        state: &T,
    ) -> Result<DumpInfo> {
        let span = dump_span();
        self.dump_in(first, state, span.clone())
            .instrument(span)
            .await
    }

    async fn dump_in<T: Serialize + ?Sized>(
        &self,
        first: SnapshotKey,
        state: &T,
        span: tracing::Span,
    ) -> Result<DumpInfo> {
        let started = Instant::now();
        let bytes = self.encode(state)?;
        let size = bytes.len() as u64;
        let key = self
            .put_verified(first, bytes, OnTaken::NextFree)
            .await
            .inspect_err(|e| {
                if let Error::NotDurable { key, .. } | Error::OutcomeUnknown { key, .. } = e {
                    self.note_dumped(*key);
                }
                tracing::warn!(target: "snapshot", error = %e.chain_to_string(), "dump failed");
            })?
            .key();
        self.note_dumped(key);
        span.record("key", tracing::field::display(key));
        span.record("bytes", size);
        let retention = self.retention_after_dump().await;
        tracing::info!(
            target: "snapshot",
            %key,
            bytes = size,
            millis = started.elapsed().as_millis() as u64,
            "dump"
        );
        Ok(DumpInfo {
            key,
            size,
            retention,
        })
    }

    fn note_dumped(&self, key: SnapshotKey) {
        self.last_dumped
            .fetch_max(key.as_micros(), Ordering::Relaxed);
    }

    async fn retention_after_dump(&self) -> RetentionOutcome {
        let Some(policy) = &self.retention else {
            return RetentionOutcome::NotConfigured;
        };
        match self.apply(policy).await {
            Ok(plan) => RetentionOutcome::Applied {
                removed: plan.remove.iter().map(|m| m.key).collect(),
            },
            Err(e) => {
                tracing::warn!(
                    target: "snapshot",
                    error = %e.chain_to_string(),
                    "retention after a dump failed; the snapshot is stored"
                );
                RetentionOutcome::Failed(Arc::new(e))
            }
        }
    }

    /// Encodes `state` with the manager's options, without storing it.
    ///
    /// # Errors
    /// [`Error::Codec`] if `state` cannot be encoded.
    pub fn encode<T: Serialize + ?Sized>(&self, state: &T) -> Result<Bytes> {
        self.encode
            .to_vec(state)
            .map(Bytes::from)
            .map_err(Error::Codec)
    }

    /// Stores an already encoded snapshot at `at`; `on_taken` says what happens when
    /// that key is taken. The bytes are verified first (with the manager's decode
    /// options and registry), so nothing unreadable is ever stored. Imports and copies
    /// use this; retention does not run.
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, OnTaken, Placed, SnapshotManager};
    /// use snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let at = "2024-01-15_10-00-00-000000".parse()?;
    /// let bytes = manager.encode(&value!({"a": 1}))?;
    /// let first = manager.put_encoded(at, bytes.clone(), OnTaken::SameOrNextFree).await?;
    /// assert_eq!(first, Placed::Stored(at));
    /// let again = manager.put_encoded(at, bytes, OnTaken::SameOrNextFree).await?;
    /// assert_eq!(again, Placed::AlreadyPresent(at)); // stored once
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`] if `bytes` is not a valid snapshot; [`Error::AlreadyExists`] with
    /// [`OnTaken::SameOrFail`] when other bytes hold the key; otherwise as
    /// [`dump`](Self::dump).
    pub async fn put_encoded(
        &self,
        at: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        self.decode.decode(&bytes).map_err(Error::Codec)?;
        self.put_verified(at, bytes, on_taken).await
    }

    /// The one put-at-a-free-key loop: every write of a new snapshot goes through it.
    async fn put_verified(
        &self,
        first: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        let span = tracing::debug_span!(
            target: "snapshot",
            "snapshot.put",
            key = %first,
            bytes = bytes.len()
        );
        self.put_loop(first, bytes, on_taken).instrument(span).await
    }

    async fn put_loop(
        &self,
        first: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        let mut key = first;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            match self.store.put(key, bytes.clone()).await {
                Ok(()) => {
                    tracing::debug!(
                        target: "snapshot",
                        %key,
                        bytes = bytes.len(),
                        millis = started.elapsed().as_millis() as u64,
                        "put"
                    );
                    return Ok(Placed::Stored(key));
                }
                Err(Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
            if on_taken != OnTaken::NextFree {
                match self.store.get(key).await {
                    Ok(there) if there == bytes => return Ok(Placed::AlreadyPresent(key)),
                    // Deleted since: try the same key again.
                    Err(Error::NotFound { .. }) if attempts < self.key_attempts => continue,
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                if on_taken == OnTaken::SameOrFail {
                    return Err(Error::AlreadyExists { key });
                }
            }
            if attempts >= self.key_attempts || key == SnapshotKey::MAX {
                return Err(Error::NoFreeKey { first, attempts });
            }
            key = self.first_free_after(key).await;
        }
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
}
