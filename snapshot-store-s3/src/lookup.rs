//! Lookups that cost a few listing requests at any number of snapshots.

use futures::TryStreamExt;
use object_store::path::Path;
use snapshot_store::{KeyRange, Result, SnapshotKey, SnapshotMeta, SnapshotStore};

use crate::{S3Store, direct_child};

/// How many objects one listing request returns (S3's page size); a window scan reads
/// at most this many, so it costs one request.
pub(crate) const PAGE: usize = 1000;

/// How many names a lookup probe asks for where the store can say (`max-keys`).
const PROBE_KEYS: usize = 32;

/// What one listing page from an offset says about a window `(after, upto]` of keys.
pub(crate) enum Window {
    /// The page reached past `upto` (or the end): the largest key in the window, if any.
    Complete(Option<SnapshotMeta>),
    /// The page ended inside the window: keys go on past the largest one seen.
    Dense(Option<SnapshotMeta>),
}

impl S3Store {
    /// Reads one page of the listing after the key `after` (exclusive; `None` for the
    /// start) and reports the largest snapshot key at or before `upto`.
    pub(crate) async fn scan_window(
        &self,
        after: Option<SnapshotKey>,
        upto: SnapshotKey,
    ) -> Result<Window> {
        if let Some(s3) = &self.s3 {
            return self.scan_window_paged(s3.as_ref(), after, upto).await;
        }
        let prefix = self.list_prefix();
        let mut stream = match after {
            Some(k) => self.store.list_with_offset(prefix, &self.path_of(k)),
            None => self.store.list(prefix),
        };
        let limit = self.path_of(upto);
        let mut best = None;
        let mut seen = 0;
        while let Some(meta) = stream.try_next().await.map_err(|e| self.error(e, None))? {
            if self.passed_window(&meta, after, upto, &limit, &mut best) {
                return Ok(Window::Complete(best));
            }
            seen += 1;
            if seen >= PAGE {
                return Ok(Window::Dense(best));
            }
        }
        Ok(Window::Complete(best))
    }

    /// Takes one listed object into a window scan of `(after, upto]` (`limit` is
    /// `upto`'s path): a snapshot key in the window becomes `best` (listings ascend);
    /// returns whether the listing has gone past the window. Names sort as text and
    /// keys are fixed width, so past `upto`'s name no key at or before it can follow.
    fn passed_window(
        &self,
        meta: &object_store::ObjectMeta,
        after: Option<SnapshotKey>,
        upto: SnapshotKey,
        limit: &Path,
        best: &mut Option<SnapshotMeta>,
    ) -> bool {
        if meta.location.as_ref() > limit.as_ref() {
            return true;
        }
        if let Some(key) = direct_child(&self.prefix, &meta.location)
            .and_then(|name| str::parse::<SnapshotKey>(name).ok())
            && after.is_none_or(|a| key > a)
            && key <= upto
        {
            *best = Some(SnapshotMeta {
                key,
                size: meta.size,
            });
        }
        false
    }

    /// [`scan_window`](Self::scan_window) as one request for at most [`PROBE_KEYS`]
    /// names: most windows are empty or hold a few keys, and a short answer is much
    /// cheaper for the server than a page of 1000.
    async fn scan_window_paged(
        &self,
        paged: &dyn object_store::list::PaginatedListStore,
        after: Option<SnapshotKey>,
        upto: SnapshotKey,
    ) -> Result<Window> {
        let prefix = self.list_prefix().map(|p| format!("{p}/"));
        let opts = object_store::list::PaginatedListOptions {
            offset: after.map(|k| self.path_of(k).to_string()),
            max_keys: Some(PROBE_KEYS),
            ..Default::default()
        };
        let page = paged
            .list_paginated(prefix.as_deref(), opts)
            .await
            .map_err(|e| self.error(e, None))?;
        let limit = self.path_of(upto);
        let mut best = None;
        for meta in &page.result.objects {
            if self.passed_window(meta, after, upto, &limit, &mut best) {
                return Ok(Window::Complete(best));
            }
        }
        Ok(if page.page_token.is_some() {
            Window::Dense(best)
        } else {
            Window::Complete(best)
        })
    }

    /// The largest key in `(lo, hi]` (`lo` exclusive, `None` for no lower bound): windows
    /// back from `hi` growing sixteenfold, one listing page each, until one holds a key;
    /// a window with more keys than a page is narrowed by bisection. Requests grow with
    /// the logarithm of the time span, never with the number of snapshots.
    pub(crate) async fn last_by_windows(
        &self,
        lo: Option<SnapshotKey>,
        hi: SnapshotKey,
    ) -> Result<Option<SnapshotMeta>> {
        let floor = lo.map_or(SnapshotKey::MIN.as_micros() - 1, SnapshotKey::as_micros);
        let mut width: i64 = 1_000_000;
        // Nothing lies above `top`: the windows tried so far were empty.
        let mut top = hi;
        loop {
            let start = hi.as_micros().saturating_sub(width);
            let after = (start > floor)
                .then(|| SnapshotKey::from_micros(start).ok())
                .flatten()
                .or(lo);
            match self.scan_window(after, top).await? {
                Window::Complete(Some(meta)) => return Ok(Some(meta)),
                Window::Complete(None) if start <= floor => return Ok(None),
                Window::Complete(None) => {
                    if let Some(a) = after {
                        top = a;
                    }
                }
                Window::Dense(best) => return self.bisect(after, best, top).await,
            }
            width = width.saturating_mul(16);
        }
    }

    /// Narrows a window `(after, hi]` known to hold more keys than a page: `known` is
    /// the largest key seen so far (the answer is at or after it).
    pub(crate) async fn bisect(
        &self,
        after: Option<SnapshotKey>,
        mut known: Option<SnapshotMeta>,
        mut hi: SnapshotKey,
    ) -> Result<Option<SnapshotMeta>> {
        // Often the rest fits one more page: try the page after the largest key seen.
        if let Some(best) = known {
            match self.scan_window(Some(best.key), hi).await? {
                Window::Complete(found) => return Ok(found.or(known)),
                Window::Dense(Some(next)) => known = Some(next),
                Window::Dense(None) => {}
            }
        }
        let mut low = known.map_or_else(
            || after.map_or(SnapshotKey::MIN.as_micros() - 1, SnapshotKey::as_micros),
            |m| m.key.as_micros(),
        );
        while low < hi.as_micros() {
            let mid = low + (hi.as_micros() - low + 1) / 2;
            let from = SnapshotKey::from_micros(mid - 1).ok();
            match self.scan_window(from, hi).await? {
                Window::Complete(Some(meta)) => return Ok(Some(meta)),
                Window::Complete(None) => {
                    hi = match SnapshotKey::from_micros(mid - 1) {
                        Ok(k) => k,
                        Err(_) => return Ok(known),
                    };
                }
                Window::Dense(Some(best)) => {
                    low = best.key.as_micros();
                    known = Some(best);
                }
                Window::Dense(None) => {
                    // A whole page of foreign objects: list the rest plainly.
                    let from = SnapshotKey::from_micros(mid).unwrap_or(hi);
                    let tail = self.list(KeyRange::new(from..=hi), None).await?.pop();
                    return Ok(tail.or(known));
                }
            }
        }
        Ok(known)
    }
}
