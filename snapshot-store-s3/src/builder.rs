//! [`S3StoreBuilder`]: configuration, checked before any request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
use object_store::client::HttpConnector;
use object_store::{BackoffConfig, ClientConfigKey, ClientOptions, RetryConfig};
use snapshot_store::{Error, Result};

use crate::{
    BACKEND, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_CONCURRENCY, DEFAULT_PART_SIZE,
    DEFAULT_READ_PART_SIZE, S3Error, S3Store, WriteProtocol,
};

/// The variable that sets the write protocol in [`S3StoreBuilder::from_env`].
pub const WRITES_VARIABLE: &str = "SNAPSHOT_S3_WRITES";

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
    part_concurrency: usize,
    read_part_size: usize,
    protocol: std::result::Result<WriteProtocol, S3Error>,
    allow_http: bool,
    virtual_hosted: bool,
    timeout: Duration,
    object_store: Option<Arc<dyn ObjectStore>>,
    ordered_listing: Option<bool>,
    /// The proxy URL given (`AWS_PROXY_URL`), checked by `build` so that a malformed
    /// one is reported without its password.
    proxy: Option<String>,
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
            .field("part_concurrency", &self.part_concurrency)
            .field("read_part_size", &self.read_part_size)
            .field("protocol", &self.protocol)
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
            part_concurrency: DEFAULT_PART_CONCURRENCY,
            read_part_size: DEFAULT_READ_PART_SIZE,
            protocol: Ok(WriteProtocol::Auto),
            allow_http: false,
            virtual_hosted: false,
            timeout: Duration::from_secs(30),
            object_store: None,
            ordered_listing: None,
            proxy: None,
        }
    }

    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration read from the environment: every `AWS_*` variable object_store
    /// understands (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ENDPOINT` or `AWS_ENDPOINT_URL`,
    /// `AWS_BUCKET` or `AWS_BUCKET_NAME`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, and the
    /// client settings such as `AWS_ALLOW_HTTP`, `AWS_TIMEOUT`, `AWS_CONNECT_TIMEOUT`,
    /// `AWS_PROXY_URL` and `AWS_PROXY_CA_CERTIFICATE`), with object_store's spellings of
    /// true (`true`, `1`, `yes`, `y`, `on`), plus [`WRITES_VARIABLE`]
    /// (`SNAPSHOT_S3_WRITES=auto|conditional|claims`). Later `with_*` calls override
    /// them; an invalid value is reported by [`build`](Self::build).
    pub fn from_env() -> Self {
        let mut builder = Self::with_s3(AmazonS3Builder::from_env());
        for (name, value) in std::env::vars() {
            let Some(rest) = name.strip_prefix("AWS_") else {
                continue;
            };
            if let Ok(AmazonS3ConfigKey::Client(key)) =
                format!("aws_{}", rest.to_ascii_lowercase()).parse::<AmazonS3ConfigKey>()
            {
                builder.set_client(key, &value);
            }
        }
        builder.bucket = builder.s3.get_config_value(&AmazonS3ConfigKey::Bucket);
        builder.endpoint = builder.s3.get_config_value(&AmazonS3ConfigKey::Endpoint);
        builder.virtual_hosted = builder
            .s3
            .get_config_value(&AmazonS3ConfigKey::VirtualHostedStyleRequest)
            .is_some_and(|v| truthy(&v));
        if let Ok(value) = std::env::var(WRITES_VARIABLE) {
            builder.protocol = value.parse();
        }
        builder
    }

    /// One client setting, as object_store spells it.
    fn set_client(&mut self, key: ClientConfigKey, value: &str) {
        match key {
            ClientConfigKey::AllowHttp => self.allow_http = truthy(value),
            ClientConfigKey::ProxyUrl => self.proxy = Some(value.to_owned()),
            ClientConfigKey::Timeout => {
                if let Some(timeout) = parse_duration(value) {
                    self.timeout = timeout;
                }
            }
            _ => {}
        }
        let client = std::mem::take(&mut self.client);
        self.client = client.with_config(key, value);
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
    ///
    /// With a custom endpoint, the bucket is put in front of the endpoint's host
    /// (`https://s3.example.com` becomes `https://BUCKET.s3.example.com`) unless the
    /// host starts with it already; an endpoint whose host is an IP address cannot
    /// carry a bucket and is refused by [`build`](Self::build).
    pub fn with_virtual_hosted_style_request(mut self, virtual_hosted: bool) -> Self {
        self.virtual_hosted = virtual_hosted;
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
        self.timeout = timeout;
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

    /// How many parts of one upload, and how many ranged reads of one streamed read,
    /// are in flight at once (4 by default, at least 1). A streamed dump holds about
    /// `(n + 1) × part size` of the encoded snapshot; a streamed load about
    /// `(n + 4) × read part size`.
    pub fn with_part_concurrency(mut self, n: usize) -> Self {
        self.part_concurrency = n.max(1);
        self
    }

    /// The size of one ranged read of a streamed load (8 MiB by default); snapshots
    /// smaller than twice this are read with one GET.
    pub fn with_read_part_size(mut self, bytes: usize) -> Self {
        self.read_part_size = bytes.max(1);
        self
    }

    /// How writes keep from replacing a snapshot: [`WriteProtocol::Auto`] (the
    /// default) probes the server before the first write.
    pub fn with_write_protocol(mut self, protocol: WriteProtocol) -> Self {
        self.protocol = Ok(protocol);
        self
    }

    /// Stores snapshots in `store` (any object_store backend: in memory, a local
    /// directory, Azure, GCS, or an S3 client configured elsewhere) instead of an S3
    /// client made from this builder's endpoint and credentials, which are then unused.
    /// Listings are sorted here unless [`with_ordered_listing`](Self::with_ordered_listing)
    /// says the store lists in order, and large snapshots are published with the
    /// store's `copy_if_not_exists`.
    pub fn with_object_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.object_store = Some(store);
        self
    }

    /// Declares whether the object store lists keys in lexicographic order, so lookups
    /// stop reading a listing as soon as they have their answer. S3 and most
    /// S3-compatible servers do (the default for stores this builder connects to); for
    /// [`with_object_store`](Self::with_object_store) the default is `false`.
    pub fn with_ordered_listing(mut self, ordered: bool) -> Self {
        self.ordered_listing = Some(ordered);
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
        let protocol = self.protocol.map_err(|e| Error::backend(BACKEND, e))?;
        if let Some(proxy) = &self.proxy {
            check_proxy(proxy).map_err(|e| Error::backend(BACKEND, e))?;
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
        if let Some(object_store) = self.object_store {
            let mut store = S3Store::from_object_store(object_store, &self.prefix);
            store.protocol = protocol;
            store.ordered_listing = self.ordered_listing.unwrap_or(false);
            store.multipart_threshold = self.multipart_threshold;
            store.part_size = self.part_size;
            store.part_concurrency = self.part_concurrency;
            store.read_part_size = self.read_part_size;
            store.timeout = self.timeout;
            return Ok(store);
        }
        let mut s3 = self
            .s3
            .with_virtual_hosted_style_request(self.virtual_hosted);
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint, self.allow_http).map_err(|e| Error::backend(BACKEND, e))?;
            if self.virtual_hosted {
                let bucket = self.bucket.as_deref().unwrap_or_default();
                let hosted =
                    bucket_endpoint(endpoint, bucket).map_err(|e| Error::backend(BACKEND, e))?;
                s3 = s3.with_endpoint(hosted);
            }
        }
        let http = object_store::client::ReqwestConnector::default()
            .connect(&self.client)
            .map_err(|source| Error::backend(BACKEND, S3Error::Config { source }))?;
        let s3 = s3
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
        store.s3 = Some(s3);
        store.http = Some(http);
        store.bucket = self.bucket;
        store.timeout = self.timeout;
        store.protocol = protocol;
        store.describe = describe;
        store.ordered_listing = self.ordered_listing.unwrap_or(true);
        store.multipart_threshold = self.multipart_threshold;
        store.part_size = self.part_size;
        store.part_concurrency = self.part_concurrency;
        store.read_part_size = self.read_part_size;
        Ok(store)
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
        // Otherwise (not a URL, or one whose `@` is not where a URL's user goes), what
        // precedes an `@` may be a secret: keep it out.
        _ => match endpoint.rsplit_once('@') {
            Some((before, host)) => {
                let scheme = before.split_once("://").map_or("", |(s, _)| s);
                let sep = if scheme.is_empty() { "" } else { "://" };
                format!("{scheme}{sep}***@{host}")
            }
            None => endpoint.to_owned(),
        },
    }
}

