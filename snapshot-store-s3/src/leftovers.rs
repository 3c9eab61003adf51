//! [`Leftovers`] of writers that stopped midway, found and removed.

use crate::S3Store;
use crate::write::*;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use snapshot_store::Result;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What [`S3Store::stale`] found, or [`S3Store::remove_stale`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leftovers {
    /// Multipart uploads of killed writers: their marker objects' names, and uploads
    /// the server lists under the prefix that no marker records (`KEY (upload ID)`);
    /// removing aborts the upload, which frees its parts.
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

impl S3Store {
    /// Leftovers of writers that stopped midway and are older than `age`: multipart
    /// uploads (found through their marker objects, and in the server's own list of
    /// uploads under the prefix, where it keeps one: an upload whose marker was never
    /// written is found too), claims, staging copies and probe objects. Nothing is
    /// changed. `age` must exceed the longest write.
    ///
    /// # Errors
    /// [`Error::Backend`](snapshot_store::Error::Backend) when listing fails.
    pub async fn stale(&self, age: Duration) -> Result<Leftovers> {
        self.sweep(age, false).await
    }

    /// Removes what [`stale`](Self::stale) finds: aborts the uploads (freeing their
    /// parts on the server) and deletes their markers, the claims, staging copies and
    /// probe objects. Returns what was removed.
    ///
    /// # Errors
    /// [`Error::Backend`](snapshot_store::Error::Backend) when listing, aborting or deleting fails.
    pub async fn remove_stale(&self, age: Duration) -> Result<Leftovers> {
        self.sweep(age, true).await
    }

    pub(crate) async fn sweep(&self, age: Duration, remove: bool) -> Result<Leftovers> {
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
        // Uploads the server lists that no marker recorded (the marker's PUT failed,
        // or the writer was killed between starting the upload and writing it).
        if let Some(listed) = self.server_uploads(cutoff).await? {
            let recorded = self.recorded_upload_ids().await?;
            for (path, id) in listed {
                if recorded.contains(&id) {
                    continue;
                }
                if remove {
                    self.abort_upload(&path, &id).await?;
                }
                found.uploads.push(format!("{path} (upload {id})"));
            }
        }
        Ok(found)
    }

    /// The upload ids the marker objects under the uploads directory record.
    async fn recorded_upload_ids(&self) -> Result<std::collections::HashSet<String>> {
        let markers: Vec<Path> = self
            .store
            .list(Some(&self.uploads()))
            .map_ok(|m| m.location)
            .try_filter(|p| futures::future::ready(p.as_ref().ends_with(MARKER_SUFFIX)))
            .try_collect()
            .await
            .map_err(|e| self.error(e, None))?;
        let mut ids = std::collections::HashSet::new();
        for marker in markers {
            match self.store.get(&marker).await {
                Ok(got) => {
                    let text = got.bytes().await.map_err(|e| self.error(e, None))?;
                    if let Some(id) = String::from_utf8_lossy(&text).lines().next() {
                        ids.insert(id.to_owned());
                    }
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e, None)),
            }
        }
        Ok(ids)
    }
    /// The server's multipart uploads under this store's prefix started before
    /// `cutoff_millis` (ListMultipartUploads), as `(object path, upload id)`: an
    /// upload whose marker object was never written (the marker's PUT failed, the
    /// writer was killed in between) is found this way. `None` when the server does not
    /// list uploads, or the store is not made by the builder.
    pub(crate) async fn server_uploads(
        &self,
        cutoff_millis: i64,
    ) -> Result<Option<Vec<(Path, String)>>> {
        use object_store::signer::{SignedUrlOptions, Signer};
        let (Some(s3), Some(http)) = (&self.s3, &self.http) else {
            return Ok(None);
        };
        let generic = |source: String| {
            self.error(
                object_store::Error::Generic {
                    store: "S3",
                    source: source.into(),
                },
                None,
            )
        };
        let prefix = match self.prefix.as_ref() {
            "" => String::new(),
            p => format!("{}/", p.trim_end_matches('/')),
        };
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut query: Vec<(&str, &str)> = vec![("uploads", ""), ("prefix", &prefix)];
            if let Some((key, id)) = &markers {
                query.push(("key-marker", key));
                query.push(("upload-id-marker", id));
            }
            let options = SignedUrlOptions::new().with_query(query);
            let url = s3
                .signed_url_opts(
                    http::Method::GET,
                    &Path::from(""),
                    Duration::from_secs(900),
                    &options,
                )
                .await
                .map_err(|e| self.error(e, None))?;
            let request = http::Request::builder()
                .method(http::Method::GET)
                .uri(url.as_str())
                .body(object_store::client::HttpRequestBody::from(Vec::new()))
                .map_err(|e| generic(e.to_string()))?;
            let response = http
                .execute(request)
                .await
                .map_err(|e| generic(format!("listing multipart uploads: {e}")))?;
            let status = response.status();
            let text = response.into_body().bytes().await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            if status == http::StatusCode::NOT_IMPLEMENTED
                || status == http::StatusCode::METHOD_NOT_ALLOWED
                || text.contains("NotImplemented")
            {
                return Ok(None);
            }
            if !status.is_success() {
                let shown: String = text.chars().take(300).collect();
                return Err(generic(format!(
                    "listing multipart uploads: HTTP {status}: {shown}"
                )));
            }
            for upload in xml_elements(&text, "Upload") {
                let (Some(key), Some(id)) = (xml_text(upload, "Key"), xml_text(upload, "UploadId"))
                else {
                    continue;
                };
                let started = xml_text(upload, "Initiated")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map_or(i64::MAX, |t| t.timestamp_millis());
                if started <= cutoff_millis {
                    found.push((Path::from(key), id));
                }
            }
            let truncated = xml_text(&text, "IsTruncated").is_some_and(|t| t == "true");
            match (
                truncated,
                xml_text(&text, "NextKeyMarker"),
                xml_text(&text, "NextUploadIdMarker"),
            ) {
                (true, Some(key), Some(id)) => markers = Some((key, id)),
                _ => return Ok(Some(found)),
            }
        }
    }

    /// Aborts one multipart upload (gone already is fine).
    async fn abort_upload(&self, path: &Path, id: &str) -> Result<()> {
        let Some(s3) = &self.s3 else { return Ok(()) };
        match s3.abort_multipart(path, &id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) if crate::error::chain_mentions(&e, "NoSuchUpload") => Ok(()),
            Err(e) => Err(self.error(e, None)),
        }
    }

    /// Aborts the multipart upload a marker object records.
    pub(crate) async fn abort_recorded(&self, marker: &Path) -> Result<()> {
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

/// The contents of each `<name>...</name>` element in `xml`, in order (S3's listings are
/// flat enough for this; no element nests another of its own name).
fn xml_elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<name>` element in `xml`, its entities decoded.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let raw = xml_elements(xml, name).into_iter().next()?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}
