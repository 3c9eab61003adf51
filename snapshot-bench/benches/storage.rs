//! Storage benchmarks: FsStore against plain file operations on 256 MiB, S3Store against
//! raw object_store on a local SeaweedFS (both write protocols, and a multipart upload),
//! and lookups among 10,000 snapshots against listing everything. `scripts/bench.sh` runs this and writes BENCHMARKS.md.
#![allow(missing_docs)]

use snapshot_testkit::s3 as support;

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use futures::StreamExt;
use snapshot_state::Value;
use snapshot_state::{KeyRange, Lookup, SnapshotKey, SnapshotManager, SnapshotStore, value};
use snapshot_store_fs::FsStore;
use snapshot_store_s3::WriteProtocol;
use snapshot_store_s3::object_store::path::Path as ObjectPath;
use snapshot_store_s3::object_store::{ObjectStoreExt, PutPayload};

fn incompressible(len: usize) -> Bytes {
    let mut rng = snapshot_bench::Rng::new(99);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn disk(c: &mut Criterion, rt: &tokio::runtime::Runtime, size: usize) {
    let dir =
        tempfile::tempdir_in(std::env::var("SNAPSHOT_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("tempdir");
    let store = FsStore::create(dir.path().join("store")).expect("store");
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).expect("mkdir");
    let bytes = incompressible(size);
    let mut g = c.benchmark_group("storage_disk");
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(size as u64));
    let mut n = 0;
    g.bench_function(BenchmarkId::new("put", "fsstore"), |b| {
        b.iter(|| {
            n += 1;
            let key = SnapshotKey::from_micros(n).expect("key");
            rt.block_on(store.put(key, bytes.clone())).expect("put");
            std::fs::remove_file(store.path_of(key)).expect("clean");
        })
    });
    g.bench_function(BenchmarkId::new("put", "plain"), |b| {
        b.iter(|| {
            let (tmp, dst) = (plain.join(".tmp"), plain.join("snapshot"));
            let mut f = File::create(&tmp).expect("create");
            f.write_all(&bytes).expect("write");
            f.sync_all().expect("fsync");
            std::fs::rename(&tmp, &dst).expect("rename");
            File::open(&plain)
                .and_then(|d| d.sync_all())
                .expect("dir fsync");
            std::fs::remove_file(&dst).expect("clean");
        })
    });
    let key = SnapshotKey::from_micros(-1).expect("key");
    rt.block_on(store.put(key, bytes.clone())).expect("put");
    std::fs::write(plain.join("read"), &bytes).expect("write");
    g.bench_function(BenchmarkId::new("get", "fsstore"), |b| {
        b.iter(|| rt.block_on(store.get(key)).expect("get"))
    });
    g.bench_function(BenchmarkId::new("get", "plain"), |b| {
        b.iter(|| std::fs::read(plain.join("read")).expect("read"))
    });
    g.finish();
}

fn s3(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    weed: &support::Weed,
    size: usize,
    label: &str,
    protocol: WriteProtocol,
) {
    let store = weed
        .builder(&format!("bench-{label}"))
        .with_write_protocol(protocol)
        .build()
        .expect("store");
    // The probe (Auto) and the claims directory's first object happen once per store,
    // before the measurements.
    rt.block_on(store.put(
        SnapshotKey::from_micros(-2).expect("key"),
        Bytes::from_static(b"warm"),
    ))
    .expect("warm-up put");
    let raw = store.object_store().clone();
    let bytes = incompressible(size);
    let mut g = c.benchmark_group(format!("storage_s3_{label}"));
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(size as u64));
    let mut n = 0;
    g.bench_function(BenchmarkId::new("put", "s3store"), |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(store.put(SnapshotKey::from_micros(n).expect("key"), bytes.clone()))
                .expect("put");
        })
    });
    let mut m = 0;
    g.bench_function(BenchmarkId::new("put", "object_store"), |b| {
        b.iter(|| {
            m += 1;
            rt.block_on(raw.put(
                &ObjectPath::from(format!("raw-{label}/{m}")),
                PutPayload::from(bytes.clone()),
            ))
            .expect("put");
        })
    });
    let key = SnapshotKey::from_micros(-1).expect("key");
    rt.block_on(store.put(key, bytes.clone())).expect("put");
    let raw_path = ObjectPath::from(format!("raw-{label}/read"));
    rt.block_on(raw.put(&raw_path, PutPayload::from(bytes.clone())))
        .expect("put");
    g.bench_function(BenchmarkId::new("get", "s3store"), |b| {
        b.iter(|| rt.block_on(store.get(key)).expect("get"))
    });
    g.bench_function(BenchmarkId::new("get", "object_store"), |b| {
        b.iter(|| {
            rt.block_on(async { raw.get(&raw_path).await?.bytes().await })
                .expect("get")
        })
    });
    g.finish();
}

