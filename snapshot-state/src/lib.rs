//! Save in-memory state as compact, checksummed binary snapshots, keep them on local
//! disk or in S3 keyed by UTC time, and load the latest, an exact, the nearest or the
//! last-before-a-time snapshot; prune old ones by retention rules.
//!
//! This crate is the one dependency applications need. It re-exports the format
//! ([`codec`], with [`Value`] and the [`value!`] macro), the store core
//! ([`SnapshotManager`], [`Lookup`], [`RetentionPolicy`], ...) and the backends chosen
//! with Cargo features, and opens a store from a URL with [`open`]:
//!
//! | URL | store | feature |
//! |---|---|---|
//! | `/var/lib/app/snapshots`, `./snaps`, `file:///var/lib/app/snapshots` | [`FsStore`] | `fs` (default) |
//! | `s3://bucket/prefix` (endpoint and credentials from `AWS_*`; `?writes=claims` sets the write protocol) | [`S3Store`] | `s3` |
//! | `memory:` | [`MemoryStore`] | always |
//!
//! ```
//! use snapshot_state::{value, Lookup, Value};
//!
//! # let dir = tempfile::tempdir()?;
//! # let dir = dir.path().join("game");
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! // A writer opens or creates its store; `snapshot_state::open` only opens an existing one.
//! let manager = snapshot_state::open_or_create(dir.to_str().unwrap())?;
//! manager.dump(&value!({"level": 5, "inventory": ["sword", "shield"]})).await?;
//! let restored = manager.load::<Value>(Lookup::Latest).await?;
//! assert_eq!(restored.unwrap()["inventory"][1].as_str(), Some("shield"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;

#[cfg(feature = "legacy")]
pub mod import;

pub use snapshot_codec as codec;
pub use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, Ext, ExtType, Map, Metadata, Registry, Value, value,
};
#[cfg(feature = "encryption")]
#[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
pub use snapshot_codec::{EncryptionKey, Keyring};
pub use snapshot_store::metrics;
pub use snapshot_store::{
    ByteStream, CalendarDuration, Checkpoint, Checkpointer, Copied, CopyReport,
    DEFAULT_COMPRESSION, DumpInfo, DumpOptions, DurationError, Error, Filter, IntoKey, KeepReason,
    Kept, KeyError, KeyRange, Listing, Lookup, MemoryStore, OnTaken, Operation, Order, Period,
    Placed, Progress, Query, Raw, Recovered, Result, RetentionOutcome, RetentionPlan,
    RetentionPolicy, STREAM_PAGE, Skipped, Snapshot, SnapshotDetails, SnapshotKey, SnapshotManager,
    SnapshotMeta, SnapshotStore, Submitted, VerifyReport, WhenBusy, chain_to_string,
};
#[cfg(feature = "fs")]
pub use snapshot_store_fs::{self as fs, FsStore};
#[cfg(feature = "s3")]
pub use snapshot_store_s3::{self as s3, S3Store};

/// Why a store could not be opened from a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL names a kind of store this crate does not know.
    #[error(
        "unsupported store URL scheme {scheme:?} in {url:?} (use a path, file://, s3:// or memory:)"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The whole URL.
        url: String,
    },
    /// The URL names a backend whose Cargo feature is not compiled in.
    #[error(
        "{url:?} needs the `{feature}` feature of the `snapshot-state` crate, which this build does not have"
    )]
    FeatureDisabled {
        /// The feature to enable.
        feature: &'static str,
        /// The URL.
        url: String,
    },
    /// The URL is malformed.
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The backend could not be set up.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Where a URL points, before the store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// A local directory.
    Dir(std::path::PathBuf),
    /// An S3 bucket and key prefix.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix inside it (may be empty).
        prefix: String,
        /// The `writes=` option (`auto`, `conditional` or `claims`), if given; checked
        /// when the store is opened.
        writes: Option<String>,
    },
    /// A fresh in-memory store.
    Memory,
}

