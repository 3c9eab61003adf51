//! The backend over object_store's in-memory store: the whole conformance suite without a
//! server, and a check that lookups list from an offset and stop early instead of
//! reading the whole prefix.

use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use snapshot_codec::Value;
use snapshot_codec::value;
use snapshot_store::Order;
use snapshot_store::conformance::{self, ForeignObjects};
use snapshot_store::{Lookup, SnapshotKey, SnapshotManager};
use snapshot_store_s3::S3Store;
use snapshot_store_s3::object_store::memory::InMemory;
use snapshot_store_s3::object_store::path::Path;
use snapshot_store_s3::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Counts what listings hand out, and records their offsets.
#[derive(Debug, Default)]
struct Counting {
    inner: InMemory,
    yielded: Arc<AtomicUsize>,
    offsets: Mutex<Vec<Option<String>>>,
    /// Entries handed out by each listing, to count pages as S3 would (1000 a page).
    per_listing: Mutex<Vec<Arc<AtomicUsize>>>,
    gets: AtomicUsize,
    /// Bulk delete calls, and the paths they carried.
    delete_calls: AtomicUsize,
    deleted: Arc<AtomicUsize>,
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counting(InMemory)")
    }
}

impl Counting {
    fn counted(
        &self,
        s: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let yielded = self.yielded.clone();
        let this_listing = Arc::new(AtomicUsize::new(0));
        self.per_listing
            .lock()
            .expect("lock")
            .push(this_listing.clone());
        s.inspect(move |_| {
            yielded.fetch_add(1, Ordering::SeqCst);
            this_listing.fetch_add(1, Ordering::SeqCst);
        })
        .boxed()
    }

    fn take(&self) -> (usize, Vec<Option<String>>) {
        let offsets = std::mem::take(&mut *self.offsets.lock().expect("lock"));
        self.requests();
        (self.yielded.swap(0, Ordering::SeqCst), offsets)
    }

    /// Requests since the last call, as S3 would count them: one a GET, one a page of
    /// at most 1000 listing entries (an empty listing is one request too).
    fn requests(&self) -> usize {
        let listings = std::mem::take(&mut *self.per_listing.lock().expect("lock"));
        let pages: usize = listings
            .iter()
            .map(|n| n.load(Ordering::SeqCst).div_ceil(1000).max(1))
            .sum();
        pages + self.gets.swap(0, Ordering::SeqCst)
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get_opts(location, options).await
    }
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.delete_calls.fetch_add(1, Ordering::SeqCst);
        let deleted = self.deleted.clone();
        self.inner
            .delete_stream(locations)
            .inspect(move |_| {
                deleted.fetch_add(1, Ordering::SeqCst);
            })
            .boxed()
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.offsets.lock().expect("lock").push(None);
        self.counted(self.inner.list(prefix))
    }
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.offsets
            .lock()
            .expect("lock")
            .push(Some(offset.to_string()));
        self.counted(self.inner.list_with_offset(prefix, offset))
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

