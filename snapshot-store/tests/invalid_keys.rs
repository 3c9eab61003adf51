//! Invalid keys are refused before any backend sees them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use snapshot_store::{
    DumpOptions, Error, KeyRange, Lookup, MemoryStore, Order, Result, SnapshotKey, SnapshotManager,
    SnapshotMeta, SnapshotStore,
};

/// Counts every call that reaches the backend.
#[derive(Debug, Default)]
struct Spy {
    inner: MemoryStore,
    calls: AtomicUsize,
}

#[async_trait]
impl SnapshotStore for Spy {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
}

const HOSTILE: &[&str] = &[
    "../../etc/passwd",
    "/etc/passwd",
    "/2024-01-15_10-30-00-000000",
    "2024-01-15_10-30-00-00000\0",
    "\0",
    "",
    "..",
    "2024-01-15_10-30-00-000000/../../x",
    "C:\\Windows\\system32",
    "2024-01-15_10-30-00-000000 ",
];

#[tokio::test]
async fn hostile_keys_never_reach_the_backend() {
    let spy = Arc::new(Spy::default());
    let manager = SnapshotManager::new(spy.clone());
    for text in HOSTILE {
        assert!(
            matches!(manager.delete(*text).await, Err(Error::InvalidKey(_))),
            "delete {text:?}"
        );
        assert!(
            DumpOptions::new().at(*text).is_err(),
            "DumpOptions::at {text:?}"
        );
        assert!(Lookup::exact(*text).is_err(), "exact {text:?}");
        assert!(Lookup::nearest(*text).is_err(), "nearest {text:?}");
        assert!(
            Order::nearest_to(*text).is_err(),
            "Order::nearest_to {text:?}"
        );
        assert!(text.parse::<SnapshotKey>().is_err(), "parse {text:?}");
    }
    assert_eq!(
        spy.calls.load(Ordering::SeqCst),
        0,
        "a hostile key reached the backend"
    );
}
