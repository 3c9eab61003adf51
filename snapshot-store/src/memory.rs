//! [`MemoryStore`]: a complete in-memory backend.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Error, KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore};

/// Snapshots held in memory, for tests and short-lived programs.
///
/// Objects are kept by name, like files in a directory: names that are not snapshot
/// keys can be added with [`MemoryStore::insert_foreign`] and are ignored by listing,
/// as every backend must.
///
/// ```
/// use snapshot_store::{Lookup, MemoryStore, Order, SnapshotManager};
/// use snapshot_codec::{value, Value};
///
/// # tokio_test_block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// assert_eq!(manager.load::<Value>(Lookup::Latest).await?, None); // an empty store is not an error
/// let info = manager.dump(&value!({"level": 5})).await?;
/// assert_eq!(manager.load::<Value>(Lookup::Latest).await?, Some(value!({"level": 5})));
/// assert_eq!(manager.list(Order::NewestFirst).await?[0].key, info.key);
/// # Ok::<(), snapshot_store::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object whose name is not a snapshot key (or is one: then it is a
    /// snapshot), as other programs may leave beside snapshots.
    pub fn insert_foreign(&self, name: &str, bytes: impl Into<Bytes>) {
        self.lock().insert(name.to_owned(), bytes.into());
    }

    /// Whether an object of this name exists, snapshot or not.
    pub fn contains_object(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        // A panic elsewhere while holding the lock cannot leave the map half-updated:
        // every critical section is a single map operation.
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SnapshotStore for MemoryStore {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        match self.lock().entry(key.to_string()) {
            std::collections::btree_map::Entry::Occupied(_) => Err(Error::AlreadyExists { key }),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(bytes);
                Ok(())
            }
        }
    }

    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        self.lock()
            .get(&key.to_string())
            .cloned()
            .ok_or(Error::NotFound { key })
    }

    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        let objects = self.lock();
        let start = match range.start {
            Bound::Included(k) | Bound::Excluded(k) => Bound::Included(k.to_string()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let metas = objects
            .range::<String, _>((start, Bound::Unbounded))
            .filter_map(|(name, bytes)| {
                let key = str::parse::<SnapshotKey>(name).ok()?;
                Some(SnapshotMeta {
                    key,
                    size: bytes.len() as u64,
                })
            })
            .take_while(|m| match range.end {
                Bound::Included(k) => m.key <= k,
                Bound::Excluded(k) => m.key < k,
                Bound::Unbounded => true,
            })
            .filter(|m| range.contains(m.key))
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        Ok(metas)
    }

    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        self.lock()
            .remove(&key.to_string())
            .map(drop)
            .ok_or(Error::NotFound { key })
    }

    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        let objects = self.lock();
        // Keys sort as their text; anything after the range's end (by text) is skipped
        // from the back, foreign names interleaved with keys are passed over.
        let end = match range.end {
            Bound::Included(k) => Bound::Included(k.to_string()),
            Bound::Excluded(k) => Bound::Excluded(k.to_string()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let found = objects
            .range::<String, _>((Bound::Unbounded, end))
            .rev()
            .filter_map(|(name, bytes)| {
                let key = str::parse::<SnapshotKey>(name).ok()?;
                Some(SnapshotMeta {
                    key,
                    size: bytes.len() as u64,
                })
            })
            .take_while(|m| match range.start {
                Bound::Included(k) => m.key >= k,
                Bound::Excluded(k) => m.key > k,
                Bound::Unbounded => true,
            })
            .find(|m| range.contains(m.key));
        Ok(found)
    }
}
