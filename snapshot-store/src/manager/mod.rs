//! [`SnapshotManager`]: dump, find, load, list, prune.
//!
//! This file holds the manager's settings and the write path; loading is in `load.rs`,
//! listing and maintenance (verify, copy, prune, retention) in `maintain.rs`.

mod background;
mod encoded;
mod filter;
mod labels;
mod listing;
mod load;
mod lookup;
mod maintain;
mod pipe;
mod raw;
mod results;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Serialize;
#[cfg(feature = "encryption")]
use snapshot_codec::Keyring;
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Registry};
use tracing::Instrument;

use crate::{Error, KeyRange, Result, RetentionPolicy, SnapshotKey, SnapshotStore};

pub use background::{Checkpoint, Checkpointer, Submitted, WhenBusy};
pub use filter::{DumpOptions, Filter, Query};
use labels::HeaderCache;
pub use labels::SnapshotDetails;
pub use listing::Listing;
pub use lookup::{IntoKey, Lookup};
pub use pipe::{Operation, Progress};
use pipe::{Reporter, encoder_pipe};
pub use raw::Raw;
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

/// Encodes `state` in memory with `options`.
fn encode_bytes<T: Serialize + ?Sized>(options: &EncodeOptions, state: &T) -> Result<Bytes> {
    options.to_vec(state).map(Bytes::from).map_err(Error::Codec)
}

/// How many keys a dump tries before giving up.
const DEFAULT_KEY_ATTEMPTS: u32 = 10_000;

/// How a manager compresses snapshots unless told otherwise: LZ4, whatever Cargo
/// features are on (it is pure Rust and always built). It cost less than zstd −1 on
/// record data and about the same on numeric arrays in BENCHMARKS.md's dump-cost
/// table, for slightly larger files; [`SnapshotManager::with_compression`] picks zstd
/// (feature `zstd`) or none.
///
/// ```
/// use snapshot_store::{DEFAULT_COMPRESSION, MemoryStore, SnapshotManager};
/// use snapshot_store::snapshot_codec::Compression;
///
/// assert_eq!(DEFAULT_COMPRESSION, Compression::Lz4);
/// let manager = SnapshotManager::new(MemoryStore::new());
/// assert_eq!(manager.raw().encode_options(&Default::default()).compression(), Compression::Lz4);
/// ```
pub const DEFAULT_COMPRESSION: Compression = Compression::Lz4;
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
    progress: Option<pipe::ProgressFn>,
    headers: Arc<HeaderCache>,
    #[cfg(feature = "encryption")]
    keyring: Keyring,
}

