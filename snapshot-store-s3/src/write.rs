//! Writes that never replace a snapshot, whatever the server does with conditional
//! requests: the probe, the two write protocols, multipart uploads that can be found
//! again, and settling writes whose outcome a failure left unknown.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use snapshot_store::{Error, Result, SnapshotKey};

use crate::S3Store;

/// Claims (see [`WriteProtocol::Claims`](crate::WriteProtocol::Claims)) live under `<prefix>/_claims/`.
pub const CLAIMS_DIR: &str = "_claims";
/// The probe's objects live under `<prefix>/_probe/` for the few requests it takes.
pub const PROBE_DIR: &str = "_probe";
/// How many creates of one name the probe sends at once.
pub(crate) const PROBE_RACERS: usize = 8;
/// The one lasting object of the claims directory.
pub(crate) const CLAIMS_KEEP: &str = "_keep";
/// The name ending of a multipart upload's marker object.
pub(crate) const MARKER_SUFFIX: &str = ".upload";

/// The parts of an upload, in order, each but the last of the part size.
pub(crate) type PartStream = BoxStream<'static, object_store::Result<PutPayload>>;

/// What a write stores.
pub(crate) enum Body {
    /// Bytes held in memory.
    Whole(Bytes),
    /// Parts arriving as they are produced (a streamed snapshot).
    Parts(PartStream),
}

/// The length and the last 8 bytes of what went up.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) len: u64,
    pub(crate) tail: [u8; 8],
}

impl Tally {
    fn add(&mut self, part: &[u8]) {
        self.len += part.len() as u64;
        if part.len() >= 8 {
            self.tail.copy_from_slice(&part[part.len() - 8..]);
        } else {
            self.tail.rotate_left(part.len());
            self.tail[8 - part.len()..].copy_from_slice(part);
        }
    }
}

/// What identifies the bytes of a write, to recognise them once stored.
pub(crate) enum Fingerprint {
    Bytes(Bytes),
    Tail(Tally),
}

/// A name no other write (of this or any process, on any host) uses: the process id,
/// the time, a counter and 64 random bits.
static WRITES: AtomicU64 = AtomicU64::new(0);

pub(crate) fn unique_name() -> String {
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(n);
    hasher.write_u128(nanos);
    format!(
        "{:x}-{nanos:x}-{n:x}-{:016x}",
        std::process::id(),
        hasher.finish()
    )
}

/// Whether a failed write certainly stored nothing (the server refused it outright),
/// as opposed to a failure whose outcome is unknown (a timeout, a dropped connection,
/// a server error).
pub(crate) fn refused_outright(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::Unauthenticated { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::InvalidPath { .. }
    ) || crate::error::rejected_credentials(e)
        || crate::error::chain_mentions(e, "NoSuchBucket")
        // No connection, so no request reached the server.
        || crate::error::chain_mentions(e, "tcp connect error")
}

pub(crate) fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

impl S3Store {
    /// One attempt at storing `body` at `path`: one PUT for bytes below the multipart
    /// threshold, an upload in parts otherwise. `conditional`: the write must not
    /// replace an object. Returns the outcome and what identifies the bytes written.
    pub(crate) async fn store_body(
        &self,
        path: &Path,
        body: Body,
        conditional: bool,
    ) -> (object_store::Result<()>, Fingerprint) {
        let bytes = match body {
            Body::Parts(parts) => {
                let tally = Arc::new(Mutex::new(Tally::default()));
                let counted = {
                    let tally = tally.clone();
                    parts
                        .map(move |part| {
                            let part = part?;
                            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
                            for piece in part.iter() {
                                tally.add(piece);
                            }
                            Ok(part)
                        })
                        .boxed()
                };
                let outcome = self.upload_parts(path, counted, conditional).await;
                let tally = *tally.lock().unwrap_or_else(|e| e.into_inner());
                return (outcome, Fingerprint::Tail(tally));
            }
            Body::Whole(bytes) => bytes,
        };
        let fingerprint = Fingerprint::Bytes(bytes.clone());
        if bytes.len() < self.multipart_threshold {
            let outcome = self
                .store
                .put_opts(path, PutPayload::from(bytes.clone()), create())
                .await;
            let outcome = match outcome {
                // A store without conditional puts (claims protocol only): plain PUT.
                Err(object_store::Error::NotImplemented { .. }) if !conditional => self
                    .store
                    .put(path, PutPayload::from(bytes))
                    .await
                    .map(drop),
                other => other.map(drop),
            };
            return (outcome, fingerprint);
        }
        let parts = self
            .parts(&bytes)
            .map(|part| Ok(PutPayload::from(part)))
            .collect::<Vec<_>>();
        let outcome = self
            .upload_parts(path, futures::stream::iter(parts).boxed(), conditional)
            .await;
        (outcome, fingerprint)
    }

