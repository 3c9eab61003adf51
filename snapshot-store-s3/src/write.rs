//! Writes that never replace a snapshot, whatever the server does with conditional
//! requests: the probe, the two write protocols, multipart uploads that can be found
//! again, and settling writes whose outcome a failure left unknown.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use snapshot_store::{Error, Result, SnapshotKey};

use crate::{BACKEND, S3Error, S3Store};

/// Claims (see [`WriteProtocol::Claims`]) live under `<prefix>/_claims/`.
pub const CLAIMS_DIR: &str = "_claims";
/// The probe's objects live under `<prefix>/_probe/` for the few requests it takes.
pub const PROBE_DIR: &str = "_probe";
/// How many creates of one name the probe sends at once.
const PROBE_RACERS: usize = 8;
/// How many parts are uploaded at once.
const PART_CONCURRENCY: usize = 4;
/// The one lasting object of the claims directory.
const CLAIMS_KEEP: &str = "_keep";
/// The name ending of a multipart upload's marker object.
const MARKER_SUFFIX: &str = ".upload";

/// How writes keep from replacing a snapshot that is already stored.
///
/// Set with [`S3StoreBuilder::with_write_protocol`](crate::S3StoreBuilder::with_write_protocol)
/// or the `SNAPSHOT_S3_WRITES` variable (`auto`, `conditional` or `claims`). Every writer
/// of one prefix must use the same protocol; `Auto` makes the same choice on the same server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WriteProtocol {
    /// Probe the server once, before the store's first write, and use
    /// [`Conditional`](Self::Conditional) where it honours conditional creates (of
    /// single objects and of multipart uploads, racing writers included), and
    /// [`Claims`](Self::Claims) otherwise. The default.
    #[default]
    Auto,
    /// Trust `If-None-Match: *`: a write is one conditional PUT (or a multipart upload
    /// completed conditionally). Right only on servers that honour it, such as AWS S3,
    /// MinIO, SeaweedFS, Cloudflare R2 and moto.
    Conditional,
    /// A protocol that needs nothing from the server but consistent listings: a writer
    /// first stores a small claim object with a name only it uses, lists the claims for
    /// its key, and writes only if its claim is the only one and the key is free. Four
    /// or five requests per write instead of one.
    Claims,
}

impl WriteProtocol {
    /// The name used in settings and output: `auto`, `conditional` or `claims`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteProtocol::Auto => "auto",
            WriteProtocol::Conditional => "conditional",
            WriteProtocol::Claims => "claims",
        }
    }
}

impl fmt::Display for WriteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WriteProtocol {
    type Err = S3Error;

    /// Parses `auto`, `conditional` or `claims` (any case).
    fn from_str(s: &str) -> std::result::Result<Self, S3Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(WriteProtocol::Auto),
            "conditional" => Ok(WriteProtocol::Conditional),
            "claims" => Ok(WriteProtocol::Claims),
            _ => Err(S3Error::InvalidSetting {
                setting: "write protocol",
                value: s.to_owned(),
                expected: "auto, conditional or claims",
            }),
        }
    }
}

/// What [`S3Store::probe`] found out about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeReport {
    /// A second conditional create of one name was refused.
    pub conditional_put: bool,
    /// Of several conditional creates of one name sent at once, exactly one succeeded.
    pub racing_puts: bool,
    /// A second conditional completion of a multipart upload to one name was refused;
    /// `None` where the store cannot send one (stores not made by the builder).
    pub conditional_complete: Option<bool>,
    /// The protocol [`WriteProtocol::Auto`] picks from these answers.
    pub protocol: WriteProtocol,
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "honoured" } else { "IGNORED" };
        write!(
            f,
            "conditional create: {}; racing creates: {}; conditional multipart completion: {}; writes use: {}",
            yes(self.conditional_put),
            yes(self.racing_puts),
            self.conditional_complete.map_or("not tested", yes),
            self.protocol
        )
    }
}

/// What [`S3Store::stale`] found, or [`S3Store::remove_stale`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leftovers {
    /// Multipart uploads of killed writers (their marker objects' names); removing
    /// aborts the upload, which frees its parts.
    pub uploads: Vec<String>,
    /// Claims left by writers that stopped between claiming a key and finishing.
    pub claims: Vec<String>,
    /// Other leftovers: staging copies and probe objects.
    pub other: Vec<String>,
}

