//! Deleting through a backend: prune, retention plans carried out, retention after
//! each dump. (The rules themselves are unit-tested next to `retention.rs`.)

use super::*;

/// `prune(n)` deletes the n oldest, and never the newest.
pub async fn prune_deletes_oldest_never_newest(store: DynStore) {
    let manager = fresh(&store).await;
    timeline(&manager, &TEN[..5]).await;
    let deleted = manager.raw().prune(2).await.expect("prune 2");
    assert_eq!(
        keys(
            &deleted
                .iter()
                .map(|k| SnapshotMeta { key: *k, size: 0 })
                .collect::<Vec<_>>()
        ),
        TEN[..2]
    );
    let deleted = manager.raw().prune(100).await.expect("prune 100");
    assert_eq!(deleted.len(), 2, "only the newest stays");
    assert_eq!(
        keys(&manager.list(Order::NewestFirst).await.expect("list")),
        [TEN[4]]
    );
    assert!(
        manager.raw().prune(1).await.expect("prune").is_empty(),
        "the newest is never pruned"
    );
    assert_eq!(manager.raw().delete_all().await.expect("delete_all"), 1);
    assert!(
        manager
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty()
    );
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
                .dump_with(
                    &value!(*t),
                    &crate::DumpOptions::new().at(key(t)).expect("a valid time"),
                )
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

/// A retention plan deletes nothing; applying it deletes exactly what it removes (in
/// bulk, where the backend can) and leaves what it keeps.
pub async fn retention_applies_the_plan(store: DynStore) {
    let manager = fresh(&store).await;
    timeline(&manager, &TEN).await;
    let policy = RetentionPolicy::new()
        .keep_last(2)
        .keep_yearly(2)
        .keep_within(CalendarDuration::hours(24));
    let plan = manager.plan(&policy).await.expect("plan");
    assert_eq!(plan.keep.len() + plan.remove.len(), TEN.len());
    assert!(!plan.remove.is_empty() && !plan.keep.is_empty(), "{plan}");
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        TEN.len(),
        "a plan deletes nothing"
    );
    let applied = manager.apply(&policy).await.expect("apply");
    assert_eq!(applied, plan);
    let mut kept: Vec<SnapshotKey> = plan.keep.iter().map(|k| k.meta.key).collect();
    kept.sort();
    let left: Vec<SnapshotKey> = manager
        .list(Order::OldestFirst)
        .await
        .expect("list")
        .iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(left, kept, "exactly the kept snapshots are left");
    assert!(plan.keep[0].reasons.contains(&KeepReason::Newest));
}
