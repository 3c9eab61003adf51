//! The byte-level view of a manager ([`SnapshotManager::raw`]).

use std::io::{Read, Write};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use snapshot_codec::{DecodeOptions, EncodeOptions};

use super::{DumpInfo, DumpOptions, OnTaken, Placed, Query};
use std::sync::Arc;

use crate::{Result, RetentionPlan, SnapshotKey, SnapshotManager, SnapshotMeta, SnapshotStore};

/// The byte-level view of a [`SnapshotManager`], for programs that handle encoded
/// snapshots themselves: a language binding that encodes its own objects, a tool that
/// moves snapshots between stores as they are, a buffer sent over the network, a
/// deletion without a retention policy (py-snapshot's `prune`, or everything). It is
/// the same manager (same store, options, keys and retention); most programs never need
/// it, as [`dump`](SnapshotManager::dump), [`load`](SnapshotManager::load) and the
/// [checkpointer](SnapshotManager::checkpointer) cover state in and out.
///
/// ```
/// use snapshot_store::{Lookup, MemoryStore, SnapshotManager};
/// use snapshot_store::snapshot_codec::value;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// let bytes = manager.raw().encode(&value!({"a": 1}))?;
/// let info = manager.raw().dump_encoded(bytes.clone(), &Default::default()).await?;
/// let (meta, stored) = manager.raw().load_encoded(Lookup::Latest).await?.unwrap();
/// assert_eq!((meta.key, stored), (info.key, bytes));
/// # Ok::<(), snapshot_store::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a>(&'a SnapshotManager);

impl SnapshotManager {
    /// The byte-level view of this manager: encoded snapshots in and out, buffers,
    /// deleting everything (see [`Raw`]).
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let bytes = manager.raw().encode(&value!([1, 2, 3]))?;
    /// let back: Vec<i64> = manager.raw().read_from_buffer(&bytes[..])?;
    /// assert_eq!(back, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raw(&self) -> Raw<'_> {
        Raw(self)
    }
}

