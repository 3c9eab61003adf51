//! Retention: a dry run that explains what is kept and why, then pruning.

use snapshot_state::Order;
use snapshot_state::{MemoryStore, RetentionPolicy, SnapshotKey, SnapshotManager, value};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let manager = SnapshotManager::new(MemoryStore::new());
    // Six weeks of snapshots, one every 12 hours.
    let start: SnapshotKey = "2024-01-01_00-00-00-000000".parse()?;
    for i in 0..84i64 {
        let at = SnapshotKey::from_micros(start.as_micros() + i * 12 * 3600 * 1_000_000)?;
        manager
            .dump_with(
                &value!({"n": i}),
                &snapshot_state::DumpOptions::new().at(at)?,
            )
            .await?;
    }

    let policy = RetentionPolicy::new()
        .keep_last(3)
        .keep_daily(7)
        .keep_weekly(4);

    // Dry run: nothing is deleted; every snapshot is listed with the reason it stays.
    let plan = manager.plan(&policy).await?;
    print!("{plan}");
    println!(
        "would keep {} and remove {}",
        plan.keep.len(),
        plan.remove.len()
    );
    assert_eq!(manager.list(Order::NewestFirst).await?.len(), 84);

    // Apply it.
    let applied = manager.apply(&policy).await?;
    assert_eq!(
        manager.list(Order::NewestFirst).await?.len(),
        applied.keep.len()
    );
    println!("kept {} snapshots after pruning", applied.keep.len());

    // prune(n) deletes the n oldest; the newest always stays.
    let removed = manager.raw().prune(100).await?;
    println!(
        "prune(100) removed {}; {} left",
        removed.len(),
        manager.list(Order::NewestFirst).await?.len()
    );
    Ok(())
}