impl StoreUrl {
    /// Parses a store URL: a path, `file://PATH`, `s3://BUCKET[/PREFIX][?writes=PROTOCOL]`
    /// or `memory:`.
    ///
    /// ```
    /// use snapshot_state::StoreUrl;
    ///
    /// assert_eq!(
    ///     StoreUrl::parse("s3://pipelines/nightly/ckpt")?,
    ///     StoreUrl::S3 { bucket: "pipelines".into(), prefix: "nightly/ckpt".into(), writes: None }
    /// );
    /// assert_eq!(
    ///     StoreUrl::parse("s3://pipelines/ckpt?writes=claims")?,
    ///     StoreUrl::S3 { bucket: "pipelines".into(), prefix: "ckpt".into(), writes: Some("claims".into()) }
    /// );
    /// assert!(StoreUrl::parse("s3://pipelines/ckpt?region=x").is_err());
    /// // A URL missing a slash is refused, not taken for a local directory.
    /// assert!(StoreUrl::parse("s3:/pipelines/ckpt").is_err());
    /// assert!(matches!(StoreUrl::parse("./s3:/odd-dir")?, StoreUrl::Dir(_)));
    /// assert_eq!(StoreUrl::parse("file:///var/snap")?, StoreUrl::Dir("/var/snap".into()));
    /// assert_eq!(StoreUrl::parse("file://localhost/var/snap")?, StoreUrl::Dir("/var/snap".into()));
    /// assert_eq!(StoreUrl::parse("file:///var/my%20snaps")?, StoreUrl::Dir("/var/my snaps".into()));
    /// assert!(StoreUrl::parse("file://elsewhere/var/snap").is_err()); // not a local path
    /// assert_eq!(
    ///     StoreUrl::parse("s3://b/night%20ly")?,
    ///     StoreUrl::S3 { bucket: "b".into(), prefix: "night ly".into(), writes: None }
    /// );
    /// assert_eq!(StoreUrl::parse("./snaps")?, StoreUrl::Dir("./snaps".into()));
    /// assert!(StoreUrl::parse("gs://bucket").is_err());
    /// # Ok::<(), snapshot_state::OpenError>(())
    /// ```
    ///
    /// # Errors
    /// [`OpenError::UnsupportedScheme`] or [`OpenError::InvalidUrl`].
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        let shown = redact_url(url);
        let invalid = |reason| OpenError::InvalidUrl {
            url: shown.clone(),
            reason,
        };
        if url.is_empty() {
            return Err(invalid("empty"));
        }
        if url == "memory:" || url == "memory://" {
            return Ok(StoreUrl::Memory);
        }
        // Only text with `scheme://` is a URL; anything else is a path, even one with a
        // colon in it, except what is surely a URL missing a slash (`s3:/bucket/x`,
        // `file:/x`): that would silently become a local directory. A path of that
        // shape is written `./s3:/...`.
        if !url.contains("://") {
            if let Some((scheme, rest)) = url.split_once(':') {
                let schemelike = scheme.len() >= 2
                    && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
                let known = ["s3", "s3a", "file", "memory", "http", "https", "gs", "az"]
                    .contains(&scheme.to_ascii_lowercase().as_str());
                if schemelike && (rest.starts_with('/') || known) {
                    return Err(invalid(
                        "this looks like a URL without its `//` (write s3://BUCKET/PREFIX or file:///PATH; for a local path of this shape, write ./ before it)",
                    ));
                }
            }
            return Ok(StoreUrl::Dir(url.into()));
        }
        let parsed = url::Url::parse(url).map_err(|_| invalid("not a valid URL"))?;
        match parsed.scheme() {
            "file" => {
                if parsed.path().is_empty() || parsed.path() == "/" && url.ends_with("://") {
                    return Err(invalid("no path after file://"));
                }
                // `file:///x` and `file://localhost/x` are `/x`; escapes are decoded.
                parsed.to_file_path().map(StoreUrl::Dir).map_err(|()| {
                    invalid(
                        "a file:// URL names a local path: file:///PATH or file://localhost/PATH",
                    )
                })
            }
            "s3" | "s3a" => {
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(invalid(
                        "credentials do not belong in an s3:// URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    ));
                }
                let bucket = parsed.host_str().unwrap_or_default();
                if bucket.is_empty() {
                    return Err(invalid("no bucket after s3://"));
                }
                if parsed.port().is_some() || parsed.fragment().is_some() {
                    return Err(invalid("an s3:// URL is s3://BUCKET/PREFIX[?writes=...]"));
                }
                let mut writes = None;
                for (name, value) in parsed.query_pairs() {
                    match &*name {
                        "writes" => writes = Some(value.into_owned()),
                        _ => {
                            return Err(invalid(
                                "the only option of an s3:// URL is writes=auto|conditional|claims",
                            ));
                        }
                    }
                }
                let prefix = percent_encoding::percent_decode_str(parsed.path())
                    .decode_utf8()
                    .map_err(|_| invalid("the prefix is not UTF-8 once decoded"))?;
                Ok(StoreUrl::S3 {
                    bucket: percent_encoding::percent_decode_str(bucket)
                        .decode_utf8_lossy()
                        .into_owned(),
                    prefix: prefix.trim_matches('/').to_owned(),
                    writes,
                })
            }
            scheme => Err(OpenError::UnsupportedScheme {
                scheme: scheme.to_owned(),
                url: shown,
            }),
        }
    }
}

/// `url` with any user name and password replaced by `***`, for messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both succeed for URLs that can carry credentials, which this one does.
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("***");
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL we can read: keep only what precedes any `@`.
        Err(_) => match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_owned(),
        },
    }
}

/// Whether opening a store may create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Open an existing store only: a missing directory is [`Error::StoreNotFound`].
    /// For readers, so a mistyped path is an error rather than an empty store.
    No,
    /// Create the directory (and its parents) if missing. For writers.
    IfMissing,
}

