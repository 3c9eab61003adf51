//! [`S3Store`]: snapshots as objects in S3, MinIO, SeaweedFS or any S3-compatible
//! store, through the [`object_store`] crate.
//!
//! Each snapshot is the object `<prefix>/<key>` (for example
//! `checkpoints/2024-01-15_10-30-00-000000`). Other objects under the prefix are never
//! listed, loaded or deleted.
//!
//! ```no_run
//! use snapshot_store::SnapshotManager;
//! use snapshot_store_s3::S3Store;
//!
//! # async fn example() -> Result<(), snapshot_store::Error> {
//! // Endpoint, region and credentials from the standard AWS_* variables.
//! let store = S3Store::from_env()
//!     .with_bucket_name("pipelines")
//!     .with_prefix("nightly/checkpoints")
//!     .build()?;
//! let manager = SnapshotManager::new(store);
//! let resume_from = manager.load_latest().await?; // None on the first run
//! # Ok(()) }
//! ```
//!
//! # What a write guarantees
//!
//! Writes are create-only. A snapshot below the multipart threshold is one PUT with
//! `If-None-Match: *`, which AWS S3, MinIO, SeaweedFS and Cloudflare R2 honour: of two
//! writers racing for one key, exactly one succeeds, and the other gets
//! [`Error::AlreadyExists`] (and [`SnapshotManager`](snapshot_store::SnapshotManager)
//! moves on to the next microsecond). A larger snapshot is uploaded in parts to a
//! staging object under `<prefix>/_staging/`, which is never listed as a snapshot, and
//! then copied to its key with a conditional (`If-None-Match: *`) multipart completion,
//! so it too appears whole or not at all and never replaces another. A failed upload is
//! aborted and its staging object deleted; staging objects left by a killed process are
//! removed by [`S3Store::remove_stale_uploads`]. (Parts of an upload aborted by a crash
//! stay invisible on the server until a bucket lifecycle rule for incomplete multipart
//! uploads removes them; set one in production.)
//!
//! **Servers that ignore `If-None-Match`** (Garage 2.x is one) overwrite instead of
//! refusing. On such a server this store cannot prevent two writers from replacing each
//! other's snapshot under the same key. [`S3StoreBuilder::with_existence_check`] adds a
//! HEAD request before each write, which refuses keys that are already taken and leaves
//! only a window of one round trip in which two writers of the *same microsecond* can
//! collide; to rule that out, give each writer its own prefix.
//!
//! # Failures
//!
//! Every request has a connect timeout and a request timeout, and retries stop after a
//! bounded number of attempts and a bounded total time (all configurable; by default 5 s,
//! 30 s, 3 retries within 30 s), so an unreachable endpoint fails with
//! [`Error::Backend`] rather than hanging. Rejected credentials are reported as
//! [`S3Error::Authentication`]. Credentials never appear in `Debug` output or errors.
#![warn(missing_docs)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};
use snapshot_store::{Error, KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore};

pub use object_store;

/// The backend's name in [`Error::Backend`].
pub const BACKEND: &str = "s3";

/// Staging objects for multipart uploads live under `<prefix>/_staging/`. (Not
/// `.uploads`: SeaweedFS keeps its own multipart state there and hides it from listings.)
pub const UPLOADS_DIR: &str = "_staging";

/// Snapshots at least this large go up in parts, by default (64 MiB).
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 64 << 20;
/// The default size of one part (16 MiB; S3 needs at least 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 16 << 20;
/// How many parts are uploaded at once.
const PART_CONCURRENCY: usize = 4;

/// What went wrong inside the S3 backend; reaches callers as the source of
/// [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// The server rejected the credentials, or they lack a permission.
    #[error(
        "{store}: the server rejected the request's credentials or permissions: {source}{cause}"
    )]
    Authentication {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The innermost cause, as `": text"`, when the error's own text lacks it.
        cause: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A request failed: unreachable endpoint, timeout, server error, ...
    #[error("{store}: {source}{cause}")]
    Request {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The innermost cause (`": Connection refused (os error 111)"`, say) when the
        /// error's own text lacks it.
        cause: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// The bucket name breaks S3's naming rules; checked before any request.
    #[error(
        "invalid bucket name {bucket:?}: {reason} (S3 bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)"
    )]
    InvalidBucketName {
        /// The name given.
        bucket: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The endpoint is not an `http://` or `https://` URL with a host.
    #[error(
        "invalid S3 endpoint {endpoint:?}: {reason} (expected a URL such as http://127.0.0.1:9000 or https://s3.example.com)"
    )]
    InvalidEndpoint {
        /// The endpoint, with any credentials in it replaced by `***`.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint is plain HTTP and plain HTTP was not allowed.
    #[error(
        "the S3 endpoint {endpoint} is plain HTTP, which is refused unless allowed: set AWS_ALLOW_HTTP=true (or call with_allow_http(true)) for a local or trusted server"
    )]
    PlainHttpNotAllowed {
        /// The endpoint.
        endpoint: String,
    },
    /// The configuration is incomplete or invalid.
    #[error("invalid S3 configuration: {source}")]
    Config {
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A part size below S3's minimum of 5 MiB, or a threshold below the part size.
    #[error("invalid multipart settings: {0}")]
    Multipart(String),
}

