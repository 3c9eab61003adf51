//! Codec benchmarks: ours against postcard, MessagePack (named), JSON, CBOR and bitcode
//! through serde on the same structs, and our Value against serde_json::Value and
//! rmpv::Value; each plain and with zstd at the same level. `scripts/bench.sh` runs this
//! and writes BENCHMARKS.md.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snapshot_bench::peers::{self, DYNAMIC_CODECS, SERDE_CODECS};
use snapshot_bench::{cache, ids, logs, numeric, users};

fn serde_group<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    c: &mut Criterion,
    name: &str,
    data: &T,
) {
    let mut g = c.benchmark_group(format!("codec_{name}"));
    g.sampling_mode(SamplingMode::Flat);
    for codec in SERDE_CODECS {
        let bytes = peers::encode(codec, data);
        let zbytes = peers::encode_zstd(codec, data);
        assert!(
            &peers::decode::<T>(codec, &bytes) == data,
            "{codec} round trip"
        );
        assert!(
            &peers::decode_zstd::<T>(codec, &zbytes) == data,
            "{codec} zstd round trip"
        );
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("encode", codec), |b| {
            b.iter(|| peers::encode(codec, black_box(data)))
        });
        g.bench_function(BenchmarkId::new("decode", codec), |b| {
            b.iter(|| peers::decode::<T>(codec, black_box(&bytes)))
        });
        g.bench_function(BenchmarkId::new("encode_zstd", codec), |b| {
            b.iter(|| peers::encode_zstd(codec, black_box(data)))
        });
        g.bench_function(BenchmarkId::new("zstd_decode", codec), |b| {
            b.iter(|| peers::decode_zstd::<T>(codec, black_box(&zbytes)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("dynamic_{name}"));
    g.sampling_mode(SamplingMode::Flat);
    for codec in DYNAMIC_CODECS {
        let value = peers::to_dynamic(codec, data);
        let bytes = peers::encode_dynamic(&value);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("encode", codec), |b| {
            b.iter(|| peers::encode_dynamic(black_box(&value)))
        });
        g.bench_function(BenchmarkId::new("decode", codec), |b| {
            b.iter(|| peers::decode_dynamic(codec, black_box(&bytes)))
        });
    }
    g.finish();
}

fn main() {
    let quick = std::env::var("SNAPSHOT_BENCH_QUICK").is_ok();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 100 } else { 300 }))
        .measurement_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .configure_from_args();
    serde_group(&mut c, "users", &users(20_000));
    serde_group(&mut c, "ids", &ids(20_000));
    serde_group(&mut c, "log", &logs(10_000));
    serde_group(&mut c, "cache", &cache(1_000));
    serde_group(&mut c, "numeric", &numeric());
    c.final_summary();
}
