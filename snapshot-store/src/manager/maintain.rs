//! Listing, verifying, copying, deleting and retention.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use snapshot_codec::Value;
use tracing::Instrument;

use super::pipe::Operation;
use super::{Copied, CopyReport, IntoKey, Lookup, OnTaken, Placed, Skipped, VerifyReport};
use crate::{
    Error, KeyRange, Order, Result, RetentionPlan, RetentionPolicy, SnapshotKey, SnapshotManager,
};

/// Deletions between two progress reports of a retention plan being carried out.
const DELETE_BATCH: usize = 1000;

impl SnapshotManager {
    /// Reads and verifies every snapshot, newest first; lists the ones that do not load.
    /// Each is checked as it streams from the store (frame, checksum, decryption,
    /// decompression, every value's encoding, registered custom types) without building
    /// its value, so memory stays at a few buffers whatever it holds. Nothing is deleted. A snapshot encrypted under a key the manager does not hold
    /// (no key with its id, or another key under that id) has its frame and checksum
    /// checked, and is listed in [`VerifyReport::not_decrypted`] (its body was not
    /// decrypted) unless they fail; it is never reported as damaged.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// manager.dump(&value!({"a": 1})).await?;
    /// let torn: SnapshotKey = "2000-01-01_00-00-00-000000".parse()?;
    /// manager.raw().store().put(torn, Bytes::from_static(b"torn write")).await?;
    /// let report = manager.verify().await?;
    /// assert_eq!(report.checked, 2);
    /// assert_eq!(report.bad.len(), 1);
    /// assert_eq!(report.bad[0].key, torn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error.
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut metas = self.list_pages(KeyRange::all(), true);
        while let Some(meta) = metas.try_next().await? {
            report.checked += 1;
            // Checked as it streams, without building the value: memory stays at a few
            // buffers, whatever the snapshot holds.
            let error = match self.check_stream(meta.key).await {
                Ok(()) => None,
                // Deleted since the listing: there is nothing left to check.
                Err(Error::NotFound { .. }) => {
                    report.checked -= 1;
                    continue;
                }
                // Encrypted under a key this manager lacks: the frame and checksum were
                // checked (a mismatch would be reported as such); the body was not read.
                Err(Error::KeyUnavailable { .. }) => {
                    report.not_decrypted.push(meta.key);
                    None
                }
                Err(e @ Error::Corrupt { .. }) => Some(e),
                Err(e) => return Err(e),
            };
            self.reporter(Operation::Verify, meta.key)
                .report(meta.size, Some(meta.size));
            if let Some(error) = error {
                report.bad.push(Skipped {
                    key: meta.key,
                    error,
                });
            }
        }
        Ok(report)
    }

    /// Copies every snapshot into `destination` under the same key, oldest first. Each
    /// is verified before it is written (so this manager needs the keys of encrypted
    /// ones); a destination with a [keyring](Self::with_keyring) gets every snapshot
    /// encrypted under its current key (re-encrypted when needed, labels kept); one the destination already holds with the
    /// same bytes counts as present (a copy run twice copies nothing twice); one it
    /// holds with other bytes fails. Each snapshot read is reported to the manager's
    /// [`with_progress`](Self::with_progress) as [`Operation::Copy`]. One
    /// encrypted under a key this manager lacks is not copied and fails with
    /// [`Error::KeyUnavailable`] (not [`Error::Corrupt`]: it is not known to be damaged).
    ///
    /// ```
    /// use snapshot_store::{MemoryStore, SnapshotManager};
    /// use snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let from = SnapshotManager::new(MemoryStore::new());
    /// from.dump(&value!({"a": 1})).await?;
    /// let to = SnapshotManager::new(MemoryStore::new());
    /// assert_eq!(from.copy_into(&to).await?.copied, 1);
    /// assert_eq!(from.copy_into(&to).await?.present, 1);
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error of either store (snapshots copied before it stay copied).
    pub async fn copy_into(&self, destination: &SnapshotManager) -> Result<CopyReport> {
        let mut report = CopyReport::default();
        let mut metas = self.list_pages(KeyRange::all(), false);
        while let Some(meta) = metas.try_next().await? {
            let fetched = self.read_reporting(meta.key, Operation::Copy).await?;
            let outcome = match fetched {
                None => Copied::Failed {
                    key: meta.key,
                    error: Error::NotFound { key: meta.key },
                },
                // Verified with this manager's options before anything is written.
                Some(bytes) => match self.decode.decode(&bytes) {
                    Err(source) => Copied::Failed {
                        key: meta.key,
                        error: Error::undecodable(meta.key, source),
                    },
                    Ok(value) => match destination.copy_in(meta.key, bytes, value, self).await {
                        Ok(Placed::Stored(_)) => Copied::Stored(meta),
                        Ok(Placed::AlreadyPresent(_)) => Copied::AlreadyPresent(meta),
                        Err(error @ Error::AlreadyExists { .. }) => Copied::Failed {
                            key: meta.key,
                            error,
                        },
                        Err(e) => return Err(e),
                    },
                },
            };
            match outcome {
                Copied::Stored(_) => report.copied += 1,
                Copied::AlreadyPresent(_) => report.present += 1,
                Copied::Failed { key, error } => report.failed.push(Skipped { key, error }),
            }
        }
        Ok(report)
    }

    /// Writes a snapshot copied from `source` under `key`: its bytes as they are, or,
    /// when this manager encrypts under a key the snapshot is not encrypted with,
    /// re-encoded (same value, same labels and step) under this manager's key. A
    /// re-encrypted copy counts as present when the snapshot at `key` decodes to the
    /// same value.
    async fn copy_in(
        &self,
        key: SnapshotKey,
        bytes: bytes::Bytes,
        value: Value,
        source: &SnapshotManager,
    ) -> Result<Placed> {
        let current = self.current_key_id();
        let written_under = snapshot_codec::encryption_key_id(&bytes).ok().flatten();
        if current.is_none() || written_under.as_deref() == current {
            return self.put_verified(key, bytes, OnTaken::SameOrFail).await;
        }
        let metadata = source.decode.read_metadata(&bytes).map_err(Error::Codec)?;
        let options = match metadata {
            Some(meta) if !meta.is_empty() => self.encode.clone().with_metadata(meta),
            _ => self.encode.clone(),
        };
        let encoded = super::encode_bytes(&options, &value)?;
        match self.store.put(key, encoded).await {
            Ok(()) => Ok(Placed::Stored(key)),
            Err(Error::AlreadyExists { key }) => {
                match self.load::<Value>(Lookup::Exact(key)).await {
                    Ok(Some(held)) if held == value => Ok(Placed::AlreadyPresent(key)),
                    _ => Err(Error::AlreadyExists { key }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The bytes of `key`, read a chunk at a time with progress reports; `None` if it
    /// is gone.
    async fn read_reporting(
        &self,
        key: SnapshotKey,
        operation: Operation,
    ) -> Result<Option<bytes::Bytes>> {
        let (size, mut stream) = match self.store.get_stream(key).await {
            Ok(found) => found,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let reporter = self.reporter(operation, key);
        let mut all = bytes::BytesMut::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => all.extend_from_slice(&chunk),
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
            reporter.report(all.len() as u64, Some(size));
        }
        Ok(Some(all.freeze()))
    }

    pub(crate) async fn prune(&self, n: usize) -> Result<Vec<SnapshotKey>> {
        let all = self.store.list(KeyRange::all(), None).await?;
        let candidates = all.len().saturating_sub(1).min(n);
        let mut deleted = Vec::with_capacity(candidates);
        for meta in &all[..candidates] {
            if self.delete_if_present(meta.key).await? {
                deleted.push(meta.key);
            }
        }
        Ok(deleted)
    }

    /// Deletes one snapshot.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let info = manager.dump(&value!(1)).await?;
    /// manager.delete(info.key).await?;
    /// assert!(matches!(manager.delete(info.key).await, Err(Error::NotFound { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no snapshot with that key.
    pub async fn delete(&self, key: impl IntoKey) -> Result<()> {
        let key = key.into_key()?;
        let span = tracing::info_span!(target: "snapshot", "snapshot.delete", %key);
        self.store.delete(key).instrument(span).await?;
        crate::metrics::deleted();
        tracing::info!(target: "snapshot", %key, "delete");
        Ok(())
    }

    pub(crate) async fn delete_all(&self) -> Result<usize> {
        let mut count = 0;
        for meta in self.store.list(KeyRange::all(), None).await? {
            if self.delete_if_present(meta.key).await? {
                count += 1;
            }
        }
        Ok(count)
    }

    async fn delete_if_present(&self, key: SnapshotKey) -> Result<bool> {
        match self.store.delete(key).await {
            Ok(()) => Ok(true),
            // Someone else deleted it first: the outcome is the one asked for.
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What `policy` would keep and remove, and why, without deleting anything. A policy
    /// scoped to a filter ([`RetentionPolicy::only`]) plans over the snapshots it
    /// selects (reading their headers, see [`Listing::details`](crate::Listing::details)).
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// for day in 1..=3 {
    ///     let at = format!("2024-01-0{day}_00-00-00-000000");
    ///     manager.dump_with(&value!(day), &DumpOptions::new().at(at.as_str())?).await?;
    /// }
    /// let plan = manager.plan(&RetentionPolicy::new().keep_last(2)).await?;
    /// assert_eq!((plan.keep.len(), plan.remove.len()), (2, 1));
    /// assert_eq!(plan.remove[0].key.to_string(), "2024-01-01_00-00-00-000000");
    /// assert_eq!(manager.list(Order::NewestFirst).await?.len(), 3); // a plan deletes nothing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error from listing.
    pub async fn plan(&self, policy: &RetentionPolicy) -> Result<RetentionPlan> {
        let snapshots = match policy.scope() {
            None => self.store.list(KeyRange::all(), None).await?,
            Some(filter) => self
                .list(Order::OldestFirst)
                .matching(filter.clone())
                .details()
                .await?
                .iter()
                .map(super::SnapshotDetails::meta)
                .collect(),
        };
        Ok(policy.plan(&snapshots))
    }

    /// Applies `policy`: deletes what it does not keep, and returns the plan carried
    /// out.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// for i in 0..4 {
    ///     manager.dump(&value!(i)).await?;
    /// }
    /// let applied = manager.apply(&RetentionPolicy::new().keep_last(2)).await?;
    /// assert_eq!(applied.remove.len(), 2);
    /// assert_eq!(manager.list(Order::NewestFirst).await?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// A store error; snapshots deleted before it stay deleted.
    pub async fn apply(&self, policy: &RetentionPolicy) -> Result<RetentionPlan> {
        let plan = self
            .plan(policy)
            .await
            .inspect_err(|_| crate::metrics::retention_ran(false))?;
        self.apply_plan(&plan).await?;
        Ok(plan)
    }

    pub(crate) async fn apply_plan(&self, plan: &RetentionPlan) -> Result<()> {
        let started = Instant::now();
        let remove: Vec<SnapshotKey> = plan.remove.iter().map(|m| m.key).collect();
        let span = tracing::info_span!(
            target: "snapshot",
            "snapshot.retention",
            kept = plan.keep.len(),
            removed = remove.len()
        );
        let mut done = 0;
        for batch in remove.chunks(DELETE_BATCH) {
            // In bulk where the backend can (S3: one request per 1000 snapshots).
            if let Err(e) = self.store.delete_many(batch).instrument(span.clone()).await {
                crate::metrics::retention_ran(false);
                return Err(e);
            }
            crate::metrics::retention_removed(batch.len());
            done += batch.len();
            if let Some(last) = batch.last() {
                self.reporter(Operation::Delete, *last)
                    .report(done as u64, Some(remove.len() as u64));
            }
        }
        crate::metrics::retention_ran(true);
        tracing::info!(
            target: "snapshot",
            kept = plan.keep.len(),
            removed = remove.len(),
            millis = started.elapsed().as_millis() as u64,
            "retention"
        );
        Ok(())
    }
}