/// Configures an [`S3Store`]; see the crate docs for an example.
pub struct S3StoreBuilder {
    s3: AmazonS3Builder,
    bucket: Option<String>,
    endpoint: Option<String>,
    prefix: String,
    client: ClientOptions,
    retry: RetryConfig,
    multipart_threshold: usize,
    part_size: usize,
    existence_check: bool,
    allow_http: bool,
}

impl fmt::Debug for S3StoreBuilder {
    // Hand-written so that no credential can reach the output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3StoreBuilder")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint.as_deref().map(redact))
            .field("prefix", &self.prefix)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("existence_check", &self.existence_check)
            .finish_non_exhaustive()
    }
}

fn default_retry() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
        backoff: BackoffConfig::default(),
    }
}

impl Default for S3StoreBuilder {
    fn default() -> Self {
        Self::with_s3(AmazonS3Builder::new())
    }
}

impl S3StoreBuilder {
    fn with_s3(s3: AmazonS3Builder) -> Self {
        Self {
            s3,
            bucket: None,
            endpoint: None,
            prefix: String::new(),
            client: ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(30)),
            retry: default_retry(),
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            existence_check: false,
            allow_http: false,
        }
    }

    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration read from the standard variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`), `AWS_ENDPOINT` (or `AWS_ENDPOINT_URL`), `AWS_ALLOW_HTTP`,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, `AWS_BUCKET` (or `AWS_BUCKET_NAME`), and the
    /// other `AWS_*` settings object_store understands. Later `with_*` calls override
    /// them.
    pub fn from_env() -> Self {
        let mut builder = Self::with_s3(AmazonS3Builder::from_env());
        builder.bucket = std::env::var("AWS_BUCKET")
            .or_else(|_| std::env::var("AWS_BUCKET_NAME"))
            .ok();
        builder.endpoint = std::env::var("AWS_ENDPOINT")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok();
        // The client options set in `build` replace object_store's own, so the one
        // client setting read from the environment is carried over here.
        // object_store's spellings of "true".
        let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "y" | "on"
            )
        });
        builder.with_allow_http(allow_http)
    }

    /// The bucket to use.
    pub fn with_bucket_name(mut self, bucket: impl Into<String>) -> Self {
        let bucket = bucket.into();
        self.s3 = self.s3.with_bucket_name(&bucket);
        self.bucket = Some(bucket);
        self
    }

    /// The key prefix under which snapshots live (`a/b` gives `a/b/<key>`); none by
    /// default. Leading and trailing slashes are ignored.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The endpoint of an S3-compatible server, such as `http://127.0.0.1:9000` for a
    /// local MinIO. Without one, AWS S3 is used.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        self.s3 = self.s3.with_endpoint(&endpoint);
        self.endpoint = Some(endpoint);
        self
    }

    /// The region (`us-east-1` unless set).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.s3 = self.s3.with_region(region);
        self
    }

    /// The access key id.
    pub fn with_access_key_id(mut self, id: impl Into<String>) -> Self {
        self.s3 = self.s3.with_access_key_id(id);
        self
    }

    /// The secret access key.
    pub fn with_secret_access_key(mut self, secret: impl Into<String>) -> Self {
        self.s3 = self.s3.with_secret_access_key(secret);
        self
    }

    /// A session token, for temporary credentials.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.s3 = self.s3.with_token(token);
        self
    }

    /// Allows plain `http://` endpoints (off unless asked: credentials-signed requests
    /// and snapshots then travel unencrypted).
    pub fn with_allow_http(mut self, allow: bool) -> Self {
        self.client = self.client.with_allow_http(allow);
        self.allow_http = allow;
        self
    }

    /// Virtual-hosted-style requests (`bucket.host/key`) instead of path-style
    /// (`host/bucket/key`, the default, which MinIO and most local servers expect).
    pub fn with_virtual_hosted_style_request(mut self, virtual_hosted: bool) -> Self {
        self.s3 = self.s3.with_virtual_hosted_style_request(virtual_hosted);
        self
    }

    /// The time allowed to open a connection (5 s by default).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.with_connect_timeout(timeout);
        self
    }

    /// The time allowed for one request (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Retries: `max_retries` attempts after the first, all within `total` (3 and 30 s
    /// by default).
    pub fn with_retries(mut self, max_retries: usize, total: Duration) -> Self {
        self.retry.max_retries = max_retries;
        self.retry.retry_timeout = total;
        self
    }

    /// Snapshots of at least `bytes` go up in parts (64 MiB by default).
    pub fn with_multipart_threshold(mut self, bytes: usize) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// The size of one part of a multipart upload (16 MiB by default; at least 5 MiB).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// Checks with a HEAD request that a key is free before writing it, for servers
    /// that ignore `If-None-Match` (see the crate docs). Off by default.
    pub fn with_existence_check(mut self, check: bool) -> Self {
        self.existence_check = check;
        self
    }

    /// Builds the store. No request is made; the bucket name and the endpoint are
    /// checked here, so a mistake is reported before anything is sent.
    ///
    /// # Errors
    /// [`Error::Backend`] with [`S3Error::InvalidBucketName`],
    /// [`S3Error::InvalidEndpoint`], [`S3Error::PlainHttpNotAllowed`],
    /// [`S3Error::Config`] when the bucket is missing or a setting is invalid, or
    /// [`S3Error::Multipart`] for invalid part settings.
    pub fn build(self) -> Result<S3Store> {
        if let Some(bucket) = &self.bucket {
            check_bucket_name(bucket).map_err(|reason| {
                Error::backend(
                    BACKEND,
                    S3Error::InvalidBucketName {
                        bucket: bucket.clone(),
                        reason,
                    },
                )
            })?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint, self.allow_http).map_err(|e| Error::backend(BACKEND, e))?;
        }
        if self.part_size < 5 << 20 || self.multipart_threshold < self.part_size {
            return Err(Error::backend(
                BACKEND,
                S3Error::Multipart(format!(
                    "part size {} must be at least 5 MiB and not above the threshold {}",
                    self.part_size, self.multipart_threshold
                )),
            ));
        }
        let s3 = self
            .s3
            .with_client_options(self.client)
            .with_retry(self.retry)
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
            .build()
            .map_err(|source| Error::backend(BACKEND, S3Error::Config { source }))?;
        let describe = format!(
            "s3://{}/{} at {}",
            self.bucket.as_deref().unwrap_or(""),
            self.prefix.trim_matches('/'),
            self.endpoint
                .as_deref()
                .map_or_else(|| "AWS".into(), redact)
        );
        let s3 = Arc::new(s3);
        let mut store = S3Store::from_object_store(s3.clone(), &self.prefix);
        store.paged = Some(s3);
        store.describe = describe;
        store.ordered_listing = true;
        store.multipart_threshold = self.multipart_threshold;
        store.part_size = self.part_size;
        store.existence_check = self.existence_check;
        Ok(store)
    }
}