/// A snapshot above the multipart threshold: S3Store (parts straight to the key, a marker
/// object, a conditional completion) against object_store's own multipart upload with the
/// same part size and concurrency. Each object is deleted after its timed upload.
fn s3_multipart(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    weed: &support::Weed,
    size: usize,
) {
    const PART: usize = snapshot_store_s3::DEFAULT_PART_SIZE;
    let store = weed.store("bench-multipart");
    let raw = store.object_store().clone();
    let bytes = incompressible(size);
    rt.block_on(store.put(
        SnapshotKey::from_micros(-2).expect("key"),
        Bytes::from_static(b"warm"),
    ))
    .expect("warm-up put");
    let mut g = c.benchmark_group(format!("storage_s3_{}MiB", size >> 20));
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(size as u64));
    let mut n = 0;
    g.bench_function(BenchmarkId::new("put", "s3store"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let key = SnapshotKey::from_micros(n).expect("key");
                let started = std::time::Instant::now();
                rt.block_on(store.put(key, bytes.clone())).expect("put");
                total += started.elapsed();
                rt.block_on(store.delete(key)).expect("delete");
            }
            total
        })
    });
    let mut m = 0;
    g.bench_function(BenchmarkId::new("put", "object_store"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                m += 1;
                let path = ObjectPath::from(format!("raw-multipart/{m}"));
                let started = std::time::Instant::now();
                rt.block_on(async {
                    let mut upload = raw.put_multipart(&path).await?;
                    let parts: Vec<_> = (0..bytes.len())
                        .step_by(PART)
                        .map(|at| {
                            upload.put_part(PutPayload::from(
                                bytes.slice(at..(at + PART).min(bytes.len())),
                            ))
                        })
                        .collect();
                    futures::stream::iter(parts)
                        .buffer_unordered(4)
                        .collect::<Vec<_>>()
                        .await
                        .into_iter()
                        .collect::<Result<Vec<()>, _>>()?;
                    upload.complete().await
                })
                .expect("multipart put");
                total += started.elapsed();
                rt.block_on(raw.delete(&path)).expect("delete");
            }
            total
        })
    });
    g.finish();
}

/// Fills `store` with 10,000 small snapshots one second apart.
fn populate(rt: &tokio::runtime::Runtime, store: Arc<dyn SnapshotStore>) -> SnapshotKey {
    let base = str::parse::<SnapshotKey>("2024-01-01_00-00-00-000000").expect("key");
    let bytes = Bytes::from(snapshot_state::codec::encode(&value!({"n": 1})).expect("encode"));
    rt.block_on(async {
        futures::stream::iter(0..10_000i64)
            .map(|i| {
                let (store, bytes) = (store.clone(), bytes.clone());
                async move {
                    let key =
                        SnapshotKey::from_micros(base.as_micros() + i * 1_000_000).expect("key");
                    store.put(key, bytes).await.expect("populate");
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    });
    SnapshotKey::from_micros(base.as_micros() + 5_000 * 1_000_000 + 400_000).expect("key")
}

fn lookups(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    store: Arc<dyn SnapshotStore>,
) {
    let middle = populate(rt, store.clone());
    let manager = SnapshotManager::new(store.clone());
    let mut g = c.benchmark_group(group);
    g.sampling_mode(SamplingMode::Flat);
    let p = "10000";
    g.bench_function(BenchmarkId::new("load_latest", p), |b| {
        b.iter(|| {
            rt.block_on(manager.load::<Value>(Lookup::Latest))
                .expect("load")
        })
    });
    g.bench_function(BenchmarkId::new("load_nearest", p), |b| {
        b.iter(|| {
            rt.block_on(manager.load::<Value>(Lookup::Nearest(middle)))
                .expect("load")
        })
    });
    g.bench_function(BenchmarkId::new("load_at_or_after", p), |b| {
        b.iter(|| {
            rt.block_on(manager.load::<Value>(Lookup::AtOrAfter(middle)))
                .expect("load")
        })
    });
    g.bench_function(BenchmarkId::new("list_all", p), |b| {
        b.iter(|| {
            rt.block_on(store.list(KeyRange::all(), None))
                .expect("list")
        })
    });
    g.finish();
}

fn main() {
    let quick = std::env::var("SNAPSHOT_BENCH_QUICK").is_ok();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 100 } else { 300 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 2000 }))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    disk(&mut c, &rt, 256 << 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let fast = FsStore::builder(dir.path())
        .with_fsync(false)
        .build()
        .expect("store");
    lookups(&mut c, &rt, "lookup_disk", Arc::new(fast));
    let weed = support::Weed::start();
    s3(&mut c, &rt, &weed, 1 << 20, "1MiB", WriteProtocol::Auto);
    s3(
        &mut c,
        &rt,
        &weed,
        1 << 20,
        "1MiB_claims",
        WriteProtocol::Claims,
    );
    s3(&mut c, &rt, &weed, 32 << 20, "32MiB", WriteProtocol::Auto);
    s3_multipart(&mut c, &rt, &weed, 128 << 20);
    lookups(&mut c, &rt, "lookup_s3", Arc::new(weed.store("lookup")));
    c.final_summary();
}