struct Raw(Arc<InMemory>, &'static str);

#[async_trait]
impl ForeignObjects for Raw {
    async fn put_foreign(&self, name: &str, bytes: &[u8]) {
        let path = Path::from(format!("{}/{name}", self.1));
        self.0
            .put(&path, PutPayload::from(Bytes::copy_from_slice(bytes)))
            .await
            .expect("put");
    }
    async fn foreign_exists(&self, name: &str) -> bool {
        self.0
            .head(&Path::from(format!("{}/{name}", self.1)))
            .await
            .is_ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_over_an_in_memory_object_store() {
    let memory = Arc::new(InMemory::new());
    let store = S3Store::from_object_store(memory.clone(), "apps/one");
    conformance::run_all(Arc::new(store), &Raw(memory, "apps/one")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_at_the_root_of_a_store() {
    let memory = Arc::new(InMemory::new());
    let store = ordered(memory.clone(), "");
    conformance::run_all(Arc::new(store), &Raw(memory, "")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_list_from_an_offset_and_stop_early() {
    let counting = Arc::new(Counting::default());
    let store = ordered(counting.clone(), "ckpt");
    let manager = SnapshotManager::new(store);
    let base = str::parse::<SnapshotKey>("2024-01-01_00-00-00-000000").expect("key");
    let at = |i: i64| SnapshotKey::from_micros(base.as_micros() + i * 1_000_000).expect("key");
    for i in 0..1000 {
        manager
            .dump_with(
                &value!(i),
                &snapshot_store::DumpOptions::new()
                    .at(at(i))
                    .expect("a valid time"),
            )
            .await
            .expect("dump");
    }
    counting.take();

    assert_eq!(
        manager
            .load::<Value>(Lookup::AtOrAfter(at(900)))
            .await
            .expect("load"),
        Some(value!(900))
    );
    let (yielded, offsets) = counting.take();
    assert_eq!(
        offsets,
        [Some("ckpt/2024-01-01_00-14-59-999999".to_owned())]
    );
    assert_eq!(yielded, 1, "at-or-after read more than one listing entry");

    // An exact key is one GET, no listing.
    assert_eq!(
        manager
            .load::<Value>(Lookup::Exact(at(10)))
            .await
            .expect("load"),
        Some(value!(10))
    );
    assert_eq!(counting.requests(), 1);
    assert_eq!(counting.take(), (0, vec![]));
    assert_eq!(
        manager
            .load::<Value>(Lookup::Exact(at(5000)))
            .await
            .expect("load"),
        None
    );
    assert_eq!(counting.requests(), 1);

    assert_eq!(
        manager
            .load::<Value>(Lookup::AtOrBefore(at(20)))
            .await
            .expect("load"),
        Some(value!(20))
    );
    let (yielded, _) = counting.take();
    assert!(
        yielded <= 22,
        "at-or-before read {yielded} entries for the 21st snapshot"
    );

    assert_eq!(
        manager
            .load::<Value>(Lookup::Nearest(at(500)))
            .await
            .expect("load"),
        Some(value!(500))
    );
    let (yielded, _) = counting.take();
    assert!(yielded <= 503, "nearest read {yielded} entries");

    // The newest does not need the whole listing, although S3 lists ascending only.
    assert_eq!(
        manager.load::<Value>(Lookup::Latest).await.expect("load"),
        Some(value!(999))
    );
    let requests = counting.requests();
    assert!(requests <= 30, "latest took {requests} requests");
}

/// A store of `count` snapshots `spacing` microseconds apart from `first`, written
/// straight into the object store (the lookups only list; a few are loaded).
async fn populate(
    counting: &Counting,
    prefix: &str,
    first: i64,
    spacing: i64,
    count: i64,
) -> Vec<SnapshotKey> {
    let bytes = Bytes::from(snapshot_codec::encode(&value!("x")).expect("encode"));
    let mut keys = Vec::with_capacity(count as usize);
    for i in 0..count {
        let key = SnapshotKey::from_micros(first + i * spacing).expect("key");
        counting
            .inner
            .put(
                &Path::from(format!("{prefix}/{key}")),
                PutPayload::from(bytes.clone()),
            )
            .await
            .expect("put");
        keys.push(key);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_cost_a_bounded_number_of_requests_at_scale() {
    let counting = Arc::new(Counting::default());
    let store = ordered(counting.clone(), "ckpt");
    let manager = SnapshotManager::new(store);
    // 40,000 checkpoints a minute apart (about 28 days), ending a while ago, and a
    // burst of 3,000 in one second in the middle (denser than a listing page). (The
    // in-memory store scans every object per listing, so the test stays small; the
    // request bound is what it checks.)
    let start = str::parse::<SnapshotKey>("2025-01-01_00-00-00-000000")
        .expect("key")
        .as_micros();
    let mut keys = populate(&counting, "ckpt", start, 60_000_000, 40_000).await;
    let burst = start + 20_000 * 60_000_000 + 1;
    keys.extend(populate(&counting, "ckpt", burst, 300, 3_000).await);
    keys.sort();
    counting.requests();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut lookups = vec![Lookup::Latest];
    for _ in 0..25 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let span: i64 = 40_000 * 60_000_000 + 120_000_000_000;
        let t = SnapshotKey::from_micros(start - 60_000_000_000 + (rng % span as u64) as i64)
            .expect("key");
        let in_burst = SnapshotKey::from_micros(burst + (rng % 1_000_000) as i64).expect("key");
        lookups.extend([
            Lookup::AtOrBefore(t),
            Lookup::AtOrAfter(t),
            Lookup::Nearest(t),
            Lookup::AtOrBefore(in_burst),
            Lookup::Nearest(in_burst),
        ]);
    }
    let mut worst = 0;
    for lookup in lookups {
        let found = manager
            .resolve(lookup)
            .await
            .expect("resolve")
            .map(|m| m.key);
        assert_eq!(
            found,
            conformance::brute_force_lookup(&keys, lookup),
            "{lookup:?}"
        );
        let requests = counting.requests();
        worst = worst.max(requests);
        assert!(requests <= 30, "{lookup:?} took {requests} requests");
    }
    println!(
        "{} snapshots: at most {worst} requests per lookup",
        keys.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_in_the_future_and_foreign_objects_do_not_mislead_latest() {
    let counting = Arc::new(Counting::default());
    let store = ordered(counting.clone(), "p");
    let manager = SnapshotManager::new(store);
    let start = str::parse::<SnapshotKey>("2024-06-01_00-00-00-000000")
        .expect("key")
        .as_micros();
    let mut keys = populate(&counting, "p", start, 3_600_000_000, 100).await;
    // Foreign objects that sort among and after the keys.
    for name in [
        "p/2024-06-02_00-00-00-000000.bak",
        "p/2024-06-03_00-00-00-000000/x",
        "p/zzz",
        "p/_staging/2099-01-01_00-00-00-000000-1-2-3",
    ] {
        counting
            .inner
            .put(&Path::from(name), PutPayload::from_static(b"junk"))
            .await
            .expect("put");
    }
    assert_eq!(
        manager
            .resolve(Lookup::Latest)
            .await
            .expect("resolve")
            .map(|m| m.key),
        keys.last().copied()
    );
    // One written for a future time (a dump at a time ahead of the clock) is the newest.
    keys.extend(
        populate(
            &counting,
            "p",
            str::parse::<SnapshotKey>("2099-01-01_00-00-00-000000")
                .expect("key")
                .as_micros(),
            1,
            1,
        )
        .await,
    );
    assert_eq!(
        manager
            .resolve(Lookup::Latest)
            .await
            .expect("resolve")
            .map(|m| m.key),
        keys.last().copied()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_in_bulk() {
    let counting = Arc::new(Counting::default());
    let store = ordered(counting.clone(), "r");
    let manager = SnapshotManager::new(store);
    let start = str::parse::<SnapshotKey>("2024-06-01_00-00-00-000000")
        .expect("key")
        .as_micros();
    populate(&counting, "r", start, 1_000_000, 2_500).await;
    counting
        .inner
        .put(&Path::from("r/notes.txt"), PutPayload::from_static(b"mine"))
        .await
        .expect("put");
    counting.requests();
    let plan = manager
        .apply(&snapshot_store::RetentionPolicy::new().keep_last(10))
        .await
        .expect("apply");
    assert_eq!(plan.remove.len(), 2_490);
    // Bulk deletes of up to 1000 keys (S3's most per request; the manager reports
    // progress after each), no HEAD or GET per snapshot.
    assert_eq!(counting.delete_calls.load(Ordering::SeqCst), 3);
    assert_eq!(counting.deleted.load(Ordering::SeqCst), 2_490);
    assert_eq!(counting.gets.load(Ordering::SeqCst), 0);
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        10
    );
    assert!(
        counting
            .inner
            .head(&Path::from("r/notes.txt"))
            .await
            .is_ok()
    );
}

/// An S3 store over `store` that trusts its listings to be in key order.
fn ordered(store: Arc<dyn ObjectStore>, prefix: &str) -> S3Store {
    S3Store::builder()
        .with_object_store(store)
        .with_prefix(prefix)
        .with_ordered_listing(true)
        .build()
        .expect("store")
}