/// Refuses a proxy URL the HTTP client would refuse, naming it without its password.
fn check_proxy(proxy: &str) -> std::result::Result<(), S3Error> {
    let shown = redact(proxy);
    let invalid = |reason: &str| S3Error::InvalidProxy {
        proxy: shown.clone(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(proxy).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(invalid("the scheme is not http, https, socks5 or socks5h"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(())
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

/// object_store's spellings of true.
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "y" | "on"
    )
}

/// A duration as object_store reads it (`30s`, `2m`, `1500ms`), or plain seconds.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let secs = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "sec" | "secs" => number,
        "m" | "min" | "mins" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// The endpoint for virtual-hosted-style requests: the bucket in front of the host.
fn bucket_endpoint(endpoint: &str, bucket: &str) -> std::result::Result<String, S3Error> {
    let invalid = |reason: String| S3Error::InvalidEndpoint {
        endpoint: redact(endpoint),
        reason,
    };
    let mut url = url::Url::parse(endpoint).map_err(|e| invalid(e.to_string()))?;
    let host = match url.host() {
        Some(url::Host::Domain(host)) => host.to_owned(),
        Some(_) => {
            return Err(invalid(
                "virtual-hosted-style requests put the bucket in the host name, which an IP address cannot carry; use path-style requests (the default) or a DNS name".into(),
            ));
        }
        None => return Err(invalid("no host".into())),
    };
    if bucket.is_empty() || host.starts_with(&format!("{bucket}.")) {
        return Ok(endpoint.trim_end_matches('/').to_owned());
    }
    url.set_host(Some(&format!("{bucket}.{host}")))
        .map_err(|e| invalid(e.to_string()))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}
