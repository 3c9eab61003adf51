//! Arbitrary bytes as the body of a correctly checksummed snapshot (random bytes rarely
//! pass the checksum), decoded as a `Value`, streamed, and through serde into a typical
//! struct. Whatever decodes must survive decode -> encode -> decode unchanged.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;
use shared::frame;
use serde::Deserialize;
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions};

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Typical {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
    nested: Option<Box<Typical>>,
    weights: Vec<f32>,
    bias: [f64; 3],
    mask: Vec<bool>,
}

fuzz_target!(|data: &[u8]| {
    let (flags, body) = match data.split_first() {
        // 0: plain, 1: zstd, 2: LZ4, 3: both (refused).
        Some((f, rest)) => (f & 3, rest),
        None => (0, data),
    };
    let snapshot = frame(body, flags);
    // The default size limit (1 GiB) under a 256 MiB memory budget: bombs must be
    // refused by the budget, well inside the fuzzer's RSS limit.
    let opts = DecodeOptions::new().with_max_memory(256 << 20);
    let plain = EncodeOptions::new().with_compression(Compression::None);
    if let Ok(value) = opts.decode(&snapshot) {
        let again = plain.encode(&value).expect("a decoded value re-encodes");
        assert_eq!(snapshot_codec::decode(&again).expect("re-decodes"), value);
        let streamed = opts.decode_from_reader(&snapshot[..]).expect("the stream reader agrees");
        assert_eq!(streamed, value);
    } else {
        let _ = opts.decode_from_reader(&snapshot[..]);
    }
    let _ = opts.from_slice::<Typical>(&snapshot);
    let _ = opts.from_slice::<snapshot_codec::Value>(&snapshot);
});
