//! Golden bytes, exact round trips, compression and streaming. Decoding errors are in
//! `decode_errors.rs`, extension types in `extensions.rs`.

mod common;

use common::{body, example_state, plain, users};
use snapshot_codec::{
    Compression, EncodeOptions, Error, Ext, FLAG_ZSTD, Integer, Map, Value, value,
};

/// Checks the exact body bytes of `value` and that they decode back to it.
#[track_caller]
fn test_one(value: Value, expected_body: &[u8]) {
    let snapshot = plain(&value);
    assert_eq!(body(&snapshot), expected_body, "body of {value:?}");
    assert_eq!(snapshot_codec::decode(&snapshot).expect("decodes"), value);
}

#[track_caller]
fn roundtrip(value: &Value) {
    for compression in [Compression::None, Compression::Zstd { level: 3 }] {
        let opts = EncodeOptions::new().with_compression(compression);
        let bytes = opts.encode(value).expect("encodes");
        assert_eq!(&snapshot_codec::decode(&bytes).expect("decodes"), value);
        let mut streamed = Vec::new();
        let n = opts
            .encode_to_writer(&mut streamed, value)
            .expect("streams");
        assert_eq!(n, streamed.len() as u64);
        assert_eq!(
            &snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"),
            value
        );
        assert_eq!(&snapshot_codec::decode(&streamed).expect("decodes"), value);
    }
}

#[test]
fn whole_snapshot_of_null_is_pinned() {
    let bytes = plain(&Value::Null);
    let mut expected = vec![0x89, b'S', b'N', b'P', 2, 0, 1, 0, 0, 0, 0xC0, 0, 0, 0, 0];
    let checksum = xxhash_rust::xxh3::xxh3_64(&expected);
    expected.extend_from_slice(&checksum.to_le_bytes());
    assert_eq!(bytes, expected);
}

#[test]
fn scalars_have_golden_encodings() {
    test_one(Value::Null, &[0xC0]);
    test_one(false.into(), &[0xC1]);
    test_one(true.into(), &[0xC2]);
    test_one(0.into(), &[0x00]);
    test_one(127.into(), &[0x7F]);
    test_one(128.into(), &[0xC3, 0x80, 0x01]);
    test_one(300.into(), &[0xC3, 0xAC, 0x02]);
    test_one(
        u64::MAX.into(),
        &[
            0xC3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        ],
    );
    test_one((-1).into(), &[0xC4, 0x00]);
    test_one((-200).into(), &[0xC4, 0xC7, 0x01]);
    test_one(
        i64::MIN.into(),
        &[0xC4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
    );
    test_one(1.5.into(), &[0xC5, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F]);
    test_one("Hi!".into(), &[0x83, b'H', b'i', b'!']);
    test_one("".into(), &[0x80]);
    let long = "x".repeat(32);
    let mut expected = vec![0xC6, 32];
    expected.extend_from_slice(long.as_bytes());
    test_one(long.into(), &expected);
    test_one(Value::Bytes(vec![1, 2]), &[0xC7, 2, 1, 2]);
    test_one(Ext::new(200, vec![9]).into(), &[0xCA, 0xC8, 0x01, 1, 9]);
}

#[test]
fn containers_have_golden_encodings() {
    test_one(value!([]), &[0xA0]);
    test_one(value!([1, "a", null]), &[0xA3, 0x01, 0x81, b'a', 0xC0]);
    test_one(value!({}), &[0xB0]);
    // The first use of a key defines it (0xC0 + length), later uses refer to it by index;
    // the second map with the same keys defines a shape (0xCD), later ones are records
    // of it (0xCE + shape index + values).
    test_one(
        value!([{"id": 1}, {"id": 2}, {"id": 3}]),
        &[
            0xA3, 0xB1, 0xC2, b'i', b'd', 0x01, 0xCD, 0x01, 0x00, 0x02, 0xCE, 0x00, 0x03,
        ],
    );
    // Version 1 has neither shapes nor records.
    let v1 = EncodeOptions::new()
        .with_format_version(1)
        .expect("v1")
        .with_compression(Compression::None)
        .encode(&value!([{"id": 1}, {"id": 2}]))
        .expect("encodes");
    assert_eq!(
        body(&v1),
        [0xA2, 0xB1, 0xC2, b'i', b'd', 0x01, 0xB1, 0x00, 0x02]
    );
    let sixteen: Vec<Value> = (0..16).map(Value::from).collect();
    let mut expected = vec![0xC8, 16];
    expected.extend(0..16u8);
    test_one(Value::List(sixteen), &expected);
}

#[test]
fn long_keys_are_written_literally() {
    let key = "k".repeat(snapshot_codec::MAX_INTERNED_KEY_LEN + 1);
    let mut m = Map::new();
    m.insert(key.clone(), 1);
    let mut expected = vec![0xB1, 0xE2, key.len() as u8];
    expected.extend_from_slice(key.as_bytes());
    expected.push(1);
    test_one(Value::Map(m), &expected);
}

#[test]
fn key_table_overflow_falls_back_to_literal_keys() {
    let n = snapshot_codec::KEY_TABLE_LIMIT + 10;
    let wide: Map = (0..n).map(|i| (format!("k{i}"), i)).collect();
    let value = Value::Map(wide);
    roundtrip(&value);
    // Referring back to the table still works after it is full.
    roundtrip(&Value::List(vec![value.clone(), value]));
}

#[test]
fn what_the_python_original_lost_round_trips_exactly() {
    roundtrip(&value!([0, "", false, [], {}]));
    roundtrip(&value!({"f": 0.1, "t": true, "n": null}));
    roundtrip(&value!([
        i64::MIN,
        i64::MAX,
        u64::MAX,
        (u64::from(u32::MAX) + 1),
        (-(1i64 << 40))
    ]));
    roundtrip(&value!({"big": ("compress me ".repeat(900))}));
    roundtrip(&value!({"ключ": "значение", "日本": ["語", "🎉"], "": "empty key"}));
    roundtrip(&value!({}));
    let mut deep = Value::from("bottom");
    for i in 0..100 {
        deep = if i % 2 == 0 {
            value!([deep])
        } else {
            value!({"d": deep})
        };
    }
    roundtrip(&deep);
    roundtrip(&example_state());
}

#[test]
fn floats_are_bit_exact() {
    let nan_payload = f64::from_bits(0x7FF8_0000_DEAD_BEEF);
    let floats = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        nan_payload,
        f64::MIN_POSITIVE,
        5e-324,
    ];
    let value: Value = floats.iter().copied().collect();
    let back = snapshot_codec::decode(&plain(&value)).expect("decodes");
    for (a, b) in floats.iter().zip(back.as_list().expect("list")) {
        assert_eq!(a.to_bits(), b.as_f64().expect("float").to_bits());
    }
    assert_ne!(Value::from(0.0), Value::from(-0.0));
    assert_eq!(Value::from(f64::NAN), Value::from(f64::NAN));
}

