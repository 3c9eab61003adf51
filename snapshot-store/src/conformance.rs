//! The behaviour suite every [`SnapshotStore`] runs (feature `conformance`).
//!
//! Each function checks one behaviour on the store it is given and panics with a clear
//! message when the store gets it wrong. Each starts by deleting every snapshot in the
//! store (objects that are not snapshots are left alone), so one store can run them
//! all in turn; [`run_all`] does exactly that. Timelines are made with chosen keys, so
//! nothing here sleeps.
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

use crate::OnTaken;
use crate::Order;
use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use snapshot_codec::{Value, value};

use crate::{
    CalendarDuration, Error, KeepReason, KeyRange, Lookup, MemoryStore, Period, RetentionPolicy,
    SnapshotKey, SnapshotManager, SnapshotMeta, SnapshotStore,
};

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

/// Deletes every snapshot, so a behaviour starts from an empty store.
async fn fresh(store: &DynStore) -> SnapshotManager {
    let manager = SnapshotManager::from_arc(store.clone());
    manager
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
            .dump_at(key(t), &value!({"at": (*t)}))
            .await
            .unwrap_or_else(|e| panic!("dump_at {t}: {e}"));
        assert_eq!(info.key.to_string(), *t, "dump_at took another key");
    }
}

async fn loaded_at(manager: &SnapshotManager, lookup: Lookup) -> Option<String> {
    manager
        .load::<Value>(lookup)
        .await
        .unwrap_or_else(|e| panic!("{lookup:?}: {e}"))
        .map(|v| v["at"].as_str().unwrap_or("<no at>").to_owned())
}

/// `put` is create-only: a second put under a key fails with `AlreadyExists` and leaves
/// the first snapshot's bytes in place.
pub async fn create_only(store: DynStore) {
    fresh(&store).await;
    let k = key("2024-01-15_10-30-00-000000");
    let first = Bytes::from(snapshot_codec::encode(&value!("first")).expect("encode"));
    let second = Bytes::from(snapshot_codec::encode(&value!("second")).expect("encode"));
    store.put(k, first.clone()).await.expect("first put");
    let err = store
        .put(k, second)
        .await
        .expect_err("second put must fail");
    assert!(
        matches!(err, Error::AlreadyExists { key } if key == k),
        "second put: {err:?}"
    );
    assert_eq!(
        store.get(k).await.expect("get"),
        first,
        "the first snapshot was overwritten"
    );
    let listed = store.list(KeyRange::all(), None).await.expect("list");
    assert_eq!(
        listed,
        vec![SnapshotMeta {
            key: k,
            size: first.len() as u64
        }]
    );
}

/// Reading or deleting a key that holds nothing is `NotFound`.
pub async fn missing_keys_are_not_found(store: DynStore) {
    let manager = fresh(&store).await;
    let k = key("2024-01-15_10-30-00-000000");
    let err = store.get(k).await.expect_err("get of a missing key");
    assert!(
        matches!(err, Error::NotFound { key } if key == k),
        "get: {err:?}"
    );
    let err = store.delete(k).await.expect_err("delete of a missing key");
    assert!(
        matches!(err, Error::NotFound { key } if key == k),
        "delete: {err:?}"
    );
    let err = manager
        .delete(k)
        .await
        .expect_err("manager delete of a missing key");
    assert!(err.is_not_found(), "manager delete: {err:?}");
}

