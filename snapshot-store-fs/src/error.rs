//! The disk backend's error, and how it maps to the store's.

use super::*;

/// What went wrong inside the disk backend; reaches callers as the source of
/// [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The path exists but is not a directory.
    #[error("{path} exists and is not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// An I/O operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A blocking task was cancelled or panicked.
    #[error("file task failed: {0}")]
    Task(String),
}

impl FsError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        FsError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// The underlying I/O error kind, if this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            FsError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Permission errors become [`Error::PermissionDenied`] (naming the path), the rest
/// [`Error::Backend`] with the [`FsError`] as source.
impl From<FsError> for Error {
    fn from(e: FsError) -> Self {
        match &e {
            FsError::Io { path, source, .. }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                Error::PermissionDenied {
                    backend: BACKEND,
                    location: path.display().to_string(),
                    source: e.into(),
                }
            }
            _ => Error::backend(BACKEND, e),
        }
    }
}
