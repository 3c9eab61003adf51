//! Listing a whole store a page at a time: memory stays at about a page, whatever the
//! number of snapshots.

use std::ops::Bound;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::{KeyRange, Result, SnapshotKey, SnapshotManager, SnapshotMeta, SnapshotStore};

/// The order of a listing ([`SnapshotManager::list`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Order {
    /// Ascending keys.
    OldestFirst,
    /// Descending keys.
    NewestFirst,
    /// Closest to a time first; on equal distance, the earlier first. (A listing in
    /// this order reads every key in its range before it yields the first.)
    NearestTo(SnapshotKey),
}

impl Order {
    /// [`Order::NearestTo`] a time (a key, its text form or a `chrono::DateTime<Utc>`).
    ///
    /// # Errors
    /// [`KeyError`](crate::KeyError) for an invalid time.
    pub fn nearest_to(time: impl crate::IntoKey) -> std::result::Result<Order, crate::KeyError> {
        Ok(Order::NearestTo(time.into_key()?))
    }
}

/// How many snapshots one step of a listing stream aims to hold.
pub const STREAM_PAGE: usize = 1000;

/// A descending step's window never holds more than this many pages before it narrows.
const MAX_PAGES_PER_WINDOW: usize = 4;

/// Where a listing stream stands.
struct Cursor {
    range: KeyRange,
    /// For newest-first: the width of the next window, in microseconds.
    width: i64,
    done: bool,
}

impl SnapshotManager {
    /// Every snapshot in `range`, oldest or newest first, fetched a page (about
    /// [`STREAM_PAGE`]) at a time, so memory stays at a page whatever the store holds.
    /// Oldest first pages with [`SnapshotStore::list`] and a limit; newest first finds
    /// the newest remaining key with [`SnapshotStore::last_in`] and lists a time window
    /// below it, narrowing the window where snapshots are dense and widening it where
    /// they are sparse. (`NearestTo` is served by the listing, which sorts.)
    pub(crate) fn list_pages(
        &self,
        range: KeyRange,
        newest_first: bool,
    ) -> BoxStream<'_, Result<SnapshotMeta>> {
        let store = self.raw().store().as_ref();
        let cursor = Cursor {
            range,
            width: 3_600_000_000,
            done: false,
        };
        stream::try_unfold(cursor, move |mut cursor| async move {
            if cursor.done {
                return Ok::<_, crate::Error>(None);
            }
            let page = if newest_first {
                newest_page(store, &mut cursor).await?
            } else {
                oldest_page(store, &mut cursor).await?
            };
            Ok(Some((stream::iter(page.into_iter().map(Ok)), cursor)))
        })
        .try_flatten()
        .boxed()
    }
}

/// The next page in ascending order.
async fn oldest_page(store: &dyn SnapshotStore, cursor: &mut Cursor) -> Result<Vec<SnapshotMeta>> {
    let page = store.list(cursor.range, Some(STREAM_PAGE)).await?;
    match page.last() {
        Some(last) if page.len() == STREAM_PAGE => {
            cursor.range.start = Bound::Excluded(last.key);
        }
        _ => cursor.done = true,
    }
    Ok(page)
}

/// The next page in descending order: the window `[newest - width, newest]` below the
/// newest remaining key, narrowed while it holds more than a few pages.
async fn newest_page(store: &dyn SnapshotStore, cursor: &mut Cursor) -> Result<Vec<SnapshotMeta>> {
    let Some(newest) = store.last_in(cursor.range).await? else {
        cursor.done = true;
        return Ok(Vec::new());
    };
    let most = MAX_PAGES_PER_WINDOW * STREAM_PAGE;
    loop {
        // The window's lower bound, unless the range ends first (then this is the last).
        let floor =
            SnapshotKey::from_micros(newest.key.as_micros().saturating_sub(cursor.width)).ok();
        let floor = floor.filter(|f| match cursor.range.start {
            Bound::Unbounded => true,
            Bound::Included(r) | Bound::Excluded(r) => *f > r,
        });
        let window = KeyRange {
            start: floor.map_or(cursor.range.start, Bound::Included),
            end: Bound::Included(newest.key),
        };
        let mut page = store.list(window, Some(most + 1)).await?;
        if page.len() > most && cursor.width > 1 {
            // Too dense (and the page holds the window's oldest keys): narrower.
            cursor.width = (cursor.width / 8).max(1);
            continue;
        }
        if page.len() < STREAM_PAGE / 2 {
            cursor.width = cursor.width.saturating_mul(4);
        }
        match floor {
            Some(floor) => cursor.range.end = Bound::Excluded(floor),
            None => cursor.done = true,
        }
        page.reverse();
        return Ok(page);
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;
    use crate::MemoryStore;

    /// Random key sets (sparse, dense bursts far beyond a window's pages, single keys)
    /// and random ranges: both orders match the plain listing.
    #[tokio::test]
    async fn streams_match_the_plain_listing() {
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let base = str::parse::<SnapshotKey>("2024-01-01_00-00-00-000000")
            .expect("key")
            .as_micros();
        for round in 0..8 {
            let store = std::sync::Arc::new(MemoryStore::new());
            let manager = SnapshotManager::new(store.clone());
            let bytes = bytes::Bytes::from_static(b"x");
            let sparse = (next() % 3000) as i64;
            let burst = if round % 2 == 0 {
                9000
            } else {
                (next() % 50) as i64
            };
            let keys = (0..sparse)
                .map(|_| base + (next() % 3_000_000_000_000) as i64)
                .chain((0..burst).map(|i| base + 1_000_000_000_000 + i * 3));
            for k in keys {
                let _ = store
                    .put(SnapshotKey::from_micros(k).expect("key"), bytes.clone())
                    .await;
            }
            let bound = |n: u64| {
                let k =
                    SnapshotKey::from_micros(base + (n % 3_100_000_000_000) as i64).expect("key");
                match n % 3 {
                    0 => Bound::Unbounded,
                    1 => Bound::Included(k),
                    _ => Bound::Excluded(k),
                }
            };
            for _ in 0..4 {
                let (a, b) = (bound(next()), bound(next()));
                let range = KeyRange { start: a, end: b };
                let plain: Vec<SnapshotKey> = store
                    .list(range, None)
                    .await
                    .expect("list")
                    .iter()
                    .map(|m| m.key)
                    .collect();
                for order in [Order::OldestFirst, Order::NewestFirst] {
                    let streamed: Vec<SnapshotKey> = manager
                        .list(order)
                        .range(range)
                        .stream()
                        .map_ok(|m| m.key)
                        .try_collect()
                        .await
                        .expect("stream");
                    let mut expected = plain.clone();
                    if order == Order::NewestFirst {
                        expected.reverse();
                    }
                    assert_eq!(streamed, expected, "round {round}, {range:?}, {order:?}");
                }
            }
        }
    }
}
