//! Database cache snapshots: dump query results now and then, then load the snapshot
//! nearest to a given time (and the last one before it, for point-in-time restore).

use snapshot_state::Value;
use snapshot_state::{Lookup, MemoryStore, Order, SnapshotKey, SnapshotManager, value};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let manager = SnapshotManager::new(MemoryStore::new());

    // Cache refreshes at 10:00, 10:30 and 11:00 (dump_at sets the time explicitly).
    for (at, count) in [
        ("2024-01-15_10-00-00-000000", 2),
        ("2024-01-15_10-30-00-000000", 3),
        ("2024-01-15_11-00-00-000000", 5),
    ] {
        let users: Vec<_> = (1..=count)
            .map(|id| value!({"id": id, "email": (format!("user{id}@example.com"))}))
            .collect();
        manager
            .dump_with(&value!({"users": users, "metadata": {"query": "SELECT * FROM users", "count": count}}), &snapshot_state::DumpOptions::new().at(at)?)
            .await?;
    }

    // Nearest to 10:40 is the 10:30 one.
    let target: SnapshotKey = "2024-01-15_10-40-00-000000".parse()?;
    let nearest = manager
        .load_snapshot::<Value>(Lookup::Nearest(target))
        .await?
        .ok_or_else(|| anyhow::anyhow!("empty cache"))?;
    println!(
        "nearest to {target}: {} with {} users",
        nearest.meta.key, nearest.value["metadata"]["count"]
    );
    assert_eq!(nearest.value["metadata"]["count"].as_u64(), Some(3));

    // Times can also be chrono DateTimes.
    let later = target.to_datetime() + chrono::Duration::minutes(15);
    let before = manager
        .load::<Value>(Lookup::at_or_before(later)?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("nothing before"))?;
    println!("last before {later}: {} users", before["metadata"]["count"]);

    // Every snapshot, ordered by distance to the target.
    for meta in manager.list(Order::nearest_to(target)?).await? {
        println!(
            "  {} is {} s away",
            meta.key,
            meta.key.distance(target).num_seconds()
        );
    }
    Ok(())
}
