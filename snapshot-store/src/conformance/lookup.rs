//! Lookups: first/last in a range, every lookup mode, listing orders and streams,
//! each against a brute-force answer.

use super::*;

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
    manager
        .dump_with(
            &value!(1),
            &crate::DumpOptions::new().at(one).expect("a valid time"),
        )
        .await
        .expect("dump");
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
        if manager
            .dump_with(
                &value!(0),
                &crate::DumpOptions::new().at(k).expect("a valid time"),
            )
            .await
            .expect("dump")
            .key
            == k
        {
            all.push(k);
        }
    }
    let future = key("2999-01-01_00-00-00-000000");
    manager
        .dump_with(
            &value!(0),
            &crate::DumpOptions::new().at(future).expect("a valid time"),
        )
        .await
        .expect("dump");
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

/// `list` is newest first; `list(Order::NearestTo)` is by distance, the earlier first on ties.
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
        .list(Order::nearest_to("2024-01-15_10-00-15-000000").expect("a valid time"))
        .await
        .expect("list_nearest");
    assert_eq!(keys(&nearest), [times[1], times[2], times[0], times[3]]);
}

/// `SnapshotManager::list(..).stream()` pages through more than a page of snapshots, dense and
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
            .list(order)
            .range(range)
            .stream()
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
