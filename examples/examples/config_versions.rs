//! Configuration versions: save the configuration before each change, list the
//! versions, and restore the previous one.

use snapshot_state::Order;
use snapshot_state::Value;
use snapshot_state::{Lookup, value};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let manager = snapshot_state::open_or_create(
        dir.path()
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))?,
    )?;

    let mut config = value!({
        "database": {"host": "localhost", "port": 5432, "name": "myapp"},
        "features": {"new_ui": true, "beta_features": false},
    });
    manager.dump(&config).await?;

    // A change goes wrong...
    config
        .as_map_mut()
        .ok_or_else(|| anyhow::anyhow!("config is a map"))?
        .insert(
            "database",
            value!({"host": "db.internal", "port": 6543, "name": "myapp"}),
        );
    manager.dump(&config).await?;

    // List the versions, newest first.
    let versions = manager.list(Order::NewestFirst).await?;
    for (i, v) in versions.iter().enumerate() {
        println!(
            "version {i}: saved at {} ({} bytes)",
            v.key.to_datetime(),
            v.size
        );
    }

    // Restore the previous one by its key.
    let previous = manager
        .load::<Value>(Lookup::Exact(versions[1].key))
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    println!("restored database host: {}", previous["database"]["host"]);
    assert_eq!(previous["database"]["port"].as_u64(), Some(5432));
    Ok(())
}
