//! A dump from the thread of `Runtime::block_on` on a multi-thread runtime (what
//! `#[tokio::main]` runs) into a store slower than the encoder: the encoder waits for
//! room in the pipe on nearly every chunk. It used to spin forever once tokio's
//! cooperative budget of the caller's poll ran out (a 1 GiB dump hung at 512 MiB).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use snapshot_store::snapshot_codec::Value;
use snapshot_store::{
    ByteStream, KeyRange, Lookup, MemoryStore, Result, SnapshotKey, SnapshotManager, SnapshotMeta,
    SnapshotStore,
};

/// A memory store that takes a moment over every chunk it is sent.
#[derive(Debug, Default)]
struct Slow(MemoryStore);

#[async_trait]
impl SnapshotStore for Slow {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        self.0.put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        self.0.get(key).await
    }
    async fn put_stream(&self, key: SnapshotKey, body: ByteStream) -> Result<u64> {
        let slow = body
            .then(|chunk| async move {
                tokio::time::sleep(Duration::from_micros(200)).await;
                chunk
            })
            .boxed();
        self.0.put_stream(key, slow).await
    }
    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        self.0.list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        self.0.delete(key).await
    }
}

#[test]
fn a_dump_into_a_slow_store_from_block_on_finishes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // About 2,000 chunks of the pipe, each waited for.
    let state: Vec<Value> = (0..2_000u32)
        .map(|i| Value::bytes(vec![(i % 251) as u8; 128 * 1024]))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let manager = SnapshotManager::new(Slow::default())
            .with_compression(snapshot_store::snapshot_codec::Compression::None);
        let outcome = rt.block_on(async {
            manager.dump(&state).await?;
            manager.load::<Vec<Value>>(Lookup::Latest).await
        });
        let _ = tx.send(outcome.map(|v| v.map(|v| v.len())));
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the dump finished within two minutes (it used to spin forever)");
    assert_eq!(outcome.expect("dump and load"), Some(2_000));
}