#[test]
fn integers_keep_their_full_range() {
    for v in [i64::MIN, -1, 0, 1, i64::MAX] {
        assert_eq!(
            snapshot_codec::decode(&plain(&v.into()))
                .expect("decodes")
                .as_i64(),
            Some(v)
        );
    }
    for v in [0, 127, 128, u64::MAX] {
        assert_eq!(
            snapshot_codec::decode(&plain(&v.into()))
                .expect("decodes")
                .as_u64(),
            Some(v)
        );
    }
    assert_eq!(Integer::try_from(i128::from(u64::MAX) + 1).ok(), None);
}

#[test]
fn map_keeps_insertion_order() {
    let v = value!({"z": 1, "a": 2, "m": 3});
    let back = snapshot_codec::decode(&plain(&v)).expect("decodes");
    let keys: Vec<&str> = back
        .as_map()
        .expect("map")
        .keys()
        .filter_map(snapshot_codec::Key::as_str)
        .collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn records_pay_for_field_names_once() {
    let records = users(20_000);
    let bytes = plain(&records);
    let name_count = bytes
        .windows(b"created_at".len())
        .filter(|w| w == b"created_at")
        .count();
    assert_eq!(name_count, 1);
    assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), records);
}

#[test]
fn large_compressible_strings_shrink() {
    let v = value!({"text": ("the quick brown fox ".repeat(512))});
    let plain_len = plain(&v).len();
    let compressed = snapshot_codec::EncodeOptions::new()
        .with_compression(snapshot_codec::Compression::Zstd {
            level: snapshot_codec::DEFAULT_ZSTD_LEVEL,
        })
        .encode(&v)
        .expect("encodes");
    assert_eq!(compressed[5], FLAG_ZSTD);
    assert!(
        compressed.len() * 10 < plain_len,
        "{} vs {plain_len}",
        compressed.len()
    );
    assert_eq!(snapshot_codec::decode(&compressed).expect("decodes"), v);
}

#[test]
fn compression_is_skipped_when_it_does_not_help() {
    let small = snapshot_codec::encode(&value!({"a": 1})).expect("encodes");
    assert_eq!(small[5], 0);
    // Incompressible bytes stay uncompressed too.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let bytes = snapshot_codec::encode(&Value::Bytes(noise)).expect("encodes");
    assert_eq!(bytes[5], 0);
}

