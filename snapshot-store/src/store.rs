//! The [`SnapshotStore`] trait: what a backend must provide.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{Result, SnapshotKey};

/// A snapshot's bytes arriving a chunk at a time, as [`SnapshotStore::put_stream`]
/// takes them and [`SnapshotStore::get_stream`] gives them. An `Err` item ends the
/// stream: a write fed one stores nothing and returns that error.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

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
///
/// Streaming reads and writes ([`put_stream`](Self::put_stream),
/// [`get_stream`](Self::get_stream)) are provided methods that gather the bytes in
/// memory; the disk and S3 backends override them so that a snapshot's bytes pass
/// through a bounded buffer instead.
#[async_trait]
pub trait SnapshotStore: Debug + Send + Sync {
    /// Stores `bytes` under `key`, only if no snapshot has that key.
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()>;

    /// Reads the snapshot stored under `key`.
    async fn get(&self, key: SnapshotKey) -> Result<Bytes>;

    /// Stores the bytes `body` yields under `key`, as they arrive, only if no snapshot
    /// has that key; returns how many bytes were stored. As with [`put`](Self::put),
    /// the snapshot becomes visible only once complete. If `body` yields an `Err`, or
    /// the write fails part way, nothing becomes visible, what was written so far is
    /// removed (best effort; see each backend's cleanup of what a killed writer
    /// leaves), and the error is returned.
    ///
    /// The provided implementation gathers the stream in memory and calls `put`.
    async fn put_stream(&self, key: SnapshotKey, body: ByteStream) -> Result<u64> {
        let bytes = gather(body).await?;
        let len = bytes.len() as u64;
        self.put(key, bytes).await?;
        Ok(len)
    }

    /// Reads the snapshot stored under `key` as a stream of chunks, with its size.
    /// A read that fails part way yields an `Err` item (a snapshot deleted meanwhile:
    /// [`Error::NotFound`](crate::Error::NotFound)).
    ///
    /// The provided implementation reads it whole with `get`.
    async fn get_stream(&self, key: SnapshotKey) -> Result<(u64, ByteStream)> {
        let bytes = self.get(key).await?;
        Ok((
            bytes.len() as u64,
            futures::stream::once(async move { Ok(bytes) }).boxed(),
        ))
    }

    /// The first `len` bytes of the snapshot stored under `key` (all of it when it is
    /// shorter): what reading a snapshot's header (its labels, step and key id) needs.
    ///
    /// The provided implementation reads [`get_stream`](Self::get_stream) until it has
    /// them; the disk and S3 backends read only the bytes asked for.
    async fn get_head(&self, key: SnapshotKey, len: usize) -> Result<Bytes> {
        let (_, mut body) = self.get_stream(key).await?;
        let mut head = BytesMut::new();
        while head.len() < len {
            let Some(chunk) = body.next().await.transpose()? else {
                break;
            };
            if head.is_empty() && chunk.len() >= len {
                return Ok(chunk.slice(..len));
            }
            let take = chunk.len().min(len - head.len());
            head.extend_from_slice(&chunk[..take]);
        }
        Ok(head.freeze())
    }

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

/// A shared or boxed store is a store: every method goes to the one it points to.
macro_rules! forward_store_through {
    ($($pointer:ty),*) => {$(
        #[async_trait]
        impl<T: SnapshotStore + ?Sized> SnapshotStore for $pointer {
            async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
                (**self).put(key, bytes).await
            }
            async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
                (**self).get(key).await
            }
            async fn put_stream(&self, key: SnapshotKey, body: ByteStream) -> Result<u64> {
                (**self).put_stream(key, body).await
            }
            async fn get_stream(&self, key: SnapshotKey) -> Result<(u64, ByteStream)> {
                (**self).get_stream(key).await
            }
            async fn get_head(&self, key: SnapshotKey, len: usize) -> Result<Bytes> {
                (**self).get_head(key, len).await
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
    )*};
}

forward_store_through!(std::sync::Arc<T>, Box<T>);

/// Everything `body` yields, in one buffer (without a copy when it is one chunk).
///
/// # Errors
/// The first `Err` the stream yields.
pub async fn gather(mut body: ByteStream) -> Result<Bytes> {
    let Some(first) = body.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    let Some(second) = body.next().await.transpose()? else {
        return Ok(first);
    };
    let mut all = BytesMut::from(&first[..]);
    all.extend_from_slice(&second);
    while let Some(chunk) = body.next().await.transpose()? {
        all.extend_from_slice(&chunk);
    }
    Ok(all.freeze())
}
