//! [`S3Store`]: snapshots as objects in S3, MinIO, SeaweedFS or any S3-compatible
//! store, through the [`object_store`] crate.
//!
//! Each snapshot is the object `<prefix>/<key>` (for example
//! `checkpoints/2024-01-15_10-30-00-000000`). Other objects under the prefix are never
//! listed, loaded or deleted.
//!
//! ```no_run
//! use snapshot_store::{Lookup, SnapshotManager, snapshot_codec::Value};
//! use snapshot_store_s3::S3Store;
//!
//! # async fn example() -> Result<(), snapshot_store::Error> {
//! // Endpoint, region and credentials from the standard AWS_* variables.
//! let store = S3Store::from_env()
//!     .with_bucket_name("pipelines")
//!     .with_prefix("nightly/checkpoints")
//!     .build()?;
//! let manager = SnapshotManager::new(store);
//! let resume_from = manager.load::<Value>(Lookup::Latest).await?; // None on the first run
//! # Ok(()) }
//! ```
//!
//! # What a write guarantees
//!
//! A write never replaces a stored snapshot, on every S3-compatible server. Before a
//! store's first write it probes the server once ([`S3Store::probe`], about a dozen
//! small requests under `<prefix>/_probe/`, removed afterwards; `snapshot doctor STORE`
//! shows the result) and picks its [`WriteProtocol`]:
//!
//! | the server | protocol | requests per write | measured on |
//! |---|---|---|---|
//! | honours `If-None-Match: *` on PUT and on CompleteMultipartUpload, racing writers included | `conditional` | 1 (a multipart upload: its parts + 4) | AWS S3 (documented), SeaweedFS, moto served one request at a time |
//! | ignores it, or honours it only partly | `claims` | 5 (a multipart upload: its parts + 8) | s3rver |
//!
//! *Conditional*: one PUT with `If-None-Match: *`; of two writers racing for one key
//! exactly one succeeds and the other gets [`snapshot_store::Error::AlreadyExists`]
//! (and [`SnapshotManager`](snapshot_store::SnapshotManager) moves on to the next
//! microsecond). A large snapshot is uploaded in parts straight to its key and
//! completed with `If-None-Match: *`, so it appears whole or not at all, with no size
//! cap and no UploadPartCopy.
//!
//! *Claims*: needs nothing from the server but listings that show what was just
//! stored (AWS S3 and every server tested). A writer stores a small claim
//! `<prefix>/_claims/<key>.<unique>`, lists the claims of its key, and writes only if
//! its claim is the only one and the key is free; see [`WriteProtocol::Claims`] for why
//! two writers can never both write one key. A killed writer can leave a claim, which
//! only blocks its key (the next dump takes the next microsecond).
//!
//! Set the protocol with [`S3StoreBuilder::with_write_protocol`],
//! `SNAPSHOT_S3_WRITES=auto|conditional|claims`, or `?writes=claims` on an `s3://` URL (every writer of a prefix must use the
//! same one; `auto` picks the same on the same server). Force `claims` on a server
//! whose conditional writes are unreliable under load in ways a short probe cannot see.
//!
//! A write whose response is lost (a timeout, a broken connection) is checked: if the
//! object holds this write's bytes it is reported stored, if nothing is there it is
//! reported failed, and if the store cannot be asked it is
//! [`snapshot_store::Error::OutcomeUnknown`] rather than a plain failure that would
//! invite a second copy under a new key.
//!
//! Every multipart upload of a store made by the builder is recorded in a marker object
//! under `<prefix>/_staging/` before its first part (object_store's generic multipart API,
//! used by [`S3Store::from_object_store`] stores, has no upload id to record); [`S3Store::stale`] finds the uploads, claims and staging
//! objects that killed writers left, and [`S3Store::remove_stale`] aborts and removes
//! them (`snapshot doctor STORE --remove-stale`). A server that offers no
//! AbortMultipartUpload (s3rver) keeps such parts; a bucket lifecycle rule for
//! incomplete multipart uploads is still worth setting in production.
//!
//! # Streaming
//!
//! Dumps stream into the store ([`SnapshotStore::put_stream`]): a snapshot that ends
//! within one part (16 MiB by default) is gathered and written as above; a larger one
//! goes up in parts as the encoder fills them, several at once
//! ([`S3StoreBuilder::with_part_concurrency`], 4 by default), under the same write
//! protocol, so it is published whole or not at all; an encoder or upload that fails
//! aborts the upload. A dump's memory is about `(concurrency + 1) × part size` (a
//! part is the encoder's own chunks, not a copy). Loads of large
//! snapshots ([`SnapshotStore::get_stream`]) are ranged GETs of 8 MiB
//! ([`S3StoreBuilder::with_read_part_size`]), as many at once, handed to the decoder in
//! order.
//!
//! # Failures
//!
//! Every request has a connect timeout and a request timeout, and retries stop after a
//! bounded number of attempts and a bounded total time (all configurable; by default 5 s,
//! 30 s, 3 retries within 30 s; `AWS_TIMEOUT` and `AWS_CONNECT_TIMEOUT` set them from
//! the environment), so an unreachable endpoint fails with
//! [`snapshot_store::Error::Backend`] rather than hanging, and a silent one with
//! [`S3Error::TimedOut`] ("timed out after 30 s"). A missing bucket is
//! [`snapshot_store::Error::StoreNotFound`] for every operation. Rejected credentials are
//! [`snapshot_store::Error::Unauthenticated`], refused permissions
//! [`snapshot_store::Error::PermissionDenied`]. Credentials never appear in `Debug`
//! output or errors.
#![warn(missing_docs)]

