//! Labels, steps and encryption: headers read through a backend's `get_head`, filtered
//! lookups checked against brute force, the header cache, and encrypted snapshots.

use std::sync::atomic::{AtomicUsize, Ordering};

use snapshot_codec::{EncryptionKey, Keyring, Metadata};

use super::*;
use crate::{DumpOptions, Filter, Query};

/// A store that counts header reads, to check what a query costs.
#[derive(Debug)]
struct CountingStore {
    inner: DynStore,
    heads: AtomicUsize,
}

#[async_trait]
impl SnapshotStore for CountingStore {
    async fn put(&self, key: SnapshotKey, bytes: Bytes) -> crate::Result<()> {
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: SnapshotKey) -> crate::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_head(&self, key: SnapshotKey, len: usize) -> crate::Result<Bytes> {
        self.heads.fetch_add(1, Ordering::Relaxed);
        self.inner.get_head(key, len).await
    }
    async fn list(
        &self,
        range: KeyRange,
        limit: Option<usize>,
    ) -> crate::Result<Vec<SnapshotMeta>> {
        self.inner.list(range, limit).await
    }
    async fn delete(&self, key: SnapshotKey) -> crate::Result<()> {
        self.inner.delete(key).await
    }
}

/// What the suite wrote: each snapshot's key and metadata.
type Written = Vec<(SnapshotKey, Metadata)>;

/// 24 snapshots an hour apart, labelled `tag` (nightly every third, else hourly) and
/// `run` (0 to 2), with steps 0, 10, 20, ... except every fifth, which has none.
async fn labelled_timeline(manager: &SnapshotManager) -> Written {
    let mut written = Vec::new();
    for i in 0..24u64 {
        let at = key(&format!(
            "2024-03-{:02}_{:02}-00-00-000000",
            1 + i / 24,
            i % 24
        ));
        let mut opts = DumpOptions::new()
            .at(at)
            .expect("key")
            .label("tag", if i % 3 == 0 { "nightly" } else { "hourly" })
            .label("run", (i % 3).to_string());
        if i % 5 != 4 {
            opts = opts.step(i * 10);
        }
        let info = manager
            .dump_with(&value!({"i": (i as i64)}), &opts)
            .await
            .unwrap_or_else(|e| panic!("dump {i}: {e}"));
        assert_eq!(info.key, at);
        let mut meta = Metadata::new();
        meta.labels = opts.labels().clone();
        meta.step = (i % 5 != 4).then_some(i * 10);
        written.push((at, meta));
    }
    written
}

/// What `query` selects among `written`, by brute force.
fn brute_force(written: &Written, query: &Query) -> Option<SnapshotKey> {
    let mut selected: Vec<SnapshotKey> = written
        .iter()
        .filter(|(_, meta)| query.filter.matches(meta))
        .map(|(k, _)| *k)
        .collect();
    selected.sort();
    match query.lookup {
        Lookup::Latest => selected.last().copied(),
        Lookup::Exact(k) => selected.into_iter().find(|s| *s == k),
        Lookup::AtOrBefore(t) => selected.into_iter().rev().find(|s| *s <= t),
        Lookup::AtOrAfter(t) => selected.into_iter().find(|s| *s >= t),
        Lookup::Nearest(t) => selected.into_iter().min_by_key(|s| (t.distance(*s), *s)),
    }
}