/// An empty store answers every lookup with `None`, lists nothing and prunes nothing.
pub async fn empty_store_is_not_an_error(store: DynStore) {
    let manager = fresh(&store).await;
    let t = key("2024-01-15_10-30-00-000000");
    for lookup in [
        Lookup::Latest,
        Lookup::Exact(t),
        Lookup::Nearest(t),
        Lookup::AtOrBefore(t),
        Lookup::AtOrAfter(t),
    ] {
        assert_eq!(
            manager.load::<Value>(lookup).await.expect("load"),
            None,
            "{lookup:?}"
        );
        assert_eq!(
            manager.resolve(lookup).await.expect("resolve"),
            None,
            "{lookup:?}"
        );
    }
    assert_eq!(
        manager
            .load::<Value>(Lookup::Latest)
            .await
            .expect("load_as"),
        None
    );
    assert!(
        manager
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        manager
            .list_nearest(t)
            .await
            .expect("list_nearest")
            .is_empty()
    );
    assert!(manager.prune(10).await.expect("prune").is_empty());
    let plan = manager
        .plan(&RetentionPolicy::new().keep_last(1))
        .await
        .expect("plan");
    assert!(plan.keep.is_empty() && plan.remove.is_empty());
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

/// `list` returns keys in ascending order, honours inclusive and exclusive bounds, and
/// stops at the limit.
pub async fn list_ranges_and_limits(store: DynStore) {
    let manager = fresh(&store).await;
    // Stored out of order on purpose.
    let mut shuffled = TEN;
    shuffled.reverse();
    shuffled.swap(2, 7);
    timeline(&manager, &shuffled).await;
    let list = |range: KeyRange, limit: Option<usize>| {
        let store = store.clone();
        async move { keys(&store.list(range, limit).await.expect("list")) }
    };
    assert_eq!(
        list(KeyRange::all(), None).await,
        TEN,
        "full listing, ascending"
    );
    assert_eq!(list(KeyRange::all(), Some(3)).await, TEN[..3], "limit 3");
    assert_eq!(
        list(KeyRange::new(key(TEN[3])..), None).await,
        TEN[3..],
        "from, inclusive"
    );
    assert_eq!(
        list(
            KeyRange::new((
                std::ops::Bound::Excluded(key(TEN[3])),
                std::ops::Bound::Unbounded
            )),
            None
        )
        .await,
        TEN[4..],
        "from, exclusive"
    );
    assert_eq!(
        list(KeyRange::new(..key(TEN[5])), None).await,
        TEN[..5],
        "to, exclusive"
    );
    assert_eq!(
        list(KeyRange::new(..=key(TEN[5])), None).await,
        TEN[..6],
        "to, inclusive"
    );
    assert_eq!(
        list(KeyRange::new(key(TEN[2])..=key(TEN[4])), Some(2)).await,
        TEN[2..4],
        "range with limit"
    );
    assert_eq!(
        list(KeyRange::new(key(TEN[1])..=key(TEN[1])), None).await,
        TEN[1..2],
        "single key"
    );
    let gap = key("2024-01-01_00-00-00-500000");
    assert!(
        list(KeyRange::new(gap..=gap), None).await.is_empty(),
        "no key in range"
    );
    let sizes = store.list(KeyRange::all(), None).await.expect("list");
    for meta in sizes {
        let bytes = store.get(meta.key).await.expect("get");
        assert_eq!(meta.size, bytes.len() as u64, "listed size of {}", meta.key);
    }
}

/// What `lookup` selects among `keys` (sorted ascending), by walking them all: the
/// reference the lookups of every backend are compared with.
pub fn brute_force_lookup(keys: &[SnapshotKey], lookup: Lookup) -> Option<SnapshotKey> {
    let at_or_before = |t: SnapshotKey| keys.iter().rev().find(|k| **k <= t).copied();
    let at_or_after = |t: SnapshotKey| keys.iter().find(|k| **k >= t).copied();
    match lookup {
        Lookup::Latest => keys.last().copied(),
        Lookup::Exact(t) => keys.contains(&t).then_some(t),
        Lookup::AtOrBefore(t) => at_or_before(t),
        Lookup::AtOrAfter(t) => at_or_after(t),
        Lookup::Nearest(t) => match (at_or_before(t), at_or_after(t)) {
            (Some(b), Some(a)) => Some(if t.distance(b) <= t.distance(a) { b } else { a }),
            (b, a) => b.or(a),
        },
    }
}

/// `first_in` and `last_in` on an empty store, one snapshot, every kind of bound, and
/// against a brute-force answer over a key set with bursts (microseconds apart), hours
/// and years between them; the manager's lookups likewise.
pub async fn first_and_last_in_range(store: DynStore) {
    use std::ops::Bound;
    let manager = fresh(&store).await;
    assert_eq!(store.first_in(KeyRange::all()).await.expect("first"), None);
    assert_eq!(store.last_in(KeyRange::all()).await.expect("last"), None);
    let one = key("2024-03-01_12-00-00-000000");
    manager.dump_at(one, &value!(1)).await.expect("dump");
    for range in [
        KeyRange::all(),
        KeyRange::new(one..=one),
        KeyRange::new(..=one),
        KeyRange::new(one..),
    ] {
        assert_eq!(
            store.first_in(range).await.expect("first").map(|m| m.key),
            Some(one)
        );
        assert_eq!(
            store.last_in(range).await.expect("last").map(|m| m.key),
            Some(one)
        );
    }
    for range in [
        KeyRange::new(..one),
        KeyRange::new((Bound::Excluded(one), Bound::Unbounded)),
    ] {
        assert_eq!(store.first_in(range).await.expect("first"), None);
        assert_eq!(store.last_in(range).await.expect("last"), None);
    }

    // A deterministic key set: bursts, hours, a year's gap, one far in the future.
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut t = key("2023-01-01_00-00-00-000000").as_micros();
    let mut all = vec![one];
    for _ in 0..120 {
        t += match next() % 6 {
            0 => 1,
            1 => (next() % 1000) as i64,
            2 | 3 => 3_600_000_000 * (1 + (next() % 5) as i64),
            4 => 86_400_000_000,
            _ => 365 * 86_400_000_000,
        };
        let k = SnapshotKey::from_micros(t).expect("key");
        if manager.dump_at(k, &value!(0)).await.expect("dump").key == k {
            all.push(k);
        }
    }
    let future = key("2999-01-01_00-00-00-000000");
    manager.dump_at(future, &value!(0)).await.expect("dump");
    all.push(future);
    all.sort();
    all.dedup();
    assert_eq!(
        keys(&manager.list(Order::NewestFirst).await.expect("list")).len(),
        all.len()
    );

    let bound = |which: u64, k: SnapshotKey| match which % 3 {
        0 => Bound::Included(k),
        1 => Bound::Excluded(k),
        _ => Bound::Unbounded,
    };
    let pick = |r: u64| {
        // Often an existing key (boundaries), sometimes a point between them.
        let k = all[(r % all.len() as u64) as usize];
        if r.is_multiple_of(4) {
            SnapshotKey::from_micros(k.as_micros() + (r % 7_200_000_000) as i64 - 3_600_000_000)
                .unwrap_or(k)
        } else {
            k
        }
    };
    for _ in 0..60 {
        let (a, b) = (pick(next()), pick(next()));
        let (lo, hi) = (a.min(b), a.max(b));
        let range = KeyRange {
            start: bound(next(), lo),
            end: bound(next(), hi),
        };
        let inside: Vec<SnapshotKey> = all.iter().copied().filter(|k| range.contains(*k)).collect();
        assert_eq!(
            store.first_in(range).await.expect("first").map(|m| m.key),
            inside.first().copied(),
            "first_in {range:?}"
        );
        assert_eq!(
            store.last_in(range).await.expect("last").map(|m| m.key),
            inside.last().copied(),
            "last_in {range:?}"
        );
        let t = pick(next());
        for lookup in [
            Lookup::Latest,
            Lookup::AtOrBefore(t),
            Lookup::AtOrAfter(t),
            Lookup::Nearest(t),
            Lookup::Exact(t),
        ] {
            assert_eq!(
                manager
                    .resolve(lookup)
                    .await
                    .expect("resolve")
                    .map(|m| m.key),
                brute_force_lookup(&all, lookup),
                "{lookup:?}"
            );
        }
    }
}

/// Every lookup mode on a timeline, with ties and misses.
pub async fn lookups_on_a_timeline(store: DynStore) {
    let manager = fresh(&store).await;
    let times = [
        "2024-01-15_10-00-00-000000",
        "2024-01-15_10-00-10-000000",
        "2024-01-15_11-00-00-000000",
    ];
    timeline(&manager, &times).await;
    let at = |lookup| loaded_at(&manager, lookup);
    let t = |s: &str| key(s);
    assert_eq!(
        at(Lookup::Latest).await.as_deref(),
        Some(times[2]),
        "latest"
    );
    assert_eq!(
        at(Lookup::Exact(t(times[1]))).await.as_deref(),
        Some(times[1]),
        "exact hit"
    );
    assert_eq!(
        at(Lookup::Exact(t("2024-01-15_10-00-10-000001"))).await,
        None,
        "exact miss"
    );
    // Nearest: closer one wins; a tie goes to the earlier; outside the range, the end.
    assert_eq!(
        at(Lookup::Nearest(t("2024-01-15_10-00-04-000000")))
            .await
            .as_deref(),
        Some(times[0])
    );
    assert_eq!(
        at(Lookup::Nearest(t("2024-01-15_10-00-06-000000")))
            .await
            .as_deref(),
        Some(times[1])
    );
    assert_eq!(
        at(Lookup::Nearest(t("2024-01-15_10-00-05-000000")))
            .await
            .as_deref(),
        Some(times[0]),
        "tie"
    );
    assert_eq!(
        at(Lookup::Nearest(t(times[1]))).await.as_deref(),
        Some(times[1]),
        "exact"
    );
    assert_eq!(
        at(Lookup::Nearest(t("2000-01-01_00-00-00-000000")))
            .await
            .as_deref(),
        Some(times[0])
    );
    assert_eq!(
        at(Lookup::Nearest(t("2099-01-01_00-00-00-000000")))
            .await
            .as_deref(),
        Some(times[2])
    );
    // At or before: point-in-time restore.
    assert_eq!(
        at(Lookup::AtOrBefore(t(times[1]))).await.as_deref(),
        Some(times[1]),
        "at"
    );
    assert_eq!(
        at(Lookup::AtOrBefore(t("2024-01-15_10-59-59-999999")))
            .await
            .as_deref(),
        Some(times[1])
    );
    assert_eq!(
        at(Lookup::AtOrBefore(t("2024-01-15_09-59-59-999999"))).await,
        None,
        "before all"
    );
    // At or after.
    assert_eq!(
        at(Lookup::AtOrAfter(t(times[1]))).await.as_deref(),
        Some(times[1]),
        "at"
    );
    assert_eq!(
        at(Lookup::AtOrAfter(t("2024-01-15_10-00-10-000001")))
            .await
            .as_deref(),
        Some(times[2])
    );
    assert_eq!(
        at(Lookup::AtOrAfter(t("2024-01-15_11-00-00-000001"))).await,
        None,
        "after all"
    );
    // Targets as text and as DateTime.
    let by_text = Lookup::nearest("2024-01-15_10-59-00-000000").expect("valid text");
    assert_eq!(at(by_text).await.as_deref(), Some(times[2]));
    let by_time = Lookup::at_or_before(t(times[0]).to_datetime()).expect("valid time");
    assert_eq!(at(by_time).await.as_deref(), Some(times[0]));
    let snapshot = manager
        .load_snapshot::<Value>(Lookup::Latest)
        .await
        .expect("load")
        .expect("some");
    assert_eq!(snapshot.meta.key, t(times[2]));
}

/// `list` is newest first; `list_nearest` is by distance, the earlier first on ties.
pub async fn list_orders(store: DynStore) {
    let manager = fresh(&store).await;
    let times = [
        "2024-01-15_10-00-00-000000",
        "2024-01-15_10-00-10-000000",
        "2024-01-15_10-00-20-000000",
        "2024-01-15_10-00-40-000000",
    ];
    timeline(&manager, &times).await;
    let newest_first: Vec<&str> = times.iter().rev().copied().collect();
    assert_eq!(
        keys(&manager.list(Order::NewestFirst).await.expect("list")),
        newest_first
    );
    let nearest = manager
        .list_nearest("2024-01-15_10-00-15-000000")
        .await
        .expect("list_nearest");
    assert_eq!(keys(&nearest), [times[1], times[2], times[0], times[3]]);
}

/// `SnapshotManager::list_stream` pages through more than a page of snapshots, dense and
/// sparse, in both orders and within a range, exactly as the plain listing does.
pub async fn list_streams_page_through_everything(store: DynStore) {
    use futures::{StreamExt, TryStreamExt};
    let manager = fresh(&store).await;
    let start = key("2024-03-01_00-00-00-000000").as_micros();
    // 1,050 a minute apart within one day, and 50 sparse ones over years.
    let mut all: Vec<SnapshotKey> = (0..1050)
        .map(|i| SnapshotKey::from_micros(start + i * 60_000_000).expect("key"))
        .chain((0..50).map(|i| {
            SnapshotKey::from_micros(start - (i + 1) * 40 * 86_400_000_000 + i * 7).expect("key")
        }))
        .collect();
    all.sort();
    let bytes = Bytes::from(snapshot_codec::encode(&value!(1)).expect("encode"));
    futures::stream::iter(all.clone())
        .map(|k| {
            let (store, bytes) = (store.clone(), bytes.clone());
            async move { store.put(k, bytes).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .expect("put");
    let streamed = |range, order| {
        manager
            .list_stream(range, order)
            .map_ok(|m| m.key)
            .try_collect::<Vec<SnapshotKey>>()
    };
    assert_eq!(
        streamed(KeyRange::all(), crate::Order::OldestFirst)
            .await
            .expect("stream"),
        all
    );
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(
        streamed(KeyRange::all(), crate::Order::NewestFirst)
            .await
            .expect("stream"),
        newest_first
    );
    let (lo, hi) = (all[20], all[1080]);
    let inside: Vec<SnapshotKey> = all
        .iter()
        .copied()
        .filter(|k| *k > lo && *k <= hi)
        .collect();
    let range = KeyRange {
        start: std::ops::Bound::Excluded(lo),
        end: std::ops::Bound::Included(hi),
    };
    assert_eq!(
        streamed(range, crate::Order::OldestFirst)
            .await
            .expect("stream"),
        inside
    );
    let mut inside_rev = inside;
    inside_rev.reverse();
    assert_eq!(
        streamed(range, crate::Order::NewestFirst)
            .await
            .expect("stream"),
        inside_rev
    );
}

/// Dumps in the same microsecond take the next free microseconds; none is lost.
pub async fn dump_never_overwrites(store: DynStore) {
    let manager = fresh(&store).await;
    let t = key("2024-01-15_10-30-00-000000");
    let mut got = Vec::new();
    for i in 0..3 {
        got.push(
            manager
                .dump_at(t, &value!({"n": i}))
                .await
                .expect("dump")
                .key,
        );
    }
    assert_eq!(got, [t, t.next(), t.next().next()]);
    for (i, k) in got.iter().enumerate() {
        let v = manager
            .load::<Value>(Lookup::Exact(*k))
            .await
            .expect("load")
            .expect("present");
        assert_eq!(v, value!({"n": i}), "snapshot {k}");
    }
    // A dump at the current time works too and lands in the store.
    let info = manager.dump(&value!("now")).await.expect("dump now");
    assert_eq!(
        manager
            .resolve(Lookup::Latest)
            .await
            .expect("resolve")
            .map(|m| m.key),
        Some(info.key)
    );
    assert_eq!(
        info.size,
        store.get(info.key).await.expect("get").len() as u64
    );
}

/// `prune(n)` deletes the n oldest, and never the newest.
pub async fn prune_deletes_oldest_never_newest(store: DynStore) {
    let manager = fresh(&store).await;
    timeline(&manager, &TEN[..5]).await;
    let deleted = manager.prune(2).await.expect("prune 2");
    assert_eq!(
        keys(
            &deleted
                .iter()
                .map(|k| SnapshotMeta { key: *k, size: 0 })
                .collect::<Vec<_>>()
        ),
        TEN[..2]
    );
    let deleted = manager.prune(100).await.expect("prune 100");
    assert_eq!(deleted.len(), 2, "only the newest stays");
    assert_eq!(
        keys(&manager.list(Order::NewestFirst).await.expect("list")),
        [TEN[4]]
    );
    assert!(
        manager.prune(1).await.expect("prune").is_empty(),
        "the newest is never pruned"
    );
    assert_eq!(manager.delete_all().await.expect("delete_all"), 1);
    assert!(
        manager
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty()
    );
}

const RETENTION_TIMELINE: [&str; 10] = [
    "2022-06-01_12-00-00-000000",
    "2023-03-01_12-00-00-000000",
    "2023-12-31_23-00-00-000000",
    "2024-01-01_00-30-00-000000",
    "2024-01-01_09-00-00-000000",
    "2024-01-01_09-30-00-000000",
    "2024-01-02_10-00-00-000000",
    "2024-01-07_23-59-00-000000",
    "2024-01-08_00-00-00-000000",
    "2024-01-08_00-10-00-000000",
];

/// Each retention rule on a hand-made timeline, combined rules, the newest-is-kept and
/// no-rules-keeps-all invariants, and a dry run that deletes nothing.
pub async fn retention_rules(store: DynStore) {
    let manager = fresh(&store).await;
    timeline(&manager, &RETENTION_TIMELINE).await;
    let r = &RETENTION_TIMELINE;
    let kept = |policy: RetentionPolicy| {
        let manager = manager.clone();
        async move {
            let plan = manager.plan(&policy).await.expect("plan");
            assert_eq!(
                plan.keep.len() + plan.remove.len(),
                10,
                "every snapshot is in the plan"
            );
            plan.keep
                .iter()
                .map(|k| k.meta.key.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        kept(RetentionPolicy::new().keep_last(3)).await,
        [r[9], r[8], r[7]],
        "last 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_hourly(3)).await,
        [r[9], r[7], r[6]],
        "hourly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_daily(3)).await,
        [r[9], r[7], r[6]],
        "daily 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_daily(5)).await,
        [r[9], r[7], r[6], r[5], r[2]],
        "daily 5"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_weekly(2)).await,
        [r[9], r[7]],
        "weekly 2"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_weekly(3)).await,
        [r[9], r[7], r[2]],
        "weekly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_monthly(2)).await,
        [r[9], r[2]],
        "monthly 2"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_yearly(3)).await,
        [r[9], r[2], r[0]],
        "yearly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_within(CalendarDuration::hours(24))).await,
        [r[9], r[8], r[7]],
        "within a day of the newest"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_yearly(5)).await,
        [r[9], r[2], r[0]],
        "fewer years than asked for: the oldest is one of them anyway"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_monthly(5)).await,
        [r[9], r[2], r[1], r[0]],
        "fewer months than asked for"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_last(0)).await.len(),
        10,
        "0 means the rule is not set, as in restic: no rules keep everything"
    );
    assert_eq!(
        kept(RetentionPolicy::new()).await.len(),
        10,
        "no rules keep everything"
    );
    let combined = RetentionPolicy::new()
        .keep_last(1)
        .keep_yearly(3)
        .keep_hourly(2);
    assert_eq!(
        kept(combined.clone()).await,
        [r[9], r[7], r[2], r[0]],
        "rules combine"
    );

    let plan = manager.plan(&combined).await.expect("plan");
    let newest = &plan.keep[0];
    assert!(
        newest.reasons.contains(&KeepReason::Newest),
        "{:?}",
        newest.reasons
    );
    assert!(
        newest.reasons.contains(&KeepReason::Last { rank: 1 }),
        "{:?}",
        newest.reasons
    );
    assert!(
        plan.keep[2].reasons.contains(&KeepReason::Calendar {
            period: Period::Yearly,
            bucket: "2023".into()
        }),
        "{:?}",
        plan.keep[2].reasons
    );
    assert!(
        plan.to_string()
            .contains("remove 2024-01-08_00-00-00-000000"),
        "{plan}"
    );
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        10,
        "a plan deletes nothing"
    );

    let applied = manager.apply(&combined).await.expect("apply");
    assert_eq!(applied, plan);
    let left: Vec<String> = keys(&manager.list(Order::NewestFirst).await.expect("list"));
    assert_eq!(left, [r[9], r[7], r[2], r[0]]);
}

