//! The [`SnapshotStore`] trait: what a backend must provide.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Result, SnapshotKey};

/// A stored snapshot's key and size, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotMeta {
    /// The snapshot's key (its time).
    pub key: SnapshotKey,
    /// Its encoded size in bytes.
    pub size: u64,
}

/// A range of keys to list: lower and upper bounds, each inclusive, exclusive or open.
///
/// ```
/// use snapshot_store::{KeyRange, SnapshotKey};
///
/// let a: SnapshotKey = "2024-01-01_00-00-00-000000".parse()?;
/// let b: SnapshotKey = "2024-02-01_00-00-00-000000".parse()?;
/// let january = KeyRange::new(a..b);
/// assert!(january.contains(a) && !january.contains(b));
/// assert!(KeyRange::all().contains(b));
/// # Ok::<(), snapshot_store::KeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// The lower bound.
    pub start: Bound<SnapshotKey>,
    /// The upper bound.
    pub end: Bound<SnapshotKey>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        Self {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// The keys in `range` (`a..b`, `a..=b`, `..b`, `a..`, ...).
    pub fn new(range: impl RangeBounds<SnapshotKey>) -> Self {
        Self {
            start: range.start_bound().cloned(),
            end: range.end_bound().cloned(),
        }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: SnapshotKey) -> bool {
        (self.start, self.end).contains(&key)
    }
}

impl Default for KeyRange {
    fn default() -> Self {
        Self::all()
    }
}

/// Where snapshots live: a backend that moves opaque bytes under [`SnapshotKey`]s.
///
/// Backends implement these four operations and nothing else; everything about
/// snapshots (encoding, lookups, retention, retries) is written once, in
/// [`SnapshotManager`](crate::SnapshotManager). A backend must:
///
/// - make [`put`](Self::put) create-only: it fails with
///   [`Error::AlreadyExists`](crate::Error::AlreadyExists) if the key is taken and never
///   overwrites, and a snapshot is visible to `get` and `list` only once complete;
/// - list only objects whose names are valid snapshot keys, ignoring anything else
///   stored beside them (and never deleting it);
/// - report a missing key as [`Error::NotFound`](crate::Error::NotFound) from `get` and
///   `delete`;
/// - map its own failures to [`Error::Backend`](crate::Error::Backend).
///
/// The shared conformance suite (feature `conformance`) checks all of this.
/// Streaming reads and writes for very large snapshots may be added later as provided
/// methods with default implementations, so implementors will not break.
#[async_trait]
pub trait SnapshotStore: Debug + Send + Sync {
    /// Stores `bytes` under `key`, only if no snapshot has that key.
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()>;

    /// Reads the snapshot stored under `key`.
    async fn get(&self, key: SnapshotKey) -> Result<Bytes>;

    /// Lists the snapshots whose keys lie in `range`, in ascending key order; with a
    /// `limit`, only the first `limit` of them.
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>>;

    /// Deletes the snapshot stored under `key`.
    async fn delete(&self, key: SnapshotKey) -> Result<()>;

    /// The snapshot with the smallest key in `range`, if any.
    ///
    /// The provided implementation lists with a limit of one; backends that can answer
    /// more cheaply override it.
    async fn first_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        Ok(self.list(range, Some(1)).await?.into_iter().next())
    }

    /// The snapshot with the largest key in `range`, if any (the newest, for
    /// [`KeyRange::all`]).
    ///
    /// The provided implementation lists the whole range; backends override it with
    /// something that does not grow with the number of snapshots (a `BTreeMap` range
    /// from the end in memory, a bounded series of listings from an offset on S3).
    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        Ok(self.list(range, None).await?.pop())
    }

    /// Deletes every snapshot in `keys`; one that is already gone is not an error.
    ///
    /// The provided implementation deletes one at a time; the S3 store sends bulk
    /// deletes (up to 1000 keys a request).
    async fn delete_many(&self, keys: &[SnapshotKey]) -> Result<()> {
        for key in keys {
            match self.delete(*key).await {
                Ok(()) | Err(crate::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<T: SnapshotStore + ?Sized> SnapshotStore for std::sync::Arc<T> {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        (**self).put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        (**self).get(key).await
    }
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        (**self).list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        (**self).delete(key).await
    }
    async fn first_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        (**self).first_in(range).await
    }
    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        (**self).last_in(range).await
    }
    async fn delete_many(&self, keys: &[SnapshotKey]) -> Result<()> {
        (**self).delete_many(keys).await
    }
}

#[async_trait]
impl<T: SnapshotStore + ?Sized> SnapshotStore for Box<T> {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        (**self).put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        (**self).get(key).await
    }
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        (**self).list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        (**self).delete(key).await
    }
    async fn first_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        (**self).first_in(range).await
    }
    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        (**self).last_in(range).await
    }
    async fn delete_many(&self, keys: &[SnapshotKey]) -> Result<()> {
        (**self).delete_many(keys).await
    }
}