mod builder;
mod claims;
mod error;
mod leftovers;
mod lookup;
mod protocol;
mod write;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use lookup::Window;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use snapshot_store::{ByteStream, KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore};

pub use builder::{S3StoreBuilder, WRITES_VARIABLE};
pub use error::S3Error;
pub use leftovers::Leftovers;
pub use object_store;
pub use protocol::{PROBES_METRIC, ProbeReport, WriteProtocol};
pub use write::{CLAIMS_DIR, PROBE_DIR};

/// The backend's name in [`snapshot_store::Error::Backend`].
pub const BACKEND: &str = "s3";

/// Marker objects of multipart uploads (and staging copies, for stores not made by the
/// builder) live under `<prefix>/_staging/`. (Not `.uploads`: SeaweedFS keeps its own
/// multipart state there and hides it from listings.)
pub const UPLOADS_DIR: &str = "_staging";

/// Snapshots at least this large go up in parts, by default (64 MiB).
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 64 << 20;
/// The default size of one part (16 MiB; S3 needs at least 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 16 << 20;

/// Streamed reads of snapshots of at least twice this size are ranged GETs of this many
/// bytes, by default (8 MiB).
pub const DEFAULT_READ_PART_SIZE: usize = 8 << 20;
/// How many parts of an upload, and ranged GETs of a streamed read, are in flight at
/// once, by default.
pub const DEFAULT_PART_CONCURRENCY: usize = 4;

/// Snapshots as objects under a prefix of an object store.
#[derive(Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    /// The same store as S3, where known (stores made by the builder): listings of a
    /// few names for lookup probes, multipart uploads by id, signed requests.
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    /// A client with the store's settings, for the requests object_store cannot send.
    http: Option<object_store::client::HttpClient>,
    prefix: Path,
    bucket: Option<String>,
    describe: String,
    ordered_listing: bool,
    multipart_threshold: usize,
    part_size: usize,
    part_concurrency: usize,
    read_part_size: usize,
    timeout: Duration,
    protocol: WriteProtocol,
    /// The probe's answer, shared by clones.
    chosen: Arc<tokio::sync::OnceCell<ProbeReport>>,
    /// Whether the claims directory's lasting object is known to exist.
    claims_kept: Arc<tokio::sync::OnceCell<()>>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("store", &self.describe)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe)
    }
}

impl S3Store {
    /// A builder with nothing configured.
    pub fn builder() -> S3StoreBuilder {
        S3StoreBuilder::new()
    }

