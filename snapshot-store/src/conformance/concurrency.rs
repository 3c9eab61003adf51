//! Many writers at once: collisions on one key, concurrent dumps, and the soak.

use super::*;

/// Dumps in the same microsecond take the next free microseconds; none is lost.
pub async fn dump_never_overwrites(store: DynStore) {
    let manager = fresh(&store).await;
    let t = key("2024-01-15_10-30-00-000000");
    let mut got = Vec::new();
    for i in 0..3 {
        got.push(
            manager
                .dump_with(
                    &value!({"n": i}),
                    &crate::DumpOptions::new().at(t).expect("a valid time"),
                )
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
                    manager
                        .dump_with(
                            &state,
                            &crate::DumpOptions::new().at(at).expect("a valid time"),
                        )
                        .await
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
    // A slow server (a fresh S3 bucket still allocating its storage) may not have
    // finished one dump and one load yet: give it up to 60 s more for each kind of work
    // to happen once, so the report says what the store did, not how busy the machine was.
    let grace = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while tokio::time::Instant::now() < grace
        && (loads.load(Ordering::Relaxed) == 0
            || passes.load(Ordering::Relaxed) == 0
            || dumped.lock().expect("lock").is_empty())
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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