/// `get_head` returns exactly the first bytes of a snapshot (all of it when shorter);
/// labels and steps written by a dump come back in `list(..).details()` and select snapshots
/// in every kind of lookup exactly as brute force over what was written does; scoped
/// retention touches only the snapshots its filter selects.
pub async fn labels_and_steps_select_like_brute_force(store: DynStore) {
    let manager = fresh(&store).await;
    let written = labelled_timeline(&manager).await;

    let (k0, _) = &written[0];
    let whole = store.get(*k0).await.expect("get");
    for len in [
        0,
        1,
        6,
        20,
        whole.len() - 1,
        whole.len(),
        whole.len() + 100,
        1 << 20,
    ] {
        let head = store.get_head(*k0, len).await.expect("get_head");
        assert_eq!(&head[..], &whole[..len.min(whole.len())], "get_head({len})");
    }
    assert!(matches!(
        store.get_head(key("2030-01-01_00-00-00-000000"), 10).await,
        Err(Error::NotFound { .. })
    ));

    let details = manager
        .list(Order::OldestFirst)
        .details()
        .await
        .expect("list_details");
    assert_eq!(details.len(), written.len());
    for (d, (k, meta)) in details.iter().zip(&written) {
        assert_eq!(d.key, *k);
        assert_eq!(d.metadata.as_ref(), Some(meta), "metadata of {k}");
        assert!(d.key_id.is_none() && !d.sealed);
    }

    let filters = [
        Filter::new(),
        Filter::new().label("tag", "nightly"),
        Filter::new().label("tag", "hourly").label("run", "2"),
        Filter::new().label("run", "1").step_at_most(150),
        Filter::new().step(70),
        Filter::new().step(40), // i = 4 has no step: nothing
        Filter::new().steps(50..=120),
        Filter::new().label("tag", "weekly"),
    ];
    let times = [
        key("2024-02-01_00-00-00-000000"),
        key("2024-03-01_05-00-00-000000"),
        key("2024-03-01_05-29-59-999999"),
        key("2024-03-01_05-30-00-000000"),
        key("2024-03-01_13-45-00-000000"),
        key("2024-03-02_00-00-00-000000"),
    ];
    for filter in &filters {
        let listed = manager
            .list(Order::NewestFirst)
            .matching(filter.clone())
            .details()
            .await
            .expect("list_details");
        let mut expected: Vec<SnapshotKey> = written
            .iter()
            .filter(|(_, m)| filter.matches(m))
            .map(|(k, _)| *k)
            .collect();
        expected.reverse();
        assert_eq!(
            listed.iter().map(|d| d.key).collect::<Vec<_>>(),
            expected,
            "{filter:?}"
        );
        let mut lookups = vec![Lookup::Latest];
        for t in times
            .iter()
            .chain(written.iter().map(|(k, _)| k).step_by(5))
        {
            lookups.extend([
                Lookup::Exact(*t),
                Lookup::AtOrBefore(*t),
                Lookup::AtOrAfter(*t),
                Lookup::Nearest(*t),
            ]);
        }
        for lookup in lookups {
            let query = lookup.matching(filter.clone());
            let found = manager.resolve(query.clone()).await.expect("resolve");
            assert_eq!(
                found.map(|m| m.key),
                brute_force(&written, &query),
                "{query:?}"
            );
            if let Some(k) = found {
                let loaded: Option<Value> = manager.load(query.clone()).await.expect("load");
                let i = written
                    .iter()
                    .position(|(w, _)| *w == k.key)
                    .expect("written");
                assert_eq!(loaded, Some(value!({"i": (i as i64)})), "{query:?}");
            }
        }
    }

    // keep-last-2 scoped to nightly: the other snapshots are untouched.
    let nightly = Filter::new().label("tag", "nightly");
    let plan = manager
        .apply(&RetentionPolicy::new().keep_last(2).only(nightly.clone()))
        .await
        .expect("apply");
    assert_eq!((plan.keep.len(), plan.remove.len()), (2, 6));
    let left = manager.list(Order::OldestFirst).await.expect("list");
    assert_eq!(left.len(), 24 - 6);
    let left_nightly = manager
        .list(Order::OldestFirst)
        .matching(nightly.clone())
        .details()
        .await
        .expect("list_details");
    assert_eq!(
        left_nightly.iter().map(|d| d.key).collect::<Vec<_>>(),
        [written[18].0, written[21].0]
    );
}

