//! S3Store's put and get against raw object_store put and get of the same bytes, on a
//! local SeaweedFS server started for the run (installed first if missing).
#![allow(missing_docs)]

use snapshot_testkit::s3 as support;

use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snapshot_store::{SnapshotKey, SnapshotStore};
use snapshot_store_s3::object_store::path::Path;
use snapshot_store_s3::object_store::{ObjectStoreExt, PutPayload};

fn bench(c: &mut Criterion) {
    let weed = support::Weed::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = weed.store("bench");
    let raw = store.object_store().clone();
    for size in [64 * 1024, 1 << 20, 16 << 20] {
        let bytes = Bytes::from((0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
        let mut g = c.benchmark_group("s3");
        g.throughput(Throughput::Bytes(size as u64));
        let mut n = 0i64;
        g.bench_function(BenchmarkId::new("put_s3store", size), |b| {
            b.iter(|| {
                n += 1;
                let key = SnapshotKey::from_micros(n).expect("key");
                rt.block_on(store.put(key, bytes.clone())).expect("put");
            })
        });
        let mut m = 0u64;
        g.bench_function(BenchmarkId::new("put_raw_object_store", size), |b| {
            b.iter(|| {
                m += 1;
                let path = Path::from(format!("raw/{m}"));
                rt.block_on(raw.put(&path, PutPayload::from(bytes.clone())))
                    .expect("put");
            })
        });
        let key = SnapshotKey::from_micros(-1).expect("key");
        rt.block_on(store.put(key, bytes.clone())).expect("put");
        let raw_path = Path::from("raw/read");
        rt.block_on(raw.put(&raw_path, PutPayload::from(bytes.clone())))
            .expect("put");
        g.bench_function(BenchmarkId::new("get_s3store", size), |b| {
            b.iter(|| rt.block_on(store.get(key)).expect("get"))
        });
        g.bench_function(BenchmarkId::new("get_raw_object_store", size), |b| {
            b.iter(|| {
                rt.block_on(async { raw.get(&raw_path).await?.bytes().await })
                    .expect("get")
            })
        });
        g.finish();
        // Clear out between sizes so the server's store stays small.
        rt.block_on(async {
            let manager = snapshot_store::SnapshotManager::new(store.clone());
            manager.raw().delete_all().await.expect("clean");
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
