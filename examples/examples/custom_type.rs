//! A custom type handler: a date-time stored as an extension value, registered with the
//! manager, and round-tripped. (chrono's DateTime<Utc> ships with the `chrono` feature;
//! here a type of our own shows how any type is made storable.)

use snapshot_state::{ExtType, Lookup, MemoryStore, Registry, SnapshotManager, Value, value};

/// Seconds and nanoseconds since the Unix epoch, in UTC.
#[derive(Debug, PartialEq, Clone, Copy)]
struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl ExtType for Timestamp {
    // A unique, stable identifier (64 and up are free for applications).
    const TYPE_ID: u64 = 100;
    const NAME: &'static str = "timestamp";

    fn to_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.secs.to_le_bytes());
        out.extend_from_slice(&self.nanos.to_le_bytes());
    }

    fn from_payload(data: &[u8]) -> Result<Self, String> {
        if data.len() != 12 {
            return Err(format!("expected 12 bytes, got {}", data.len()));
        }
        let secs = i64::from_le_bytes(data[..8].try_into().map_err(|_| "secs")?);
        let nanos = u32::from_le_bytes(data[8..].try_into().map_err(|_| "nanos")?);
        if nanos >= 1_000_000_000 {
            return Err(format!("nanoseconds out of range: {nanos}"));
        }
        Ok(Timestamp { secs, nanos })
    }

    fn describe(&self) -> Option<String> {
        chrono::DateTime::from_timestamp(self.secs, self.nanos).map(|t| t.to_rfc3339())
    }
}

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    // Registering lets loads check every Timestamp's payload; a second type with the
    // same identifier would be refused.
    let mut types = Registry::with_builtin_types(); // chrono's DateTime<Utc>
    types.register::<Timestamp>()?;
    let manager = SnapshotManager::new(MemoryStore::new()).with_registry(types.clone());

    let created = Timestamp {
        secs: 1_705_314_600,
        nanos: 500,
    };
    let now = chrono::Utc::now();
    manager
        .dump(&value!({"event": "signup", "created": (Value::from_ext(&created)), "seen": (Value::from_ext(&now))}))
        .await?;

    let loaded = manager
        .load::<Value>(Lookup::Latest)
        .await?
        .ok_or_else(|| anyhow::anyhow!("nothing saved"))?;
    let back = loaded["created"]
        .to_ext::<Timestamp>()
        .ok_or_else(|| anyhow::anyhow!("not a timestamp"))??;
    assert_eq!(back, created);
    let seen = loaded["seen"]
        .to_ext::<chrono::DateTime<chrono::Utc>>()
        .ok_or_else(|| anyhow::anyhow!("not a date-time"))??;
    assert_eq!(seen, now);
    let shown = types.describe(
        loaded["created"]
            .as_ext()
            .ok_or_else(|| anyhow::anyhow!("ext"))?,
    )?;
    println!("created at {}", shown.unwrap_or_default());
    Ok(())
}
