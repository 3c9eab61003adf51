//! Lookups at a million snapshots, printed as markdown.
//!
//! 1. A simulated S3 prefix of 1,000,000 snapshot objects, one a minute: an object store
//!    over a `BTreeMap` that lists from an offset in pages of 1000, as S3 does, and counts
//!    requests as S3 would bill them (one per listing page, one per bulk delete of up to
//!    1000 keys). Per lookup kind, the most requests over 25 targets; then a retention
//!    pass removing 100,000 snapshots.
//! 2. Disk: 1,000,000 hard links of one small snapshot (`lookups DIR`), in the day
//!    directories this version writes and in the one directory of a 0.1 store: the time
//!    of `Latest` and `Nearest`, and the peak RSS of `snapshot list --json`.
//! 3. With `SNAPSHOT_LOOKUPS_S3=s3://bucket/prefix` (and the `AWS_*` variables, e.g. from
//!    `scripts/s3-dev.sh env`): 100,000 small snapshots written there, then the time of
//!    `Latest` and `Nearest` on that server.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use snapshot_state::{Lookup, RetentionPolicy, SnapshotKey, SnapshotManager};
use snapshot_store_fs::FsStore;
use snapshot_store_s3::S3Store;
use snapshot_store_s3::object_store::path::Path;
use snapshot_store_s3::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

const PAGE: usize = 1000;
const COUNT: i64 = 1_000_000;
const MINUTE: i64 = 60_000_000;

/// Object names and sizes in a sorted map; listings and deletes counted as S3 requests.
#[derive(Debug, Default, Clone)]
struct Paged {
    objects: Arc<RwLock<BTreeMap<String, u64>>>,
    requests: Arc<AtomicUsize>,
    deletes: Arc<AtomicUsize>,
}

impl fmt::Display for Paged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Paged")
    }
}

fn unsupported(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: operation.into(),
        implementer: "Paged".into(),
    }
}

impl Paged {
    fn take(&self) -> usize {
        self.requests.swap(0, Ordering::SeqCst)
    }

    /// One page of names after `after` under `prefix`.
    fn page(&self, prefix: &str, after: &str) -> Vec<ObjectMeta> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects
            .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .take(PAGE)
            .map(|(name, size)| ObjectMeta {
                location: Path::from(name.as_str()),
                last_modified: chrono::DateTime::UNIX_EPOCH,
                size: *size,
                e_tag: None,
                version: None,
            })
            .collect()
    }
}

#[async_trait]
impl ObjectStore for Paged {
    async fn put_opts(
        &self,
        _: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(unsupported("put_opts"))
    }
    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(unsupported("put_multipart_opts"))
    }
    async fn get_opts(&self, _: &Path, _: GetOptions) -> object_store::Result<GetResult> {
        Err(unsupported("get_opts"))
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = self.clone();
        locations
            .chunks(PAGE)
            .flat_map(move |batch| {
                this.requests.fetch_add(1, Ordering::SeqCst);
                this.deletes.fetch_add(1, Ordering::SeqCst);
                let mut objects = this.objects.write().unwrap_or_else(|e| e.into_inner());
                for path in batch.iter().flatten() {
                    objects.remove(path.as_ref());
                }
                futures::stream::iter(batch)
            })
            .boxed()
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_with_offset(prefix, &Path::from(""))
    }
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let prefix = prefix.map_or_else(String::new, |p| format!("{p}/"));
        let this = self.clone();
        // Pages are fetched only when the consumer reads past the previous one.
        futures::stream::unfold(Some(offset.to_string()), move |after| {
            let this = this.clone();
            let prefix = prefix.clone();
            async move {
                let after = after?;
                let page = this.page(&prefix, &after);
                let next = (page.len() == PAGE).then(|| page[PAGE - 1].location.to_string());
                Some((futures::stream::iter(page.into_iter().map(Ok)), next))
            }
        })
        .flatten()
        .boxed()
    }
    async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
        Err(unsupported("list_with_delimiter"))
    }
    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(unsupported("copy_opts"))
    }
}

fn start_micros() -> i64 {
    // The last snapshot a day before now: a pipeline that checkpoints every minute.
    SnapshotKey::now().as_micros() - 86_400_000_000 - (COUNT - 1) * MINUTE
}