/// A label query after another writer added snapshots finds them; a second manager
/// sharing the first one's cache file reads only the headers it has not seen; a cache
/// file that is damaged is ignored.
pub async fn header_cache_follows_other_writers(store: DynStore) {
    let writer = fresh(&store).await;
    let dir = std::env::temp_dir().join(format!(
        "snapshot-conformance-cache-{}-{}",
        std::process::id(),
        SnapshotKey::now()
    ));
    let file = dir.join("headers.bin");
    let counting = Arc::new(CountingStore {
        inner: store.clone(),
        heads: AtomicUsize::new(0),
    });
    let reader = SnapshotManager::new(counting.clone()).with_header_cache(&file);
    let tagged = |t: &str| DumpOptions::new().label("tag", t);
    for i in 0..6 {
        writer
            .dump_with(&value!(i), &tagged(if i % 2 == 0 { "a" } else { "b" }))
            .await
            .expect("dump");
    }
    let query = Lookup::Latest.matching(Filter::new().label("tag", "a"));
    assert_eq!(
        reader.load::<Value>(query.clone()).await.expect("load"),
        Some(value!(4))
    );
    let cold = counting.heads.swap(0, Ordering::Relaxed);
    assert!((1..=6).contains(&cold), "cold query read {cold} headers");
    // Warm, in the same manager: no header read at all.
    let all = reader
        .list(Order::OldestFirst)
        .details()
        .await
        .expect("list");
    assert_eq!(all.len(), 6);
    let listing = counting.heads.swap(0, Ordering::Relaxed);
    assert_eq!(
        reader.load::<Value>(query.clone()).await.expect("load"),
        Some(value!(4))
    );
    assert_eq!(
        counting.heads.swap(0, Ordering::Relaxed),
        0,
        "a warm query reads no header"
    );
    assert!(
        listing < 6,
        "the listing re-read cached headers ({listing})"
    );

    // Another writer adds snapshots: the next query sees them, reading only theirs.
    writer
        .dump_with(&value!(6), &tagged("a"))
        .await
        .expect("dump");
    writer
        .dump_with(&value!(7), &tagged("b"))
        .await
        .expect("dump");
    assert_eq!(
        reader.load::<Value>(query.clone()).await.expect("load"),
        Some(value!(6))
    );
    let b = reader
        .list(Order::NewestFirst)
        .matching(Filter::new().label("tag", "b"))
        .details()
        .await
        .expect("list");
    assert_eq!(b.len(), 4);
    assert_eq!(
        counting.heads.swap(0, Ordering::Relaxed),
        2,
        "only the new headers are read"
    );

    // The file holds labels in the clear: its owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("cache file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the header cache file is readable by others"
        );
    }

    // A new manager (a new process) with the same cache file reads no header.
    let again = SnapshotManager::new(counting.clone()).with_header_cache(&file);
    let b2 = again
        .list(Order::NewestFirst)
        .matching(Filter::new().label("tag", "b"))
        .details()
        .await
        .expect("list");
    assert_eq!(b2, b);
    assert_eq!(
        counting.heads.swap(0, Ordering::Relaxed),
        0,
        "the cache file was used"
    );

    // A damaged cache file costs reads, not errors.
    std::fs::write(&file, b"not a cache").expect("write");
    let damaged = SnapshotManager::new(counting.clone()).with_header_cache(&file);
    let b3 = damaged
        .list(Order::NewestFirst)
        .matching(Filter::new().label("tag", "b"))
        .details()
        .await
        .expect("list");
    assert_eq!(b3, b);
    assert_eq!(counting.heads.swap(0, Ordering::Relaxed), 8);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Encrypted snapshots (small ones decoded in place, large ones streamed) round-trip
