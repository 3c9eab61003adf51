//! The store's one error type.

use crate::{KeyError, SnapshotKey};

/// A boxed error from a backend's own library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while storing, finding or loading snapshots.
///
/// Each variant is a condition a caller can act on, and carries the key or location
/// concerned. `Display` says what happened in one sentence and never repeats the
/// cause: the cause is [`source()`](std::error::Error::source), so chain printers
/// (`anyhow`'s `{:#}`, `tracing`) show each cause once.
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
    /// The store refused the operation: file permissions, or an S3 policy that does not
    /// allow it (HTTP 403). The credentials were accepted.
    #[error("{backend} store at {location}: permission denied")]
    PermissionDenied {
        /// Which backend: `"fs"`, `"s3"`, ...
        backend: &'static str,
        /// The directory, file or bucket concerned.
        location: String,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// The store did not accept the credentials (missing, wrong or expired; HTTP 401,
    /// or a signature the server rejects).
    #[error("{backend} store at {location}: credentials rejected")]
    Unauthenticated {
        /// Which backend.
        backend: &'static str,
        /// The endpoint or bucket concerned.
        location: String,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// The snapshot was stored and is visible under `key`, but making it durable (the
    /// fsync of its directory) failed: it may be lost on power failure. Not a failed
    /// write: do not write it again under another key.
    #[error("snapshot {key} was stored and is visible, but it may not survive a power failure")]
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
        "the write of snapshot {key} may or may not have been stored (look it up by this key once the store answers, before writing it again)"
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
    /// A stored snapshot does not load: damaged, truncated, hostile, from a newer format
    /// version, or not a snapshot at all. The source says which.
    #[error("snapshot {key} does not load")]
    Corrupt {
        /// The snapshot.
        key: SnapshotKey,
        /// What the codec found.
        #[source]
        source: snapshot_codec::Error,
    },
    /// A stored snapshot is encrypted under a key this manager does not hold (its
    /// [keyring](crate::SnapshotManager::with_keyring) has no key with that id, or a
    /// different key under the same id). The snapshot is not known to be damaged: load
    /// it again with the right key. Lookups and recovery never treat it as absent.
    #[error("snapshot {key} is encrypted under a key this manager does not hold")]
    KeyUnavailable {
        /// The snapshot.
        key: SnapshotKey,
        /// [`KeyMissing`](snapshot_codec::Error::KeyMissing) or
        /// [`WrongKey`](snapshot_codec::Error::WrongKey), naming the key id.
        #[source]
        source: snapshot_codec::Error,
    },
    /// A lookup, listing or retention policy had to pass over snapshots it could not
    /// read (encrypted under a key the manager lacks, or with a damaged header or body)
    /// and so cannot tell whether they are the answer. It does not answer as if they did
    /// not exist: a resume would start from scratch, or retention would plan without
    /// them. `source` is why the first of them could not be read.
    #[error("{count} snapshot(s) could not be read, the newest passed over being {first}")]
    Unreadable {
        /// The first snapshot passed over, in the lookup's order of preference.
        first: SnapshotKey,
        /// How many were passed over.
        count: usize,
        /// Why `first` could not be read ([`Error::KeyUnavailable`] or
        /// [`Error::Corrupt`]).
        #[source]
        source: Box<Error>,
    },
    /// The codec refused: a state that cannot be encoded (nothing is stored then), or
    /// bytes that are not a valid snapshot given to a buffer read or to
    /// `put_encoded`.
    #[error("snapshot codec")]
    Codec(#[source] snapshot_codec::Error),
    /// Every key tried for a dump was taken: the store is flooded with writers.
    #[error("no free key found after {attempts} attempts from {first}")]
    NoFreeKey {
        /// The first key tried.
        first: SnapshotKey,
        /// How many keys were tried.
        attempts: u32,
    },
    /// Background checkpoints failed whose handles nobody awaited (reported by
    /// [`Checkpointer::flush`](crate::Checkpointer::flush)); each failure is in `failed`.
    #[error("{} background checkpoint(s) failed", failed.len())]
    CheckpointsFailed {
        /// Each checkpoint's failure, in the order they failed.
        failed: Vec<Error>,
    },
    /// The backend failed otherwise (I/O, network, a server error, ...).
    #[error("{backend} backend")]
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

    /// Whether this is [`Error::Corrupt`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }

    /// Whether this is [`Error::KeyUnavailable`].
    pub fn is_key_unavailable(&self) -> bool {
        matches!(self, Error::KeyUnavailable { .. })
    }

    /// The error for the snapshot `key` failing to decode with `source`:
    /// [`Error::KeyUnavailable`] when the manager lacks its key, [`Error::Corrupt`]
    /// otherwise.
    ///
    /// ```
    /// use snapshot_store::{Error, SnapshotKey};
    ///
    /// let missing = snapshot_codec::Error::KeyMissing { key_id: "prod".into() };
    /// assert!(Error::undecodable(SnapshotKey::MIN, missing).is_key_unavailable());
    /// let torn = snapshot_codec::decode(b"torn").unwrap_err();
    /// assert!(Error::undecodable(SnapshotKey::MIN, torn).is_corrupt());
    /// ```
    pub fn undecodable(key: SnapshotKey, source: snapshot_codec::Error) -> Self {
        match source {
            snapshot_codec::Error::KeyMissing { .. } | snapshot_codec::Error::WrongKey { .. } => {
                Error::KeyUnavailable { key, source }
            }
            source => Error::Corrupt { key, source },
        }
    }

    /// This error and its causes on one line, each once: `"a: b: c"`. For messages
    /// where a chain printer is not at hand.
    ///
    /// ```
    /// use snapshot_store::{Error, SnapshotKey};
    ///
    /// let err = Error::Corrupt {
    ///     key: SnapshotKey::MIN,
    ///     source: snapshot_codec::decode(b"nonsense").unwrap_err(),
    /// };
    /// assert!(err.to_string().ends_with("does not load"));
    /// assert!(err.chain_to_string().starts_with(&format!("{err}: ")));
    /// ```
    pub fn chain_to_string(&self) -> String {
        chain_to_string(self)
    }
}

/// `error` and its causes on one line, each once.
pub fn chain_to_string(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // A cause that says nothing new (transparent wrappers) is not repeated.
        if !text.is_empty() && !out.ends_with(&text) {
            out += ": ";
            out += &text;
        }
        source = cause.source();
    }
    out
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_repeats_the_source() {
        let codec = || snapshot_codec::decode(b"nonsense").expect_err("not a snapshot");
        let cases: Vec<Error> = vec![
            Error::Corrupt {
                key: SnapshotKey::MIN,
                source: codec(),
            },
            Error::Codec(codec()),
            Error::backend("fs", std::io::Error::other("disk on fire")),
            Error::NotDurable {
                key: SnapshotKey::MIN,
                source: "fsync failed".into(),
            },
            Error::OutcomeUnknown {
                key: SnapshotKey::MIN,
                source: Box::new(Error::backend("s3", std::io::Error::other("reset"))),
            },
        ];
        for err in cases {
            let source = std::error::Error::source(&err)
                .expect("has a source")
                .to_string();
            assert!(!err.to_string().contains(&source), "{err} repeats {source}");
            assert!(
                err.chain_to_string().contains(&source),
                "{}",
                err.chain_to_string()
            );
        }
    }
}
