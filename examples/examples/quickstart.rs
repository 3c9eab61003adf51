//! Quickstart: dump a state to a local directory and load it back.
//!
//! `cargo run -p snapshot-examples --example quickstart` (set `SNAPSHOT_DIR` to choose the
//! directory; by default a fresh temporary one is used and removed afterwards).

use snapshot_state::Value;
use snapshot_state::{Lookup, value};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::var("SNAPSHOT_DIR").unwrap_or_else(|_| temp.path().display().to_string());

    // A path (or file://, s3://, memory:) picks the backend.
    let manager = snapshot_state::open_or_create(&dir)?;

    // The state is any Value (or any serde type).
    let state = value!({
        "user_id": 12345,
        "name": "John Doe",
        "settings": {"theme": "dark", "notifications": true},
        "tags": ["python", "compression", "serialization"],
    });
    let info = manager.dump(&state).await?;
    println!("saved snapshot {} ({} bytes) in {dir}", info.key, info.size);

    // Load the newest snapshot back: exactly what was saved.
    let loaded = manager
        .load::<Value>(Lookup::Latest)
        .await?
        .expect("one snapshot was just saved");
    assert_eq!(loaded, state);
    println!("loaded it back: {loaded:?}");
    Ok(())
}
