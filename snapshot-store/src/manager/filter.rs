//! What a dump records besides the state (`DumpOptions`: labels, step, time) and how
//! lookups select by it (`Filter`, `Query`).

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use snapshot_codec::Metadata;

use super::{IntoKey, Lookup, SnapshotDetails};
use crate::SnapshotKey;

/// What a dump records besides the state: labels (text keys to text values), a step
/// number and the time to store it under. Labels and step are written in the snapshot's
/// header, where listings and lookups read them without the body.
///
/// ```
/// use snapshot_store::{DumpOptions, Filter, Lookup, MemoryStore, SnapshotManager};
/// use snapshot_codec::value;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// let nightly = DumpOptions::new().label("tag", "nightly").step(1200);
/// manager.dump_with(&value!({"w": 1}), &nightly).await?;
/// manager.dump(&value!({"w": 2})).await?;
///
/// let query = Lookup::Latest.matching(Filter::new().label("tag", "nightly"));
/// assert_eq!(manager.load(query).await?, Some(value!({"w": 1})));
/// # Ok::<(), snapshot_store::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpOptions {
    pub(crate) at: Option<SnapshotKey>,
    pub(crate) metadata: Metadata,
}

impl DumpOptions {
    /// No labels, no step, the current time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a label. Keys must not be empty; a snapshot's labels take at
    /// most 64 KiB together.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the step number (a training step, a batch, a sequence number).
    pub fn step(mut self, step: u64) -> Self {
        self.metadata.step = Some(step);
        self
    }

    /// Stores the snapshot under `time` (or the first free microsecond after it)
    /// instead of the current time.
    ///
    /// # Errors
    /// [`KeyError`](crate::KeyError) for an invalid time.
    pub fn at(mut self, time: impl IntoKey) -> std::result::Result<Self, crate::KeyError> {
        self.at = Some(time.into_key()?);
        Ok(self)
    }

    /// The labels set so far.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.metadata.labels
    }
}

/// Which snapshots a lookup, listing or retention policy considers: those carrying
/// every label given (`tag=nightly`, `run=42`) and whose step lies in the range given.
/// The empty filter selects every snapshot.
///
/// ```
/// use snapshot_store::Filter;
/// use snapshot_store::snapshot_codec::Metadata;
///
/// let f = Filter::new().label("run", "42").step_at_most(1000);
/// let meta = Metadata::new().with_label("run", "42").with_label("tag", "x").with_step(900);
/// assert!(f.matches(&meta));
/// assert!(!f.matches(&meta.clone().with_step(1001)));
/// assert!(!f.matches(&Metadata::new()));
/// assert!(Filter::new().matches(&Metadata::new()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    labels: BTreeMap<String, String>,
    step: (Bound<u64>, Bound<u64>),
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            labels: BTreeMap::new(),
            step: (Bound::Unbounded, Bound::Unbounded),
        }
    }
}

impl Filter {
    /// The filter that selects every snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects only snapshots whose label `key` is `value`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Selects only snapshots with step `step` exactly.
    pub fn step(self, step: u64) -> Self {
        self.steps(step..=step)
    }

    /// Selects only snapshots with a step of at most `step` ("the latest at or before
    /// step N" is `Lookup::Latest` with this filter).
    pub fn step_at_most(self, step: u64) -> Self {
        self.steps(..=step)
    }

    /// Selects only snapshots whose step lies in `range`.
    pub fn steps(mut self, range: impl RangeBounds<u64>) -> Self {
        self.step = (range.start_bound().cloned(), range.end_bound().cloned());
        self
    }

    /// Parses `key=value` into a label filter's pair, as the command line gives it.
    ///
    /// # Errors
    /// A message when there is no `=` or the key is empty.
    pub fn parse_label(text: &str) -> std::result::Result<(String, String), String> {
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("a label is written key=value, not {text:?}")),
        }
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.step == (Bound::Unbounded, Bound::Unbounded)
    }

    /// Whether a snapshot with this metadata is selected. A step range selects only
    /// snapshots that have a step.
    pub fn matches(&self, meta: &Metadata) -> bool {
        let steps_ok = self.step == (Bound::Unbounded, Bound::Unbounded)
            || meta.step.is_some_and(|s| self.step.contains(&s));
        steps_ok
            && self
                .labels
                .iter()
                .all(|(k, v)| meta.labels.get(k) == Some(v))
    }

    /// Whether this filter selects the snapshot: `Some(true)` or `Some(false)`, or
    /// `None` when it cannot tell because the snapshot's metadata could not be read.
    pub(super) fn selects(&self, details: &SnapshotDetails) -> Option<bool> {
        if self.is_empty() {
            return Some(true);
        }
        details.metadata.as_ref().map(|meta| self.matches(meta))
    }
}

/// A lookup restricted to the snapshots a [`Filter`] selects: "the latest snapshot
/// labelled `tag=nightly`", "the one nearest to 10:00 with step at most 5000". Every
/// method that takes a [`Lookup`] takes a `Query` (a plain lookup is the query with the
/// empty filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Which snapshot, by time.
    pub lookup: Lookup,
    /// Among which snapshots.
    pub filter: Filter,
}

impl From<Lookup> for Query {
    fn from(lookup: Lookup) -> Self {
        Query {
            lookup,
            filter: Filter::new(),
        }
    }
}

impl Lookup {
    /// This lookup among the snapshots `filter` selects.
    pub fn matching(self, filter: Filter) -> Query {
        Query {
            lookup: self,
            filter,
        }
    }
}
