//! A small criterion bench of the codec alone: encode and decode of the example state
//! and of 20,000 user records, as `Value` and through serde, with and without zstd.
//! (The comparison against other codecs lives in the benchmark crate.)
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use snapshot_codec::{Compression, EncodeOptions, Value, value};
use std::hint::black_box;

#[derive(Serialize, Deserialize, Clone)]
struct Address {
    street: String,
    city: String,
    zip: String,
}

#[derive(Serialize, Deserialize, Clone)]
struct User {
    id: u64,
    name: String,
    email: String,
    age: u8,
    active: bool,
    score: f64,
    tags: Vec<String>,
    address: Address,
    created_at: String,
}

fn users(n: u64) -> Vec<User> {
    (0..n)
        .map(|i| User {
            id: i,
            name: format!("User {i}"),
            email: format!("user{i}@example.com"),
            age: (18 + (i * 7) % 60) as u8,
            active: i % 3 != 0,
            score: (i as f64) * 1.25 % 100.0,
            tags: vec![
                "customer".into(),
                if i % 2 == 0 { "premium" } else { "basic" }.into(),
            ],
            address: Address {
                street: format!("{} Main St", i % 1000),
                city: "Springfield".into(),
                zip: format!("{:05}", i % 99999),
            },
            created_at: format!("2024-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
        })
        .collect()
}

fn example() -> Value {
    value!({
        "user_id": 12345, "name": "John Doe",
        "settings": {"theme": "dark", "notifications": true},
        "tags": ["python", "compression"],
        "metrics": {"avg_response_time": 0.125, "error_rate": 0.01},
        "cart": [{"item_id": 1, "quantity": 2, "price": 29.99}],
        "errors": [], "parent": null,
    })
}

fn bench(c: &mut Criterion) {
    let typed = users(20_000);
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let zstd = EncodeOptions::new();
    let dynamic: Value =
        snapshot_codec::decode(&plain.to_vec(&typed).expect("encodes")).expect("decodes");
    let small = example();

    for (name, opts) in [("plain", &plain), ("zstd3", &zstd)] {
        let mut g = c.benchmark_group(format!("codec/{name}"));
        let bytes = opts.to_vec(&typed).expect("encodes");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("encode_serde", "users20k"), |b| {
            b.iter(|| opts.to_vec(black_box(&typed)).expect("encodes"))
        });
        g.bench_function(BenchmarkId::new("decode_serde", "users20k"), |b| {
            b.iter(|| snapshot_codec::from_slice::<Vec<User>>(black_box(&bytes)).expect("decodes"))
        });
        g.bench_function(BenchmarkId::new("encode_value", "users20k"), |b| {
            b.iter(|| opts.encode(black_box(&dynamic)).expect("encodes"))
        });
        g.bench_function(BenchmarkId::new("decode_value", "users20k"), |b| {
            b.iter(|| snapshot_codec::decode(black_box(&bytes)).expect("decodes"))
        });
        let small_bytes = opts.encode(&small).expect("encodes");
        g.throughput(Throughput::Bytes(small_bytes.len() as u64));
        g.bench_function(BenchmarkId::new("encode_value", "example"), |b| {
            b.iter(|| opts.encode(black_box(&small)).expect("encodes"))
        });
        g.bench_function(BenchmarkId::new("decode_value", "example"), |b| {
            b.iter(|| snapshot_codec::decode(black_box(&small_bytes)).expect("decodes"))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
