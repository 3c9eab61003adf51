//! The behaviour suite every [`SnapshotStore`] runs (feature `conformance`).
//!
//! Each function checks one behaviour on the store it is given and panics with a clear
//! message when the store gets it wrong. Each starts by deleting every snapshot in the
//! store (objects that are not snapshots are left alone), so one store can run them
//! all in turn; [`run_all`] does exactly that. Timelines are made with chosen keys, so
//! nothing here sleeps.
//!
//! The suite refuses a store that already holds snapshots it did not write (it would
//! delete them): give it an empty store, or call [`allow_clearing`] first when deleting
//! them is meant.
//!
//! The behaviours are grouped by what a backend can break: the contract of single
//! snapshots, lookups, deletion and retention, concurrency, streaming, and labels and
//! encryption.
//!
//! ```
//! use std::sync::Arc;
//! use snapshot_store::{conformance, MemoryStore};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! conformance::run_all(store.clone(), store.as_ref()).await;
//! # });
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use snapshot_codec::{Value, value};

use crate::{
    CalendarDuration, Error, KeepReason, KeyRange, Lookup, MemoryStore, OnTaken, Order,
    RetentionPolicy, SnapshotKey, SnapshotManager, SnapshotMeta, SnapshotStore,
};

mod concurrency;
mod contract;
mod labels;
mod lookup;
mod retention;
mod sealed;
mod streaming;

pub use concurrency::*;
pub use contract::*;
pub use labels::*;
pub use lookup::*;
pub use retention::*;
pub use sealed::*;
pub use streaming::*;

/// A shared store, as the suite takes it.
pub type DynStore = Arc<dyn SnapshotStore>;

/// How the suite places objects that are not snapshots beside a store's snapshots, to
/// check that listing ignores them and that nothing deletes them.
#[async_trait]
pub trait ForeignObjects: Send + Sync {
    /// Writes an object named `name` (a file name, an object key below the prefix).
    async fn put_foreign(&self, name: &str, bytes: &[u8]);
    /// Whether the object named `name` still exists.
    async fn foreign_exists(&self, name: &str) -> bool;
}

#[async_trait]
impl ForeignObjects for MemoryStore {
    async fn put_foreign(&self, name: &str, bytes: &[u8]) {
        self.insert_foreign(name, Bytes::copy_from_slice(bytes));
    }
    async fn foreign_exists(&self, name: &str) -> bool {
        self.contains_object(name)
    }
}

/// Names that look almost like snapshots, or not at all, and must be ignored.
pub const FOREIGN_NAMES: &[&str] = &[
    "README.txt",
    "2024-01-15_10-30-00-000000.tmp",
    ".2024-01-15_10-30-00-000001.partial",
    "2024-01-15_10-30-00-000002_1",
    "2024-01-15_10-30-00-00000",
    "2024-13-15_10-30-00-000000",
];

fn key(text: &str) -> SnapshotKey {
    str::parse::<SnapshotKey>(text).unwrap_or_else(|e| panic!("test key {text:?}: {e}"))
}

fn keys(metas: &[SnapshotMeta]) -> Vec<String> {
    metas.iter().map(|m| m.key.to_string()).collect()
}

/// Stores the suite may clear: ones it found empty, or was told it may clear. Held as
/// `Weak`, so a store's address is never reused while it is listed here.
static CLEARABLE: std::sync::Mutex<Vec<std::sync::Weak<dyn SnapshotStore>>> =
    std::sync::Mutex::new(Vec::new());

/// Lets the suite delete the snapshots `store` already holds (it refuses otherwise).
pub fn allow_clearing(store: &DynStore) {
    let mut clearable = CLEARABLE.lock().unwrap_or_else(|e| e.into_inner());
    clearable.retain(|weak| weak.strong_count() > 0);
    clearable.push(Arc::downgrade(store));
}

fn clearable(store: &DynStore) -> bool {
    let weak = Arc::downgrade(store);
    CLEARABLE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|w| std::sync::Weak::ptr_eq(w, &weak))
}