impl<'a> Raw<'a> {
    /// The store the manager works on.
    pub fn store(&self) -> &'a Arc<dyn SnapshotStore> {
        &self.0.store
    }

    /// Encodes `state` with the manager's options, without storing it.
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec) if `state` cannot be encoded.
    pub fn encode<T: Serialize + ?Sized>(&self, state: &T) -> Result<Bytes> {
        self.0.encode(state)
    }

    /// The options a [`dump_with`](SnapshotManager::dump_with) of `options` encodes with: the
    /// manager's compression, keyring and registry, plus the labels and step of
    /// `options`. For callers that encode a state themselves (a language binding
    /// walking its own objects) and store it with [`dump_encoded`](Raw::dump_encoded).
    pub fn encode_options(&self, options: &DumpOptions) -> EncodeOptions {
        self.0.encode_options(options)
    }

    /// The options this manager decodes with: limits, registry and keyring.
    pub fn decode_options(&self) -> &'a DecodeOptions {
        self.0.decode_options()
    }

    /// Stores a snapshot encoded elsewhere as a dump: under `options`' time or now, at
    /// the first free key from there, with retention run after it as after
    /// [`dump`](SnapshotManager::dump). The bytes are decoded first (with this manager's decode
    /// options), so nothing unreadable is stored. Labels and step are those the bytes
    /// carry: encode with [`encode_options`](Raw::encode_options) of the same
    /// `options`.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Filter, Lookup, MemoryStore, SnapshotManager};
    /// use snapshot_codec::{value, Value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let options = DumpOptions::new().label("run", "a").step(7);
    /// let body = manager.raw().encode_options(&options).to_body(&value!({"loss": 0.5}))?;
    /// let info = manager.raw().dump_encoded(body.finish()?.into(), &options).await?;
    /// let query = Lookup::Latest.matching(Filter::new().label("run", "a").step(7));
    /// assert_eq!(manager.resolve(query).await?.map(|m| m.key), Some(info.key));
    /// assert!(manager.raw().dump_encoded(b"not a snapshot".to_vec().into(), &options).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec) if `bytes` is not a snapshot this manager can read (nothing is
    /// stored then); otherwise as [`dump`](SnapshotManager::dump).
    pub async fn dump_encoded(&self, bytes: Bytes, options: &DumpOptions) -> Result<DumpInfo> {
        self.0.dump_encoded(bytes, options).await
    }

    /// Stores a body walked by the caller (a language binding walking its own objects
    /// into [`encode_options`](Raw::encode_options)`(options).to_body(..)`) as a dump, as
    /// [`dump_encoded`](Raw::dump_encoded) does but without decoding it again: the body
    /// comes from this crate's encoder, which refuses to write anything its reader would
    /// refuse (repeated keys, invalid registered extensions, depth), exactly as a
    /// [`dump`](SnapshotManager::dump) is trusted. Compression, encryption and the
    /// checksum run here (on the blocking pool for bodies of 64 KiB or more).
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Lookup, MemoryStore, SnapshotManager};
    /// use snapshot_codec::{value, Value};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let options = DumpOptions::new().step(3);
    /// let body = manager.raw().encode_options(&options).to_body(&value!({"loss": 0.25}))?;
    /// let info = manager.raw().dump_body(body, &options).await?;
    /// let back: Value = manager.load(Lookup::Exact(info.key)).await?.unwrap();
    /// assert_eq!(back, value!({"loss": 0.25}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec) if compression or encryption fails;
    /// otherwise as [`dump`](SnapshotManager::dump).
    pub async fn dump_body(
        &self,
        body: snapshot_codec::EncodedBody,
        options: &DumpOptions,
    ) -> Result<DumpInfo> {
        self.0.dump_body(body, options).await
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
    /// let bytes = manager.raw().encode(&value!({"a": 1}))?;
    /// let first = manager.raw().put_encoded(at, bytes.clone(), OnTaken::SameOrNextFree).await?;
    /// assert_eq!(first, Placed::Stored(at));
    /// let again = manager.raw().put_encoded(at, bytes, OnTaken::SameOrNextFree).await?;
    /// assert_eq!(again, Placed::AlreadyPresent(at)); // stored once
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec) if `bytes` is not a valid snapshot; [`Error::AlreadyExists`](crate::Error::AlreadyExists) with
    /// [`OnTaken::SameOrFail`] when other bytes hold the key; otherwise as
    /// [`dump`](SnapshotManager::dump).
    pub async fn put_encoded(
        &self,
        at: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        self.0.put_encoded(at, bytes, on_taken).await
    }

    /// The stored bytes of the snapshot `lookup` selects, unchecked, with its key and
    /// size; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// A store error.
    pub async fn load_encoded(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<(SnapshotMeta, Bytes)>> {
        self.0.load_encoded(query).await
    }

    /// Summarises the snapshot `key` as it streams from the store: its structure path
    /// by path, with kinds, counts, encoded sizes and number ranges (see
    /// [`Summary`](snapshot_codec::Summary)). Memory stays a few buffers plus the
    /// largest single string or array in the snapshot, whatever its size; everything a
    /// load checks is checked.
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_store::snapshot_codec::{value, SummaryOptions};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let key = manager.dump(&value!({"step": 3, "weights": [0.5, -1.5]})).await?.key;
    /// let summary = manager.raw().summarize(key, &SummaryOptions::new()).await?;
    /// assert_eq!(summary.root.find("weights").unwrap().len, 2);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`SnapshotManager::load`]: a store error, [`Error::NotFound`](crate::Error::NotFound)
    /// when `key` is not there, or the snapshot's damage.
    pub async fn summarize(
        &self,
        key: SnapshotKey,
        options: &snapshot_codec::SummaryOptions,
    ) -> Result<snapshot_codec::Summary> {
        let options = options.clone();
        self.0
            .read_streamed(key, move |decode, reader| {
                decode.summarize_from_reader(reader, &options)
            })
            .await
    }

    /// What changed from the snapshot `old` to the snapshot `new` (see
    /// [`diff`](snapshot_codec::diff)), computed while both stream from the store: memory
    /// stays near the largest single string or array of the two, not their size, as
    /// long as their maps keep their keys in one order (a part where they do not is
    /// compared in memory).
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let old = manager.dump(&value!({"step": 1, "loss": 0.5})).await?.key;
    /// let new = manager.dump(&value!({"step": 2, "loss": 0.5})).await?.key;
    /// let d = manager.raw().diff(old, new).await?;
    /// assert_eq!(d.changes[0].to_string(), "~ /step: 1 -> 2");
    /// assert_eq!(d.unchanged, 1);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error, [`Error::NotFound`](crate::Error::NotFound) for a missing key, or
    /// the damage of the snapshot that is damaged (named by its key).
    pub async fn diff(&self, old: SnapshotKey, new: SnapshotKey) -> Result<snapshot_codec::Diff> {
        self.0.diff_streamed(old, new).await
    }

    /// Encodes `state` to `writer` with the manager's options, outside any store;
    /// returns the number of bytes written. The argument order is the codec's
    /// (`to_writer(writer, value)`).
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_codec::{value, Value};
    ///
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let mut buffer = Vec::new();
    /// let written = manager.raw().write_to_buffer(&mut buffer, &value!({"key": "value", "number": 42}))?;
    /// assert_eq!(written as usize, buffer.len());
    /// let back: Value = manager.raw().read_from_buffer(&buffer[..])?;
    /// assert_eq!(back, value!({"key": "value", "number": 42}));
    /// # Ok::<(), snapshot_store::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec), including the writer's I/O errors.
    pub fn write_to_buffer<W: Write, T: Serialize + ?Sized>(
        &self,
        writer: W,
        state: &T,
    ) -> Result<u64> {
        self.0.write_to_buffer(writer, state)
    }

    /// Decodes one snapshot from `reader` as a `T` (a [`Value`](snapshot_codec::Value)
    /// or any serde type) with the manager's options and registry.
    ///
    /// # Errors
    /// [`Error::Codec`](crate::Error::Codec), including the reader's I/O errors.
    pub fn read_from_buffer<T: DeserializeOwned + 'static, R: Read>(&self, reader: R) -> Result<T> {
        self.0.read_from_buffer(reader)
    }

    /// Deletes up to `n` of the oldest snapshots, never the newest; returns the keys
    /// deleted, oldest first.
    ///
    /// # Errors
    /// A store error; snapshots deleted before it stay deleted.
    pub async fn prune(&self, n: usize) -> Result<Vec<SnapshotKey>> {
        self.0.prune(n).await
    }

    /// Deletes every snapshot, the newest included; returns how many were deleted.
    /// Objects in the store that are not snapshots are left alone.
    ///
    /// # Errors
    /// A store error; snapshots deleted before it stay deleted.
    pub async fn delete_all(&self) -> Result<usize> {
        self.0.delete_all().await
    }

    /// Carries out a plan made by [`plan`](SnapshotManager::plan) (shown to a user
    /// first, say), reporting [`Operation::Delete`](crate::Operation::Delete) progress to
    /// the manager's [`with_progress`](SnapshotManager::with_progress) after each batch of
    /// deletes. Snapshots already gone count as deleted.
    ///
    /// # Errors
    /// A store error; snapshots deleted before it stay deleted.
    pub async fn apply_plan(&self, plan: &RetentionPlan) -> Result<()> {
        self.0.apply_plan(plan).await
    }
}
