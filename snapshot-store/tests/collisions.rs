//! Many dumps at one instant cost a bounded number of requests each, not one write per
//! key already taken (counted, not timed).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use snapshot_codec::value;
use snapshot_store::{
    KeyRange, MemoryStore, Result, SnapshotKey, SnapshotManager, SnapshotMeta, SnapshotStore,
};

#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    puts: AtomicUsize,
    lists: AtomicUsize,
}

#[async_trait]
impl SnapshotStore for Counting {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        self.inner.delete(key).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dumps_at_one_instant_cost_a_few_requests_each() {
    let store = Arc::new(Counting::default());
    let at = "2024-01-15_10-30-00-000000";
    // Four writers (managers that know nothing of each other), 300 dumps each, all
    // asking for the same microsecond.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let manager = SnapshotManager::new(store.clone());
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            for i in 0..300 {
                keys.push(
                    manager
                        .dump_with(
                            &value!([w, i]),
                            &snapshot_store::DumpOptions::new()
                                .at(at)
                                .expect("a valid time"),
                        )
                        .await
                        .expect("dump")
                        .key,
                );
            }
            keys
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.extend(t.await.expect("task"));
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1200, "every dump kept its own key");
    let puts = store.puts.load(Ordering::Relaxed);
    let lists = store.lists.load(Ordering::Relaxed);
    println!("1200 dumps at one instant: {puts} puts, {lists} listings");
    // Probing one microsecond at a time needed 720,600 puts here.
    assert!(puts < 1200 * 4, "{puts} puts");
    assert!(lists < 1200 * 4, "{lists} listings");
}

#[tokio::test]
async fn one_process_never_collides_with_itself() {
    let store = Arc::new(Counting::default());
    let manager = SnapshotManager::new(store.clone());
    let mut last = None;
    for i in 0..1000 {
        let key = manager.dump(&value!(i)).await.expect("dump").key;
        assert!(last.is_none_or(|l| key > l), "dumps out of order");
        last = Some(key);
    }
    // Back-to-back dumps of one manager land on distinct keys at the first try.
    assert_eq!(store.puts.load(Ordering::Relaxed), 1000);
    assert_eq!(store.lists.load(Ordering::Relaxed), 0);
}
