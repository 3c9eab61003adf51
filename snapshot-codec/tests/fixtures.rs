//! Version 1 files that every later version must keep reading, committed under
//! `tests/data/v1/`: one of every kind (each value tag, each key form, extensions,
//! compressed, streamed in several chunks, nesting at the limit, serde shapes). Each
//! must decode to the value built here; the uncompressed ones must also still be written
//! byte for byte the same (zstd's output may change with its version, so compressed
//! files are only read).
//!
//! The files were written by this test with `SNAPSHOT_WRITE_FIXTURES=1` (only missing
//! files are written; never overwrite one: a change to a committed file is a format
//! change). A missing file fails the test.

mod common;

use std::path::PathBuf;

use serde::Serialize;
use snapshot_codec::{Compression, DEFAULT_MAX_DEPTH, EncodeOptions, Ext, Map, Value, value};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1")
}

/// How a fixture was written.
enum Writer {
    /// In memory, uncompressed: one chunk, bytes fully determined by the format.
    Plain,
    /// Streamed (`encode_to_writer`), uncompressed: several chunks for a large body.
    Streamed,
    /// zstd-compressed in memory.
    Zstd,
    /// Streamed and zstd-compressed.
    StreamedZstd,
}

fn write(value: &Value, how: &Writer) -> Vec<u8> {
    // The version 1 writer kept for readers of 0.1 writes exactly what 0.1 wrote.
    let v1 = EncodeOptions::new()
        .with_format_version(1)
        .expect("version 1");
    let plain = v1.clone().with_compression(Compression::None);
    let zstd = v1.with_compression(Compression::Zstd { level: 3 });
    match how {
        Writer::Plain => plain.encode(value).expect("encodes"),
        Writer::Zstd => zstd.encode(value).expect("encodes"),
        Writer::Streamed | Writer::StreamedZstd => {
            let opts = if matches!(how, Writer::Streamed) {
                plain
            } else {
                zstd
            };
            let mut out = Vec::new();
            opts.encode_to_writer(&mut out, value).expect("streams");
            out
        }
    }
}

fn every_scalar() -> Value {
    value!({
        "null": null,
        "false": false,
        "true": true,
        "zero": 0,
        "fixint_max": 127,
        "uint": 128,
        "u64_max": (u64::MAX),
        "minus_one": (-1),
        "i64_min": (i64::MIN),
        "float": 1.5,
        "negative_zero": (-0.0f64),
        "infinity": (f64::INFINITY),
        "nan_payload": (f64::from_bits(0x7FF8_0000_DEAD_BEEF)),
        "empty_string": "",
        "inline_string": "thirty-one bytes long, exactly.",
        "long_string": "thirty-two bytes long, precisely",
        "unicode": "naïve ☃ 日本",
        "bytes": (Value::bytes(vec![0u8, 1, 2, 255])),
        "empty_list": [],
        "inline_list": [1, 2, 3],
        "long_list": (Value::List((0..16).map(Value::from).collect())),
        "empty_map": {},
        "long_map": (Value::Map((0..16).map(|i| (format!("m{i}"), Value::from(i))).collect())),
    })
}

/// Every key form: inline new keys, a long new key (`E0`), references below and above
/// index 192 (`E1`), literal keys (`E2`) longer than 64 bytes.
fn every_key_form() -> Value {
    let mut wide = Map::new();
    for i in 0..200 {
        wide.insert(format!("k{i}"), i);
    }
    let long_new = "a-key-of-forty-bytes-that-enters-the-tab";
    let literal = "l".repeat(65);
    value!({
        "wide": (Value::Map(wide)),
        (long_new): 1,
        (literal.as_str()): 2,
        "again": [{"k0": 0, "k191": 191, "k192": 192, "k199": 199, (long_new): 3, (literal.as_str()): 4}],
    })
}

/// More distinct keys than the table holds: the rest are written literally.
fn key_table_full() -> Value {
    let n = snapshot_codec::KEY_TABLE_LIMIT + 8;
    Value::List(
        (0..2)
            .map(|_| {
                Value::Map(
                    (0..n)
                        .map(|i| (format!("key{i}"), Value::from(i)))
                        .collect(),
                )
            })
            .collect(),
    )
}

fn extensions() -> Value {
    let leap_second = {
        let mut payload = 1_483_228_799i64.to_le_bytes().to_vec(); // 2016-12-31T23:59:59Z
        payload.extend_from_slice(&1_500_000_000u32.to_le_bytes());
        Ext::new(snapshot_codec::CHRONO_DATETIME_TYPE_ID, payload)
    };
    let moment = {
        let mut payload = 1_705_314_600i64.to_le_bytes().to_vec(); // 2024-01-15T10:30:00Z
        payload.extend_from_slice(&500u32.to_le_bytes());
        Ext::new(snapshot_codec::CHRONO_DATETIME_TYPE_ID, payload)
    };
    value!({
        "datetime": (Value::from(moment)),
        "leap_second": (Value::from(leap_second)),
        "unknown_type": (Value::from(Ext::new(200, vec![9, 8, 7]))),
        "empty_payload": (Value::from(Ext::new(64, Vec::new()))),
    })
}