#[test]
fn compression_level_is_configurable() {
    let v = users(500);
    let fast = EncodeOptions::new()
        .with_compression(Compression::Zstd { level: 1 })
        .encode(&v)
        .expect("encodes");
    let small = EncodeOptions::new()
        .with_compression(Compression::Zstd { level: 19 })
        .encode(&v)
        .expect("encodes");
    assert!(
        small.len() < fast.len(),
        "level 19 {} vs level 1 {}",
        small.len(),
        fast.len()
    );
    assert_eq!(snapshot_codec::decode(&small).expect("decodes"), v);
}

#[test]
fn small_streamed_snapshots_equal_buffered_ones() {
    for v in [example_state(), users(50)] {
        let buffered = snapshot_codec::encode(&v).expect("encodes");
        let mut streamed = Vec::new();
        snapshot_codec::encode_to_writer(&mut streamed, &v).expect("streams");
        assert_eq!(streamed, buffered);
    }
}

/// A writer that records the largest single write it was handed.
struct LargestWrite {
    total: usize,
    largest: usize,
    bytes: Vec<u8>,
}

impl std::io::Write for LargestWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.total += buf.len();
        self.largest = self.largest.max(buf.len());
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn large_snapshots_stream_in_chunks() {
    let v = users(20_000);
    for compression in [Compression::None, Compression::Zstd { level: 3 }] {
        let opts = EncodeOptions::new().with_compression(compression);
        let mut w = LargestWrite {
            total: 0,
            largest: 0,
            bytes: Vec::new(),
        };
        let n = opts.encode_to_writer(&mut w, &v).expect("streams");
        assert_eq!(n as usize, w.total);
        assert!(w.total > 300_000 || compression != Compression::None);
        assert!(
            w.largest <= 128 * 1024 + 16,
            "largest write {} bytes",
            w.largest
        );
        assert_eq!(
            snapshot_codec::decode_from_reader(&w.bytes[..]).expect("reads"),
            v
        );
        assert_eq!(snapshot_codec::decode(&w.bytes).expect("decodes"), v);
    }
}

#[test]
fn a_big_string_streams_without_a_second_copy_in_the_buffer() {
    let v = Value::from("y".repeat(3 << 20));
    let opts = EncodeOptions::new().with_compression(Compression::None);
    let mut out = Vec::new();
    opts.encode_to_writer(&mut out, &v).expect("streams");
    assert_eq!(snapshot_codec::decode(&out).expect("decodes"), v);
    assert_eq!(
        snapshot_codec::decode_from_reader(&out[..]).expect("reads"),
        v
    );
}

struct FailingWriter;
impl std::io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_errors_are_reported() {
    let err = snapshot_codec::encode_to_writer(FailingWriter, &example_state()).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    let err = snapshot_codec::encode_to_writer(FailingWriter, &users(5000)).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // The cause is the source, not repeated in the message: chain printers show it once.
    let source = std::error::Error::source(&err)
        .expect("the I/O error")
        .to_string();
    assert_eq!(source, "disk full");
    assert!(!err.to_string().contains("disk full"), "{err}");
}

/// The list-in-runs and metadata examples of FORMAT.md, read from FORMAT.md.
#[test]
fn format_md_runs_example_is_pinned() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../FORMAT.md"))
        .expect("FORMAT.md");
    let grab = |after: &str| -> Vec<u8> {
        let rest = spec.split(after).nth(1).expect("the example");
        let text = rest.split('`').nth(3).expect("bytes in backquotes");
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect()
    };
    let runs = grab("A list in runs (what the serde writer makes of");
    let runs = &runs[..];
    let source = vec![Some(1.5f32), Some(-2.0), None];
    let snapshot = EncodeOptions::new()
        .with_compression(Compression::None)
        .to_vec(&source)
        .expect("serializes");
    assert_eq!(common::body(&snapshot), runs);
    assert_eq!(
        snapshot_codec::decode(&snapshot).expect("decodes"),
        Value::List(vec![Value::Float32(1.5), Value::Float32(-2.0), Value::Null])
    );
    let back: Vec<Option<f32>> = snapshot_codec::from_slice(&snapshot).expect("deserializes");
    assert_eq!(back, source);

    let header = grab("A metadata section with step 7 and the label");
    let meta = snapshot_codec::Metadata::new()
        .with_step(7)
        .with_label("tag", "x");
    let snapshot = EncodeOptions::new()
        .with_metadata(meta.clone())
        .encode(&Value::Null)
        .expect("encodes");
    assert_eq!(&snapshot[..header.len()], &header[..]);
    assert_eq!(
        snapshot_codec::read_metadata(&header).expect("reads"),
        Some(meta)
    );
}

