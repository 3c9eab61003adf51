//! What every backend must do with single snapshots: create-only writes, missing
//! keys, empty stores, ranged listings, foreign objects, typed state, corruption,
//! large snapshots.

use super::*;

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
            .list(Order::nearest_to(t).expect("a valid time"))
            .await
            .expect("list_nearest")
            .is_empty()
    );
    assert!(manager.raw().prune(10).await.expect("prune").is_empty());
    let plan = manager
        .plan(&RetentionPolicy::new().keep_last(1))
        .await
        .expect("plan");
    assert!(plan.keep.is_empty() && plan.remove.is_empty());
}

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
    manager.raw().prune(10).await.expect("prune");
    manager
        .apply(&RetentionPolicy::new().keep_last(1))
        .await
        .expect("apply");
    manager.raw().delete_all().await.expect("delete_all");
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
        .raw()
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
