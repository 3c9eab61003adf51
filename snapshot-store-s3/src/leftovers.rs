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

impl S3Store {
    /// Leftovers of writers that stopped midway and are older than `age`: multipart
    /// uploads (found through their marker objects), claims, staging copies and probe
    /// objects. Nothing is changed. `age` must exceed the longest write.
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
        Ok(found)
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
