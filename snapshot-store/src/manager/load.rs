//! Finding and loading snapshots.

use std::any::{Any, TypeId};
use std::io::{Read, Write};
use std::time::Instant;

use bytes::Bytes;
use futures::TryStreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use snapshot_codec::{DecodeOptions, Value};
use tracing::Instrument;

use super::pipe::{CHUNKS_IN_FLIGHT, Operation, PipeReader, forward};
use super::{Lookup, Query, Recovered, Skipped, Snapshot};
use crate::{Error, KeyRange, Order, Result, SnapshotKey, SnapshotManager, SnapshotMeta};

/// How often a load retries when its snapshot vanishes between listing and reading.
const LOAD_ATTEMPTS: usize = 3;
/// Snapshots up to this size are read whole, then decoded on the blocking pool; larger
/// ones stream into a decoder there as they arrive. No load decodes on an async worker
/// (a small compressed snapshot can decompress to a great deal).
const INLINE_DECODE: u64 = 256 * 1024;

impl SnapshotManager {
    /// Finds which snapshot `query` selects (a [`Lookup`], or a lookup
    /// [`matching`](Lookup::matching) a filter), without loading it.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// assert_eq!(manager.resolve(Lookup::Latest).await?, None);
    /// let info = manager.dump(&value!({"a": 1})).await?;
    /// let meta = manager.resolve(Lookup::Latest).await?.expect("one snapshot");
    /// assert_eq!((meta.key, meta.size), (info.key, info.size));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error from listing.
    pub async fn resolve(&self, query: impl Into<Query>) -> Result<Option<SnapshotMeta>> {
        let query = query.into();
        if !query.filter.is_empty() {
            return self.resolve_filtered(&query).await;
        }
        let lookup = query.lookup;
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

    pub(crate) async fn load_encoded(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<(SnapshotMeta, Bytes)>> {
        let query = query.into();
        let span = tracing::debug_span!(target: "snapshot", "snapshot.get", lookup = ?query);
        self.fetch(query).instrument(span).await
    }

    async fn fetch(&self, query: Query) -> Result<Option<(SnapshotMeta, Bytes)>> {
        self.retrying(query, |key| async move {
            let bytes = self.store.get(key).await?;
            let size = bytes.len() as u64;
            Ok((SnapshotMeta { key, size }, bytes))
        })
        .await
    }

    /// Reads the snapshot `lookup` selects with `read`: an exact key is one read (a
    /// missing snapshot is `None`, with no listing); otherwise the lookup is resolved
    /// and resolved again when the snapshot vanishes before it is read (deleted by
    /// retention, say), a few times.
    async fn retrying<'a, T, F, Fut>(&'a self, query: Query, mut read: F) -> Result<Option<T>>
    where
        F: FnMut(SnapshotKey) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + 'a,
    {
        let exact = match query.lookup {
            Lookup::Exact(key) if query.filter.is_empty() => Some(key),
            _ => None,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let key = match exact {
                Some(key) => key,
                None => match self.resolve(query.clone()).await? {
                    Some(meta) => meta.key,
                    None => return Ok(None),
                },
            };
            match read(key).await {
                Ok(found) => return Ok(Some(found)),
                Err(Error::NotFound { .. }) if exact.is_some() => return Ok(None),
                Err(Error::NotFound { .. }) if attempts < LOAD_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Loads the snapshot `query` selects (a [`Lookup`], or one
    /// [`matching`](Lookup::matching) a [`Filter`](crate::Filter)) as a `T`: [`Value`](snapshot_codec::Value)
    /// for the dynamic form, or any serde type. `Ok(None)` when the store has none that
    /// matches (an empty store, say). Registered custom types are checked either way.
    ///
    /// ```
    /// use snapshot_store::{Lookup, MemoryStore, SnapshotManager};
    /// use snapshot_codec::{value, Value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// assert_eq!(manager.load::<Value>(Lookup::Latest).await?, None); // an empty store
    /// manager.dump(&vec![1u32, 2, 3]).await?;
    /// let typed: Option<Vec<u32>> = manager.load(Lookup::Latest).await?;
    /// assert_eq!(typed, Some(vec![1, 2, 3]));
    /// assert_eq!(manager.load(Lookup::Latest).await?, Some(value!([1, 2, 3])));
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Corrupt`] (naming the key) if the snapshot does not load or does not fit
    /// `T`; [`Error::KeyUnavailable`] if it is encrypted under a key the manager lacks;
    /// [`Error::Unreadable`] if a query with a filter had to pass over snapshots whose
    /// headers it could not read; or a store error.
    pub async fn load<T: DeserializeOwned + Send + 'static>(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<T>> {
        Ok(self.load_snapshot(query).await?.map(|s| s.value))
    }

    /// [`load`](Self::load), with the snapshot's key and size: a [`Snapshot`] whose
    /// `meta.key` is the key (time) it is stored under, `meta.size` its stored size in
    /// bytes, and `value` its state.
    ///
    /// ```
    /// use snapshot_store::{Lookup, MemoryStore, SnapshotManager};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let info = manager.dump_with(&vec![1u32, 2, 3], &snapshot_store::DumpOptions::new().at("2024-01-15_10-00-00-000000")?).await?;
    /// let snapshot = manager.load_snapshot::<Vec<u32>>(Lookup::Latest).await?.expect("stored");
    /// assert_eq!(snapshot.meta.key.to_string(), "2024-01-15_10-00-00-000000");
    /// assert_eq!(snapshot.meta.size, info.size);
    /// assert_eq!(snapshot.value, [1, 2, 3]);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_snapshot<T: DeserializeOwned + Send + 'static>(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<Snapshot<T>>> {
        let lookup = query.into();
        let span = tracing::info_span!(
            target: "snapshot",
            "snapshot.load",
            lookup = ?lookup,
            key = tracing::field::Empty,
            bytes = tracing::field::Empty
        );
        self.load_in(lookup, span.clone()).instrument(span).await
    }

    async fn load_in<T: DeserializeOwned + Send + 'static>(
        &self,
        lookup: Query,
        span: tracing::Span,
    ) -> Result<Option<Snapshot<T>>> {
        let started = Instant::now();
        let found = self
            .read_stream(lookup)
            .await
            .inspect_err(|_| crate::metrics::load_failed())?;
        let Some((meta, value)) = found else {
            crate::metrics::load_missed();
            return Ok(None);
        };
        crate::metrics::loaded(meta.size, started.elapsed());
        span.record("key", tracing::field::display(meta.key));
        span.record("bytes", meta.size);
        tracing::info!(
            target: "snapshot",
            key = %meta.key,
            bytes = meta.size,
            millis = started.elapsed().as_millis() as u64,
            "load"
        );
        Ok(Some(Snapshot { meta, value }))
    }

    /// Finds the snapshot `lookup` selects and decodes it as it streams from the store.
    async fn read_stream<T: DeserializeOwned + Send + 'static>(
        &self,
        lookup: Query,
    ) -> Result<Option<(SnapshotMeta, T)>> {
        self.retrying(lookup, |key| self.decode_stream::<T>(key))
            .await
    }

    /// Reads `key` from the store a chunk at a time into a decoder on the blocking
    /// pool; small snapshots are decoded here, in one piece.
    async fn decode_stream<T: DeserializeOwned + Send + 'static>(
        &self,
        key: SnapshotKey,
    ) -> Result<(SnapshotMeta, T)> {
        let span = tracing::debug_span!(target: "snapshot", "snapshot.get", %key);
        let (size, stream) = self.store.get_stream(key).instrument(span).await?;
        let meta = SnapshotMeta { key, size };
        let reporter = self.reporter(Operation::Load, key);
        let corrupt = move |source| Error::undecodable(key, source);
        if size <= INLINE_DECODE {
            let bytes = crate::gather(stream).await?;
            reporter.report(bytes.len() as u64, Some(size));
            let decode = self.decode.clone();
            let value =
                super::run_blocking(
                    move || Ok(decode_slice::<T>(&decode, &bytes).map_err(corrupt)),
                )
                .await??;
            return Ok((meta, value));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let decode = self.decode.clone();
        let decoder = tokio::task::spawn_blocking(move || {
            decode_reader::<T, _>(&decode, PipeReader::new(rx))
        });
        // The store's errors come first: a decoder cut short by a failed read only saw
        // a truncated snapshot.
        forward(stream, tx, &reporter, size).await?;
        let decoded = decoder
            .await
            .map_err(|e| Error::backend("task", e.to_string()))?;
        Ok((meta, decoded.map_err(corrupt)?))
    }

    /// Reads `key` from the store a chunk at a time into a checker on the blocking pool:
    /// everything a load checks, without building the value, so the memory taken is a
    /// few buffers whatever the snapshot holds (a compression bomb included).
    pub(super) async fn check_stream(&self, key: SnapshotKey) -> Result<()> {
        self.read_streamed(key, |decode, reader| decode.check_from_reader(reader))
            .await
    }

    /// Reads `key` from the store a chunk at a time into `read` on the blocking pool,
    /// with the manager's decode options.
    pub(super) async fn read_streamed<T: Send + 'static>(
        &self,
        key: SnapshotKey,
        read: impl FnOnce(&DecodeOptions, PipeReader) -> snapshot_codec::Result<T> + Send + 'static,
    ) -> Result<T> {
        let (size, stream) = self.store.get_stream(key).await?;
        let reporter = self.reporter(Operation::Load, key);
        let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let decode = self.decode.clone();
        let reader = tokio::task::spawn_blocking(move || read(&decode, PipeReader::new(rx)));
        forward(stream, tx, &reporter, size).await?;
        let read = reader
            .await
            .map_err(|e| Error::backend("task", e.to_string()))?;
        read.map_err(|source| Error::undecodable(key, source))
    }

    /// Streams the snapshots `old` and `new` from the store side by side into a diff on
    /// the blocking pool. When either is damaged, the error names the damaged one.
    pub(super) async fn diff_streamed(
        &self,
        old: SnapshotKey,
        new: SnapshotKey,
    ) -> Result<snapshot_codec::Diff> {
        let (old_size, old_stream) = self.store.get_stream(old).await?;
        let (new_size, new_stream) = self.store.get_stream(new).await?;
        let (old_tx, old_rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let (new_tx, new_rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let decode = self.decode.clone();
        let differ = tokio::task::spawn_blocking(move || {
            decode.diff_from_readers(PipeReader::new(old_rx), PipeReader::new(new_rx))
        });
        let old_reporter = self.reporter(Operation::Load, old);
        let new_reporter = self.reporter(Operation::Load, new);
        let (sent_old, sent_new) = futures::join!(
            forward(old_stream, old_tx, &old_reporter, old_size),
            forward(new_stream, new_tx, &new_reporter, new_size)
        );
        sent_old?;
        sent_new?;
        let diffed = differ
            .await
            .map_err(|e| Error::backend("task", e.to_string()))?;
        match diffed {
            Ok(d) => Ok(d),
            // Which one is damaged: each is checked alone.
            Err(source) => {
                self.check_stream(old).await?;
                self.check_stream(new).await?;
                Err(Error::undecodable(new, source))
            }
        }
    }

    /// Loads the newest snapshot that loads as a `T`, passing over newer ones that are
    /// damaged (corrupt, or not a `T`) or vanish while being read, and reporting each
    /// with its reason. Nothing is deleted.
    ///
    /// `Ok(None)` means the store holds no snapshot at all. A snapshot encrypted under a
    /// key the manager lacks is never passed over as damaged: it may be the one wanted,
    /// so the search stops there with [`Error::KeyUnavailable`]. When snapshots exist
    /// but none loads, the answer is [`Error::Unreadable`], not `Ok(None)`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use snapshot_store::{Lookup, MemoryStore, Order, SnapshotManager, SnapshotStore};
    /// use snapshot_codec::{value, Value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// assert!(manager.load_newest_valid::<Value>().await?.is_none()); // an empty store
    /// manager.dump_with(&value!({"good": true}), &snapshot_store::DumpOptions::new().at("2024-01-15_10-00-00-000000")?).await?;
    /// let bad = "2024-01-15_11-00-00-000000".parse()?;
    /// manager.raw().store().put(bad, Bytes::from_static(b"torn write")).await?;
    ///
    /// assert!(manager.load::<Value>(Lookup::Latest).await.unwrap_err().is_corrupt());
    /// let recovered = manager.load_newest_valid::<Value>().await?.expect("an intact one");
    /// assert_eq!(recovered.snapshot.value, value!({"good": true}));
    /// assert_eq!(recovered.skipped[0].key, bad);
    /// assert_eq!(manager.list(Order::NewestFirst).await?.len(), 2); // nothing was deleted
    ///
    /// // Nothing loads: an error, never "no snapshot".
    /// manager.delete("2024-01-15_10-00-00-000000").await?;
    /// assert!(matches!(
    ///     manager.load_newest_valid::<Value>().await,
    ///     Err(snapshot_store::Error::Unreadable { count: 1, .. })
    /// ));
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::KeyUnavailable`] at the first snapshot sealed under a key the manager
    /// lacks; [`Error::Unreadable`] when none loads; a store error (an unreachable store
    /// is not a corrupt snapshot).
    pub async fn load_newest_valid<T: DeserializeOwned + Send + 'static>(
        &self,
    ) -> Result<Option<Recovered<T>>> {
        let mut skipped: Vec<Skipped> = Vec::new();
        let mut metas = self
            .list(Order::NewestFirst)
            .range(KeyRange::all())
            .stream();
        while let Some(meta) = metas.try_next().await? {
            match self.load_snapshot(Lookup::Exact(meta.key)).await {
                Ok(Some(snapshot)) => return Ok(Some(Recovered { snapshot, skipped })),
                // Deleted since the listing: it is not there to pass over.
                Ok(None) => {}
                Err(error @ Error::Corrupt { .. }) => skipped.push(Skipped {
                    key: meta.key,
                    error,
                }),
                Err(e) => return Err(e),
            }
        }
        let count = skipped.len();
        match skipped.into_iter().next() {
            None => Ok(None),
            Some(first) => Err(Error::Unreadable {
                first: first.key,
                count,
                source: Box::new(first.error),
            }),
        }
    }

    pub(crate) fn write_to_buffer<W: Write, T: Serialize + ?Sized>(
        &self,
        writer: W,
        state: &T,
    ) -> Result<u64> {
        self.encode.to_writer(writer, state).map_err(Error::Codec)
    }

    pub(crate) fn read_from_buffer<T: DeserializeOwned + 'static, R: Read>(
        &self,
        reader: R,
    ) -> Result<T> {
        decode_reader(&self.decode, reader).map_err(Error::Codec)
    }
}

/// Decodes `bytes` as `T`: a [`Value`] by the codec's own decoder (faster than going
/// through serde), any other type through serde. Both check the registry.
fn decode_slice<T: DeserializeOwned + 'static>(
    decode: &snapshot_codec::DecodeOptions,
    bytes: &[u8],
) -> snapshot_codec::Result<T> {
    if TypeId::of::<T>() == TypeId::of::<Value>() {
        return decode.decode(bytes).map(downcast);
    }
    decode.from_slice(bytes)
}

/// Decodes one snapshot from `reader` as `T`, as [`decode_slice`] does from memory.
fn decode_reader<T: DeserializeOwned + 'static, R: Read>(
    decode: &snapshot_codec::DecodeOptions,
    reader: R,
) -> snapshot_codec::Result<T> {
    if TypeId::of::<T>() == TypeId::of::<Value>() {
        return decode.decode_from_reader(reader).map(downcast);
    }
    decode.from_reader(reader)
}

/// `value` as `T`, which the caller has checked is `Value`.
fn downcast<T: 'static>(value: Value) -> T {
    let boxed: Box<dyn Any> = Box::new(value);
    match boxed.downcast::<T>() {
        Ok(t) => *t,
        Err(_) => unreachable!("T is Value"),
    }
}