impl SnapshotManager {
    /// A manager over `store`, compressing with [`DEFAULT_COMPRESSION`], without
    /// retention, progress reports or keys. A store already shared as an
    /// `Arc<dyn SnapshotStore>` is used as it is (every holder of the `Arc` works on the
    /// same store); any other `Arc` of a store works too.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use snapshot_store::{MemoryStore, SnapshotManager, SnapshotStore};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let shared: Arc<dyn SnapshotStore> = Arc::new(MemoryStore::new());
    /// let writer = SnapshotManager::new(shared.clone());
    /// let info = writer.dump(&value!({"a": 1})).await?;
    /// assert!(Arc::ptr_eq(writer.raw().store(), &shared));
    /// assert_eq!(shared.get(info.key).await?.len() as u64, info.size);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new<S: SnapshotStore + 'static>(store: S) -> Self {
        let boxed: Box<dyn std::any::Any> = Box::new(store);
        let store: Arc<dyn SnapshotStore> = match boxed.downcast::<Arc<dyn SnapshotStore>>() {
            Ok(shared) => *shared,
            Err(boxed) => match boxed.downcast::<S>() {
                Ok(store) => Arc::new(*store),
                Err(_) => unreachable!("a box holds the type it was made with"),
            },
        };
        Self {
            store,
            encode: EncodeOptions::default().with_compression(DEFAULT_COMPRESSION),
            decode: DecodeOptions::default(),
            registry: Registry::new(),
            retention: None,
            key_attempts: DEFAULT_KEY_ATTEMPTS,
            last_dumped: Arc::new(AtomicI64::new(i64::MIN)),
            progress: None,
            headers: Arc::default(),
            #[cfg(feature = "encryption")]
            keyring: Keyring::empty(),
        }
    }

    /// Sets how snapshots are compressed.
    ///
    /// ```
    /// use snapshot_store::snapshot_codec::Compression;
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let text = value!({"log": "the same line again ".repeat(200)});
    /// let plain = SnapshotManager::new(MemoryStore::new()).with_compression(Compression::None);
    /// let compressed = SnapshotManager::new(MemoryStore::new()); // LZ4, the default
    /// let (big, small) = (plain.dump(&text).await?, compressed.dump(&text).await?);
    /// assert!(small.size * 4 < big.size, "{} vs {}", small.size, big.size);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.encode = self.encode.with_compression(compression);
        self
    }

    /// Sets everything the codec does: how snapshots are encoded (compression, format
    /// version, byte shuffling, depth limit, clear metadata) and how they are decoded
    /// (depth, decompression and memory limits). The manager's registry and keyring stay
    /// in force. For compression alone, [`with_compression`](Self::with_compression).
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_store::snapshot_codec::{DecodeOptions, EncodeOptions, value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // Written in format 1, which readers of 0.1 understand; loads capped at 1 MiB.
    /// let manager = SnapshotManager::new(MemoryStore::new()).with_codec_options(
    ///     EncodeOptions::new().with_format_version(1)?,
    ///     DecodeOptions::new().with_max_memory(1 << 20),
    /// );
    /// let info = manager.dump(&value!({"a": 1})).await?;
    /// assert_eq!(manager.raw().store().get(info.key).await?[4], 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_codec_options(mut self, encode: EncodeOptions, decode: DecodeOptions) -> Self {
        self.encode = encode;
        self.decode = decode;
        self.sync_registry();
        self
    }

    /// Encrypts every snapshot written with the keyring's current key and decrypts
    /// with any of its keys (a rotation keeps old keys for reading; see
    /// [`Keyring`]). Metadata (labels, step) is sealed with the body unless the encode
    /// options say [`with_clear_metadata`](EncodeOptions::with_clear_metadata); the key
    /// id is always readable. Set after [`with_codec_options`](Self::with_codec_options)
    /// or before: the keyring stays in force.
    ///
    /// ```
    /// use snapshot_store::{Lookup, MemoryStore, SnapshotManager, SnapshotStore};
    /// use snapshot_store::snapshot_codec::{EncryptionKey, Keyring, value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let key = EncryptionKey::generate("config-2026")?;
    /// let manager = SnapshotManager::new(MemoryStore::new()).with_keyring(Keyring::new(key));
    /// let info = manager.dump(&value!({"api_key": "sk-live-123"})).await?;
    /// assert_eq!(manager.load(Lookup::Latest).await?, Some(value!({"api_key": "sk-live-123"})));
    ///
    /// let stored = manager.raw().store().get(info.key).await?;
    /// assert!(!stored.windows(7).any(|w| w == b"sk-live"));
    ///
    /// // The empty keyring turns encryption off again.
    /// let plain = manager.with_keyring(Keyring::empty());
    /// let info = plain.dump(&value!("in the clear")).await?;
    /// assert_eq!(snapshot_codec::encryption_key_id(&plain.raw().store().get(info.key).await?)?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = keyring;
        if self.keyring.is_empty() {
            // The empty keyring turns encryption off and forgets the keys given before.
            self.encode = self.encode.clone().without_encryption();
            self.decode = self.decode.clone().with_keyring(Keyring::empty());
        }
        self.sync_registry();
        self
    }

    /// The id of the key new snapshots are sealed with (none without encryption).
    fn current_key_id(&self) -> Option<&str> {
        #[cfg(feature = "encryption")]
        {
            self.keyring
                .current()
                .map(snapshot_codec::EncryptionKey::id)
        }
        #[cfg(not(feature = "encryption"))]
        {
            None
        }
    }

    /// Applies `policy` after every successful dump (see [`DumpInfo::retention`]).
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new())
    ///     .with_retention(RetentionPolicy::new().keep_last(2));
    /// for i in 0..5 {
    ///     manager.dump(&value!(i)).await?;
    /// }
    /// assert_eq!(manager.list(Order::NewestFirst).await?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// Calls `progress` as dumps, loads and copies of this manager (and its clones) move
    /// bytes: after each chunk (about 1 MiB) and once at the end, from whichever thread
    /// does the work, so keep it quick (update a bar, store a number).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use snapshot_store::{MemoryStore, Operation, SnapshotManager};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let manager = SnapshotManager::new(MemoryStore::new())
    ///     .with_progress(move |p| log.lock().unwrap().push((p.operation, p.done, p.total)));
    /// let info = manager.dump(&vec![7u8; 4096]).await?;
    /// let last = *seen.lock().unwrap().last().unwrap();
    /// assert_eq!(last, (Operation::Dump, info.size, Some(info.size)));
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn with_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(pipe::ProgressFn(Arc::new(progress)));
        self
    }

    /// The custom types this manager knows: every load checks the payloads of their
    /// values (as [`Value`](snapshot_codec::Value) or as any serde type), and so does
    /// every dump, so nothing is stored that this manager would refuse to load.
    ///
    /// ```
    /// use snapshot_codec::{CHRONO_DATETIME_TYPE_ID, Ext, Registry, value};
    /// use snapshot_store::{MemoryStore, Order, SnapshotManager};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut types = Registry::new();
    /// types.register::<chrono::DateTime<chrono::Utc>>()?;
    /// let manager = SnapshotManager::new(MemoryStore::new()).with_registry(types);
    /// // A payload that is not a date-time is refused before anything is stored.
    /// let bad = value!({"at": (Ext::new(CHRONO_DATETIME_TYPE_ID, vec![1, 2, 3]))});
    /// assert!(manager.dump(&bad).await.is_err());
    /// assert!(manager.list(Order::NewestFirst).await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self.sync_registry();
        self
    }

    fn sync_registry(&mut self) {
        let registry = Arc::new(self.registry.clone());
        self.decode = self.decode.clone().with_registry(registry.clone());
        self.encode = self.encode.clone().with_registry(registry);
        #[cfg(feature = "encryption")]
        if let Some(key) = self.keyring.current() {
            self.encode = self.encode.clone().with_encryption(key.clone());
        }
        #[cfg(feature = "encryption")]
        if !self.keyring.is_empty() {
            self.decode = self.decode.clone().with_keyring(self.keyring.clone());
        }
    }

    /// Encodes `state` and stores it under the current time.
    ///
    /// On a multi-thread tokio runtime the state is encoded straight into the store, a
    /// chunk at a time, so the dump holds a few MiB of the encoded form whatever the
    /// state's size; it never encodes on an async worker: a worker first hands its
    /// other tasks to another thread ([`block_in_place`](tokio::task::block_in_place)),
    /// and a thread that is not a worker (the one running `Runtime::block_on` or a
    /// `LocalSet`) encodes while the upload runs on the workers. On a current-thread
    /// runtime it is encoded in memory on the runtime's one thread; a [`Checkpointer`]
    /// streams on any runtime and returns before the encoding even starts.
    ///
    /// If that microsecond is taken (two dumps in one microsecond, or another writer),
    /// the next free one is used: a dump never overwrites and is never lost. A returned
    /// [`DumpInfo`] means the snapshot is stored, even when the retention pass after it
    /// failed (that is reported in [`DumpInfo::retention`]).
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let info = manager.dump(&value!({"user": 1})).await?;
    /// assert_eq!(manager.load(Lookup::exact(info.key)?).await?, Some(value!({"user": 1})));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`] if `state` cannot be encoded (nothing is stored then), a store
    /// error, or [`Error::OutcomeUnknown`] if a failure left unknown whether the
    /// snapshot was stored (look up the key it names before dumping again).
    pub async fn dump<T: Serialize + ?Sized>(&self, state: &T) -> Result<DumpInfo> {
        self.dump_with(state, &DumpOptions::new()).await
    }

    /// The key a dump starts from: now, but never before this manager's last dump, so
    /// dumps in one process stay in order without probing keys the process took.
    fn next_dump_key(&self) -> SnapshotKey {
        let now = SnapshotKey::now();
        let after_last = self.last_dumped.load(Ordering::Relaxed).saturating_add(1);
        SnapshotKey::from_micros(now.as_micros().max(after_last)).unwrap_or(now)
    }

    /// [`dump`](Self::dump) with labels, a step number or a time ([`DumpOptions`]).
    /// Labels and step go in the snapshot's header, where
    /// [`Listing::details`](crate::Listing::details), filtered lookups ([`Lookup::matching`]) and
    /// scoped retention read them.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let options = DumpOptions::new().at("2024-01-15_10-30-00-000000")?.label("run", "7").step(1200);
    /// let info = manager.dump_with(&value!({"w": 1}), &options).await?;
    /// assert_eq!(info.key.to_string(), "2024-01-15_10-30-00-000000");
    /// let details = manager.list(Order::NewestFirst).details().await?;
    /// assert_eq!(details[0].step(), Some(1200));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`dump`](Self::dump); [`Error::Codec`] for labels that do not fit a header
    /// (an empty key, more than 64 KiB).
    pub async fn dump_with<T: Serialize + ?Sized>(
        &self,
        state: &T,
        options: &DumpOptions,
    ) -> Result<DumpInfo> {
        let first = options.at.unwrap_or_else(|| self.next_dump_key());
        let encode = self.encode_options_for(options);
        let span = dump_span();
        self.dump_in(first, state, &encode, span.clone())
            .instrument(span)
            .await
    }

    /// The encode options of a dump with `options`.
    pub(crate) fn encode_options_for(&self, options: &DumpOptions) -> EncodeOptions {
        if options.metadata.is_empty() {
            self.encode.clone()
        } else {
            self.encode.clone().with_metadata(options.metadata.clone())
        }
    }

    async fn dump_in<T: Serialize + ?Sized>(
        &self,
        first: SnapshotKey,
        state: &T,
        encode: &EncodeOptions,
        span: tracing::Span,
    ) -> Result<DumpInfo> {
        let started = Instant::now();
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let stored = if multi_thread {
            // Encoded into a pipe the store writes from, on this thread: a worker hands
            // its other tasks to another thread first (`block_in_place`); a thread that
            // is not a worker (the one in `Runtime::block_on`, a `LocalSet`'s) holds no
            // other task of the runtime and simply encodes, while the upload runs on the
            // workers. Nothing here relies on catching a panic.
            let on_worker = tokio::runtime::worker_index().is_some();
            self.put_loop(first, OnTaken::NextFree, None, |key| {
                let (writer, body) = encoder_pipe(self.reporter(Operation::Dump, key));
                let store = self.store.clone();
                let upload = tokio::spawn(async move { store.put_stream(key, body).await });
                let encoded = if on_worker {
                    tokio::task::block_in_place(|| writer.encode(encode, state))
                } else {
                    writer.encode(encode, state)
                };
                Box::pin(async move { settle(encoded, joined(upload.await)) })
            })
            .await
        } else {
            // A current-thread runtime has no other worker to hand its tasks to: encode
            // here, in memory (a `Checkpointer` streams on any runtime).
            let bytes =
                encode_bytes(encode, state).inspect_err(|_| crate::metrics::dump_failed())?;
            let reporter = self.reporter(Operation::Dump, first);
            let size = bytes.len() as u64;
            let placed = self
                .put_loop(first, OnTaken::NextFree, Some(&bytes), |key| {
                    let store = self.store.clone();
                    let bytes = bytes.clone();
                    Box::pin(async move { store.put(key, bytes).await.map(|()| size) })
                })
                .await;
            if placed.is_ok() {
                reporter.report(size, Some(size));
            }
            placed
        };
        self.finish_dump(stored, started, &span).await
    }

    /// Records a dump's outcome, runs retention, and logs.
    pub(crate) async fn finish_dump(
        &self,
        stored: Result<(Placed, u64)>,
        started: Instant,
        span: &tracing::Span,
    ) -> Result<DumpInfo> {
        let (placed, size) = stored.inspect_err(|e| {
            crate::metrics::dump_failed();
            if let Error::NotDurable { key, .. } | Error::OutcomeUnknown { key, .. } = e {
                self.note_dumped(*key);
            }
            tracing::warn!(target: "snapshot", error = %e.chain_to_string(), "dump failed");
        })?;
        let key = placed.key();
        self.note_dumped(key);
        span.record("key", tracing::field::display(key));
        span.record("bytes", size);
        crate::metrics::dumped(size, started.elapsed());
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

    pub(crate) fn reporter(&self, operation: Operation, key: SnapshotKey) -> Reporter {
        Reporter {
            progress: self.progress.clone(),
            operation,
            key,
        }
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
}

/// The outcome of one streamed write: the store's error first (an encoder that stopped
/// because the store hung up only reports a broken pipe), then the encoder's.
fn settle(encoded: Result<u64>, stored: Result<u64>) -> Result<u64> {
    match (encoded, stored) {
        (_, Err(e)) if !matches!(e, Error::Codec(_)) => Err(e),
        (Err(e), _) => Err(e),
        (Ok(_), stored) => stored,
    }
}

/// A spawned task's result; a task that panicked or was cancelled is a backend error
/// (never a panic of the caller).
fn joined<T>(result: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    result.unwrap_or_else(|e| Err(Error::backend("task", e.to_string())))
}

/// Runs `f` on tokio's blocking pool when a runtime is there to run it, else here.
pub(crate) async fn run_blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::backend("task", e.to_string()))?,
        Err(_) => f(),
    }
}
