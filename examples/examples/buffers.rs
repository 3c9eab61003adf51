//! Buffers: write a snapshot to an in-memory buffer and read it back, no store involved.

use snapshot_state::Value;
use snapshot_state::{MemoryStore, SnapshotManager, value};

/// Runs the example.
pub fn main() -> anyhow::Result<()> {
    // The manager's codec settings apply; the store is not used for buffers.
    let manager = SnapshotManager::new(MemoryStore::new());

    let mut buffer = Vec::new();
    let data = value!({"key": "value", "number": 42});
    let written = manager.raw().write_to_buffer(&mut buffer, &data)?;
    println!("wrote {written} bytes");

    // Any io::Read works: a slice, a file, a socket.
    let loaded = manager.raw().read_from_buffer::<Value, _>(&buffer[..])?;
    assert_eq!(loaded, data);
    println!("read back {loaded:?}");
    Ok(())
}