/// Snapshots as objects under a prefix of an object store.
#[derive(Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    /// The same store's paginated listing, where known (stores built by the builder):
    /// lookup probes then ask for a few names instead of a page of 1000.
    paged: Option<Arc<dyn object_store::list::PaginatedListStore>>,
    prefix: Path,
    describe: String,
    ordered_listing: bool,
    multipart_threshold: usize,
    part_size: usize,
    existence_check: bool,
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

static UPLOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

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
    /// use snapshot_store::SnapshotManager;
    /// use snapshot_store_s3::{S3Store, object_store::memory::InMemory};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(S3Store::from_object_store(Arc::new(InMemory::new()), "app"));
    /// let info = manager.dump(&snapshot_store::snapshot_codec::value!({"ok": true})).await?;
    /// assert_eq!(manager.list().await?[0].key, info.key);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_object_store(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        let prefix = Path::from(prefix.trim_matches('/'));
        Self {
            describe: format!("{store}/{prefix}"),
            store,
            prefix,
            paged: None,
            ordered_listing: false,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            existence_check: false,
        }
    }

    /// Declares that the object store lists keys in lexicographic order (S3 and most
    /// S3-compatible servers do; [`S3StoreBuilder::build`] sets it). Lookups then stop
    /// reading a listing as soon as they have their answer.
    pub fn with_ordered_listing(mut self, ordered: bool) -> Self {
        self.ordered_listing = ordered;
        self
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

    /// Deletes staging objects of multipart uploads older than `age` (left by processes
    /// killed between upload and publish); returns how many were deleted.
    ///
    /// # Errors
    /// [`Error::Backend`] when listing or deleting fails.
    pub async fn remove_stale_uploads(&self, age: Duration) -> Result<usize> {
        let uploads = self.uploads();
        let cutoff = chrono_cutoff(age);
        let stale: Vec<Path> = self
            .store
            .list(Some(&uploads))
            .try_filter(|m| futures::future::ready(m.last_modified.timestamp_millis() <= cutoff))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| self.error(e, None))?;
        let mut removed = 0;
        for path in stale {
            match self.store.delete(&path).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e, None)),
            }
        }
        Ok(removed)
    }

    fn error(&self, e: object_store::Error, key: Option<SnapshotKey>) -> Error {
        let store = self.describe.clone();
        let cause = innermost_cause(&e);
        match (e, key) {
            (object_store::Error::NotFound { .. }, Some(key)) => Error::NotFound { key },
            (
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
                Some(key),
            ) => Error::AlreadyExists { key },
            (
                source @ (object_store::Error::Unauthenticated { .. }
                | object_store::Error::PermissionDenied { .. }),
                _,
            ) => Error::backend(
                BACKEND,
                S3Error::Authentication {
                    store,
                    cause,
                    source,
                },
            ),
            (source, _) if rejected_credentials(&source) => Error::backend(
                BACKEND,
                S3Error::Authentication {
                    store,
                    cause,
                    source,
                },
            ),
            (source, _) => Error::backend(
                BACKEND,
                S3Error::Request {
                    store,
                    cause,
                    source,
                },
            ),
        }
    }

    /// Reads one page of the listing after the key `after` (exclusive; `None` for the
    /// start) and reports the largest snapshot key at or before `upto`.
    async fn scan_window(&self, after: Option<SnapshotKey>, upto: SnapshotKey) -> Result<Window> {
        if let Some(paged) = &self.paged {
            return self.scan_window_paged(paged.as_ref(), after, upto).await;
        }
        let prefix = self.list_prefix();
        let mut stream = match after {
            Some(k) => self.store.list_with_offset(prefix, &self.path_of(k)),
            None => self.store.list(prefix),
        };
        let limit = self.path_of(upto);
        let mut best = None;
        let mut seen = 0;
        while let Some(meta) = stream.try_next().await.map_err(|e| self.error(e, None))? {
            if self.passed_window(&meta, after, upto, &limit, &mut best) {
                return Ok(Window::Complete(best));
            }
            seen += 1;
            if seen >= PAGE {
                return Ok(Window::Dense(best));
            }
        }
        Ok(Window::Complete(best))
    }

    /// Takes one listed object into a window scan of `(after, upto]` (`limit` is
    /// `upto`'s path): a snapshot key in the window becomes `best` (listings ascend);
    /// returns whether the listing has gone past the window. Names sort as text and
    /// keys are fixed width, so past `upto`'s name no key at or before it can follow.
    fn passed_window(
        &self,
        meta: &object_store::ObjectMeta,
        after: Option<SnapshotKey>,
        upto: SnapshotKey,
        limit: &Path,
        best: &mut Option<SnapshotMeta>,
    ) -> bool {
        if meta.location.as_ref() > limit.as_ref() {
            return true;
        }
        if let Some(key) = direct_child(&self.prefix, &meta.location)
            .and_then(|name| SnapshotKey::parse(name).ok())
            && after.is_none_or(|a| key > a)
            && key <= upto
        {
            *best = Some(SnapshotMeta {
                key,
                size: meta.size,
            });
        }
        false
    }

    /// [`scan_window`](Self::scan_window) as one request for at most [`PROBE_KEYS`]
    /// names: most windows are empty or hold a few keys, and a short answer is much
    /// cheaper for the server than a page of 1000.
    async fn scan_window_paged(
        &self,
        paged: &dyn object_store::list::PaginatedListStore,
        after: Option<SnapshotKey>,
        upto: SnapshotKey,
    ) -> Result<Window> {
        let prefix = self.list_prefix().map(|p| format!("{p}/"));
        let opts = object_store::list::PaginatedListOptions {
            offset: after.map(|k| self.path_of(k).to_string()),
            max_keys: Some(PROBE_KEYS),
            ..Default::default()
        };
        let page = paged
            .list_paginated(prefix.as_deref(), opts)
            .await
            .map_err(|e| self.error(e, None))?;
        let limit = self.path_of(upto);
        let mut best = None;
        for meta in &page.result.objects {
            if self.passed_window(meta, after, upto, &limit, &mut best) {
                return Ok(Window::Complete(best));
            }
        }
        Ok(if page.page_token.is_some() {
            Window::Dense(best)
        } else {
            Window::Complete(best)
        })
    }

    /// The largest key in `(lo, hi]` (`lo` exclusive, `None` for no lower bound): windows
    /// back from `hi` growing sixteenfold, one listing page each, until one holds a key;
    /// a window with more keys than a page is narrowed by bisection. Requests grow with
    /// the logarithm of the time span, never with the number of snapshots.
    async fn last_by_windows(
        &self,
        lo: Option<SnapshotKey>,
        hi: SnapshotKey,
    ) -> Result<Option<SnapshotMeta>> {
        let floor = lo.map_or(SnapshotKey::MIN.as_micros() - 1, SnapshotKey::as_micros);
        let mut width: i64 = 1_000_000;
        // Nothing lies above `top`: the windows tried so far were empty.
        let mut top = hi;
        loop {
            let start = hi.as_micros().saturating_sub(width);
            let after = (start > floor)
                .then(|| SnapshotKey::from_micros(start).ok())
                .flatten()
                .or(lo);
            match self.scan_window(after, top).await? {
                Window::Complete(Some(meta)) => return Ok(Some(meta)),
                Window::Complete(None) if start <= floor => return Ok(None),
                Window::Complete(None) => {
                    if let Some(a) = after {
                        top = a;
                    }
                }
                Window::Dense(best) => return self.bisect(after, best, top).await,
            }
            width = width.saturating_mul(16);
        }
    }

    /// Narrows a window `(after, hi]` known to hold more keys than a page: `known` is
    /// the largest key seen so far (the answer is at or after it).
    async fn bisect(
        &self,
        after: Option<SnapshotKey>,
        mut known: Option<SnapshotMeta>,
        mut hi: SnapshotKey,
    ) -> Result<Option<SnapshotMeta>> {
        // Often the rest fits one more page: try the page after the largest key seen.
        if let Some(best) = known {
            match self.scan_window(Some(best.key), hi).await? {
                Window::Complete(found) => return Ok(found.or(known)),
                Window::Dense(Some(next)) => known = Some(next),
                Window::Dense(None) => {}
            }
        }
        let mut low = known.map_or_else(
            || after.map_or(SnapshotKey::MIN.as_micros() - 1, SnapshotKey::as_micros),
            |m| m.key.as_micros(),
        );
        while low < hi.as_micros() {
            let mid = low + (hi.as_micros() - low + 1) / 2;
            let from = SnapshotKey::from_micros(mid - 1).ok();
            match self.scan_window(from, hi).await? {
                Window::Complete(Some(meta)) => return Ok(Some(meta)),
                Window::Complete(None) => {
                    hi = match SnapshotKey::from_micros(mid - 1) {
                        Ok(k) => k,
                        Err(_) => return Ok(known),
                    };
                }
                Window::Dense(Some(best)) => {
                    low = best.key.as_micros();
                    known = Some(best);
                }
                Window::Dense(None) => {
                    // A whole page of foreign objects: list the rest plainly.
                    let from = SnapshotKey::from_micros(mid).unwrap_or(hi);
                    let tail = self.list(KeyRange::new(from..=hi), None).await?.pop();
                    return Ok(tail.or(known));
                }
            }
        }
        Ok(known)
    }

    async fn put_single(&self, path: &Path, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        self.store
            .put_opts(path, PutPayload::from(bytes), opts)
            .await
            .map(drop)
            .map_err(|e| self.error(e, Some(key)))
    }

    async fn put_multipart(&self, path: &Path, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = UPLOAD_COUNTER.fetch_add(1, Ordering::Relaxed);
        let staging = self
            .uploads()
            .join(format!("{key}-{}-{nanos}-{n}", std::process::id()));
        let mut upload = self
            .store
            .put_multipart(&staging)
            .await
            .map_err(|e| self.error(e, None))?;
        // Each part is a zero-copy slice of `bytes`: memory stays at one copy.
        let parts: Vec<_> = (0..bytes.len())
            .step_by(self.part_size)
            .map(|start| {
                let end = (start + self.part_size).min(bytes.len());
                upload.put_part(PutPayload::from(bytes.slice(start..end)))
            })
            .collect();
        let uploaded = futures::stream::iter(parts)
            .buffer_unordered(PART_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await;
        let completed = match uploaded {
            Ok(_) => upload.complete().await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Best effort: the server may be gone; a lifecycle rule or
            // remove_stale_uploads cleans what this cannot.
            let _ = upload.abort().await;
            let _ = self.store.delete(&staging).await;
            return Err(self.error(e, None));
        }
        let published = self.store.copy_if_not_exists(&staging, path).await;
        let _ = self.store.delete(&staging).await;
        published.map_err(|e| self.error(e, Some(key)))
    }
}

