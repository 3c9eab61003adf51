//! Helpers shared by the codec's integration tests.
#![allow(dead_code)]

use snapshot_codec::{Compression, EncodeOptions, Value};

/// Encodes without compression, so the body bytes are predictable.
pub fn plain(value: &Value) -> Vec<u8> {
    EncodeOptions::new()
        .with_compression(Compression::None)
        .encode(value)
        .expect("encodes")
}

/// Builds a snapshot around raw body bytes, with a correct checksum, so that tests can
/// reach the body decoder with malformed bodies.
pub fn frame(body: &[u8], flags: u8) -> Vec<u8> {
    snapshot_testkit::bombs::frame(body, flags)
}

/// The body bytes of an uncompressed single-chunk snapshot without metadata.
#[allow(dead_code)]
pub fn body(snapshot: &[u8]) -> &[u8] {
    let len = u32::from_le_bytes(snapshot[6..10].try_into().expect("4 bytes")) as usize;
    &snapshot[10..10 + len]
}

/// The example state from the issue that started the codec.
pub fn example_state() -> Value {
    snapshot_codec::value!({
        "user_id": 12345,
        "name": "John Doe",
        "settings": {"theme": "dark", "notifications": true},
        "tags": ["python", "compression"],
        "metrics": {"avg_response_time": 0.125, "error_rate": 0.01},
        "cart": [{"item_id": 1, "quantity": 2, "price": 29.99}],
        "errors": [],
        "parent": null,
    })
}

/// `n` user records shaped like the Python original's examples.
pub fn users(n: usize) -> Value {
    let mut list = Vec::with_capacity(n);
    for i in 0..n {
        list.push(snapshot_codec::value!({
            "id": i,
            "name": (format!("User {i}")),
            "email": (format!("user{i}@example.com")),
            "age": (18 + (i * 7) % 60),
            "active": (i % 3 != 0),
            "score": ((i as f64) * 1.25 % 100.0),
            "tags": ["customer", (if i % 2 == 0 { "premium" } else { "basic" })],
            "address": {"street": (format!("{} Main St", i % 1000)), "city": "Springfield", "zip": (format!("{:05}", i % 99999))},
            "created_at": (format!("2024-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60)),
        }));
    }
    Value::List(list)
}

/// Encodes `value` with `opts` to a slice and to a writer, and checks that every reader
/// gives it back.
pub fn all_ways(opts: &EncodeOptions, value: &Value) {
    let bytes = opts.encode(value).expect("encodes");
    assert_eq!(&snapshot_codec::decode(&bytes).expect("decodes"), value);
    let mut streamed = Vec::new();
    opts.encode_to_writer(&mut streamed, value)
        .expect("streams");
    assert_eq!(
        &snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"),
        value
    );
    assert_eq!(&snapshot_codec::decode(&streamed).expect("decodes"), value);
}

/// One of each compression, for tests that try every one.
pub fn compressions() -> Vec<Compression> {
    vec![
        Compression::None,
        Compression::Lz4,
        Compression::Zstd { level: 3 },
    ]
}

/// Decodes through `from_slice` and `from_reader`, which must agree on success.
pub fn opts_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    let from_slice: T = snapshot_codec::from_slice(bytes).expect("from_slice");
    let _: T = snapshot_codec::from_reader(bytes).expect("from_reader");
    from_slice
}
