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
use snapshot_codec::value;
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
        s.inspect(move |_| {
            yielded.fetch_add(1, Ordering::SeqCst);
        })
        .boxed()
    }

    fn take(&self) -> (usize, Vec<Option<String>>) {
        let offsets = std::mem::take(&mut *self.offsets.lock().expect("lock"));
        (self.yielded.swap(0, Ordering::SeqCst), offsets)
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
        self.inner.get_opts(location, options).await
    }
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
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
    let store = S3Store::from_object_store(memory.clone(), "").with_ordered_listing(true);
    conformance::run_all(Arc::new(store), &Raw(memory, "")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_list_from_an_offset_and_stop_early() {
    let counting = Arc::new(Counting::default());
    let store = S3Store::from_object_store(counting.clone(), "ckpt").with_ordered_listing(true);
    let manager = SnapshotManager::new(store);
    let base = SnapshotKey::parse("2024-01-01_00-00-00-000000").expect("key");
    let at = |i: i64| SnapshotKey::from_micros(base.as_micros() + i * 1_000_000).expect("key");
    for i in 0..1000 {
        manager.dump_at(at(i), &value!(i)).await.expect("dump");
    }
    counting.take();

    assert_eq!(
        manager
            .load(Lookup::AtOrAfter(at(900)))
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

    assert_eq!(
        manager.load(Lookup::Exact(at(10))).await.expect("load"),
        Some(value!(10))
    );
    assert_eq!(counting.take().0, 1);

    assert_eq!(
        manager
            .load(Lookup::AtOrBefore(at(20)))
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
        manager.load(Lookup::Nearest(at(500))).await.expect("load"),
        Some(value!(500))
    );
    let (yielded, _) = counting.take();
    assert!(yielded <= 503, "nearest read {yielded} entries");

    // The newest needs the whole listing: S3 lists in ascending order only.
    assert_eq!(
        manager.load_latest().await.expect("load"),
        Some(value!(999))
    );
    assert_eq!(counting.take().0, 1000);
}
