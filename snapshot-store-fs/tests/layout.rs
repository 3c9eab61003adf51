//! The directory layout: snapshots in one directory per UTC day, and stores written by
//! 0.1 (every snapshot directly in the directory) still read, listed, looked up and
//! deleted, mixed with the new layout, with their keys never written again.

use std::collections::BTreeSet;

use bytes::Bytes;
use snapshot_codec::Value;
use snapshot_codec::value;
use snapshot_store::Order;
use snapshot_store::conformance::brute_force_lookup;
use snapshot_store::{KeyRange, Lookup, SnapshotKey, SnapshotManager, SnapshotStore};
use snapshot_store_fs::FsStore;

fn key(text: &str) -> SnapshotKey {
    str::parse::<SnapshotKey>(text).expect("key")
}

fn encoded(n: i64) -> Bytes {
    Bytes::from(snapshot_codec::encode(&value!({ "n": n })).expect("encode"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_snapshots_go_in_a_directory_per_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::create(dir.path()).expect("store");
    let k = key("2024-01-15_10-30-00-000000");
    store.put(k, encoded(1)).await.expect("put");
    assert_eq!(
        store.path_of(k),
        dir.path().join("2024-01-15").join(k.to_string())
    );
    assert!(store.path_of(k).is_file());
    assert!(!dir.path().join(k.to_string()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_written_by_0_1_keep_working_mixed_with_the_new_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A 0.1 store: snapshot files directly in the directory.
    let old = [
        key("2024-01-14_23-00-00-000000"),
        key("2024-01-15_08-00-00-000000"),
        key("2024-01-16_12-00-00-000000"),
    ];
    for (i, k) in old.iter().enumerate() {
        std::fs::write(dir.path().join(k.to_string()), encoded(i as i64)).expect("write");
    }
    let store = FsStore::open(dir.path()).expect("open");
    let manager = SnapshotManager::new(store.clone());
    // New snapshots between and after the old ones.
    let new = [
        key("2024-01-15_09-00-00-000000"),
        key("2024-01-16_13-00-00-000000"),
    ];
    for (i, k) in new.iter().enumerate() {
        manager
            .dump_with(
                &value!({ "n": (10 + i as i64) }),
                &snapshot_store::DumpOptions::new()
                    .at(*k)
                    .expect("a valid time"),
            )
            .await
            .expect("dump");
    }
    let listed: Vec<SnapshotKey> = manager
        .list(Order::NewestFirst)
        .await
        .expect("list")
        .iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(
        listed,
        [new[1], old[2], new[0], old[1], old[0]],
        "newest first, both layouts"
    );
    assert_eq!(
        manager
            .load::<Value>(Lookup::Exact(old[1]))
            .await
            .expect("load"),
        Some(value!({"n": 1}))
    );
    assert_eq!(
        store
            .last_in(KeyRange::new(..new[1]))
            .await
            .expect("last")
            .map(|m| m.key),
        Some(old[2])
    );
    assert_eq!(
        store
            .first_in(KeyRange::new(old[0].next()..))
            .await
            .expect("first")
            .map(|m| m.key),
        Some(old[1])
    );
    // A key a 0.1 file holds is never written again, in either layout.
    let err = store.put(old[1], encoded(99)).await.expect_err("taken");
    assert!(err.is_already_exists(), "{err:?}");
    assert!(!store.path_of(old[1]).exists());
    let info = manager
        .dump_with(
            &value!("later"),
            &snapshot_store::DumpOptions::new()
                .at(old[1])
                .expect("a valid time"),
        )
        .await
        .expect("dump");
    assert_eq!(info.key, old[1].next());
    // Deleting works on both layouts.
    store.delete(old[0]).await.expect("delete old");
    store.delete(new[0]).await.expect("delete new");
    assert!(!dir.path().join(old[0].to_string()).exists());
    assert!(!store.path_of(new[0]).exists());
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_named_like_days_that_are_not_ours_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::create(dir.path()).expect("store");
    let k = key("2024-01-15_10-30-00-000000");
    // A link named like a day, pointing at a directory holding a snapshot-like file.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::fs::write(elsewhere.path().join(k.to_string()), encoded(1)).expect("write");
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("2024-01-15")).expect("symlink");
    // A file named like a day, and a snapshot-like file in the wrong day's directory.
    std::fs::write(dir.path().join("2024-01-16"), b"not a directory").expect("write");
    std::fs::create_dir(dir.path().join("2024-01-17")).expect("mkdir");
    std::fs::write(
        dir.path().join("2024-01-17").join(k.to_string()),
        encoded(2),
    )
    .expect("write");
    assert!(
        store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.get(k).await.expect_err("not ours").is_not_found());
    assert_eq!(store.last_in(KeyRange::all()).await.expect("last"), None);
    // Writing into a day whose name a foreign object holds fails, and writes nothing there.
    store
        .put(k, encoded(3))
        .await
        .expect_err("the day's name is taken by a link");
    assert_eq!(
        std::fs::read_dir(elsewhere.path())
            .expect("read_dir")
            .count(),
        1
    );
    store
        .put(key("2024-01-16_00-00-00-000000"), encoded(4))
        .await
        .expect_err("the day's name is taken by a file");
    assert!(store.delete(k).await.expect_err("not ours").is_not_found());
    assert!(elsewhere.path().join(k.to_string()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_match_brute_force_over_random_mixed_stores() {
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = key("2024-01-01_00-00-00-000000").as_micros();
    let span = 10 * 86_400_000_000_i64; // ten days
    for round in 0..12 {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::create(dir.path()).expect("store");
        let count = (next() % 40) as usize;
        let mut keys = BTreeSet::new();
        for _ in 0..count {
            let k = SnapshotKey::from_micros(base + (next() % span as u64) as i64).expect("key");
            if !keys.insert(k) {
                continue;
            }
            if next() % 2 == 0 {
                std::fs::write(dir.path().join(k.to_string()), encoded(0)).expect("write");
            } else {
                store.put(k, encoded(0)).await.expect("put");
            }
        }
        let keys: Vec<SnapshotKey> = keys.into_iter().collect();
        let listed: Vec<SnapshotKey> = store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(listed, keys, "round {round}");
        let manager = SnapshotManager::new(store.clone());
        for _ in 0..30 {
            let t = SnapshotKey::from_micros(
                base - 86_400_000_000 + (next() % (span as u64 + 2 * 86_400_000_000)) as i64,
            )
            .expect("key");
            for lookup in [
                Lookup::Latest,
                Lookup::Exact(t),
                Lookup::AtOrBefore(t),
                Lookup::AtOrAfter(t),
                Lookup::Nearest(t),
            ] {
                let found = manager
                    .load_snapshot::<Value>(lookup)
                    .await
                    .expect("load")
                    .map(|s| s.meta.key);
                assert_eq!(
                    found,
                    brute_force_lookup(&keys, lookup),
                    "round {round}: {lookup:?}"
                );
            }
            let limit = (next() % 5) as usize + 1;
            let from = KeyRange::new(t..);
            let page: Vec<SnapshotKey> = store
                .list(from, Some(limit))
                .await
                .expect("page")
                .iter()
                .map(|m| m.key)
                .collect();
            let expected: Vec<SnapshotKey> = keys
                .iter()
                .copied()
                .filter(|k| *k >= t)
                .take(limit)
                .collect();
            assert_eq!(page, expected, "round {round}: page of {limit} from {t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_store_moves_into_day_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [
        key("2024-01-14_23-00-00-000000"),
        key("2024-01-15_08-00-00-000000"),
        key("2024-01-15_09-00-00-000000"),
        key("2024-01-16_12-00-00-000000"),
    ];
    for (i, k) in keys.iter().enumerate() {
        std::fs::write(dir.path().join(k.to_string()), encoded(i as i64)).expect("write");
    }
    // An interrupted move: the snapshot under both names.
    std::fs::create_dir(dir.path().join("2024-01-15")).expect("mkdir");
    std::fs::hard_link(
        dir.path().join(keys[1].to_string()),
        dir.path().join("2024-01-15").join(keys[1].to_string()),
    )
    .expect("link");
    // A different snapshot under a key the day directory holds already: left alone.
    std::fs::write(
        dir.path().join("2024-01-15").join(keys[2].to_string()),
        encoded(77),
    )
    .expect("write");
    let store = FsStore::open(dir.path()).expect("open");
    assert_eq!(store.count_in_flat_layout().await.expect("count"), 4);
    let before = store.list(KeyRange::all(), None).await.expect("list");
    assert_eq!(store.move_to_day_layout().await.expect("move"), 3);
    assert_eq!(store.count_in_flat_layout().await.expect("count"), 1);
    assert!(
        dir.path().join(keys[2].to_string()).is_file(),
        "a conflict was resolved silently"
    );
    for (i, k) in keys.iter().enumerate() {
        if i != 2 {
            assert!(store.path_of(*k).is_file(), "{k} not moved");
            assert!(!dir.path().join(k.to_string()).exists(), "{k} left behind");
            assert_eq!(store.get(*k).await.expect("get"), encoded(i as i64));
        }
    }
    assert_eq!(
        store.list(KeyRange::all(), None).await.expect("list"),
        before
    );
    assert_eq!(store.move_to_day_layout().await.expect("again"), 0);
}