/// The deepest error of `e`'s chain (the one that says what happened: "Connection
/// refused", "operation timed out"), as `": text"`, or empty when `e`'s own text has it.
fn innermost_cause(e: &object_store::Error) -> String {
    let top = e.to_string();
    let mut deepest: Option<&(dyn std::error::Error + 'static)> = None;
    let mut current = std::error::Error::source(e);
    while let Some(err) = current {
        deepest = Some(err);
        current = err.source();
    }
    match deepest.map(ToString::to_string) {
        Some(text) if !text.is_empty() && !top.contains(&text) => format!(": {text}"),
        _ => String::new(),
    }
}

/// S3's bucket naming rules (the ones every S3-compatible server shares).
fn check_bucket_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.len() < 3 || name.len() > 63 {
        return Err("it must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("it may hold only lowercase letters, digits, dots and hyphens");
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !name.bytes().next().is_some_and(edge) || !name.bytes().last().is_some_and(edge) {
        return Err("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Err("it must not hold two dots in a row");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("it must not look like an IP address");
    }
    Ok(())
}

/// An endpoint with any user name or password replaced by `***`.
fn redact(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("***");
            let _ = url.set_password(None);
            url.to_string()
        }
        Ok(_) => endpoint.to_owned(),
        // Not a URL: keep what precedes an `@`, which may be a secret, out.
        Err(_) => match endpoint.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => endpoint.to_owned(),
        },
    }
}