/// with their key and labels; without the key a load names the key, listing shows the
/// key id with the labels sealed, and verify checks frame and checksum only; a wrong
/// key is named; a manager holding old keys reads what they wrote after a rotation;
/// a copy into a manager with another key re-encrypts.
pub async fn encrypted_snapshots_round_trip(store: DynStore) {
    let plain = fresh(&store).await;
    let old = EncryptionKey::new("old-key", [1; 32]).expect("key");
    let new = EncryptionKey::new("new-key", [2; 32]).expect("key");
    let under_old = SnapshotManager::new(store.clone()).with_keyring(Keyring::new(old.clone()));
    let small = value!({"api_key": "sk-live-42", "n": 1});
    let large = value!({"blob": (Value::Bytes(vec![7u8; 600 << 10]))});
    let labels = DumpOptions::new().label("tag", "config").step(3);
    let a = under_old
        .dump_with(&small, &labels)
        .await
        .expect("dump")
        .key;
    let b = under_old.dump(&large).await.expect("dump").key;
    let stored = store.get(a).await.expect("get");
    assert!(
        !stored.windows(7).any(|w| w == b"sk-live"),
        "plaintext stored"
    );
    assert!(
        !stored.windows(6).any(|w| w == b"config"),
        "labels stored in the clear"
    );
    assert_eq!(
        under_old.load(Lookup::Exact(a)).await.expect("load"),
        Some(small.clone())
    );
    assert_eq!(
        under_old.load(Lookup::Exact(b)).await.expect("load"),
        Some(large.clone())
    );

    // Without the key.
    for k in [a, b] {
        match plain.load::<Value>(Lookup::Exact(k)).await {
            Err(Error::KeyUnavailable {
                source: snapshot_codec::Error::KeyMissing { key_id },
                ..
            }) => assert_eq!(key_id, "old-key"),
            other => panic!("load without the key: {other:?}"),
        }
    }
    let listed = plain
        .list(Order::OldestFirst)
        .details()
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|d| d.key_id.as_deref() == Some("old-key"))
    );
    assert!(listed[0].sealed && listed[0].metadata.is_none());
    let report = plain.verify().await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.bad);
    assert_eq!(report.not_decrypted, [b, a]);
    // With the key, labels are read from the header.
    let opened = under_old
        .list(Order::OldestFirst)
        .matching(Filter::new().label("tag", "config"))
        .details()
        .await
        .expect("list");
    assert_eq!(opened.len(), 1);
    assert_eq!((opened[0].key, opened[0].step()), (a, Some(3)));

    // A key with the right id but the wrong bytes.
    let impostor = SnapshotManager::new(store.clone()).with_keyring(Keyring::new(
        EncryptionKey::new("old-key", [9; 32]).expect("key"),
    ));
    assert!(matches!(
        impostor.load::<Value>(Lookup::Exact(a)).await,
        Err(Error::KeyUnavailable {
            source: snapshot_codec::Error::WrongKey { .. },
            ..
        })
    ));

    // Rotation: new snapshots under the new key, old ones still readable.
    let rotated = SnapshotManager::new(store.clone())
        .with_keyring(Keyring::new(new.clone()).with_old_key(old.clone()));
    let c = rotated
        .dump(&value!("after rotation"))
        .await
        .expect("dump")
        .key;
    assert_eq!(
        snapshot_codec::encryption_key_id(&store.get(c).await.expect("get")).expect("header"),
        Some("new-key".to_owned())
    );
    for (k, v) in [(a, &small), (b, &large), (c, &value!("after rotation"))] {
        assert_eq!(
            rotated.load(Lookup::Exact(k)).await.expect("load").as_ref(),
            Some(v)
        );
    }
    assert!(matches!(
        under_old.load::<Value>(Lookup::Exact(c)).await,
        Err(Error::KeyUnavailable {
            source: snapshot_codec::Error::KeyMissing { .. },
            ..
        })
    ));

    // Copy into a memory store under the new key only: everything re-encrypted, labels
    // kept; a second copy finds it all present.
    let dest = SnapshotManager::new(MemoryStore::new()).with_keyring(Keyring::new(new));
    let copied = rotated.copy_into(&dest).await.expect("copy");
    assert_eq!(
        (copied.copied, copied.present),
        (3, 0),
        "{:?}",
        copied.failed
    );
    for k in [a, b, c] {
        let bytes = dest.raw().store().get(k).await.expect("get");
        assert_eq!(
            snapshot_codec::encryption_key_id(&bytes)
                .expect("header")
                .as_deref(),
            Some("new-key")
        );
    }
    assert_eq!(
        dest.load(Lookup::Exact(a)).await.expect("load"),
        Some(small)
    );
    let tagged = dest
        .list(Order::OldestFirst)
        .matching(Filter::new().label("tag", "config").step(3))
        .details()
        .await
        .expect("list");
    assert_eq!(tagged.len(), 1);
    let again = rotated.copy_into(&dest).await.expect("copy");
    assert_eq!((again.copied, again.present), (0, 3), "{:?}", again.failed);
}