/// Deletes every snapshot, so a behaviour starts from an empty store; refuses a store
/// holding snapshots the suite did not write, unless [`allow_clearing`] allowed it.
async fn fresh(store: &DynStore) -> SnapshotManager {
    let manager = SnapshotManager::new(store.clone());
    if !clearable(store) {
        let held = store
            .first_in(KeyRange::all())
            .await
            .unwrap_or_else(|e| panic!("listing the store failed: {e}"));
        if let Some(meta) = held {
            panic!(
                "refusing to run the conformance suite on a store that already holds snapshots (the oldest is {}): it deletes every snapshot it finds; give it an empty store, or call conformance::allow_clearing(&store) first",
                meta.key
            );
        }
        allow_clearing(store);
    }
    manager
        .raw()
        .delete_all()
        .await
        .unwrap_or_else(|e| panic!("clearing the store failed: {e}"));
    let left = manager
        .list(Order::NewestFirst)
        .await
        .expect("list after clearing");
    assert!(
        left.is_empty(),
        "snapshots left after delete_all: {:?}",
        keys(&left)
    );
    manager
}

/// Stores one small snapshot per key, each holding its own key as `{"at": key}`.
async fn timeline(manager: &SnapshotManager, texts: &[&str]) {
    for t in texts {
        let info = manager
            .dump_with(
                &value!({"at": (*t)}),
                &crate::DumpOptions::new().at(key(t)).expect("a valid time"),
            )
            .await
            .unwrap_or_else(|e| panic!("dump at {t}: {e}"));
        assert_eq!(
            info.key.to_string(),
            *t,
            "a dump at a time took another key"
        );
    }
}

async fn loaded_at(manager: &SnapshotManager, lookup: Lookup) -> Option<String> {
    manager
        .load::<Value>(lookup)
        .await
        .unwrap_or_else(|e| panic!("{lookup:?}: {e}"))
        .map(|v| v["at"].as_str().unwrap_or("<no at>").to_owned())
}

const TEN: [&str; 10] = [
    "2024-01-01_00-00-00-000000",
    "2024-01-01_00-00-00-000001",
    "2024-01-01_00-00-01-000000",
    "2024-01-02_00-00-00-000000",
    "2024-02-01_00-00-00-000000",
    "2024-03-01_12-00-00-000000",
    "2025-01-01_00-00-00-000000",
    "2025-06-30_23-59-59-999999",
    "2026-01-01_00-00-00-000000",
    "2026-11-26_00-00-00-000000",
];

/// Calls the macro `$callback` with the names of every behaviour function that takes
/// only a store, so a backend's tests can make one test per behaviour without repeating
/// the list (`foreign_objects_are_ignored` and `soak` take more and are called apart).
///
/// ```
/// use std::sync::Arc;
/// use snapshot_store::{conformance, MemoryStore};
///
/// macro_rules! count {
///     ($($name:ident),*) => { [$(stringify!($name)),*].len() };
/// }
/// assert_eq!(snapshot_store::for_each_store_behaviour!(count), 23);
/// ```
#[macro_export]
macro_rules! for_each_store_behaviour {
    ($callback:ident) => {
        $callback! {
            create_only,
            missing_keys_are_not_found,
            empty_store_is_not_an_error,
            list_ranges_and_limits,
            lookups_on_a_timeline,
            first_and_last_in_range,
            list_orders,
            list_streams_page_through_everything,
            dump_never_overwrites,
            prune_deletes_oldest_never_newest,
            retention_applies_the_plan,
            retention_after_each_dump,
            typed_state_round_trips,
            corrupt_snapshots_are_reported,
            large_snapshot_round_trips,
            concurrent_dumps_all_survive,
            streamed_writes_publish_whole_or_nothing,
            streamed_dumps_and_loads_round_trip,
            background_checkpoints,
            labels_and_steps_select_like_brute_force,
            header_cache_follows_other_writers,
            encrypted_snapshots_round_trip,
            a_missing_key_is_never_an_empty_store
        }
    };
}

/// Runs every behaviour in turn on one store.
pub async fn run_all(store: DynStore, foreign: &dyn ForeignObjects) {
    macro_rules! each {
        ($($name:ident),*) => {$(
            $name(store.clone()).await;
        )*};
    }
    crate::for_each_store_behaviour!(each);
    foreign_objects_are_ignored(store.clone(), foreign).await;
    fresh(&store).await;
}
