//! FsStore's put and get against the plain file operations they are built from, on the
//! same bytes in the same run: write + fsync + rename + directory fsync, and read.
#![allow(missing_docs)]

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snapshot_store::{SnapshotKey, SnapshotStore};
use snapshot_store_fs::FsStore;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::create(dir.path().join("store")).expect("store");
    let plain_dir = dir.path().join("plain");
    std::fs::create_dir(&plain_dir).expect("mkdir");

    for size in [64 * 1024, 1 << 20, 32 << 20] {
        let bytes = Bytes::from((0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
        let mut g = c.benchmark_group("fs");
        g.throughput(Throughput::Bytes(size as u64));
        let mut n = 0i64;
        g.bench_function(BenchmarkId::new("put_fsstore", size), |b| {
            b.iter(|| {
                n += 1;
                let key = SnapshotKey::from_micros(n).expect("key");
                rt.block_on(store.put(key, bytes.clone())).expect("put");
                std::fs::remove_file(store.path_of(key)).expect("cleanup");
            })
        });
        g.bench_function(
            BenchmarkId::new("put_plain_write_fsync_rename", size),
            |b| {
                b.iter(|| {
                    let tmp = plain_dir.join(".tmp");
                    let dst = plain_dir.join("snapshot");
                    let mut f = File::create(&tmp).expect("create");
                    f.write_all(&bytes).expect("write");
                    f.sync_all().expect("fsync");
                    std::fs::rename(&tmp, &dst).expect("rename");
                    File::open(&plain_dir)
                        .and_then(|d| d.sync_all())
                        .expect("dir fsync");
                    std::fs::remove_file(&dst).expect("cleanup");
                })
            },
        );
        let key = SnapshotKey::from_micros(-1).expect("key");
        rt.block_on(store.put(key, bytes.clone())).expect("put");
        std::fs::write(plain_dir.join("read"), &bytes).expect("write");
        g.bench_function(BenchmarkId::new("get_fsstore", size), |b| {
            b.iter(|| rt.block_on(store.get(key)).expect("get"))
        });
        g.bench_function(BenchmarkId::new("get_plain_read", size), |b| {
            b.iter(|| std::fs::read(plain_dir.join("read")).expect("read"))
        });
        rt.block_on(store.delete(key)).expect("delete");
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