async fn simulated_s3() {
    let paged = Paged::default();
    let first = start_micros();
    {
        let mut objects = paged.objects.write().unwrap_or_else(|e| e.into_inner());
        for i in 0..COUNT {
            let key = SnapshotKey::from_micros(first + i * MINUTE).expect("key");
            objects.insert(format!("ckpt/{key}"), 120);
        }
    }
    let store = S3Store::builder()
        .with_object_store(Arc::new(paged.clone()))
        .with_prefix("ckpt")
        .with_ordered_listing(true)
        .build()
        .expect("store");
    let manager = SnapshotManager::new(store);
    let mut rng = snapshot_bench::Rng::new(42);
    let span = (COUNT + 2_000) * MINUTE;
    let mut rows = Vec::new();
    for (name, make) in [
        (
            "Latest",
            (|_t: SnapshotKey| Lookup::Latest) as fn(SnapshotKey) -> Lookup,
        ),
        ("Nearest", Lookup::Nearest),
        ("AtOrBefore", Lookup::AtOrBefore),
        ("AtOrAfter", Lookup::AtOrAfter),
    ] {
        let mut worst = 0;
        let mut total = 0;
        for _ in 0..25 {
            let t =
                SnapshotKey::from_micros(first - 1_000 * MINUTE + rng.below(span as u64) as i64)
                    .expect("key");
            paged.take();
            manager.resolve(make(t)).await.expect("resolve");
            let n = paged.take();
            worst = worst.max(n);
            total += n;
        }
        rows.push(format!("| {name} | {worst} | {:.1} |", total as f64 / 25.0));
    }
    println!("#### Simulated S3, 1,000,000 snapshots a minute apart\n");
    println!(
        "Requests per lookup as S3 counts them (a listing page of 1000 names, a GET), over 25 random targets each. `Exact` is one GET by construction (the store's `get`).\n"
    );
    println!("| lookup | most requests | mean |\n|---|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    paged.take();
    let started = Instant::now();
    let plan = manager
        .apply(&RetentionPolicy::new().keep_last((COUNT - 100_000) as usize))
        .await
        .expect("apply");
    let requests = paged.take();
    let deletes = paged.deletes.swap(0, Ordering::SeqCst);
    let listing = requests - deletes;
    let batches = plan.remove.len().div_ceil(PAGE);
    println!(
        "\nRetention removing {} snapshots: {requests} requests = {listing} listing pages + {deletes} bulk deletes ({batches} batches of 1000 needed); target at most {:.0} (1.05 × (batches + listing)). {:.1?} in memory.\n",
        plan.remove.len(),
        1.05 * (batches + listing) as f64,
        started.elapsed()
    );
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Table rows: the median time of `Latest` and of `Nearest(near)` over `runs`, in ms.
async fn latest_and_nearest_ms(
    manager: &SnapshotManager,
    near: i64,
    runs: usize,
) -> Vec<(&'static str, String)> {
    let near = SnapshotKey::from_micros(near).expect("key");
    let mut rows = Vec::new();
    for (name, lookup) in [
        ("Latest", Lookup::Latest),
        ("Nearest", Lookup::Nearest(near)),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            manager.resolve(lookup).await.expect("resolve");
            times.push(t.elapsed());
        }
        rows.push((name, format!("{:.1}", median(times).as_secs_f64() * 1000.0)));
    }
    rows
}

/// The peak RSS of a command in KiB, as `/usr/bin/time -f %M` reports it (a fork's
/// own accounting would count this process's pages too); `None` without that tool.
fn peak_rss_of(program: &std::path::Path, args: &[&str]) -> Option<u64> {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let out = std::process::Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Writes `COUNT` snapshots a minute apart into `store_dir` as hard links of one small
/// snapshot, where `place` says (the current layout, or 0.1's one directory); returns
/// whether a fixture left by an earlier run was used.
fn disk_fixture(
    store_dir: &std::path::Path,
    first: i64,
    place: impl Fn(SnapshotKey) -> std::path::PathBuf,
) -> bool {
    let last = place(SnapshotKey::from_micros(first + (COUNT - 1) * MINUTE).expect("key"));
    if last.exists() {
        return true;
    }
    std::fs::create_dir_all(store_dir).expect("dir");
    let bytes =
        snapshot_state::codec::encode(&snapshot_state::value!({"step": 1})).expect("encode");
    let mut seed = std::path::PathBuf::new();
    for i in 0..COUNT {
        let path = place(SnapshotKey::from_micros(first + i * MINUTE).expect("key"));
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            std::fs::create_dir_all(parent).expect("day dir");
        }
        // A new file every 50,000 names: file systems cap the links to one inode.
        if i % 50_000 == 0 {
            std::fs::write(&path, &bytes).expect("write");
            seed = path;
        } else {
            std::fs::hard_link(&seed, &path).expect("link");
        }
    }
    false
}

async fn disk(dir: &std::path::Path) {
    // Fixed times, so a fixture left in DIR by an earlier run is used again.
    let first = str::parse::<SnapshotKey>("2024-01-01_00-00-00-000000")
        .expect("key")
        .as_micros();
    let near = first + COUNT / 2 * MINUTE + 7;
    let store_dir = dir.join("million-days");
    let started = Instant::now();
    std::fs::create_dir_all(&store_dir).expect("dir");
    let store = FsStore::open(&store_dir).expect("open");
    let reused = disk_fixture(&store_dir, first, |k| store.path_of(k));
    let fixture = started.elapsed();
    let days = latest_and_nearest_ms(&SnapshotManager::new(store), near, 5).await;
    let flat_dir = dir.join("million-flat");
    let flat_reused = disk_fixture(&flat_dir, first, |k| flat_dir.join(k.to_string()));
    let flat = latest_and_nearest_ms(
        &SnapshotManager::new(FsStore::open(&flat_dir).expect("open")),
        near,
        5,
    )
    .await;
    println!("#### Disk, 1,000,000 snapshots a minute apart\n");
    let fixture = if reused && flat_reused {
        "left by an earlier run".to_owned()
    } else {
        format!("the day layout's built in {fixture:.1?}")
    };
    println!(
        "Hard links of one small snapshot (fixture {fixture}); median of 5 lookups, ms (target: at most 50). Stores written by this version keep one directory per UTC day (about 700 here), so a lookup reads the list of days and one or two days; a store written by 0.1 keeps every snapshot in one directory, which each lookup reads whole (still correct, and as slow as before).\n"
    );
    println!("| lookup | day directories (0.2) | one directory (0.1 stores) |\n|---|---:|---:|");
    for (day, flat) in days.iter().zip(&flat) {
        println!("| {} | {} | {} |", day.0, day.1, flat.1);
    }
    let cli = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("snapshot")));
    let peak = cli.filter(|c| c.exists()).and_then(|cli| {
        peak_rss_of(
            &cli,
            &["list", store_dir.to_str().unwrap_or_default(), "--json"],
        )
    });
    match peak {
        Some(kib) => println!(
            "\nPeak RSS of `snapshot list --json` over the 1,000,000: {:.1} MiB (target: below 64 MiB).\n",
            kib as f64 / 1024.0
        ),
        None => println!(
            "\n`snapshot list --json` not measured (needs `snapshot-cli` built in release and /usr/bin/time).\n"
        ),
    }
}