/// Opens the store a URL names (see the crate docs for the forms), creating it only if
/// `create` says so.
///
/// `s3://` URLs take the endpoint, region and credentials from the standard `AWS_*`
/// variables (`AWS_ENDPOINT` and `AWS_ALLOW_HTTP=true` for a local MinIO). S3 prefixes
/// and `memory:` stores need no creating; `memory:` is always a new, empty store.
///
/// # Errors
/// [`OpenError::FeatureDisabled`] naming the feature when the backend is not compiled
/// in; [`Error::StoreNotFound`] (inside [`OpenError::Store`]) for a missing directory
/// with [`Create::No`]; otherwise as [`StoreUrl::parse`] and the backend's constructor.
pub fn open_store(url: &str, create: Create) -> Result<Arc<dyn SnapshotStore>, OpenError> {
    #[cfg(not(any(feature = "fs", feature = "s3")))]
    let _ = create; // directories are created, S3 writers probe early
    match StoreUrl::parse(url)? {
        StoreUrl::Memory => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "fs")]
        StoreUrl::Dir(path) => Ok(Arc::new(
            FsStore::builder(path)
                .with_create(create == Create::IfMissing)
                .build()?,
        )),
        #[cfg(not(feature = "fs"))]
        StoreUrl::Dir(_) => Err(OpenError::FeatureDisabled {
            feature: "fs",
            url: url.to_owned(),
        }),
        #[cfg(feature = "s3")]
        StoreUrl::S3 {
            bucket,
            prefix,
            writes,
        } => {
            let store = s3_store(bucket, prefix, writes.as_deref())?;
            if create == Create::IfMissing {
                // A writer: find out how to write safely before the first write.
                store.start_probe();
            }
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "s3"))]
        StoreUrl::S3 { .. } => Err(OpenError::FeatureDisabled {
            feature: "s3",
            url: url.to_owned(),
        }),
    }
}

/// The S3 store an `s3://` URL names: `from_env`, then the URL's bucket, prefix and
/// `writes=` option (which overrides `SNAPSHOT_S3_WRITES`).
///
/// # Errors
/// As [`S3StoreBuilder::build`](s3::S3StoreBuilder::build), and an invalid `writes=`.
#[cfg(feature = "s3")]
pub fn s3_store(bucket: String, prefix: String, writes: Option<&str>) -> Result<S3Store, Error> {
    let mut builder = S3Store::from_env()
        .with_bucket_name(bucket)
        .with_prefix(prefix);
    if let Some(writes) = writes {
        let protocol = writes
            .parse::<s3::WriteProtocol>()
            .map_err(|e| Error::backend(s3::BACKEND, e))?;
        builder = builder.with_write_protocol(protocol);
    }
    builder.build()
}

/// Opens the existing store a URL names and returns a [`SnapshotManager`] over it with
/// default settings. Nothing is created: a missing directory is an error naming it.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let missing = dir.path().join("mistyped");
/// let err = snapshot_state::open(missing.to_str().unwrap()).unwrap_err();
/// assert!(err.to_string().contains("mistyped"));
/// assert!(!missing.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`open_store`] with [`Create::No`].
pub fn open(url: &str) -> Result<SnapshotManager, OpenError> {
    Ok(SnapshotManager::new(open_store(url, Create::No)?))
}

/// Opens the store a URL names, creating its directory if missing (for writers: a
/// pipeline's first run), and returns a [`SnapshotManager`] over it.
///
/// # Errors
/// As [`open_store`] with [`Create::IfMissing`].
pub fn open_or_create(url: &str) -> Result<SnapshotManager, OpenError> {
    Ok(SnapshotManager::new(open_store(url, Create::IfMissing)?))
}

// The README's and the guide's code blocks are compiled and run as doctests. (Only
// under `doctest`: the pages live outside the published crate.)
#[cfg(all(doctest, feature = "fs", feature = "s3", feature = "encryption"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(all(doctest, feature = "fs", feature = "s3", feature = "encryption"))]
mod guide {
    macro_rules! pages {
        ($($name:ident = $file:literal),* $(,)?) => {
            $(
                #[doc = include_str!(concat!("../../docs/", $file))]
                struct $name;
            )*
        };
    }
    pages!(
        Index = "README.md",
        Basics = "basics.md",
        Checkpoints = "checkpoints.md",
        LookupsAndRetention = "lookups-and-retention.md",
        Labels = "labels.md",
        Encryption = "encryption.md",
        Backends = "backends.md",
        Reliability = "reliability.md",
        Cli = "cli.md",
        Inspecting = "inspecting.md",
        Python = "python.md",
        Format = "format.md",
        WritingABackend = "writing-a-backend.md",
        Migrating = "migrating.md",
        CratesAndFeatures = "crates-and-features.md",
        Examples = "examples.md",
    );
}
