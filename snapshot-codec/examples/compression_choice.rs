//! The measurement behind compressing whole bodies rather than single values: encodes
//! datasets with no compression, with zstd over the whole body (what the codec does),
//! and with zstd applied to each string of 256 bytes or more on its own (the other
//! design), and prints the sizes. It also prints what the key table saves.
//!
//! Run with `cargo run --release -p snapshot-codec --example compression_choice`.

use snapshot_codec::{Compression, EncodeOptions, Value, value};

fn users(n: usize) -> Value {
    (0..n)
        .map(|i| {
            value!({
                "id": i, "name": (format!("User {i}")), "email": (format!("user{i}@example.com")),
                "age": (18 + (i * 7) % 60), "active": (i % 3 != 0), "score": ((i as f64) * 1.25 % 100.0),
                "tags": ["customer", (if i % 2 == 0 { "premium" } else { "basic" })],
                "address": {"street": (format!("{} Main St", i % 1000)), "city": "Springfield", "zip": (format!("{:05}", i % 99999))},
                "created_at": (format!("2024-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60)),
            })
        })
        .collect()
}

/// 1,000 cache entries holding log-like text of 2 to 20 KiB, from a fixed seed.
fn cache() -> Value {
    let words = [
        "GET",
        "POST",
        "/api/v1/users",
        "200",
        "404",
        "timeout",
        "cache",
        "hit",
        "miss",
        "db",
        "query",
        "ms",
        "user",
        "session",
        "error",
        "ok",
    ];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..1000)
        .map(|i| {
            let len = 2048 + (next() % (18 * 1024)) as usize;
            let mut text = String::with_capacity(len + 16);
            while text.len() < len {
                text.push_str(words[(next() % words.len() as u64) as usize]);
                text.push(' ');
            }
            value!({"key": (format!("cache:{i}")), "value": text})
        })
        .collect()
}

/// Size if every string of at least 256 bytes were zstd-compressed on its own.
fn per_value_size(v: &Value, plain_size: usize) -> usize {
    fn walk(v: &Value, saved: &mut isize) {
        match v {
            Value::String(s) if s.len() >= 256 => {
                let c = zstd::bulk::compress(s.as_bytes(), 3).expect("compresses");
                // An extension header (tag, type id, length) replaces the string header.
                *saved += s.len() as isize - (c.len() as isize + 4);
            }
            Value::List(items) => items.iter().for_each(|i| walk(i, saved)),
            Value::Map(m) => m.values().for_each(|i| walk(i, saved)),
            _ => {}
        }
    }
    let mut saved = 0;
    walk(v, &mut saved);
    (plain_size as isize - saved.max(0)) as usize
}

/// Extra bytes if every key were written out in full each time (no key table).
fn without_key_table(v: &Value) -> usize {
    fn walk(v: &Value, seen: &mut std::collections::HashSet<String>, extra: &mut usize) {
        match v {
            Value::List(items) => items.iter().for_each(|i| walk(i, seen, extra)),
            Value::Map(m) => {
                for (k, v) in m.iter() {
                    // Integer keys never enter the key table.
                    if let Some(k) = k.as_str()
                        && !seen.insert(k.to_owned())
                    {
                        // A reference is 1 byte; a literal is a tag, a length and the bytes.
                        *extra += k.len() + 1;
                    }
                    walk(v, seen, extra);
                }
            }
            _ => {}
        }
    }
    let mut extra = 0;
    walk(v, &mut Default::default(), &mut extra);
    extra
}

fn main() -> Result<(), snapshot_codec::Error> {
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let whole = EncodeOptions::new().with_compression(Compression::Zstd { level: 3 });
    println!(
        "{:<24} {:>11} {:>13} {:>15} {:>16}",
        "dataset", "plain", "whole-body", "per-value", "no key table"
    );
    for (name, v) in [
        ("20,000 user records", users(20_000)),
        ("1,000 cache entries", cache()),
    ] {
        let p = plain.encode(&v)?.len();
        let w = whole.encode(&v)?.len();
        println!(
            "{name:<24} {p:>11} {w:>13} {:>15} {:>16}",
            per_value_size(&v, p),
            p + without_key_table(&v)
        );
    }
    Ok(())
}
