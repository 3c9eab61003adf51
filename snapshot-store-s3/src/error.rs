//! What goes wrong inside the S3 backend, and how object_store's errors map to
//! [`snapshot_store::Error`].

use snapshot_store::{Error, SnapshotKey};

use crate::{BACKEND, S3Store};

/// What went wrong inside the S3 backend; reaches callers as the source of
/// [`Error::Backend`]. Refused credentials are [`Error::Unauthenticated`], refused
/// permissions [`Error::PermissionDenied`], a missing bucket [`Error::StoreNotFound`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A request failed: unreachable endpoint, server error, ... The source says how.
    #[error("{store}: request failed")]
    Request {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// No connection could be made to the endpoint (refused, no route, a name that does
    /// not resolve, TLS failing): nothing was sent. `cause` is the innermost reason, once.
    #[error(
        "{store}: cannot connect to the endpoint: {cause} (check AWS_ENDPOINT / the endpoint given, and that the server is running and reachable from here)"
    )]
    Unreachable {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The innermost cause, such as "Connection refused (os error 111)".
        cause: String,
    },
    /// The proxy URL (`AWS_PROXY_URL`) is malformed; shown without its password.
    #[error("invalid proxy URL {proxy} (AWS_PROXY_URL): {reason}")]
    InvalidProxy {
        /// The proxy URL, its user and password replaced by `***`.
        proxy: String,
        /// What is wrong.
        reason: String,
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
    #[error("invalid S3 configuration")]
    Config {
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A request got no answer within the request timeout.
    #[error(
        "{store}: timed out after {} s without an answer (the request timeout: set AWS_TIMEOUT, e.g. AWS_TIMEOUT=120s, or call with_timeout)",
        after.as_secs_f64()
    )]
    TimedOut {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The request timeout that ran out.
        after: std::time::Duration,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// An object just stored did not appear in the listing that followed: the server's
    /// listings are not consistent, which the claims protocol needs.
    #[error(
        "{store}: {object} was stored but a listing right after it does not show it; writes on a server whose listings lag are unsafe"
    )]
    InconsistentListing {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// The object that was stored.
        object: String,
    },
    /// Writes were told to trust conditional creates (`SNAPSHOT_S3_WRITES=conditional`,
    /// `writes=conditional`), and the probe found that this server ignores them: a
    /// write could replace a snapshot stored at the same instant, so none is made. Use
    /// `auto` (or `claims`), which is safe on this server.
    #[error(
        "{store}: writes are set to trust conditional creates, but this server does not honour them ({report}); refusing to write (use SNAPSHOT_S3_WRITES=auto or claims)"
    )]
    UnsafeWriteProtocol {
        /// Which store (bucket, prefix, endpoint).
        store: String,
        /// What the probe found.
        report: String,
    },
    /// A setting's value is not one of those understood.
    #[error("invalid {setting} {value:?}: expected {expected}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is understood.
        expected: &'static str,
    },
    /// A part size below S3's minimum of 5 MiB, or a threshold below the part size.
    #[error("invalid multipart settings: {0}")]
    Multipart(String),
}

/// Whether a request failed because the server refused the credentials or permissions.
///
/// object_store reports a refused GET or LIST as a generic error whose HTTP status sits
/// in a type it does not export, so the chain's text is searched for the status line and
/// the S3 error codes that mean "who you are" rather than "what you asked".
pub(crate) fn rejected_credentials(e: &object_store::Error) -> bool {
    unauthenticated(e) || forbidden(e)
}