fn nested_to_the_limit() -> Value {
    let mut v = Value::from("bottom");
    for i in 0..DEFAULT_MAX_DEPTH {
        v = if i % 2 == 0 {
            Value::List(vec![v])
        } else {
            value!({"down": v})
        };
    }
    v
}

/// Shapes serde writes: structs as maps, enum variants, tuples, options, unit.
fn serde_shapes() -> Value {
    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i8, String),
        Struct { x: f32, y: Option<u16> },
    }
    #[derive(Serialize)]
    struct Doc {
        name: &'static str,
        shapes: Vec<Shape>,
        pair: (bool, char),
        missing: Option<u8>,
        unit: (),
    }
    let doc = Doc {
        name: "serde",
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(7),
            Shape::Tuple(-3, "t".into()),
            Shape::Struct { x: 0.5, y: None },
        ],
        pair: (true, 'é'),
        missing: None,
        unit: (),
    };
    let bytes = EncodeOptions::new()
        .with_format_version(1)
        .expect("version 1")
        .with_compression(Compression::None)
        .to_vec(&doc)
        .expect("serializes");
    snapshot_codec::decode(&bytes).expect("decodes")
}

fn fixtures() -> Vec<(&'static str, Value, Writer)> {
    vec![
        ("null.snap", Value::Null, Writer::Plain),
        ("scalars.snap", every_scalar(), Writer::Plain),
        ("keys.snap", every_key_form(), Writer::Plain),
        ("key_table_full.snap", key_table_full(), Writer::Plain),
        ("extensions.snap", extensions(), Writer::Plain),
        ("nested.snap", nested_to_the_limit(), Writer::Plain),
        ("serde.snap", serde_shapes(), Writer::Plain),
        ("compressed.snap", common::users(300), Writer::Zstd),
        ("chunks.snap", common::users(1500), Writer::Streamed),
        (
            "chunks_zstd.snap",
            common::users(1500),
            Writer::StreamedZstd,
        ),
    ]
}

#[test]
fn every_v1_fixture_still_reads() {
    let write_missing = std::env::var_os("SNAPSHOT_WRITE_FIXTURES").is_some();
    let mut missing = Vec::new();
    for (name, expected, how) in fixtures() {
        let path = dir().join(name);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) if write_missing => {
                std::fs::create_dir_all(dir()).expect("mkdir");
                let bytes = write(&expected, &how);
                std::fs::write(&path, &bytes).expect("write fixture");
                bytes
            }
            Err(_) => {
                missing.push(name);
                continue;
            }
        };
        assert_eq!(&stored[..5], b"\x89SNP\x01", "{name} is a version 1 file");
        let decoded = snapshot_codec::decode(&stored)
            .unwrap_or_else(|e| panic!("{name} no longer decodes: {e}"));
        // Compared through the plain encoding: exact for every float bit pattern.
        let same = |a: &Value, b: &Value| common::plain(a) == common::plain(b);
        assert!(
            same(&decoded, &expected),
            "{name} decodes to something else"
        );
        let streamed = snapshot_codec::decode_from_reader(&stored[..])
            .unwrap_or_else(|e| panic!("{name} no longer decodes from a reader: {e}"));
        assert!(same(&streamed, &expected), "{name} (streamed)");
        if matches!(how, Writer::Plain | Writer::Streamed) {
            assert_eq!(
                write(&expected, &how),
                stored,
                "{name}: this build writes version 1 differently"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures missing from {}: {missing:?}",
        dir().display()
    );
}

#[test]
fn the_fixtures_cover_what_they_claim() {
    let read = |name: &str| std::fs::read(dir().join(name)).expect("fixture");
    let flags = |bytes: &[u8]| bytes[5];
    let chunks = |bytes: &[u8]| {
        let (mut at, mut n) = (6, 0);
        loop {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            if len == 0 {
                return n;
            }
            n += 1;
            at += 4 + len;
        }
    };
    assert_eq!(flags(&read("compressed.snap")), snapshot_codec::FLAG_ZSTD);
    assert_eq!(flags(&read("chunks_zstd.snap")), snapshot_codec::FLAG_ZSTD);
    assert_eq!(flags(&read("chunks.snap")), 0);
    assert!(chunks(&read("chunks.snap")) > 1, "several chunks");
    assert!(chunks(&read("chunks_zstd.snap")) > 1, "several chunks");
    let keys = common::body(&read("keys.snap")).to_vec();
    for tag in [0xE0u8, 0xE1, 0xE2] {
        assert!(keys.contains(&tag), "key tag {tag:#04x} is used");
    }
}

