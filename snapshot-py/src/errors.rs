//! The exception hierarchy, and how Rust errors and panics become its exceptions.

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use snapshot_state::codec::Error as CodecError;
use snapshot_state::{Error, OpenError, SnapshotKey};

pyo3::create_exception!(
    snapshot_state,
    SnapshotError,
    PyException,
    "The base of every error this package raises (values it cannot store raise the\nstandard TypeError, OverflowError or ValueError)."
);
pyo3::create_exception!(
    snapshot_state,
    SnapshotNotFoundError,
    SnapshotError,
    "The snapshot named does not exist (lookups that find nothing return None instead)."
);
pyo3::create_exception!(
    snapshot_state,
    StoreNotFoundError,
    SnapshotError,
    "No store at that location: a missing directory, say, opened without create=True."
);
pyo3::create_exception!(
    snapshot_state,
    CorruptSnapshotError,
    SnapshotError,
    "A snapshot does not load: damaged, truncated, tampered with or not a snapshot.\nIts `key` attribute names it (None for bytes given directly)."
);
pyo3::create_exception!(
    snapshot_state,
    EncryptionKeyError,
    SnapshotError,
    "A snapshot is encrypted under a key that was not given, or a wrong key was given\nunder its id. `key` names the snapshot."
);
pyo3::create_exception!(
    snapshot_state,
    SnapshotPermissionError,
    SnapshotError,
    "The store refused access (file permissions, an S3 policy)."
);
pyo3::create_exception!(
    snapshot_state,
    AuthenticationError,
    SnapshotError,
    "The store rejected the credentials (S3 keys from the AWS_* variables)."
);
pyo3::create_exception!(
    snapshot_state,
    InvalidKeyError,
    SnapshotError,
    "A snapshot key or time that cannot name a snapshot (not YYYY-MM-DD_HH-MM-SS-ffffff,\noutside the years 0000 to 9999)."
);
pyo3::create_exception!(
    snapshot_state,
    AlreadyExistsError,
    SnapshotError,
    "A snapshot already holds that key."
);
pyo3::create_exception!(
    snapshot_state,
    StoreError,
    SnapshotError,
    "The store failed: unreachable, misbehaving, full, or a write whose outcome is unknown."
);
pyo3::create_exception!(
    snapshot_state,
    InternalError,
    SnapshotError,
    "A bug in this package (a Rust panic, caught): please report it with the message."
);

/// Registers the exception classes on the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    m.add(
        "SnapshotNotFoundError",
        py.get_type::<SnapshotNotFoundError>(),
    )?;
    m.add("StoreNotFoundError", py.get_type::<StoreNotFoundError>())?;
    m.add(
        "CorruptSnapshotError",
        py.get_type::<CorruptSnapshotError>(),
    )?;
    m.add("EncryptionKeyError", py.get_type::<EncryptionKeyError>())?;
    m.add(
        "SnapshotPermissionError",
        py.get_type::<SnapshotPermissionError>(),
    )?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    m.add("InvalidKeyError", py.get_type::<InvalidKeyError>())?;
    m.add("AlreadyExistsError", py.get_type::<AlreadyExistsError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}

/// An error with its whole chain of causes, as one message.
fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// An exception with a `key` attribute (the snapshot's key, or None).
fn with_key<T: pyo3::PyTypeInfo>(key: Option<SnapshotKey>, text: String) -> PyErr {
    Python::attach(|py| {
        let err = PyErr::new::<T, _>(text);
        let key = key.map(|k| k.to_string());
        let _ = err.value(py).setattr("key", key);
        err
    })
}

/// A codec error reading the snapshot `key` (None: bytes given directly).
pub(crate) fn codec_error(key: Option<SnapshotKey>, e: &CodecError) -> PyErr {
    let named = match key {
        Some(k) => format!("snapshot {k} does not load: {}", message(e)),
        None => format!("not a loadable snapshot: {}", message(e)),
    };
    match e {
        CodecError::KeyMissing { .. } | CodecError::WrongKey { .. } => {
            with_key::<EncryptionKeyError>(key, named)
        }
        _ => with_key::<CorruptSnapshotError>(key, named),
    }
}

/// The exception for a store error.
pub(crate) fn store_error(e: Error) -> PyErr {
    let text = message(&e);
    match &e {
        Error::NotFound { .. } => SnapshotNotFoundError::new_err(text),
        Error::AlreadyExists { .. } => AlreadyExistsError::new_err(text),
        Error::StoreNotFound { .. } => StoreNotFoundError::new_err(text),
        Error::PermissionDenied { .. } => SnapshotPermissionError::new_err(text),
        Error::Unauthenticated { .. } => AuthenticationError::new_err(text),
        Error::InvalidKey(_) => InvalidKeyError::new_err(text),
        Error::Corrupt { key, source } | Error::KeyUnavailable { key, source } => {
            codec_error(Some(*key), source)
        }
        // Snapshots a lookup passed over: the exception of the first one's reason, with
        // the whole message (how many, which).
        Error::Unreadable { first, source, .. } => {
            if source.is_key_unavailable() {
                with_key::<EncryptionKeyError>(Some(*first), text)
            } else {
                with_key::<CorruptSnapshotError>(Some(*first), text)
            }
        }
        Error::Codec(source) => codec_error(None, source),
        _ => StoreError::new_err(text),
    }
}

/// The exception for a store that cannot be opened.
pub(crate) fn open_error(e: OpenError) -> PyErr {
    match e {
        OpenError::Store(e) => store_error(e),
        other => PyValueError::new_err(message(&other)),
    }
}

/// Runs `f`, turning a panic (a bug) into [`InternalError`] instead of letting it reach
/// Python as PyO3's `PanicException`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            Err(InternalError::new_err(format!(
                "internal error (a bug in snapshot; please report it): {what}"
            )))
        }
    }
}

/// The arguments of an exception, for messages built from another exception.
pub(crate) fn first_arg(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    value
        .getattr("args")
        .ok()
        .and_then(|a| a.cast_into::<PyTuple>().ok())
        .and_then(|a| a.get_item(0).ok())
        .map(|a| a.to_string())
        .unwrap_or_else(|| value.to_string())
}
