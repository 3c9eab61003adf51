//! The checkpoint targets: memory of streamed dumps and loads of a large state (peak
//! RSS, each in a fresh process), S3 throughput against raw object_store multipart
//! uploads and ranged reads of the same bytes, and how long a background checkpoint
//! blocks its caller and a 1 ms ticker on the same runtime.
//!
//! `checkpoint` prints markdown tables. S3 parts run when `SNAPSHOT_CHECKPOINT_S3` names
//! a bucket URL (`s3://bucket/prefix`, with the `AWS_*` variables of
//! `scripts/s3-dev.sh`). `SNAPSHOT_BENCH_QUICK=1` shrinks the states (256 MiB for 2 GiB,
//! 128 MiB for 1 GiB, 64 MiB for 256 MiB).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use snapshot_state::s3::object_store::aws::AmazonS3Builder;
use snapshot_state::s3::object_store::multipart::MultipartStore;
use snapshot_state::s3::object_store::path::Path as ObjectPath;
use snapshot_state::s3::object_store::{ObjectStoreExt, PutPayload};
use snapshot_state::{Lookup, SnapshotManager};

const MIB: usize = 1 << 20;
/// The S3 store's part size and concurrency, used by the raw peer too.
const PART: usize = snapshot_state::s3::DEFAULT_PART_SIZE;
const CONCURRENCY: usize = snapshot_state::s3::DEFAULT_PART_CONCURRENCY;
/// The S3 store's ranged reads.
const READ_PART: usize = snapshot_state::s3::DEFAULT_READ_PART_SIZE;

fn quick() -> bool {
    std::env::var_os("SNAPSHOT_BENCH_QUICK").is_some()
}

use snapshot_bench::proc_status as status;

/// `bytes` bytes of f64s that do not compress (encoded, about the same size).
fn state(bytes: usize, seed: u64) -> Vec<f64> {
    let mut rng = snapshot_bench::Rng::new(seed);
    (0..bytes / 8)
        .map(|_| f64::from_bits(rng.next_u64()))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A child process: dumps or loads the big state and prints `before peak size`.
fn child(mode: &str, url: &str, size: usize) {
    let manager = snapshot_state::open_or_create(url).expect("store");
    runtime().block_on(async {
        match mode {
            "dump" => {
                let state = state(size, 1);
                let before = status("VmRSS:");
                let info = manager.dump(&state).await.expect("dump");
                println!("{before} {} {}", status("VmHWM:"), info.size);
            }
            _ => {
                let before = status("VmRSS:");
                let found = manager
                    .load_snapshot::<Vec<f64>>(Lookup::Latest)
                    .await
                    .expect("load")
                    .expect("a snapshot");
                println!("{before} {} {}", status("VmHWM:"), found.meta.size);
                drop(found);
            }
        }
    });
}

fn memory_rows(url: &str, backend: &str, size: usize) {
    let exe = std::env::current_exe().expect("exe");
    let run = |mode: &str| -> (f64, f64, f64) {
        let out = std::process::Command::new(&exe)
            .args(["child", mode, url, &size.to_string()])
            .output()
            .expect("child");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<f64> = String::from_utf8(out.stdout)
            .expect("utf-8")
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        (v[0], v[1], v[2])
    };
    let mib = |b: f64| b / MIB as f64;
    let (before, peak, encoded) = run("dump");
    println!(
        "| dump to {backend} | {:.0} | {:.0} | {:.0} | **{:.0}** | 128 |",
        mib(encoded),
        mib(before),
        mib(peak),
        mib(peak - before)
    );
    let (before, peak, encoded) = run("load");
    // The decoded state is the size of the encoded one (raw f64s).
    println!(
        "| load from {backend} (as `Vec<f64>`) | {:.0} | {:.0} | {:.0} | **{:.0}** | 128 |",
        mib(encoded),
        mib(before),
        mib(peak),
        mib(peak - before - encoded)
    );
}

/// Dump and load against the raw peer, on S3, alternating, best of `rounds`.
async fn s3_throughput(url: &str, size: usize) {
    let manager = snapshot_state::open_or_create(url).expect("store");
    let (bucket, prefix) = url
        .trim_start_matches("s3://")
        .split_once('/')
        .unwrap_or((url.trim_start_matches("s3://"), ""));
    let raw = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .expect("raw S3"),
    );
    let data = state(size, 2);
    // The raw peer uploads exactly the bytes the manager stores.
    let encoded = bytes::Bytes::from(snapshot_state::codec::to_vec(&data).expect("encode"));
    let rounds = if quick() { 2 } else { 5 };
    let (mut dump, mut upload, mut load, mut ranged) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for round in 0..rounds {
        let path = ObjectPath::from(format!("{prefix}/raw/{round}"));
        let t = Instant::now();
        let id = raw.create_multipart(&path).await.expect("create");
        let parts: Vec<_> = (0..encoded.len())
            .step_by(PART)
            .map(|at| encoded.slice(at..(at + PART).min(encoded.len())))
            .collect();
        let parts: Vec<_> = futures::stream::iter(parts.into_iter().enumerate())
            .map(|(i, part)| {
                let (raw, path, id) = (raw.clone(), path.clone(), id.clone());
                async move { raw.put_part(&path, &id, i, PutPayload::from(part)).await }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .expect("parts");
        raw.complete_multipart(&path, &id, parts)
            .await
            .expect("complete");
        upload = upload.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let info = manager.dump(&data).await.expect("dump");
        dump = dump.min(t.elapsed().as_secs_f64());
        // The streamed form frames its chunks, so it is a few bytes longer.
        assert!(
            (info.size as f64 / encoded.len() as f64 - 1.0).abs() < 0.01,
            "the peer moves other bytes: {} vs {}",
            info.size,
            encoded.len()
        );

        let t = Instant::now();
        let len = raw.head(&path).await.expect("head").size;
        let ranges: Vec<_> = (0..len)
            .step_by(READ_PART)
            .map(|at| at..(at + READ_PART as u64).min(len))
            .collect();
        let mut got = Vec::with_capacity(len as usize);
        let mut parts = futures::stream::iter(ranges)
            .map(|r| {
                let (raw, path) = (raw.clone(), path.clone());
                async move { raw.get_range(&path, r).await }
            })
            .buffered(CONCURRENCY);
        while let Some(part) = parts.next().await {
            got.extend_from_slice(&part.expect("range"));
        }
        ranged = ranged.min(t.elapsed().as_secs_f64());
        assert_eq!(got.len(), encoded.len());
        drop(got);

        let t = Instant::now();
        let back: Vec<f64> = manager
            .load(Lookup::Exact(info.key))
            .await
            .expect("load")
            .expect("stored");
        load = load.min(t.elapsed().as_secs_f64());
        assert!(back.len() == data.len());
        manager.delete(info.key).await.expect("delete");
        raw.delete(&path).await.expect("delete raw");
    }
    let mibs = |secs: f64| encoded.len() as f64 / MIB as f64 / secs;
    println!(
        "| dump (encode + multipart upload) vs raw multipart upload | {:.0} MiB | {:.0} | {:.0} | **{:.2}** | 0.9 |",
        encoded.len() as f64 / MIB as f64,
        mibs(dump),
        mibs(upload),
        upload / dump
    );
    println!(
        "| load (ranged gets + decode to `Vec<f64>`) vs raw ranged gets into memory | {:.0} MiB | {:.0} | {:.0} | **{:.2}** | 0.9 |",
        encoded.len() as f64 / MIB as f64,
        mibs(load),
        mibs(ranged),
        ranged / load
    );
}

/// How late a 1 ms ticker gets (the worst tick) while `work` runs, and what `work`
/// returned.
async fn with_ticker<T>(work: impl std::future::Future<Output = T>) -> (Duration, T) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_millis(1)).await;
            worst = worst.max(t.elapsed().saturating_sub(Duration::from_millis(1)));
        }
        worst
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let out = work.await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (ticker.await.expect("ticker"), out)
}