impl Leftovers {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.claims.is_empty() && self.other.is_empty()
    }
}

static WRITES: AtomicU64 = AtomicU64::new(0);

/// A name no other write (of this or any process, on any host) uses: the process id,
/// the time, a counter and 64 random bits.
fn unique_name() -> String {
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
fn refused_outright(e: &object_store::Error) -> bool {
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

fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

impl S3Store {
    /// The protocol this store's writes use: the configured one, or for
    /// [`WriteProtocol::Auto`] the probe's choice (probed once per store and its clones,
    /// before the first write).
    ///
    /// # Errors
    /// [`Error::Backend`] when the probe's requests fail.
    pub async fn write_protocol(&self) -> Result<WriteProtocol> {
        match self.protocol {
            WriteProtocol::Auto => self
                .chosen
                .get_or_try_init(|| async { Ok(self.probe().await?.protocol) })
                .await
                .copied(),
            chosen => Ok(chosen),
        }
    }

    /// Finds out what the server does with conditional creates, with about a dozen
    /// small requests under `<prefix>/_probe/` (removed afterwards): one name created
    /// twice, one name created by several requests at once, and, for stores made by the
    /// builder, one multipart upload completed twice. Needs write permission.
    ///
    /// # Errors
    /// [`Error::Backend`] when a request fails for another reason than the condition.
    pub async fn probe(&self) -> Result<ProbeReport> {
        let dir = self.prefix.clone().join(PROBE_DIR);
        let base = unique_name();
        let single = dir.clone().join(format!("{base}-single"));
        let racing = dir.clone().join(format!("{base}-racing"));
        let completed = dir.clone().join(format!("{base}-multipart"));
        let report = self.run_probe(&single, &racing, &completed).await;
        for path in [&single, &racing, &completed] {
            let _ = self.store.delete(path).await;
        }
        let report = report?;
        tracing::info!(store = %self.describe, %report, "probed conditional creates");
        Ok(report)
    }

    async fn run_probe(
        &self,
        single: &Path,
        racing: &Path,
        completed: &Path,
    ) -> Result<ProbeReport> {
        let put = |path: &Path| {
            let (store, path) = (self.store.clone(), path.clone());
            async move {
                store
                    .put_opts(&path, PutPayload::from_static(b"probe"), create())
                    .await
            }
        };
        let conditional_put = match put(single).await {
            Ok(_) => match put(single).await {
                Ok(_) => false,
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => true,
                Err(e) => return Err(self.error(e, None)),
            },
            Err(object_store::Error::NotImplemented { .. }) => false,
            Err(e) => return Err(self.error(e, None)),
        };
        let racing_puts = if conditional_put {
            let results = futures::future::join_all((0..PROBE_RACERS).map(|_| put(racing))).await;
            let mut won = 0;
            for result in results {
                match result {
                    Ok(_) => won += 1,
                    Err(
                        object_store::Error::AlreadyExists { .. }
                        | object_store::Error::Precondition { .. },
                    ) => {}
                    Err(e) => return Err(self.error(e, None)),
                }
            }
            won == 1
        } else {
            false
        };
        let conditional_complete = match &self.s3 {
            Some(s3) if conditional_put => {
                let body = Bytes::from_static(b"probe");
                let first = self
                    .upload_to(s3.as_ref(), completed, body.clone(), true)
                    .await;
                first.map_err(|e| self.error(e, None))?;
                match self.upload_to(s3.as_ref(), completed, body, true).await {
                    Ok(()) => Some(false),
                    Err(object_store::Error::AlreadyExists { .. }) => Some(true),
                    Err(e) => return Err(self.error(e, None)),
                }
            }
            Some(_) => Some(false),
            None => None,
        };
        let honoured = conditional_put && racing_puts && conditional_complete != Some(false);
        Ok(ProbeReport {
            conditional_put,
            racing_puts,
            conditional_complete,
            protocol: if honoured {
                WriteProtocol::Conditional
            } else {
                WriteProtocol::Claims
            },
        })
    }

    /// Stores `bytes` under `key` without replacing anything.
    pub(crate) async fn write(&self, key: SnapshotKey, bytes: Bytes) -> Result<()> {
        let path = self.path_of(key);
        match self.write_protocol().await? {
            WriteProtocol::Claims => self.write_claimed(key, &path, bytes).await,
            _ => {
                let outcome = self.store_bytes(&path, bytes.clone(), true).await;
                self.settle(key, &path, &bytes, outcome).await
            }
        }
    }

    /// One attempt at storing `bytes` at `path`: one PUT below the multipart threshold,
    /// an upload in parts above it. `conditional`: the write must not replace an object.
    async fn store_bytes(
        &self,
        path: &Path,
        bytes: Bytes,
        conditional: bool,
    ) -> object_store::Result<()> {
        if bytes.len() < self.multipart_threshold {
            let outcome = self
                .store
                .put_opts(path, PutPayload::from(bytes.clone()), create())
                .await;
            return match outcome {
                // A store without conditional puts (claims protocol only): plain PUT.
                Err(object_store::Error::NotImplemented { .. }) if !conditional => self
                    .store
                    .put(path, PutPayload::from(bytes))
                    .await
                    .map(drop),
                other => other.map(drop),
            };
        }
        match &self.s3 {
            Some(s3) => self.upload_to(s3.as_ref(), path, bytes, conditional).await,
            None if conditional => self.upload_staged(path, bytes).await,
            None => self.upload_whole(path, &bytes).await,
        }
    }

    /// An upload in parts through object_store's generic multipart API (stores not made
    /// by the builder), completed plainly; aborted if a part or the completion fails.
    async fn upload_whole(&self, path: &Path, bytes: &Bytes) -> object_store::Result<()> {
        let mut upload = self.store.put_multipart(path).await?;
        let parts: Vec<_> = self
            .parts(bytes)
            .map(|part| upload.put_part(PutPayload::from(part)))
            .collect();
        let sent = futures::stream::iter(parts)
            .buffer_unordered(PART_CONCURRENCY)
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
    fn parts<'a>(&self, bytes: &'a Bytes) -> impl Iterator<Item = Bytes> + 'a {
        let size = self.part_size;
        (0..bytes.len())
            .step_by(size)
            .map(move |start| bytes.slice(start..(start + size).min(bytes.len())))
    }

    /// A multipart upload straight to `path`, recorded first in a marker object under
    /// `<prefix>/_staging/` so that [`remove_stale`](Self::remove_stale) can abort it if
    /// the writer dies; completed with `If-None-Match: *` when `conditional`.
    async fn upload_to(
        &self,
        s3: &object_store::aws::AmazonS3,
        path: &Path,
        bytes: Bytes,
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
            let parts: Vec<_> = self
                .parts(&bytes)
                .enumerate()
                .map(|(i, part)| s3.put_part(path, &id, i, PutPayload::from(part)))
                .collect();
            let parts: Vec<PartId> = futures::stream::iter(parts)
                .buffered(PART_CONCURRENCY)
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
    async fn complete_if_absent(
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
    async fn upload_staged(&self, path: &Path, bytes: Bytes) -> object_store::Result<()> {
        let staging = self.uploads().join(format!(
            "{}.{}",
            path.filename().unwrap_or("object"),
            unique_name()
        ));
        if let Err(e) = self.upload_whole(&staging, &bytes).await {
            let _ = self.store.delete(&staging).await;
            return Err(e);
        }
        let published = self.store.copy_if_not_exists(&staging, path).await;
        let _ = self.store.delete(&staging).await;
        published
    }

    /// The claims protocol ([`WriteProtocol::Claims`]).
    ///
    /// Why two writers never both write one key: a writer writes only if its listing,
    /// made after its claim was stored, shows no other claim, and it keeps its claim
    /// until its snapshot is stored. Of two such writers, the one that listed second
    /// listed after the other's claim was stored and before it was removed (it is
    /// removed only once the other's snapshot is visible, and then the second writer's
    /// check that the key is free refuses). Claims are removed by their own writer: at
    /// once when it loses, after its snapshot is stored when it wins, and never when the
    /// outcome of its write is unknown (the write could still land), which leaves the
    /// key blocked rather than at risk; [`S3Store::remove_stale`] removes such claims once
    /// they are older than any write can take.
    async fn write_claimed(&self, key: SnapshotKey, path: &Path, bytes: Bytes) -> Result<()> {
        // A lasting object in the claims directory: servers that keep objects as files
        // (s3rver) remove a directory when its last object goes, and a claim stored at
        // that moment fails (or takes the server down).
        self.claims_kept
            .get_or_try_init(|| async {
                let keep = self.claims().join(CLAIMS_KEEP);
                match self.store.head(&keep).await {
                    Ok(_) => Ok(()),
                    Err(object_store::Error::NotFound { .. }) => self
                        .store
                        .put(&keep, PutPayload::from_static(b""))
                        .await
                        .map(drop)
                        .map_err(|e| self.error(e, None)),
                    Err(e) => Err(self.error(e, None)),
                }
            })
            .await?;
        let claim = self.claims().join(format!("{key}.{}", unique_name()));
        let release = || async {
            let _ = self.store.delete(&claim).await;
        };
        if let Err(e) = self.store.put(&claim, PutPayload::from_static(b"")).await {
            release().await;
            return Err(self.error(e, None));
        }
        match self.only_claim(key, &claim).await {
            Ok(true) => {}
            Ok(false) => {
                release().await;
                // Writers that lost to each other try their next keys at once; a short
                // random pause keeps them from meeting again at the next key.
                tokio::time::sleep(Duration::from_millis(jitter_ms())).await;
                return Err(Error::AlreadyExists { key });
            }
            Err(e) => {
                release().await;
                return Err(e);
            }
        }
        match self.store.head(path).await {
            Err(object_store::Error::NotFound { .. }) => {}
            Ok(_) => {
                release().await;
                return Err(Error::AlreadyExists { key });
            }
            Err(e) => {
                release().await;
                return Err(self.error(e, None));
            }
        }
        let outcome = self.store_bytes(path, bytes.clone(), false).await;
        let settled = self.settle(key, path, &bytes, outcome).await;
        match &settled {
            Ok(()) | Err(Error::AlreadyExists { .. }) => release().await,
            // Stored nothing as far as can be seen, but the request may still land:
            // the claim stays, so no other writer takes the key meanwhile.
            Err(_) => {}
        }
        settled
    }

    /// Whether `claim` is the only claim on `key`.
    async fn only_claim(&self, key: SnapshotKey, claim: &Path) -> Result<bool> {
        let dir = self.claims();
        let start = dir.clone().join(key.to_string());
        let ours = format!("{key}.");
        let mut listing = self.store.list_with_offset(Some(&dir), &start);
        let mut found_ours = false;
        while let Some(meta) = listing.try_next().await.map_err(|e| self.error(e, None))? {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            if !name.starts_with(&ours) {
                if name > ours.as_str() {
                    break;
                }
                continue;
            }
            if meta.location == *claim {
                found_ours = true;
            } else {
                return Ok(false);
            }
        }
        if !found_ours {
            // The listing does not show what was stored: the server's listings are not
            // consistent, and the protocol cannot rely on them.
            return Err(Error::backend(
                BACKEND,
                S3Error::InconsistentListing {
                    store: self.describe.clone(),
                    object: claim.to_string(),
                },
            ));
        }
        Ok(true)
    }

    /// What is stored at `path`: `None` if nothing, else whether it is exactly `bytes`.
    async fn holds(&self, path: &Path, bytes: &Bytes) -> object_store::Result<Option<bool>> {
        let meta = match self.store.head(path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.size != bytes.len() as u64 {
            return Ok(Some(false));
        }
        let stored = self.store.get(path).await?.bytes().await?;
        Ok(Some(stored == *bytes))
    }

    /// Turns the outcome of a write into the answer. A refusal because the key is taken
    /// is [`Error::AlreadyExists`] (object_store never resends a conditional write, so
    /// the refusal answers this write's own request). A failure that may have stored the
    /// object (a timeout, a broken connection, a server error) is checked: the object
    /// holding exactly these bytes means the write landed, and is success; other bytes
    /// mean another writer's snapshot; none means nothing was stored; and if the check
    /// fails too, the answer is [`Error::OutcomeUnknown`].
    async fn settle(
        &self,
        key: SnapshotKey,
        path: &Path,
        bytes: &Bytes,
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

    fn claims(&self) -> Path {
        self.prefix.clone().join(CLAIMS_DIR)
    }

    /// Leftovers of writers that stopped midway and are older than `age`: multipart
    /// uploads (found through their marker objects), claims, staging copies and probe
    /// objects. Nothing is changed. `age` must exceed the longest write.
    ///
    /// # Errors
    /// [`Error::Backend`] when listing fails.
    pub async fn stale(&self, age: Duration) -> Result<Leftovers> {
        self.sweep(age, false).await
    }

    /// Removes what [`stale`](Self::stale) finds: aborts the uploads (freeing their
    /// parts on the server) and deletes their markers, the claims, staging copies and
    /// probe objects. Returns what was removed.
    ///
    /// # Errors
    /// [`Error::Backend`] when listing, aborting or deleting fails.
    pub async fn remove_stale(&self, age: Duration) -> Result<Leftovers> {
        self.sweep(age, true).await
    }

    async fn sweep(&self, age: Duration, remove: bool) -> Result<Leftovers> {
        let cutoff = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
            - age.as_millis() as i64;
        let mut found = Leftovers::default();
        let (uploads, claims) = (self.uploads(), self.claims());
        for dir in [&uploads, &claims, &self.prefix.clone().join(PROBE_DIR)] {
            let stale: Vec<Path> = self
                .store
                .list(Some(dir))
                .try_filter(|m| {
                    futures::future::ready(m.last_modified.timestamp_millis() <= cutoff)
                })
                .map_ok(|m| m.location)
                .try_collect()
                .await
                .map_err(|e| self.error(e, None))?;
            for path in stale {
                if dir == &claims && path.filename() == Some(CLAIMS_KEEP) {
                    continue;
                }
                let name = path.to_string();
                let is_marker = dir == &uploads && name.ends_with(MARKER_SUFFIX);
                if remove {
                    if is_marker {
                        self.abort_recorded(&path).await?;
                    }
                    match self.store.delete(&path).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(self.error(e, None)),
                    }
                }
                let kind = if is_marker {
                    &mut found.uploads
                } else if dir == &claims {
                    &mut found.claims
                } else {
                    &mut found.other
                };
                kind.push(name);
            }
        }
        Ok(found)
    }

    /// Aborts the multipart upload a marker object records.
    async fn abort_recorded(&self, marker: &Path) -> Result<()> {
        let Some(s3) = &self.s3 else { return Ok(()) };
        let text = match self.store.get(marker).await {
            Ok(got) => got.bytes().await.map_err(|e| self.error(e, None))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(self.error(e, None)),
        };
        let text = String::from_utf8_lossy(&text);
        let mut lines = text.lines();
        let (Some(id), Some(target)) = (lines.next(), lines.next()) else {
            return Ok(());
        };
        match s3
            .abort_multipart(&Path::from(target), &id.to_owned())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) if crate::error::chain_mentions(&e, "NoSuchUpload") => Ok(()),
            Err(e)
                if crate::error::chain_mentions(&e, "MethodNotAllowed")
                    || crate::error::chain_mentions(&e, "NotImplemented") =>
            {
                // The server has no AbortMultipartUpload (s3rver): nothing more can be
                // done from here; the marker goes, as the upload can never complete.
                tracing::warn!(store = %self.describe, upload = id, "the server cannot abort multipart uploads: {e}");
                Ok(())
            }
            Err(e) => Err(self.error(e, None)),
        }
    }
}

/// A few random milliseconds (0-24).
fn jitter_ms() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 25
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_print() {
        for p in [
            WriteProtocol::Auto,
            WriteProtocol::Conditional,
            WriteProtocol::Claims,
        ] {
            assert_eq!(p.to_string().parse::<WriteProtocol>().unwrap(), p);
        }
        assert_eq!(
            " CLAIMS ".parse::<WriteProtocol>().unwrap(),
            WriteProtocol::Claims
        );
        assert!("sometimes".parse::<WriteProtocol>().is_err());
    }

    #[test]
    fn unique_names_differ() {
        let names: std::collections::BTreeSet<_> = (0..1000).map(|_| unique_name()).collect();
        assert_eq!(names.len(), 1000);
    }
}
