//! Timestamp-keyed snapshot storage, independent of where the bytes live.
//!
//! - [`SnapshotKey`]: a UTC instant with microsecond precision; text form
//!   `YYYY-MM-DD_HH-MM-SS-ffffff`, fixed width so text order is time order.
//! - [`SnapshotStore`]: the four operations a backend provides (create-only `put`,
//!   `get`, ranged `list`, `delete`). [`MemoryStore`] is a complete one in memory; disk
//!   and S3 backends live in their own crates.
//! - [`SnapshotManager`]: what applications call: `dump`, `load::<T>` by [`Lookup`]
//!   (latest, exact, nearest, at-or-before, at-or-after), `list(Order)`, `verify`,
//!   `copy_into`, `prune`, `delete`, retention ([`RetentionPolicy`]) with dry-run
//!   plans, and buffer I/O.
//!
//! The manager runs each operation in a `tracing` span (target `snapshot`):
//! `snapshot.dump`, `snapshot.load`, `snapshot.put`, `snapshot.get`, `snapshot.list`,
//! `snapshot.delete` and `snapshot.retention`, with the key and bytes as fields, and
//! ends dumps, loads and retention passes with an event giving the milliseconds taken;
//! a subscriber's span timings give the rest. Nothing is printed unless the
//! application installs a subscriber.
//! - `conformance` (feature): the behaviour suite every backend runs.
//!
//! An empty store is a normal state: lookups return `Ok(None)`, never an empty value.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod key;
mod manager;
mod memory;
pub mod metrics;
mod retention;
mod store;
mod stream;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{BoxError, Error, Result, chain_to_string};
pub use key::{KEY_LEN, KeyError, SnapshotKey};
pub use manager::{
    Checkpoint, Checkpointer, Copied, CopyReport, DEFAULT_COMPRESSION, DumpInfo, DumpOptions,
    Filter, IntoKey, Listing, Lookup, OnTaken, Operation, Placed, Progress, Query, Raw, Recovered,
    RetentionOutcome, Skipped, Snapshot, SnapshotDetails, SnapshotManager, Submitted, VerifyReport,
    WhenBusy,
};
pub use memory::MemoryStore;
pub use retention::{
    CalendarDuration, DurationError, KeepReason, Kept, Period, RetentionPlan, RetentionPolicy,
};
pub use store::{ByteStream, KeyRange, SnapshotMeta, SnapshotStore, gather};
pub use stream::{Order, STREAM_PAGE};

pub use snapshot_codec;
