//! Encodes the example state and a 20,000-record user list, and prints the
//! encoded and compressed sizes next to JSON's, then checks both round-trip.
//!
//! Run with `cargo run --release -p snapshot-codec --example sizes`.

use snapshot_codec::{Compression, EncodeOptions, Value, value};

fn users(n: usize) -> Value {
    (0..n)
        .map(|i| {
            value!({
                "id": i,
                "name": (format!("User {i}")),
                "email": (format!("user{i}@example.com")),
                "age": (18 + (i * 7) % 60),
                "active": (i % 3 != 0),
                "score": ((i as f64) * 1.25 % 100.0),
                "tags": ["customer", (if i % 2 == 0 { "premium" } else { "basic" })],
                "address": {"street": (format!("{} Main St", i % 1000)), "city": "Springfield", "zip": (format!("{:05}", i % 99999))},
                "created_at": (format!("2024-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60)),
            })
        })
        .collect()
}

fn main() -> Result<(), snapshot_codec::Error> {
    let example = value!({
        "user_id": 12345, "name": "John Doe",
        "settings": {"theme": "dark", "notifications": true},
        "tags": ["python", "compression"],
        "metrics": {"avg_response_time": 0.125, "error_rate": 0.01},
        "cart": [{"item_id": 1, "quantity": 2, "price": 29.99}],
        "errors": [], "parent": null,
    });
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let zstd = EncodeOptions::new();
    println!("{:<22} {:>12} {:>12}", "dataset", "encoded", "with zstd-3");
    for (name, v) in [
        ("example state", example),
        ("20,000 user records", users(20_000)),
    ] {
        let a = plain.encode(&v)?;
        let b = zstd.encode(&v)?;
        assert_eq!(snapshot_codec::decode(&a)?, v);
        assert_eq!(snapshot_codec::decode(&b)?, v);
        println!("{name:<22} {:>12} {:>12}", a.len(), b.len());
    }
    Ok(())
}