/// Version 2 files of every form version 2 added, under `tests/data/v2/`: written by
/// this test with `SNAPSHOT_WRITE_FIXTURES=1` (missing files only), never rewritten.
mod v2 {
    use super::*;
    use snapshot_codec::{Array, Metadata, Shuffle};

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v2")
    }

    fn plain() -> EncodeOptions {
        EncodeOptions::new().with_compression(Compression::None)
    }

    fn arrays() -> Value {
        value!({
            "f32": (Value::Float32(-0.1)),
            "bool": (Value::Array(vec![true, false].into())),
            "u8": (Value::Array(vec![0u8, 255].into())),
            "i8": (Value::Array(vec![-128i8, 127].into())),
            "u16": (Value::Array(vec![0u16, u16::MAX].into())),
            "i16": (Value::Array(vec![i16::MIN, i16::MAX].into())),
            "u32": (Value::Array(vec![0u32, u32::MAX].into())),
            "i32": (Value::Array(vec![i32::MIN, i32::MAX].into())),
            "u64": (Value::Array(vec![0u64, u64::MAX].into())),
            "i64": (Value::Array(vec![i64::MIN, i64::MAX].into())),
            "f32s": (Value::Array(vec![f32::NAN, -0.0, f32::INFINITY, 1.5].into())),
            "f64s": (Value::Array(vec![f64::NAN, -0.0, f64::NEG_INFINITY, 2.5].into())),
            "empty": (Value::Array(Vec::<f64>::new().into())),
        })
    }

    fn long_weights() -> Vec<f32> {
        (0..20_000).map(|i| i as f32 * 0.25 - 7.0).collect()
    }

    fn runs_source() -> (Vec<Option<f32>>, Vec<f32>) {
        (vec![Some(1.5), None, Some(2.0), Some(-3.0)], long_weights())
    }

    fn runs_value() -> Value {
        Value::List(vec![
            Value::List(vec![
                Value::Float32(1.5),
                Value::Null,
                Value::Float32(2.0),
                Value::Float32(-3.0),
            ]),
            Value::Array(long_weights().into()),
        ])
    }

    fn smooth() -> Value {
        Value::Array(
            (0..10_000)
                .map(|i| (i as f64 * 0.01).sin() * 10.0)
                .collect::<Vec<f64>>()
                .into(),
        )
    }

    fn int_keys() -> Value {
        let mut m = Map::new();
        m.insert(0, "zero");
        m.insert(-1, "minus one");
        m.insert(u64::MAX, "max");
        m.insert("0", "text zero");
        value!({"ints": (Value::Map(m))})
    }

    fn metadata() -> Metadata {
        Metadata::new()
            .with_created_micros(1_764_000_000_123_456)
            .with_step(1200)
            .with_label("run", "42")
            .with_label("tag", "nightly")
    }

    fn records() -> Value {
        value!([{"id": 1, "n": "a"}, {"id": 2, "n": "b"}, {"id": 3, "n": "c"}, {"n": "d"}])
    }

    /// Structs of one name and field count whose fields change order: records, then
    /// breaks.
    struct Shifty(u8);

    impl Serialize for Shifty {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("Shifty", 2)?;
            let names: [&'static str; 2] = if self.0 < 2 { ["x", "y"] } else { ["y", "x"] };
            for n in names {
                st.serialize_field(n, &self.0)?;
            }
            st.end()
        }
    }

    fn shifty_value() -> Value {
        Value::List(
            (0..4u8)
                .map(|i| {
                    if i < 2 {
                        value!({"x": i, "y": i})
                    } else {
                        value!({"y": i, "x": i})
                    }
                })
                .collect(),
        )
    }

    type Write = fn() -> Vec<u8>;

    /// Name, expected value, how it is written, and whether the bytes are fully
    /// determined by the format (uncompressed) and so must be written the same today.
    fn fixtures() -> Vec<(&'static str, Value, Write, bool)> {
        vec![
            (
                "arrays.snap",
                arrays(),
                || plain().encode(&arrays()).expect("encodes"),
                true,
            ),
            (
                "runs.snap",
                runs_value(),
                || plain().to_vec(&runs_source()).expect("serializes"),
                true,
            ),
            (
                "shuffled_zstd.snap",
                smooth(),
                || {
                    EncodeOptions::new()
                        .with_compression(Compression::Zstd { level: 3 })
                        .with_shuffle(Shuffle::Always)
                        .encode(&smooth())
                        .expect("encodes")
                },
                false,
            ),
            (
                "shuffled_plain.snap",
                smooth(),
                || {
                    // Shuffling applies only with compression: this one is not shuffled.
                    plain()
                        .with_shuffle(Shuffle::Always)
                        .encode(&smooth())
                        .expect("encodes")
                },
                true,
            ),
            (
                "lz4.snap",
                common::users(300),
                || {
                    EncodeOptions::new()
                        .with_compression(Compression::Lz4)
                        .encode(&common::users(300))
                        .expect("encodes")
                },
                false,
            ),
            (
                "lz4_streamed.snap",
                common::users(1500),
                || {
                    let mut out = Vec::new();
                    EncodeOptions::new()
                        .with_compression(Compression::Lz4)
                        .encode_to_writer(&mut out, &common::users(1500))
                        .expect("streams");
                    out
                },
                false,
            ),
            (
                "int_keys.snap",
                int_keys(),
                || plain().encode(&int_keys()).expect("encodes"),
                true,
            ),
            (
                "records.snap",
                records(),
                || plain().encode(&records()).expect("encodes"),
                true,
            ),
            (
                "records_serde.snap",
                shifty_value(),
                || {
                    plain()
                        .to_vec(&(0..4u8).map(Shifty).collect::<Vec<_>>())
                        .expect("serializes")
                },
                true,
            ),
            (
                "metadata.snap",
                value!({"w": [1, 2]}),
                || {
                    plain()
                        .with_metadata(metadata())
                        .encode(&value!({"w": [1, 2]}))
                        .expect("encodes")
                },
                true,
            ),
        ]
    }

    #[test]
    fn every_v2_fixture_still_reads() {
        let write_missing = std::env::var_os("SNAPSHOT_WRITE_FIXTURES").is_some();
        let mut missing = Vec::new();
        for (name, expected, write, determined) in fixtures() {
            let path = dir().join(name);
            let stored = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(_) if write_missing => {
                    std::fs::create_dir_all(dir()).expect("mkdir");
                    let bytes = write();
                    std::fs::write(&path, &bytes).expect("write fixture");
                    bytes
                }
                Err(_) => {
                    missing.push(name);
                    continue;
                }
            };
            assert_eq!(&stored[..5], b"\x89SNP\x02", "{name} is a version 2 file");
            let decoded = snapshot_codec::decode(&stored)
                .unwrap_or_else(|e| panic!("{name} no longer decodes: {e}"));
            assert_eq!(decoded, expected, "{name} decodes to something else");
            let streamed = snapshot_codec::decode_from_reader(&stored[..])
                .unwrap_or_else(|e| panic!("{name} no longer decodes from a reader: {e}"));
            assert_eq!(streamed, expected, "{name} (streamed)");
            if determined {
                assert_eq!(
                    write(),
                    stored,
                    "{name}: this build writes version 2 differently"
                );
            }
        }
        assert!(
            missing.is_empty(),
            "fixtures missing from {}: {missing:?}",
            dir().display()
        );
    }

    #[test]
    fn the_v2_fixtures_cover_what_they_claim() {
        let read = |name: &str| std::fs::read(dir().join(name)).expect("fixture");
        let runs = read("runs.snap");
        assert!(
            runs.contains(&0xD0) && runs.contains(&0xD1),
            "a list in runs"
        );
        assert_eq!(read("lz4.snap")[5], snapshot_codec::FLAG_LZ4);
        assert_eq!(read("lz4_streamed.snap")[5], snapshot_codec::FLAG_LZ4);
        // Uncompressed, so its body shows the element byte: f64 (0x0A) with the shuffle
        // bit (0x80).
        assert_eq!(
            common::body(&read("shuffled_plain.snap"))[..2],
            [0xCC, 0x8A]
        );
        let shuffled = read("shuffled_zstd.snap");
        assert_eq!(shuffled[5], snapshot_codec::FLAG_ZSTD);
        assert_eq!(read("metadata.snap")[5], snapshot_codec::FLAG_METADATA);
        assert_eq!(
            snapshot_codec::read_metadata(&read("metadata.snap")).expect("meta"),
            Some(metadata())
        );
        let records = common::body(&read("records.snap")).to_vec();
        assert!(
            records.contains(&0xCD) && records.contains(&0xCE),
            "a shape and a record"
        );
        let breaks = common::body(&read("records_serde.snap")).to_vec();
        assert!(
            breaks.contains(&0xCE) && breaks.contains(&0xCF),
            "records and a break"
        );
        let ints = read("int_keys.snap");
        assert!(
            ints.contains(&0xE3) && ints.contains(&0xE4),
            "both integer key tags"
        );
        // The shuffle bit is set in the compressed file (checked after decompression).
        let report = snapshot_codec::inspect(&shuffled, &snapshot_codec::DecodeOptions::new())
            .expect("inspects");
        assert_eq!(report.counts.map(|c| c.array), Some(1));
        let _ = Array::from(vec![0u8]);
    }
}