/// A manager with a retention policy applies it after every dump.
pub async fn retention_after_each_dump(store: DynStore) {
    let manager = fresh(&store)
        .await
        .with_retention(RetentionPolicy::new().keep_last(2));
    let mut removed = Vec::new();
    for t in &TEN[..4] {
        removed.extend(
            manager
                .dump_at(key(t), &value!(*t))
                .await
                .expect("dump")
                .removed()
                .iter()
                .copied(),
        );
    }
    assert_eq!(
        keys(&manager.list(Order::NewestFirst).await.expect("list")),
        [TEN[3], TEN[2]]
    );
    removed.sort();
    assert_eq!(removed, [key(TEN[0]), key(TEN[1])]);
}

/// Objects that are not snapshots are never listed, loaded, pruned or deleted.
pub async fn foreign_objects_are_ignored(store: DynStore, foreign: &dyn ForeignObjects) {
    let manager = fresh(&store).await;
    for name in FOREIGN_NAMES {
        foreign.put_foreign(name, b"not a snapshot").await;
    }
    timeline(&manager, &TEN[..3]).await;
    assert_eq!(
        keys(&store.list(KeyRange::all(), None).await.expect("list")),
        TEN[..3]
    );
    assert_eq!(
        loaded_at(&manager, Lookup::Latest).await.as_deref(),
        Some(TEN[2])
    );
    // First and last in a range pass over foreign names between and around the keys.
    for (range, first, last) in [
        (KeyRange::all(), TEN[0], TEN[2]),
        (KeyRange::new(key(TEN[1])..), TEN[1], TEN[2]),
        (KeyRange::new(..=key(TEN[1])), TEN[0], TEN[1]),
    ] {
        let f = store
            .first_in(range)
            .await
            .expect("first")
            .map(|m| m.key.to_string());
        let l = store
            .last_in(range)
            .await
            .expect("last")
            .map(|m| m.key.to_string());
        assert_eq!(
            (f.as_deref(), l.as_deref()),
            (Some(first), Some(last)),
            "{range:?}"
        );
    }
    manager.prune(10).await.expect("prune");
    manager
        .apply(&RetentionPolicy::new().keep_last(1))
        .await
        .expect("apply");
    manager.delete_all().await.expect("delete_all");
    for name in FOREIGN_NAMES {
        assert!(
            foreign.foreign_exists(name).await,
            "foreign object {name:?} was removed"
        );
    }
    assert!(
        manager
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty()
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Session {
    user: String,
    visits: u32,
    cart: Vec<(u64, f64)>,
}

/// Typed state goes in and out through serde, and reads as a `Value` too.
pub async fn typed_state_round_trips(store: DynStore) {
    let manager = fresh(&store).await;
    let session = Session {
        user: "ada".into(),
        visits: 3,
        cart: vec![(1, 29.99), (7, 0.5)],
    };
    let info = manager.dump(&session).await.expect("dump");
    let back: Session = manager
        .load(Lookup::Exact(info.key))
        .await
        .expect("load")
        .expect("some");
    assert_eq!(back, session);
    let dynamic = manager
        .load::<Value>(Lookup::Latest)
        .await
        .expect("load")
        .expect("some");
    assert_eq!(dynamic["visits"].as_u64(), Some(3));
}

/// A corrupt snapshot is reported with its key, is still listed, and is not deleted.
pub async fn corrupt_snapshots_are_reported(store: DynStore) {
    let manager = fresh(&store).await;
    timeline(&manager, &TEN[..1]).await;
    let bad = key(TEN[1]);
    let mut bytes = snapshot_codec::encode(&value!({"at": "x"})).expect("encode");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    store.put(bad, Bytes::from(bytes)).await.expect("put");
    let err = manager
        .load::<Value>(Lookup::Latest)
        .await
        .expect_err("a corrupt snapshot must not load");
    assert!(
        matches!(&err, Error::Corrupt { key: k, source: snapshot_codec::Error::ChecksumMismatch { .. } } if *k == bad),
        "{err:?}"
    );
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        2,
        "nothing is deleted"
    );
    assert_eq!(
        loaded_at(&manager, Lookup::Exact(key(TEN[0])))
            .await
            .as_deref(),
        Some(TEN[0])
    );
    let err = manager
        .put_encoded(key(TEN[2]), Bytes::from_static(b"junk"), OnTaken::NextFree)
        .await
        .expect_err("junk");
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        2,
        "junk is never stored"
    );
}