    /// A builder configured from the standard `AWS_*` variables
    /// ([`S3StoreBuilder::from_env`]).
    pub fn from_env() -> S3StoreBuilder {
        S3StoreBuilder::from_env()
    }

    /// Snapshots under `prefix` of any object store (Google Cloud Storage, Azure, a
    /// local directory, memory, ...).
    ///
    /// Listings are sorted here rather than trusted to arrive in order, and large
    /// snapshots are published with the store's `copy_if_not_exists`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use snapshot_store::{Order, SnapshotManager};
    /// use snapshot_store_s3::{S3Store, object_store::memory::InMemory};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(S3Store::from_object_store(Arc::new(InMemory::new()), "app"));
    /// let info = manager.dump(&snapshot_store::snapshot_codec::value!({"ok": true})).await?;
    /// assert_eq!(manager.list(Order::NewestFirst).await?[0].key, info.key);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_object_store(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        let prefix = Path::from(prefix.trim_matches('/'));
        Self {
            describe: format!("{store}/{prefix}"),
            store,
            prefix,
            s3: None,
            http: None,
            bucket: None,
            ordered_listing: false,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            part_concurrency: DEFAULT_PART_CONCURRENCY,
            read_part_size: DEFAULT_READ_PART_SIZE,
            timeout: Duration::from_secs(30),
            protocol: WriteProtocol::Auto,
            chosen: Arc::default(),
            claims_kept: Arc::default(),
        }
    }

    /// The object store underneath.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix snapshots live under.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The object path of the snapshot `key`.
    pub fn path_of(&self, key: SnapshotKey) -> Path {
        self.prefix.clone().join(key.to_string())
    }

    fn uploads(&self) -> Path {
        self.prefix.clone().join(UPLOADS_DIR)
    }

    fn list_prefix(&self) -> Option<&Path> {
        (!self.prefix.as_ref().is_empty()).then_some(&self.prefix)
    }
}

/// The parts of a streamed snapshot: `first`, then what `rest` yields, cut into parts
/// of `size` bytes (the last may be shorter). A part is the chunks themselves, not a
/// copy (one is split where a part ends). An error of `rest` is put in `failure` and
/// ends the parts with an error, so the upload is aborted.
fn rechunk(
    first: Bytes,
    rest: ByteStream,
    size: usize,
    failure: Arc<std::sync::Mutex<Option<snapshot_store::Error>>>,
) -> write::PartStream {
    futures::stream::try_unfold(
        (first, Some(rest), failure),
        move |(mut pending, mut rest, failure)| async move {
            let mut part = Vec::new();
            let mut len = 0;
            loop {
                if !pending.is_empty() {
                    let piece = pending.split_to(pending.len().min(size - len));
                    len += piece.len();
                    part.push(piece);
                }
                if len == size {
                    break;
                }
                let Some(stream) = rest.as_mut() else { break };
                match stream.next().await {
                    Some(Ok(chunk)) => pending = chunk,
                    Some(Err(e)) => {
                        *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                        return Err(object_store::Error::Generic {
                            store: "S3",
                            source: "the snapshot's bytes failed part way".into(),
                        });
                    }
                    None => rest = None,
                }
            }
            if len == 0 {
                return Ok(None);
            }
            Ok(Some((part.into_iter().collect(), (pending, rest, failure))))
        },
    )
    .boxed()
}

/// The name of `location` if it sits directly under `prefix`.
fn direct_child<'a>(prefix: &Path, location: &'a Path) -> Option<&'a str> {
    let mut rest = location.prefix_match(prefix)?;
    let first = rest.next()?;
    if rest.next().is_some() {
        return None;
    }
    let name = location.filename()?;
    (first.as_ref() == name).then_some(name)
}