/// Whether a ranged GET failed because the server will not answer that range (HTTP
/// 416, as for an empty object, or a whole object or another range sent instead of the
/// part asked for):
/// the only failures after which reading the object whole is right. A timeout, a reset
/// or a server error is reported as it is: reading a large snapshot whole would lose the
/// memory bound, and a small header read would become a full download.
pub(crate) fn range_refused(e: &object_store::Error) -> bool {
    [
        "status code: 416",
        "Range Not Satisfiable",
        "InvalidRange",
        "non-partial response when range requested",
        "Content-Range header not present",
    ]
    .iter()
    .any(|sign| chain_mentions(e, sign))
        // Another range than the one asked for (s3rver answers some ranges whole):
        // object_store says "Requested 0..1, got 0..57".
        || chain(e).any(|err| {
            let text = err.to_string();
            text.starts_with("Requested ") && text.contains(", got ")
        })
}

/// The credentials themselves were refused (unknown key, bad signature, expired).
fn unauthenticated(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::Unauthenticated { .. })
        || [
            "status code: 401",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "ExpiredToken",
        ]
        .iter()
        .any(|sign| chain_mentions(e, sign))
}

/// The credentials were accepted but do not allow the request.
fn forbidden(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::PermissionDenied { .. })
        || ["status code: 403", "AccessDenied"]
            .iter()
            .any(|sign| chain_mentions(e, sign))
}

impl S3Store {
    pub(crate) fn error(&self, e: object_store::Error, key: Option<SnapshotKey>) -> Error {
        let store = self.describe.clone();
        if chain_mentions(&e, "NoSuchBucket") {
            return Error::StoreNotFound {
                location: store,
                reason: format!(
                    "the bucket {} does not exist (create it first, or check the bucket name and endpoint)",
                    self.bucket.as_deref().unwrap_or("named")
                ),
            };
        }
        if !matches!(e, object_store::Error::NotFound { .. }) && timed_out(&e) {
            return Error::backend(
                BACKEND,
                S3Error::TimedOut {
                    store,
                    after: self.timeout,
                    source: e,
                },
            );
        }
        if let Some(cause) = connect_failure(&e) {
            return Error::backend(BACKEND, S3Error::Unreachable { store, cause });
        }
        match (e, key) {
            (object_store::Error::NotFound { .. }, Some(key)) => Error::NotFound { key },
            (
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
                Some(key),
            ) => Error::AlreadyExists { key },
            // 401 and a bad signature first: a 403 naming a signature is about who.
            (source, _) if unauthenticated(&source) => Error::Unauthenticated {
                backend: BACKEND,
                location: store,
                source: source.into(),
            },
            (source, _) if forbidden(&source) => Error::PermissionDenied {
                backend: BACKEND,
                location: store,
                source: source.into(),
            },
            (source, _) => Error::backend(BACKEND, S3Error::Request { store, source }),
        }
    }
}

/// Whether any error in `e`'s chain mentions `needle` (S3 error codes such as
/// `NoSuchBucket` reach object_store's errors only as text).
pub(crate) fn chain_mentions(e: &object_store::Error, needle: &str) -> bool {
    chain(e).any(|err| err.to_string().contains(needle))
}

/// `e` and its sources, outermost first.
fn chain(e: &object_store::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |err| {
        err.source()
    })
}

/// The innermost cause when a request failed before reaching the server (object_store
/// and its HTTP client wrap it in several layers that repeat one another).
fn connect_failure(e: &object_store::Error) -> Option<String> {
    let connecting = chain(e).any(|err| {
        let text = err.to_string().to_ascii_lowercase();
        text.contains("client error (connect)")
            || text.contains("tcp connect error")
            || text.contains("dns error")
            || text.contains("failed to lookup address")
    });
    if !connecting {
        return None;
    }
    // Such as "tcp connect error: Connection refused (os error 111)".
    Some(chain(e).last()?.to_string())
}

/// Whether a request failed because its time ran out.
fn timed_out(e: &object_store::Error) -> bool {
    for err in chain(e) {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        let text = err.to_string().to_ascii_lowercase();
        if text.contains("connect") {
            // A connect timeout: the innermost cause already says so.
            return false;
        }
        if text.contains("timed out") {
            return true;
        }
    }
    false
}