/// A multi-megabyte snapshot survives the trip.
pub async fn large_snapshot_round_trips(store: DynStore) {
    let manager = fresh(&store)
        .await
        .with_compression(snapshot_codec::Compression::None);
    let rows: Vec<Value> = (0..60_000u64)
        .map(|i| value!({"id": i, "name": (format!("row {i}")), "score": ((i as f64) / 7.0)}))
        .collect();
    let state = Value::List(rows);
    let info = manager.dump(&state).await.expect("dump");
    assert!(info.size > 1 << 20, "only {} bytes", info.size);
    assert_eq!(
        manager
            .load::<Value>(Lookup::Exact(info.key))
            .await
            .expect("load"),
        Some(state)
    );
}

/// 8 tasks dumping 50 times each into one store end with 400 distinct, loadable
/// snapshots. Four use the clock; four aim every dump at the same instants as each
/// other, so that they collide on keys for certain.
pub async fn concurrent_dumps_all_survive(store: DynStore) {
    let manager = fresh(&store).await;
    let base = key("2030-01-01_00-00-00-000000");
    let mut tasks = Vec::new();
    for writer in 0..8u64 {
        let manager = manager.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..50u64 {
                let state = value!({"writer": writer, "i": i});
                let result = if writer < 4 {
                    manager.dump(&state).await
                } else {
                    let at = SnapshotKey::from_micros(base.as_micros() + i as i64 * 1000)
                        .expect("in range");
                    manager.dump_at(at, &state).await
                };
                let info = result.unwrap_or_else(|e| panic!("writer {writer} dump {i}: {e}"));
                got.push((info.key, writer, i));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer task panicked"));
    }
    let distinct: BTreeSet<SnapshotKey> = all.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(distinct.len(), 400, "dumps shared keys");
    let listed: BTreeSet<SnapshotKey> = manager
        .list(Order::NewestFirst)
        .await
        .expect("list")
        .iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, distinct, "listing differs from what was dumped");
    for (k, writer, i) in all {
        let v = manager
            .load::<Value>(Lookup::Exact(k))
            .await
            .expect("load")
            .expect("present");
        assert_eq!(v, value!({"writer": writer, "i": i}), "snapshot {k}");
    }
}

