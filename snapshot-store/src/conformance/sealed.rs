//! What a manager without the key sees: never an empty store. A pipeline whose key
//! went missing must not resume from scratch, and retention must not delete what it
//! could not read.

use snapshot_codec::{EncryptionKey, Keyring};

use super::*;
use crate::{DumpOptions, Filter};

/// A run's encrypted checkpoints, read by a manager without the key and by one with the
/// wrong key under the same id: filtered lookups, `load_newest_valid`, filtered
/// listings and scoped retention all fail with the reason instead of answering as if
/// the store were empty; nothing is deleted; `verify` calls them not decrypted, `copy`
/// refuses them as such, never as damaged.
pub async fn a_missing_key_is_never_an_empty_store(store: DynStore) {
    fresh(&store).await;
    let key = EncryptionKey::new("run-key", [3; 32]).expect("key");
    let impostor = EncryptionKey::new("run-key", [4; 32]).expect("key");
    let owner = SnapshotManager::new(store.clone()).with_keyring(Keyring::new(key));
    let run = DumpOptions::new().label("run", "a");
    for step in [10u64, 20, 30] {
        owner
            .dump_with(&value!({"step": step}), &run.clone().step(step))
            .await
            .expect("dump");
    }
    let query = Lookup::Latest.matching(Filter::new().label("run", "a"));
    assert_eq!(
        owner.load::<Value>(query.clone()).await.expect("load"),
        Some(value!({"step": 30}))
    );

    let no_key = SnapshotManager::new(store.clone());
    let wrong_key = SnapshotManager::new(store.clone()).with_keyring(Keyring::new(impostor));
    for (who, manager) in [("no key", &no_key), ("wrong key", &wrong_key)] {
        match manager.load::<Value>(query.clone()).await {
            Err(Error::Unreadable { count, source, .. }) => {
                assert_eq!(count, 3, "{who}");
                assert!(source.is_key_unavailable(), "{who}: {source:?}");
            }
            other => panic!("{who}: a filtered resume must not look empty: {other:?}"),
        }
        match manager.load_newest_valid::<Value>().await {
            Err(e) => assert!(e.is_key_unavailable(), "{who}: {e:?}"),
            Ok(found) => panic!(
                "{who}: load_newest_valid answered {:?}",
                found.map(|r| r.snapshot.meta)
            ),
        }
        assert!(
            manager
                .load::<Value>(Lookup::Latest)
                .await
                .expect_err("unfiltered")
                .is_key_unavailable(),
            "{who}"
        );
        assert!(
            matches!(
                manager
                    .list(Order::NewestFirst)
                    .matching(Filter::new().label("run", "a"))
                    .details()
                    .await,
                Err(Error::Unreadable { count: 3, .. })
            ),
            "{who}"
        );
        let scoped = RetentionPolicy::new()
            .keep_last(1)
            .only(Filter::new().label("run", "a"));
        assert!(
            matches!(manager.apply(&scoped).await, Err(Error::Unreadable { .. })),
            "{who}: scoped retention ran without reading the labels"
        );
        let report = manager.verify().await.expect("verify");
        assert!(report.bad.is_empty(), "{who}: {:?}", report.bad);
        assert_eq!(report.not_decrypted.len(), 3, "{who}");
        let copied = manager
            .copy_into(&SnapshotManager::new(MemoryStore::new()))
            .await
            .expect("copy");
        assert_eq!(copied.failed.len(), 3, "{who}");
        assert!(
            copied.failed.iter().all(|f| f.error.is_key_unavailable()),
            "{who}: {:?}",
            copied.failed
        );
    }
    assert_eq!(
        owner.list(Order::OldestFirst).await.expect("list").len(),
        3,
        "nothing was deleted"
    );

    // A plain snapshot after the sealed ones: a filtered lookup that finds its match
    // before any unreadable snapshot answers; one that would have to pass over them
    // does not.
    no_key
        .dump_with(&value!("plain"), &DumpOptions::new().label("run", "b"))
        .await
        .expect("dump");
    assert_eq!(
        no_key
            .load::<Value>(Lookup::Latest.matching(Filter::new().label("run", "b")))
            .await
            .expect("load"),
        Some(value!("plain"))
    );
    assert!(matches!(
        no_key
            .load::<Value>(Lookup::Latest.matching(Filter::new().label("run", "a")))
            .await,
        Err(Error::Unreadable { count: 3, .. })
    ));
    // The owner, holding the key, still resumes where it was.
    assert_eq!(
        owner.load::<Value>(query).await.expect("load"),
        Some(value!({"step": 30}))
    );
}