/// Refuses endpoints object_store would fail on (or panic on) at the first request.
fn check_endpoint(endpoint: &str, allow_http: bool) -> std::result::Result<(), S3Error> {
    let invalid = |reason: String| S3Error::InvalidEndpoint {
        endpoint: redact(endpoint),
        reason,
    };
    let url = url::Url::parse(endpoint).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(S3Error::PlainHttpNotAllowed {
                endpoint: redact(endpoint),
            });
        }
        other => return Err(invalid(format!("scheme {other:?} is not http or https"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the endpoint; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
        ));
    }
    Ok(())
}

/// How many objects one listing request returns (S3's page size); a window scan reads
/// at most this many, so it costs one request.
const PAGE: usize = 1000;

/// How many names a lookup probe asks for where the store can say (`max-keys`).
const PROBE_KEYS: usize = 32;

/// What one listing page from an offset says about a window `(after, upto]` of keys.
enum Window {
    /// The page reached past `upto` (or the end): the largest key in the window, if any.
    Complete(Option<SnapshotMeta>),
    /// The page ended inside the window: keys go on past the largest one seen.
    Dense(Option<SnapshotMeta>),
}

/// Whether a request failed because the server refused the credentials or permissions.
///
/// object_store reports a refused GET or LIST as a generic error whose HTTP status sits
/// in a type it does not export, so the chain's text is searched for the status line and
/// the S3 error codes that mean "who you are" rather than "what you asked".
fn rejected_credentials(e: &object_store::Error) -> bool {
    const SIGNS: [&str; 6] = [
        "status code: 401",
        "status code: 403",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "ExpiredToken",
    ];
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if SIGNS.iter().any(|sign| text.contains(sign)) {
            return true;
        }
        current = err.source();
    }
    false
}

fn chrono_cutoff(age: Duration) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now - age.as_millis() as i64
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
        let path = self.path_of(key);
        if self.existence_check {
            match self.store.head(&path).await {
                Ok(_) => return Err(Error::AlreadyExists { key }),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e, None)),
            }
        }
        if bytes.len() >= self.multipart_threshold {
            self.put_multipart(&path, key, bytes).await
        } else {
            self.put_single(&path, key, bytes).await
        }
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
                .and_then(|name| SnapshotKey::parse(name).ok())
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
