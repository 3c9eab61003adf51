//! Listing snapshots: one call, [`SnapshotManager::list`], with an order, a range and a
//! filter, awaited as a `Vec` or read as a stream.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Instant;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tracing::Instrument;

use super::{Filter, SnapshotDetails};
use crate::{KeyRange, Order, Result, SnapshotManager, SnapshotMeta};

/// A listing of a manager's snapshots, made by [`SnapshotManager::list`]: an order, a
/// range of keys (all by default) and a label/step filter (none by default). Await it
/// for a `Vec` of [`SnapshotMeta`] (key and size), call [`stream`](Self::stream) for a
/// page at a time, or [`details`](Self::details) for what each header says.
#[derive(Debug)]
#[must_use = "a listing does nothing until it is awaited or streamed"]
pub struct Listing<'m> {
    manager: &'m SnapshotManager,
    order: Order,
    range: KeyRange,
    filter: Option<Filter>,
}

impl SnapshotManager {
    /// Lists the snapshots in `order`. Without a filter this reads the store's listing
    /// only (no snapshot is opened); [`Listing::matching`] reads headers too.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use snapshot_store::{DumpOptions, Filter, KeyRange, MemoryStore, Order, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// for (day, step) in [(1, 100), (2, 200), (3, 300)] {
    ///     let at = format!("2024-01-0{day}_00-00-00-000000");
    ///     let options = DumpOptions::new().at(at.as_str())?.step(step).label("run", "7");
    ///     manager.dump_with(&value!({"step": step}), &options).await?;
    /// }
    /// // Every snapshot, newest first.
    /// let all = manager.list(Order::NewestFirst).await?;
    /// assert_eq!(all[0].key.to_string(), "2024-01-03_00-00-00-000000");
    /// // A page at a time, within a range.
    /// let from: snapshot_store::SnapshotKey = "2024-01-02_00-00-00-000000".parse()?;
    /// let range = KeyRange::new(from..);
    /// let keys: Vec<_> = manager.list(Order::OldestFirst).range(range).stream()
    ///     .map_ok(|meta| meta.key.to_string())
    ///     .try_collect()
    ///     .await?;
    /// assert_eq!(keys.len(), 2);
    /// // Closest to a time first.
    /// let near = manager.list(Order::nearest_to("2024-01-01_20-00-00-000000")?).await?;
    /// assert_eq!(near[0].key.to_string(), "2024-01-02_00-00-00-000000");
    /// // Selected by labels and step, with what their headers say.
    /// let early = manager
    ///     .list(Order::OldestFirst)
    ///     .matching(Filter::new().step_at_most(200))
    ///     .details()
    ///     .await?;
    /// assert_eq!(early.iter().map(|d| d.step()).collect::<Vec<_>>(), [Some(100), Some(200)]);
    /// assert_eq!(early[0].labels().collect::<Vec<_>>(), [("run", "7")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn list(&self, order: Order) -> Listing<'_> {
        Listing {
            manager: self,
            order,
            range: KeyRange::all(),
            filter: None,
        }
    }

    /// Every snapshot in `range`, in `order`, from the store's listing.
    pub(crate) async fn metas_in(
        &self,
        range: KeyRange,
        order: Order,
    ) -> Result<Vec<SnapshotMeta>> {
        let started = Instant::now();
        let span = tracing::debug_span!(target: "snapshot", "snapshot.list", ?order);
        let mut all = self.store.list(range, None).instrument(span).await?;
        match order {
            Order::OldestFirst => {}
            Order::NewestFirst => all.reverse(),
            Order::NearestTo(target) => all.sort_by_key(|m| (target.distance(m.key), m.key)),
        }
        tracing::debug!(
            target: "snapshot",
            count = all.len(),
            millis = started.elapsed().as_millis() as u64,
            "list"
        );
        Ok(all)
    }
}

impl<'m> Listing<'m> {
    /// Only the snapshots whose keys are in `range`.
    pub fn range(mut self, range: KeyRange) -> Self {
        self.range = range;
        self
    }

    /// Only the snapshots `filter` selects by labels and step. Their headers are read:
    /// one ranged read of the first 4 KiB of each snapshot whose header is not cached
    /// yet (16 at once; a warm cache makes it the store's listing alone). A snapshot
    /// whose header could not be read (sealed under a key the manager lacks, or
    /// damaged) might match or not: the listing then fails with
    /// [`Error::Unreadable`](crate::Error::Unreadable) rather than leave it out.
    pub fn matching(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The snapshots with what their headers say (labels, step, key id); snapshots
    /// whose metadata could not be read are included with `metadata: None` unless a
    /// filter is set (then: [`Error::Unreadable`](crate::Error::Unreadable)). Snapshots
    /// removed since the store's listing are left out.
    ///
    /// # Errors
    /// As above, or a store error.
    pub async fn details(self) -> Result<Vec<SnapshotDetails>> {
        self.manager
            .details_in(self.range, self.order, self.filter.as_ref())
            .await
    }

    /// The snapshots as a stream. Oldest or newest first without a filter, the store is
    /// read a page (about [`STREAM_PAGE`](crate::STREAM_PAGE)) at a time, so memory stays
    /// at a page whatever the store holds; nearest-first and filtered listings read the
    /// whole range first.
    pub fn stream(self) -> BoxStream<'m, Result<SnapshotMeta>> {
        match (self.order, &self.filter) {
            (Order::OldestFirst, None) => self.manager.list_pages(self.range, false),
            (Order::NewestFirst, None) => self.manager.list_pages(self.range, true),
            _ => stream::once(self.metas())
                .map_ok(|metas| stream::iter(metas.into_iter().map(Ok)))
                .try_flatten()
                .boxed(),
        }
    }

    async fn metas(self) -> Result<Vec<SnapshotMeta>> {
        match self.filter {
            None => self.manager.metas_in(self.range, self.order).await,
            Some(filter) => Ok(self
                .manager
                .details_in(self.range, self.order, Some(&filter))
                .await?
                .iter()
                .map(SnapshotDetails::meta)
                .collect()),
        }
    }
}

impl<'m> IntoFuture for Listing<'m> {
    type Output = Result<Vec<SnapshotMeta>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'm>>;

    /// Every snapshot the listing selects, as a `Vec` of keys and sizes.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.metas())
    }
}
