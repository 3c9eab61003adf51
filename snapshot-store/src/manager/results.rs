//! What the manager's operations return.

use std::sync::Arc;

use snapshot_codec::Value;

use crate::{Error, SnapshotKey, SnapshotMeta};

/// What a dump stored, and what the retention pass after it did.
///
/// A `DumpInfo` means the snapshot is stored and loads, whatever [`retention`] says:
/// a failed retention pass never turns a stored snapshot into an error.
///
/// [`retention`]: DumpInfo::retention
#[derive(Debug, Clone)]
pub struct DumpInfo {
    /// The key it was stored under.
    pub key: SnapshotKey,
    /// Its encoded size in bytes.
    pub size: u64,
    /// What the manager's retention policy did after the dump.
    pub retention: RetentionOutcome,
}

impl DumpInfo {
    /// The snapshots retention removed after this dump (none without a policy, or when
    /// the pass failed).
    pub fn removed(&self) -> &[SnapshotKey] {
        match &self.retention {
            RetentionOutcome::Applied { removed } => removed,
            _ => &[],
        }
    }
}

/// What the retention pass after a dump did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RetentionOutcome {
    /// The manager has no retention policy.
    NotConfigured,
    /// The policy was applied; these snapshots were removed (oldest first).
    Applied {
        /// The keys removed.
        removed: Vec<SnapshotKey>,
    },
    /// The policy could not be applied (the snapshot itself is stored). Snapshots it
    /// deleted before the failure stay deleted; the next dump tries again.
    Failed(Arc<Error>),
}

/// A loaded snapshot with its key and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<T = Value> {
    /// Which snapshot it is.
    pub meta: SnapshotMeta,
    /// Its contents.
    pub value: T,
}

/// A snapshot passed over because it could not be loaded, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The snapshot.
    pub key: SnapshotKey,
    /// Why it was passed over (an [`Error::Corrupt`] for a damaged snapshot, or
    /// [`Error::NotFound`] if it was deleted while being read).
    pub error: Error,
}

/// The newest snapshot that loaded, with the newer ones that did not.
#[derive(Debug)]
pub struct Recovered<T = Value> {
    /// The snapshot loaded.
    pub snapshot: Snapshot<T>,
    /// Newer snapshots that were skipped, newest first.
    pub skipped: Vec<Skipped>,
}

/// What [`SnapshotManager::verify`](crate::SnapshotManager::verify) found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// How many snapshots were read.
    pub checked: usize,
    /// The ones that did not load, newest first.
    pub bad: Vec<Skipped>,
    /// The ones encrypted under a key the manager does not hold, newest first: their
    /// frame and checksum are sound, their bodies were not decrypted.
    pub not_decrypted: Vec<SnapshotKey>,
}

impl VerifyReport {
    /// Whether every snapshot checked loads.
    pub fn is_ok(&self) -> bool {
        self.bad.is_empty()
    }
}

/// What to do when the key asked for in
/// [`Raw::put_encoded`](crate::Raw::put_encoded) is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTaken {
    /// Use the first free key after it: a new snapshot is never lost (what a dump does).
    NextFree,
    /// If the snapshot there has the same bytes, it is this one (an import or copy run
    /// twice stores nothing twice); otherwise use the first free key after it.
    SameOrNextFree,
    /// If the snapshot there has the same bytes, it is this one; otherwise fail with
    /// [`Error::AlreadyExists`] (a copy that keeps keys).
    SameOrFail,
}

/// Where [`Raw::put_encoded`](crate::Raw::put_encoded) put a
/// snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placed {
    /// Stored under this key.
    Stored(SnapshotKey),
    /// A snapshot with the same bytes was already stored under this key.
    AlreadyPresent(SnapshotKey),
}

impl Placed {
    /// The key the snapshot is under, either way.
    pub fn key(self) -> SnapshotKey {
        match self {
            Placed::Stored(k) | Placed::AlreadyPresent(k) => k,
        }
    }
}

/// One snapshot of a [`SnapshotManager::copy_into`](crate::SnapshotManager::copy_into).
#[derive(Debug)]
#[non_exhaustive]
pub enum Copied {
    /// Copied under the same key.
    Stored(SnapshotMeta),
    /// The destination already had the same bytes under this key.
    AlreadyPresent(SnapshotMeta),
    /// Not copied: it does not load (checked before anything is written), it vanished
    /// while being read, or the destination holds different bytes under its key.
    Failed {
        /// The snapshot.
        key: SnapshotKey,
        /// Why.
        error: Error,
    },
}

/// What a [`SnapshotManager::copy_into`](crate::SnapshotManager::copy_into) did.
#[derive(Debug, Default)]
pub struct CopyReport {
    /// Snapshots copied.
    pub copied: usize,
    /// Snapshots the destination already had.
    pub present: usize,
    /// Snapshots not copied, and why.
    pub failed: Vec<Skipped>,
}
