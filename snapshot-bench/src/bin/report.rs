//! Turns the criterion results of `benches/codecs.rs` and `benches/storage.rs` (under
//! target/criterion) plus freshly measured sizes into the tables of BENCHMARKS.md, on
//! standard output.

use std::path::{Path, PathBuf};

use serde::Serialize;
use snapshot_bench::peers::{self, DYNAMIC_CODECS, SERDE_CODECS};
use snapshot_bench::{cache, ids, logs, numeric, users};

fn criterion_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .display()
            .to_string()
    });
    Path::new(&target).join("criterion")
}

/// The median time of one benchmark, in nanoseconds (robust to the odd slow sample a
/// shared machine produces, which would drag a 10-sample mean).
fn mean_ns(group: &str, function: &str, param: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join(param)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn ms(ns: Option<f64>) -> String {
    ns.map_or("–".into(), |ns| format!("{:.2}", ns / 1e6))
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

fn codec_table<T: Serialize>(name: &str, data: &T) {
    let group = format!("codec_{name}");
    println!("\n#### {name}\n");
    println!(
        "| codec | size (bytes) | size ÷ postcard | + zstd-3 (bytes) | encode ms | decode ms | encode+zstd ms | zstd+decode ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let postcard = peers::encode("postcard", data).len() as f64;
    for codec in SERDE_CODECS {
        let size = peers::encode(codec, data).len();
        let zsize = peers::encode_zstd(codec, data).len();
        println!(
            "| {codec} | {size} | {:.2} | {zsize} | {} | {} | {} | {} |",
            size as f64 / postcard,
            ms(mean_ns(&group, "encode", codec)),
            ms(mean_ns(&group, "decode", codec)),
            ms(mean_ns(&group, "encode_zstd", codec)),
            ms(mean_ns(&group, "zstd_decode", codec)),
        );
    }
    let t = |op: &str, c: &str| mean_ns(&group, op, c);
    println!(
        "\nFormat 2 ÷ format 1 (0.1's writer, same run): size {:.3}, encode {}, decode {}, zstd size {:.3}.",
        peers::encode("snapshot", data).len() as f64
            / peers::encode("snapshot_v1", data).len() as f64,
        ratio(t("encode", "snapshot"), t("encode", "snapshot_v1")),
        ratio(t("decode", "snapshot"), t("decode", "snapshot_v1")),
        peers::encode_zstd("snapshot", data).len() as f64
            / peers::encode_zstd("snapshot_v1", data).len() as f64,
    );
    println!(
        "\nRatios, ours ÷ peer (below 1 is faster or smaller): encode vs postcard {}, decode vs postcard {}, \
         encode vs rmp_named {}, decode vs rmp_named {}; zstd size vs rmp_named+zstd {:.2}.",
        ratio(t("encode", "snapshot"), t("encode", "postcard")),
        ratio(t("decode", "snapshot"), t("decode", "postcard")),
        ratio(t("encode", "snapshot"), t("encode", "rmp_named")),
        ratio(t("decode", "snapshot"), t("decode", "rmp_named")),
        peers::encode_zstd("snapshot", data).len() as f64
            / peers::encode_zstd("rmp_named", data).len() as f64,
    );

    let group = format!("dynamic_{name}");
    println!("\n| dynamic value | size (bytes) | encode ms | decode ms |");
    println!("|---|---:|---:|---:|");
    for codec in DYNAMIC_CODECS {
        let size = peers::encode_dynamic(&peers::to_dynamic(codec, data)).len();
        println!(
            "| {codec} | {size} | {} | {} |",
            ms(mean_ns(&group, "encode", codec)),
            ms(mean_ns(&group, "decode", codec))
        );
    }
    let d = |op: &str, c: &str| mean_ns(&group, op, c);
    println!(
        "\nSpeed-ups of our Value (peer time ÷ ours, above 1 is faster): encode vs serde_json::Value {}, \
         decode vs serde_json::Value {}, encode vs rmpv {}, decode vs rmpv {}.",
        ratio(
            d("encode", "serde_json_value"),
            d("encode", "snapshot_value")
        ),
        ratio(
            d("decode", "serde_json_value"),
            d("decode", "snapshot_value")
        ),
        ratio(d("encode", "rmpv_value"), d("encode", "snapshot_value")),
        ratio(d("decode", "rmpv_value"), d("decode", "snapshot_value")),
    );
}

fn storage_table() {
    println!("\n| operation | ours ms | baseline ms | ratio |");
    println!("|---|---:|---:|---:|");
    let rows = [
        (
            "disk: dump 256 MiB (FsStore put vs write + fsync + rename + dir fsync)",
            "storage_disk",
            "put",
            "fsstore",
            "plain",
        ),
        (
            "disk: load 256 MiB (FsStore get vs fs::read)",
            "storage_disk",
            "get",
            "fsstore",
            "plain",
        ),
        (
            "S3: put 1 MiB (S3Store vs raw object_store)",
            "storage_s3_1MiB",
            "put",
            "s3store",
            "object_store",
        ),
        (
            "S3: get 1 MiB",
            "storage_s3_1MiB",
            "get",
            "s3store",
            "object_store",
        ),
        (
            "S3: put 1 MiB, claims protocol (as on servers that ignore If-None-Match)",
            "storage_s3_1MiB_claims",
            "put",
            "s3store",
            "object_store",
        ),
        (
            "S3: put 32 MiB",
            "storage_s3_32MiB",
            "put",
            "s3store",
            "object_store",
        ),
        (
            "S3: get 32 MiB",
            "storage_s3_32MiB",
            "get",
            "s3store",
            "object_store",
        ),
        (
            "S3: put 128 MiB in 16 MiB parts (vs object_store's multipart upload)",
            "storage_s3_128MiB",
            "put",
            "s3store",
            "object_store",
        ),
    ];
    for (label, group, op, ours, base) in rows {
        let (a, b) = (mean_ns(group, op, ours), mean_ns(group, op, base));
        println!("| {label} | {} | {} | {} |", ms(a), ms(b), ratio(a, b));
    }
    println!(
        "\nS3 rows: SeaweedFS on 127.0.0.1, which honours conditional writes, so `put` is one \
         conditional PUT against object_store's plain PUT; the claims row forces the protocol \
         used on servers that ignore `If-None-Match` (a claim PUT, a listing, a HEAD, the PUT, \
         the claim's DELETE). Each store's one-time probe (about a dozen small requests before \
         its first write) happens before the measurements: a one-shot `snapshot put` pays it \
         once per run, which these figures do not show. The 128 MiB row deletes each object \
         outside the timed part, for both sides."
    );
    println!("\n| lookup in 10,000 snapshots | disk ms | S3 ms |");
    println!("|---|---:|---:|");
    for (label, op) in [
        ("load latest", "load_latest"),
        ("load nearest (middle of the range)", "load_nearest"),
        ("load at-or-after (middle of the range)", "load_at_or_after"),
        ("list everything (the baseline)", "list_all"),
    ] {
        println!(
            "| {label} | {} | {} |",
            ms(mean_ns("lookup_disk", op, "10000")),
            ms(mean_ns("lookup_s3", op, "10000"))
        );
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "codecs".into());
    match which.as_str() {
        "codecs" => {
            codec_table("users", &users(20_000));
            codec_table("ids", &ids(20_000));
            codec_table("log", &logs(10_000));
            codec_table("cache", &cache(1_000));
            codec_table("numeric", &numeric());
        }
        "storage" => storage_table(),
        other => eprintln!("unknown report {other}: use codecs or storage"),
    }
}