    /// An upload in parts, by the route this store has.
    async fn upload_parts(
        &self,
        path: &Path,
        parts: PartStream,
        conditional: bool,
    ) -> object_store::Result<()> {
        match &self.s3 {
            Some(s3) => self.upload_to(s3.as_ref(), path, parts, conditional).await,
            None if conditional => self.upload_staged(path, parts).await,
            None => self.upload_whole(path, parts).await,
        }
    }

    /// An upload in parts through object_store's generic multipart API (stores not made
    /// by the builder), completed plainly; aborted if a part or the completion fails.
    pub(crate) async fn upload_whole(
        &self,
        path: &Path,
        parts: PartStream,
    ) -> object_store::Result<()> {
        let mut upload = self.store.put_multipart(path).await?;
        let sent = parts
            .map(|part| match part {
                Ok(part) => upload.put_part(part),
                Err(e) => Box::pin(async move { Err(e) }),
            })
            .buffered(self.part_concurrency)
            .try_collect::<Vec<()>>()
            .await;
        let completed = match sent {
            Ok(_) => upload.complete().await.map(drop),
            Err(e) => Err(e),
        };
        if completed.is_err() {
            let _ = upload.abort().await;
        }
        completed
    }

    /// `bytes` cut in parts of the configured size, without copying.
    pub(crate) fn parts<'a>(&self, bytes: &'a Bytes) -> impl Iterator<Item = Bytes> + 'a {
        let size = self.part_size;
        (0..bytes.len())
            .step_by(size)
            .map(move |start| bytes.slice(start..(start + size).min(bytes.len())))
    }

    /// A multipart upload straight to `path`, recorded first in a marker object under
    /// `<prefix>/_staging/` so that [`remove_stale`](Self::remove_stale) can abort it if
    /// the writer dies; completed with `If-None-Match: *` when `conditional`. Parts go
    /// up as they arrive, several at a time (`with_part_concurrency`).
    pub(crate) async fn upload_to(
        &self,
        s3: &object_store::aws::AmazonS3,
        path: &Path,
        parts: PartStream,
        conditional: bool,
    ) -> object_store::Result<()> {
        let id = s3.create_multipart(path).await?;
        let marker = self.uploads().join(format!(
            "{}.{}{MARKER_SUFFIX}",
            path.filename().unwrap_or("object"),
            unique_name()
        ));
        let outcome = async {
            self.store
                .put(&marker, PutPayload::from(format!("{id}\n{path}\n")))
                .await?;
            let parts: Vec<PartId> = parts
                .enumerate()
                .map(|(i, part)| {
                    let id = &id;
                    async move { s3.put_part(path, id, i, part?).await }
                })
                .buffered(self.part_concurrency)
                .try_collect()
                .await?;
            if conditional {
                self.complete_if_absent(s3, path, &id, &parts).await
            } else {
                s3.complete_multipart(path, &id, parts).await.map(drop)
            }
        }
        .await;
        if outcome.is_err() {
            // Best effort: a server that is gone leaves the marker for remove_stale.
            let _ = s3.abort_multipart(path, &id).await;
        }
        let _ = self.store.delete(&marker).await;
        outcome
    }

    /// Completes a multipart upload only if nothing is stored at `path`
    /// (`If-None-Match: *` on CompleteMultipartUpload, as AWS S3 accepts since 2024).
    /// object_store does not expose this request, so it is sent here, signed through
    /// object_store's own request signer.
    pub(crate) async fn complete_if_absent(
        &self,
        s3: &object_store::aws::AmazonS3,
        path: &Path,
        id: &str,
        parts: &[PartId],
    ) -> object_store::Result<()> {
        use object_store::signer::{SignedUrlOptions, Signer};
        let generic = |source: String| object_store::Error::Generic {
            store: "S3",
            source: source.into(),
        };
        let Some(http) = &self.http else {
            return Err(generic("no HTTP client for conditional completion".into()));
        };
        let mut body = String::from("<CompleteMultipartUpload>");
        for (i, part) in parts.iter().enumerate() {
            let etag = part.content_id.replace('&', "&amp;").replace('<', "&lt;");
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                i + 1
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let options = SignedUrlOptions::new()
            .with_query([("uploadId", id)])
            .with_signed_header(
                http::header::IF_NONE_MATCH,
                http::HeaderValue::from_static("*"),
            );
        let url = s3
            .signed_url_opts(http::Method::POST, path, Duration::from_secs(900), &options)
            .await?;
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(http::header::IF_NONE_MATCH, "*")
            .header(http::header::CONTENT_TYPE, "application/xml")
            .body(object_store::client::HttpRequestBody::from(body))
            .map_err(|e| generic(e.to_string()))?;
        let response = http
            .execute(request)
            .await
            .map_err(|e| generic(format!("completing the upload of {path}: {e}")))?;
        let status = response.status();
        let text = response.into_body().bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        if status == http::StatusCode::PRECONDITION_FAILED
            || (status == http::StatusCode::OK && text.contains("PreconditionFailed"))
        {
            return Err(object_store::Error::AlreadyExists {
                path: path.to_string(),
                source: "If-None-Match: the object exists".into(),
            });
        }
        // CompleteMultipartUpload may answer 200 with an error in the body.
        if !status.is_success() || text.contains("<Error>") {
            let shown: String = text.chars().take(300).collect();
            return Err(generic(format!(
                "completing the upload of {path}: HTTP {status}: {shown}"
            )));
        }
        Ok(())
    }

    /// The path for stores without the multipart API: parts to a staging object, then
    /// the store's own `copy_if_not_exists` to `path`.
    pub(crate) async fn upload_staged(
        &self,
        path: &Path,
        parts: PartStream,
    ) -> object_store::Result<()> {
        let staging = self.uploads().join(format!(
            "{}.{}",
            path.filename().unwrap_or("object"),
            unique_name()
        ));
        if let Err(e) = self.upload_whole(&staging, parts).await {
            let _ = self.store.delete(&staging).await;
            return Err(e);
        }
        let published = self.store.copy_if_not_exists(&staging, path).await;
        let _ = self.store.delete(&staging).await;
        published
    }

    /// What is stored at `path`: `None` if nothing, else whether it is what
    /// `fingerprint` describes (the same bytes; for a streamed write, the same size and
    /// the same last 8 bytes, which are the snapshot's checksum of all the others).
    pub(crate) async fn holds(
        &self,
        path: &Path,
        fingerprint: &Fingerprint,
    ) -> object_store::Result<Option<bool>> {
        let meta = match self.store.head(path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match fingerprint {
            Fingerprint::Bytes(bytes) => {
                if meta.size != bytes.len() as u64 {
                    return Ok(Some(false));
                }
                let stored = self.store.get(path).await?.bytes().await?;
                Ok(Some(stored == *bytes))
            }
            Fingerprint::Tail(tally) => {
                if meta.size != tally.len || tally.len < 8 {
                    return Ok(Some(false));
                }
                let tail = self.store.get_range(path, tally.len - 8..tally.len).await?;
                Ok(Some(tail[..] == tally.tail[..]))
            }
        }
    }

    /// Turns the outcome of a write into the answer. A refusal because the key is taken
    /// is [`Error::AlreadyExists`] (object_store never resends a conditional write, so
    /// the refusal answers this write's own request). A failure that may have stored the
    /// object (a timeout, a broken connection, a server error) is checked: the object
    /// holding exactly these bytes means the write landed, and is success; other bytes
    /// mean another writer's snapshot; none means nothing was stored; and if the check
    /// fails too, the answer is [`Error::OutcomeUnknown`].
    pub(crate) async fn settle(
        &self,
        key: SnapshotKey,
        path: &Path,
        bytes: &Fingerprint,
        outcome: object_store::Result<()>,
    ) -> Result<()> {
        let failure = match outcome {
            Ok(()) => return Ok(()),
            Err(e) if refused_outright(&e) => return Err(self.error(e, Some(key))),
            Err(e) => e,
        };
        if matches!(
            failure,
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
        ) {
            return Err(Error::AlreadyExists { key });
        }
        match self.holds(path, bytes).await {
            Ok(Some(true)) => Ok(()),
            Ok(Some(false)) => Err(Error::AlreadyExists { key }),
            Ok(None) => Err(self.error(failure, Some(key))),
            Err(_) => Err(Error::OutcomeUnknown {
                key,
                source: Box::new(self.error(failure, Some(key))),
            }),
        }
    }
}
