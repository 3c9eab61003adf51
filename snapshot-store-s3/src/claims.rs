//! The claims protocol: writes that never replace a snapshot on servers that ignore
//! conditional requests.

use crate::write::*;
use crate::{BACKEND, S3Error, S3Store};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use snapshot_store::{Error, Result, SnapshotKey};

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

impl S3Store {
    /// The claims protocol ([`WriteProtocol::Claims`](crate::WriteProtocol::Claims)).
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
    pub(crate) async fn write_claimed(
        &self,
        key: SnapshotKey,
        path: &Path,
        body: Body,
    ) -> Result<()> {
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
        let (outcome, fingerprint) = self.store_body(path, body, false).await;
        let settled = self.settle(key, path, &fingerprint, outcome).await;
        match &settled {
            Ok(()) | Err(Error::AlreadyExists { .. }) => release().await,
            // Stored nothing as far as can be seen, but the request may still land:
            // the claim stays, so no other writer takes the key meanwhile.
            Err(_) => {}
        }
        settled
    }

    /// Whether `claim` is the only claim on `key`.
    pub(crate) async fn only_claim(&self, key: SnapshotKey, claim: &Path) -> Result<bool> {
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

    pub(crate) fn claims(&self) -> Path {
        self.prefix.clone().join(CLAIMS_DIR)
    }
}

/// A few random milliseconds (0-24).
pub(crate) fn jitter_ms() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 25
}
