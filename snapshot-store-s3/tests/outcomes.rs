//! Writes whose outcome a failure leaves open: the response of a PUT is lost after the
//! object was stored. The store checks, and says "stored", "not stored", or — when it
//! cannot check — `Error::OutcomeUnknown`; never a plain failure that invites a second
//! copy under a new key. Both write protocols, over object_store's in-memory store.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use snapshot_store::{Error, SnapshotKey, SnapshotStore};
use snapshot_store_s3::object_store::memory::InMemory;
use snapshot_store_s3::object_store::path::Path;
use snapshot_store_s3::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use snapshot_store_s3::{S3Store, WriteProtocol};

/// An in-memory store whose snapshot writes can lose their response (the object is
/// stored, the caller gets an error) or fail before storing, and whose reads can fail.
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemory,
    lose_response: AtomicBool,
    fail_before: AtomicBool,
    /// Reads of snapshots fail once a response was lost (the connection stays down).
    fail_reads: AtomicBool,
    lost: AtomicBool,
}

fn broken(what: &str) -> snapshot_store_s3::object_store::Error {
    snapshot_store_s3::object_store::Error::Generic {
        store: "flaky",
        source: format!("{what}: connection reset by peer").into(),
    }
}

/// Whether a path is a snapshot (not a claim or probe object).
fn is_snapshot(location: &Path) -> bool {
    let text = location.as_ref();
    !text.contains("/_claims/") && !text.contains("/_probe/")
}

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flaky")
    }
}

#[async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if is_snapshot(location) && self.fail_before.load(Ordering::SeqCst) {
            return Err(broken("put"));
        }
        let stored = self.inner.put_opts(location, payload, opts).await?;
        if is_snapshot(location) && self.lose_response.load(Ordering::SeqCst) {
            self.lost.store(true, Ordering::SeqCst);
            return Err(broken("put response"));
        }
        Ok(stored)
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if is_snapshot(location)
            && self.fail_reads.load(Ordering::SeqCst)
            && self.lost.load(Ordering::SeqCst)
        {
            return Err(broken("get"));
        }
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
        self.inner.list(prefix)
    }
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
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

fn stores() -> Vec<(WriteProtocol, Arc<Flaky>, S3Store)> {
    [WriteProtocol::Conditional, WriteProtocol::Claims]
        .into_iter()
        .map(|protocol| {
            let flaky = Arc::new(Flaky::default());
            let store = S3Store::builder()
                .with_object_store(flaky.clone())
                .with_prefix("app")
                .with_write_protocol(protocol)
                .build()
                .expect("store");
            (protocol, flaky, store)
        })
        .collect()
}

fn key() -> SnapshotKey {
    str::parse::<SnapshotKey>("2030-06-01_12-00-00-000000").expect("key")
}

#[tokio::test]
async fn a_lost_response_is_found_stored() {
    for (protocol, flaky, store) in stores() {
        flaky.lose_response.store(true, Ordering::SeqCst);
        let bytes = Bytes::from_static(b"snapshot");
        store
            .put(key(), bytes.clone())
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e:?}"));
        flaky.lose_response.store(false, Ordering::SeqCst);
        assert_eq!(store.get(key()).await.expect("get"), bytes, "{protocol}");
        let left = store.stale(Duration::ZERO).await.expect("stale");
        assert!(left.claims.is_empty(), "{protocol}: {left:?}");
    }
}

#[tokio::test]
async fn a_failure_before_storing_is_a_plain_error() {
    for (protocol, flaky, store) in stores() {
        flaky.fail_before.store(true, Ordering::SeqCst);
        let err = store
            .put(key(), Bytes::from_static(b"snapshot"))
            .await
            .expect_err("must fail");
        assert!(matches!(err, Error::Backend { .. }), "{protocol}: {err:?}");
        flaky.fail_before.store(false, Ordering::SeqCst);
        assert!(
            store
                .get(key())
                .await
                .expect_err("nothing stored")
                .is_not_found()
        );
    }
}

#[tokio::test]
async fn an_outcome_that_cannot_be_checked_is_unknown_and_blocks_the_key() {
    for (protocol, flaky, store) in stores() {
        flaky.lose_response.store(true, Ordering::SeqCst);
        flaky.fail_reads.store(true, Ordering::SeqCst);
        let err = store
            .put(key(), Bytes::from_static(b"snapshot"))
            .await
            .expect_err("must fail");
        let Error::OutcomeUnknown { key: at, .. } = &err else {
            panic!("{protocol}: {err:?}")
        };
        assert_eq!(*at, key());
        assert!(err.chain_to_string().contains("may or may not"), "{err}");
        flaky.lose_response.store(false, Ordering::SeqCst);
        flaky.fail_reads.store(false, Ordering::SeqCst);
        // It had landed; a second writer of the key is refused.
        let err = store
            .put(key(), Bytes::from_static(b"another"))
            .await
            .expect_err("taken");
        assert!(err.is_already_exists(), "{protocol}: {err:?}");
        assert_eq!(
            store.get(key()).await.expect("get"),
            Bytes::from_static(b"snapshot")
        );
        if protocol == WriteProtocol::Claims {
            // The claim stays until removed as stale: the write could have landed late.
            let left = store.stale(Duration::ZERO).await.expect("stale");
            assert_eq!(left.claims.len(), 1, "{left:?}");
        }
    }
}
