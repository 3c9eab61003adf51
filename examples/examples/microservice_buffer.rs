//! Microservice state: write the state to a buffer to send over the network, and
//! rebuild it on the other side (here, a TCP connection on 127.0.0.1).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use snapshot_state::Value;
use snapshot_state::{MemoryStore, SnapshotManager, value};

/// Runs the example.
pub fn main() -> anyhow::Result<()> {
    let manager = SnapshotManager::new(MemoryStore::new());
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;

    // The receiving service.
    let receiver = std::thread::spawn(move || -> anyhow::Result<snapshot_state::Value> {
        let (mut conn, _) = listener.accept()?;
        let mut len = [0u8; 8];
        conn.read_exact(&mut len)?;
        // The reader is limited to the announced length; the snapshot checks the rest.
        let receiving = SnapshotManager::new(MemoryStore::new());
        Ok(receiving
            .raw()
            .read_from_buffer::<Value, _>(conn.take(u64::from_le_bytes(len)))?)
    });

    // The sending service: encode into a buffer, send length + bytes.
    let state = value!({
        "active_connections": 42,
        "processed_requests": 1250,
        "queue": ["task1", "task2", "task3"],
        "metrics": {"avg_response_time": 0.125, "error_rate": 0.01},
    });
    let mut buffer = Vec::new();
    let n = manager.raw().write_to_buffer(&mut buffer, &state)?;
    let mut conn = TcpStream::connect(addr)?;
    conn.write_all(&n.to_le_bytes())?;
    conn.write_all(&buffer)?;

    let received = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    assert_eq!(received, state);
    println!(
        "sent {n} bytes; the other side rebuilt {} queued tasks",
        received["queue"].as_list().map_or(0, <[_]>::len)
    );
    Ok(())
}