/// Every row of FORMAT.md's golden tables, read from FORMAT.md itself: the document and
/// the code cannot drift apart.
#[test]
fn format_md_golden_examples_are_pinned() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../FORMAT.md"))
        .expect("FORMAT.md");
    let hex = |text: &str| -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect()
    };
    // The value column, in the table's order (a row with two values holds both).
    let values: Vec<Vec<Value>> = vec![
        vec![false.into(), true.into()],
        vec![127.into()],
        vec![128.into()],
        vec![300.into()],
        vec![(-1).into()],
        vec![(-200).into()],
        vec![i64::MIN.into()],
        vec![u64::MAX.into()],
        vec![1.5.into()],
        vec!["Hi!".into()],
        vec![Value::bytes(vec![1u8, 2])],
        vec![value!([1, "a", null])],
        vec![value!({"a": 1, "b": [true, -1]})],
        vec![value!([{"id": 1}, {"id": 2}, {"id": 3}])],
        vec![Ext::new(200, vec![9]).into()],
        vec![Value::Float32(1.5)],
        vec![Value::Array(vec![1.5f32, -2.0].into())],
        vec![Value::Array(vec![true, false].into())],
        vec![Value::Array(vec![1u16, 256].into())],
        vec![Value::Array(vec![-1i8].into())],
        vec![Value::Map(
            [(1, Value::Null), (-2, Value::Null)].into_iter().collect(),
        )],
    ];
    let table = spec
        .split("Bodies:")
        .nth(1)
        .expect("the Bodies table")
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and the separator
        .map(|l| l.split('|').nth(2).expect("a bytes column").to_owned())
        .collect::<Vec<_>>();
    assert_eq!(table.len(), values.len(), "one test value per table row");
    for (row, values) in table.iter().zip(&values) {
        let encodings: Vec<&str> = row.split(',').map(|c| c.trim().trim_matches('`')).collect();
        assert_eq!(encodings.len(), values.len(), "{row}");
        for (bytes, v) in encodings.iter().zip(values) {
            test_one(v.clone(), &hex(bytes));
        }
    }
    // The whole snapshot of null, as the document shows it.
    let block = spec
        .split("Whole snapshot of `null`, uncompressed:")
        .nth(1)
        .and_then(|rest| rest.split("```text").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the null example");
    let shown: Vec<u8> = block
        .lines()
        .flat_map(|line| {
            line.split_whitespace()
                .take_while(|w| w.len() == 2 && w.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|b| u8::from_str_radix(b, 16).expect("hex"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(shown, plain(&Value::Null));
}

/// A streamed, uncompressed snapshot is several chunks; read from memory it is read
/// where it lies, chunk by chunk, and gives what the one-chunk form gives, whatever
/// falls across a chunk boundary (a key, a string, a number, a large byte string).
#[test]
fn chunked_bodies_in_memory_read_as_the_same_value_on_every_path() {
    use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Value, value};
    let opts = EncodeOptions::new().with_compression(Compression::None);
    let big: Vec<u8> = (0..400_000u32).map(|i| (i % 253) as u8).collect();
    let text: String = (0..50_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let v = value!({
        "users": (users(3000)),
        "blob": (Value::Bytes(big)),
        "text": (text),
        "n": 42,
    });
    let mut streamed = Vec::new();
    opts.to_writer(&mut streamed, &v).expect("streams");
    let whole = opts.to_vec(&v).expect("encodes");
    assert_ne!(
        streamed, whole,
        "the streamed form should be in several chunks"
    );
    for bytes in [&streamed, &whole] {
        let decoded = DecodeOptions::new().decode(bytes).expect("decodes");
        assert_eq!(decoded, v);
        let via_serde: Value = snapshot_codec::from_slice(bytes).expect("deserializes");
        let whole_serde: Value = snapshot_codec::from_slice(&whole).expect("deserializes");
        assert_eq!(via_serde, whole_serde);
        let opened = DecodeOptions::new().open(bytes).expect("opens");
        assert_eq!(opened.decode().expect("reads"), v);
        assert_eq!(opened.into_owned().decode().expect("reads owned"), v);
    }
    // Every truncation is refused by the frame (checksum or length), never misread.
    for cut in [streamed.len() - 1, streamed.len() / 2, 300_000] {
        assert!(
            DecodeOptions::new().decode(&streamed[..cut]).is_err(),
            "{cut}"
        );
    }
}