async fn real_s3(url: &str) {
    let store =
        snapshot_state::open_store(url, snapshot_state::Create::No).expect("open the S3 store");
    let manager = SnapshotManager::new(store.clone());
    const N: i64 = 100_000;
    let first = str::parse::<SnapshotKey>("2025-01-01_00-00-00-000000")
        .expect("key")
        .as_micros();
    let last = SnapshotKey::from_micros(first + (N - 1) * MINUTE).expect("key");
    let started = Instant::now();
    let reused = manager
        .resolve(Lookup::Exact(last))
        .await
        .expect("probe")
        .is_some();
    if !reused {
        let bytes = bytes::Bytes::from(
            snapshot_state::codec::encode(&snapshot_state::value!({"step": 1})).expect("encode"),
        );
        futures::stream::iter(0..N)
            .map(|i| {
                let store = store.clone();
                let bytes = bytes.clone();
                async move {
                    let key = SnapshotKey::from_micros(first + i * MINUTE).expect("key");
                    match store.put(key, bytes).await {
                        Ok(()) => {}
                        Err(e) if e.is_already_exists() => {}
                        Err(e) => panic!("put {key}: {e}"),
                    }
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
    }
    let fixture = if reused {
        "left by an earlier run".to_owned()
    } else {
        format!("written in {:.1?}", started.elapsed())
    };
    let rows = latest_and_nearest_ms(&manager, first + N / 2 * MINUTE + 7, 9).await;
    println!("#### S3 test server, 100,000 snapshots a minute apart\n");
    println!(
        "SeaweedFS on 127.0.0.1 (`scripts/s3-dev.sh`), fixture {fixture}; median of 9 lookups, ms (target: at most 25).\n"
    );
    println!("| lookup | ms |\n|---|---:|");
    for (name, ms) in rows {
        println!("| {name} | {ms} |");
    }
    println!();
}

#[tokio::main]
async fn main() {
    simulated_s3().await;
    if let Ok(url) = std::env::var("SNAPSHOT_LOOKUPS_S3") {
        real_s3(&url).await;
    }
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    disk(dir.as_deref().unwrap_or(temp.path())).await;
}