/// What [`soak`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoakReport {
    /// Snapshots dumped by the writers.
    pub dumps: usize,
    /// Latest-snapshot loads by the readers that returned a value (each checked).
    pub loads: usize,
    /// Loads that found the snapshot gone (pruned between listing and reading).
    pub not_found: usize,
    /// Retention passes by the pruner.
    pub prune_passes: usize,
    /// Snapshots removed by retention.
    pub pruned: usize,
    /// Snapshots left at the end.
    pub remaining: usize,
}

/// The payload of writer `w`'s dump `i`: derived from both, so a reader can tell a
/// whole, correct value from a torn or mixed-up one.
fn soak_payload(w: u64, i: u64) -> String {
    let unit = format!("{w}:{i};");
    let len = 100 + (i as usize * 7919 + w as usize * 104_729) % 20_000;
    unit.repeat(len / unit.len() + 1)
}

/// Runs 4 writers dumping, 1 pruner applying a keep-last-10 policy, and 2 readers
/// loading the latest snapshot, all at once for `duration`; then checks that no reader
/// ever got a wrong or partial value, that every dump is either still there or was
/// removed by retention, and that the policy's invariants hold at the end.
pub async fn soak(store: DynStore, duration: std::time::Duration) -> SoakReport {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let manager = fresh(&store).await;
    let policy = RetentionPolicy::new().keep_last(10);
    let stop = Arc::new(AtomicBool::new(false));
    let dumped = Arc::new(Mutex::new(Vec::<SnapshotKey>::new()));
    let removed = Arc::new(Mutex::new(BTreeSet::<SnapshotKey>::new()));
    let (loads, not_found, passes) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let (manager, stop, dumped) = (manager.clone(), stop.clone(), dumped.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let state = value!({"writer": w, "seq": i, "payload": (soak_payload(w, i))});
                let info = manager
                    .dump(&state)
                    .await
                    .unwrap_or_else(|e| panic!("writer {w} dump {i}: {e}"));
                dumped.lock().expect("lock").push(info.key);
                i += 1;
                // An in-memory store never makes a task wait: let the others run.
                tokio::task::yield_now().await;
            }
        }));
    }
    {
        let (manager, stop, removed, passes, policy) = (
            manager.clone(),
            stop.clone(),
            removed.clone(),
            passes.clone(),
            policy.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let plan = manager
                    .apply(&policy)
                    .await
                    .unwrap_or_else(|e| panic!("pruner: {e}"));
                removed
                    .lock()
                    .expect("lock")
                    .extend(plan.remove.iter().map(|m| m.key));
                passes.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }));
    }
    for r in 0..2 {
        let (manager, stop, loads, not_found) = (
            manager.clone(),
            stop.clone(),
            loads.clone(),
            not_found.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match manager.load::<Value>(Lookup::Latest).await {
                    Ok(Some(v)) => {
                        let (w, i) = (v["writer"].as_u64(), v["seq"].as_u64());
                        let (Some(w), Some(i)) = (w, i) else {
                            panic!("reader {r}: malformed value {v:?}")
                        };
                        assert_eq!(
                            v["payload"].as_str(),
                            Some(soak_payload(w, i).as_str()),
                            "reader {r}: wrong payload"
                        );
                        loads.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {}
                    Err(Error::NotFound { .. }) => {
                        not_found.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("reader {r}: {e}"),
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a soak task panicked");
    }
    // A last pass with everything quiet, then the invariants.
    let plan = manager.apply(&policy).await.expect("final retention pass");
    let mut removed = std::mem::take(&mut *removed.lock().expect("lock"));
    removed.extend(plan.remove.iter().map(|m| m.key));
    let mut dumped = std::mem::take(&mut *dumped.lock().expect("lock"));
    dumped.sort();
    let present: BTreeSet<SnapshotKey> = manager
        .list(Order::NewestFirst)
        .await
        .expect("list")
        .iter()
        .map(|m| m.key)
        .collect();
    for key in &dumped {
        assert!(
            present.contains(key) || removed.contains(key),
            "dump {key} was lost"
        );
    }
    let newest: BTreeSet<SnapshotKey> = dumped.iter().rev().take(10).copied().collect();
    assert_eq!(
        present, newest,
        "after the last pass exactly the 10 newest dumps remain"
    );
    assert!(
        removed.iter().all(|k| !present.contains(k)),
        "a removed snapshot is still listed"
    );
    SoakReport {
        dumps: dumped.len(),
        loads: loads.load(Ordering::Relaxed),
        not_found: not_found.load(Ordering::Relaxed),
        prune_passes: passes.load(Ordering::Relaxed),
        pruned: removed.len(),
        remaining: present.len(),
    }
}

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
/// assert_eq!(snapshot_store::for_each_store_behaviour!(count), 16);
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
            retention_rules,
            retention_after_each_dump,
            typed_state_round_trips,
            corrupt_snapshots_are_reported,
            large_snapshot_round_trips,
            concurrent_dumps_all_survive
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