#[async_trait]
impl SnapshotStore for S3Store {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        self.write(key, write::Body::Whole(bytes)).await
    }

    /// Gathers up to one part; a snapshot that ends within it is written as by
    /// [`put`](SnapshotStore::put), a larger one goes up in parts as they fill (several
    /// at a time), published only once complete and aborted on any failure.
    async fn put_stream(&self, key: SnapshotKey, mut body: ByteStream) -> Result<u64> {
        let mut first = BytesMut::with_capacity(self.part_size);
        while first.len() < self.part_size {
            match body.next().await {
                Some(chunk) => first.extend_from_slice(&chunk?),
                None => {
                    let len = first.len() as u64;
                    self.write(key, write::Body::Whole(first.freeze())).await?;
                    return Ok(len);
                }
            }
        }
        // Errors of the body itself (an encoder's) are kept to be returned as they are.
        let failure: Arc<std::sync::Mutex<Option<snapshot_store::Error>>> = Arc::default();
        let parts = rechunk(first.freeze(), body, self.part_size, failure.clone());
        let written = Arc::new(AtomicU64::new(0));
        let counted = {
            let written = written.clone();
            parts
                .inspect_ok(move |part| {
                    written.fetch_add(part.content_length() as u64, Ordering::Relaxed);
                })
                .boxed()
        };
        let outcome = self.write(key, write::Body::Parts(counted)).await;
        if let Some(e) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(e);
        }
        outcome.map(|()| written.load(Ordering::Relaxed))
    }

    /// One GET of the first 8 MiB, which also tells the size; a larger snapshot's rest
    /// comes as ranged GETs of 8 MiB, 4 at a time, in order (by default; see
    /// [`S3StoreBuilder::with_read_part_size`] and
    /// [`S3StoreBuilder::with_part_concurrency`]). A snapshot that fits in the first
    /// read costs one request, as [`get`](SnapshotStore::get) does.
    /// One ranged GET of the first `len` bytes.
    async fn get_head(&self, key: SnapshotKey, len: usize) -> Result<Bytes> {
        let path = self.path_of(key);
        if len == 0 {
            // No range is empty: whether it exists is all there is to answer.
            self.store
                .head(&path)
                .await
                .map_err(|e| self.error(e, Some(key)))?;
            return Ok(Bytes::new());
        }
        let ranged = object_store::GetOptions {
            range: Some((0..len as u64).into()),
            ..Default::default()
        };
        match self.store.get_opts(&path, ranged).await {
            Ok(head) => {
                let bytes = head.bytes().await.map_err(|e| self.error(e, Some(key)))?;
                Ok(bytes.slice(..len.min(bytes.len())))
            }
            // A server that will not answer a range (an empty object, say): read it
            // whole. Any other failure is the answer.
            Err(e) if error::range_refused(&e) => {
                let bytes = self.get(key).await?;
                Ok(bytes.slice(..len.min(bytes.len())))
            }
            Err(e) => Err(self.error(e, Some(key))),
        }
    }

    async fn get_stream(&self, key: SnapshotKey) -> Result<(u64, ByteStream)> {
        let path = self.path_of(key);
        let part = self.read_part_size as u64;
        let ranged = object_store::GetOptions {
            range: Some((0..part).into()),
            ..Default::default()
        };
        let first = match self.store.get_opts(&path, ranged).await {
            Ok(first) => first,
            // A server that will not answer a range (an empty object, say): read it
            // whole. Any other failure (a timeout, say) is the answer: a whole read
            // would hold a snapshot of any size in memory.
            Err(e) if error::range_refused(&e) => {
                let bytes = self.get(key).await?;
                return Ok((
                    bytes.len() as u64,
                    futures::stream::once(async move { Ok(bytes) }).boxed(),
                ));
            }
            Err(e) => return Err(self.error(e, Some(key))),
        };
        let size = first.meta.size;
        let this = self.clone();
        let head = first
            .into_stream()
            .map_err(move |e| this.error(e, Some(key)));
        if size <= part {
            return Ok((size, head.boxed()));
        }
        let this = self.clone();
        let rest = futures::stream::iter((part..size).step_by(self.read_part_size))
            .map(move |start| {
                let this = this.clone();
                let path = path.clone();
                async move {
                    this.store
                        .get_range(&path, start..(start + part).min(size))
                        .await
                        .map_err(|e| this.error(e, Some(key)))
                }
            })
            .buffered(self.part_concurrency);
        Ok((size, head.chain(rest).boxed()))
    }

    async fn get(&self, key: SnapshotKey) -> Result<Bytes> {
        let path = self.path_of(key);
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.error(e, Some(key)))?;
        result.bytes().await.map_err(|e| self.error(e, Some(key)))
    }

    async fn list(&self, range: KeyRange, limit: Option<usize>) -> Result<Vec<SnapshotMeta>> {
        use std::ops::Bound;
        // Start listing just before the first key in range, where the server can.
        let offset_key = match range.start {
            Bound::Included(k) => SnapshotKey::from_micros(k.as_micros() - 1).ok(),
            Bound::Excluded(k) => Some(k),
            Bound::Unbounded => None,
        };
        let prefix = self.list_prefix();
        let mut stream = match offset_key {
            Some(k) => self.store.list_with_offset(prefix, &self.path_of(k)),
            None => self.store.list(prefix),
        };
        let limit = limit.unwrap_or(usize::MAX);
        let mut metas = Vec::new();
        while let Some(meta) = stream.try_next().await.map_err(|e| self.error(e, None))? {
            let Some(key) = direct_child(&self.prefix, &meta.location)
                .and_then(|name| str::parse::<SnapshotKey>(name).ok())
            else {
                continue;
            };
            if range.contains(key) {
                metas.push(SnapshotMeta {
                    key,
                    size: meta.size,
                });
            }
            if self.ordered_listing {
                // Names arrive in order: stop once the range or the limit is done.
                let past_end = match range.end {
                    Bound::Included(end) => key >= end,
                    Bound::Excluded(end) => key >= end,
                    Bound::Unbounded => false,
                };
                if past_end || metas.len() >= limit {
                    break;
                }
            }
        }
        metas.sort_unstable();
        metas.truncate(limit);
        Ok(metas)
    }

    async fn last_in(&self, range: KeyRange) -> Result<Option<SnapshotMeta>> {
        use std::ops::Bound;
        if !self.ordered_listing {
            return Ok(self.list(range, None).await?.pop());
        }
        let lo = match range.start {
            Bound::Included(k) => SnapshotKey::from_micros(k.as_micros() - 1).ok(),
            Bound::Excluded(k) => Some(k),
            Bound::Unbounded => None,
        };
        let hi = match range.end {
            Bound::Included(k) => k,
            Bound::Excluded(k) => match SnapshotKey::from_micros(k.as_micros() - 1) {
                Ok(k) => k,
                Err(_) => return Ok(None),
            },
            Bound::Unbounded => {
                // Snapshots in the future are rare: one page after now says whether
                // there are any; otherwise search back from now, not from year 9999.
                let now = SnapshotKey::now();
                let now = lo.map_or(now, |lo| now.max(lo));
                match self.scan_window(Some(now), SnapshotKey::MAX).await? {
                    Window::Complete(Some(meta)) => return Ok(Some(meta)),
                    Window::Dense(best) => {
                        return self.bisect(Some(now), best, SnapshotKey::MAX).await;
                    }
                    Window::Complete(None) => now,
                }
            }
        };
        if lo.is_some_and(|lo| lo >= hi) {
            return Ok(None);
        }
        self.last_by_windows(lo, hi).await
    }

    async fn delete_many(&self, keys: &[SnapshotKey]) -> Result<()> {
        // One bulk request per 1000 keys (object_store batches S3's DeleteObjects); a
        // key that is already gone is not an error, as S3 itself reports it.
        let paths: Vec<object_store::Result<Path>> =
            keys.iter().map(|k| Ok(self.path_of(*k))).collect();
        let mut results = self
            .store
            .delete_stream(futures::stream::iter(paths).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e, None)),
            }
        }
        Ok(())
    }

    async fn delete(&self, key: SnapshotKey) -> Result<()> {
        let path = self.path_of(key);
        // S3 reports success for deleting a missing object; the trait promises NotFound.
        self.store
            .head(&path)
            .await
            .map_err(|e| self.error(e, Some(key)))?;
        self.store
            .delete(&path)
            .await
            .map_err(|e| self.error(e, Some(key)))
    }
}