async fn background(size: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let manager = SnapshotManager::new(snapshot_state::FsStore::create(dir.path()).expect("store"));
    let shared = Arc::new(state(size, 3));
    let checkpoints = manager.checkpointer();
    let rounds = 3;
    let (mut handover, mut late_bg, mut late_dump, mut total_bg) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    for _ in 0..rounds {
        let (late, (blocked, total)) = with_ticker(async {
            let t = Instant::now();
            let handle = checkpoints
                .checkpoint(shared.clone())
                .await
                .started()
                .expect("started");
            let blocked = t.elapsed();
            handle.await.expect("checkpoint");
            (blocked, t.elapsed())
        })
        .await;
        handover = handover.max(blocked);
        late_bg = late_bg.max(late);
        total_bg = total_bg.max(total);
        let (late, info) = with_ticker(manager.dump(&*shared)).await;
        info.expect("dump");
        late_dump = late_dump.max(late);
    }
    let mib = size / MIB;
    println!(
        "| background checkpoint of {mib} MiB: caller blocked (hand-over), worst of {rounds} | **{:.3} ms** | 5 ms |",
        handover.as_secs_f64() * 1e3
    );
    println!(
        "| ... a 1 ms ticker on the same runtime, worst lateness during it (the checkpoint took {:.0} ms) | **{:.1} ms** | 10 ms |",
        total_bg.as_secs_f64() * 1e3,
        late_bg.as_secs_f64() * 1e3
    );
    println!(
        "| a plain `dump(&state)` of the same state (awaited): worst ticker lateness | {:.1} ms | — |",
        late_dump.as_secs_f64() * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "child" {
        return child(&args[2], &args[3], args[4].parse().expect("size"));
    }
    let big = if quick() { 256 * MIB } else { 2048 * MIB };
    let s3 = std::env::var("SNAPSHOT_CHECKPOINT_S3").ok();
    println!("### Memory of streamed dumps and loads");
    println!();
    println!(
        "| operation | encoded MiB | RSS before MiB | peak RSS MiB | peak − before − decoded state, MiB | target MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let dir = tempfile::tempdir().expect("tempdir");
    memory_rows(dir.path().to_str().expect("utf-8"), "disk", big);
    drop(dir);
    if let Some(url) = &s3 {
        let url = format!("{url}/memory-{}", std::process::id());
        memory_rows(&url, "S3 (SeaweedFS)", big);
        runtime().block_on(async {
            let manager = snapshot_state::open(&url).expect("store");
            manager.raw().delete_all().await.expect("clean up");
        });
    }
    println!();
    if let Some(url) = &s3 {
        println!(
            "### S3 throughput against raw object_store, same bytes, part size and concurrency"
        );
        println!();
        println!(
            "| operation | size | ours MiB/s | raw MiB/s | ours ÷ raw (throughput) | target |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        let size = if quick() { 128 * MIB } else { 1024 * MIB };
        let url = format!("{url}/throughput-{}", std::process::id());
        runtime().block_on(s3_throughput(&url, size));
        println!();
    }
    println!("### Background checkpoints");
    println!();
    println!("| measure | measured | target |");
    println!("|---|---:|---:|");
    let size = if quick() { 64 * MIB } else { 256 * MIB };
    runtime().block_on(background(size));
}
