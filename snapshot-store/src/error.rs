//! The store's one error type.

use crate::{KeyError, SnapshotKey};

/// A boxed error from a backend's own library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while storing, finding or loading snapshots.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No snapshot has this key.
    #[error("snapshot {key} not found")]
    NotFound {
        /// The key looked for.
        key: SnapshotKey,
    },
    /// A snapshot with this key exists already; it was left untouched.
    #[error("snapshot {key} already exists")]
    AlreadyExists {
        /// The key that is taken.
        key: SnapshotKey,
    },
    /// The store itself does not exist (a missing directory, a missing bucket). Opening
    /// a store to read never creates it, so a mistyped location is this error rather
    /// than an empty store.
    #[error("no snapshot store at {location}: {reason}")]
    StoreNotFound {
        /// The directory or bucket looked for.
        location: String,
        /// What is missing, and what creates it.
        reason: String,
    },
    /// The snapshot was stored and is visible under `key`, but making it durable (the
    /// fsync of its directory) failed: it may be lost on power failure. Not a failed
    /// write: do not write it again under another key.
    #[error(
        "snapshot {key} was stored and is visible, but it may not survive a power failure: {source}"
    )]
    NotDurable {
        /// Where the snapshot was stored.
        key: SnapshotKey,
        /// Why durability could not be ensured.
        #[source]
        source: BoxError,
    },
    /// A write failed in a way that leaves its outcome unknown (its response was lost,
    /// and the store could not be asked afterwards): the snapshot may or may not be
    /// stored under `key`. Do not simply write it again under a new key, which could
    /// store it twice: once the store answers, look it up with `Lookup::Exact(key)`;
    /// if it is there it was stored, otherwise write it again.
    #[error(
        "the write of snapshot {key} may or may not have been stored (look it up by this key once the store answers, before writing it again): {source}"
    )]
    OutcomeUnknown {
        /// The key written.
        key: SnapshotKey,
        /// Why the outcome is unknown.
        #[source]
        source: Box<Error>,
    },
    /// A text or time is not a valid snapshot key.
    #[error(transparent)]
    InvalidKey(#[from] KeyError),
    /// A snapshot could not be encoded, or a stored one could not be decoded.
    #[error("{}", match key {
        Some(key) => format!("snapshot {key}: {source}"),
        None => format!("snapshot codec: {source}"),
    })]
    Codec {
        /// The snapshot concerned, when it came from a store.
        key: Option<SnapshotKey>,
        /// What the codec reported.
        #[source]
        source: snapshot_codec::Error,
    },
    /// Every key tried for a dump was taken: the store is flooded with writers.
    #[error("no free key found after {attempts} attempts from {first}")]
    NoFreeKey {
        /// The first key tried.
        first: SnapshotKey,
        /// How many consecutive microseconds were tried.
        attempts: u32,
    },
    /// The snapshot was stored, but the retention pass after it failed.
    #[error("snapshot {dumped} was stored, but retention failed: {source}")]
    Retention {
        /// The snapshot that was stored.
        dumped: SnapshotKey,
        /// Why retention failed.
        #[source]
        source: Box<Error>,
    },
    /// The backend failed (I/O, network, permissions, ...).
    #[error("{backend} backend: {source}")]
    Backend {
        /// Which backend: `"memory"`, `"fs"`, `"s3"`, ...
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A backend error from any error type.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            source: source.into(),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::StoreNotFound`].
    pub fn is_store_not_found(&self) -> bool {
        matches!(self, Error::StoreNotFound { .. })
    }

    /// Whether this is [`Error::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    pub(crate) fn codec(key: Option<SnapshotKey>, source: snapshot_codec::Error) -> Self {
        Error::Codec { key, source }
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
