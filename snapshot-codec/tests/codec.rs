//! Golden bytes, exact round trips, compression, streaming, extensions and every
//! decoding error variant.

mod common;

use common::{body, example_state, frame, plain, users};
use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, Error, Ext, ExtType, FLAG_ZSTD, Integer, Map,
    Registry, Value, value,
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
    let mut expected = vec![0x89, b'S', b'N', b'P', 1, 0, 1, 0, 0, 0, 0xC0, 0, 0, 0, 0];
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
    // The first use of a key defines it (0xC0 + length), later uses refer to it by index.
    test_one(
        value!([{"id": 1}, {"id": 2}]),
        &[0xA2, 0xB1, 0xC2, b'i', b'd', 0x01, 0xB1, 0x00, 0x02],
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
    let keys: Vec<&str> = back.as_map().expect("map").keys().collect();
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
    let compressed = snapshot_codec::encode(&v).expect("encodes");
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
}

// ---- errors ----

#[track_caller]
fn both_fail(bytes: &[u8], check: impl Fn(&Error) -> bool) {
    let a = snapshot_codec::decode(bytes).expect_err("decode must fail");
    assert!(check(&a), "decode: {a:?}");
    let b = snapshot_codec::decode_from_reader(bytes).expect_err("decode_from_reader must fail");
    assert!(check(&b), "decode_from_reader: {b:?}");
}

#[test]
fn wrong_magic_is_not_a_snapshot() {
    both_fail(b"PK\x03\x04 not ours", |e| matches!(e, Error::NotASnapshot));
    both_fail(b"", |e| matches!(e, Error::Truncated));
}

#[test]
fn unknown_version_names_the_version_found() {
    let mut bytes = plain(&Value::Null);
    bytes[4] = 2;
    both_fail(&bytes, |e| {
        matches!(
            e,
            Error::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        )
    });
    assert_eq!(
        snapshot_codec::decode(&bytes).unwrap_err().to_string(),
        "unsupported snapshot format version 2 (this build reads version 1)"
    );
}

#[test]
fn unknown_flags_are_refused() {
    let mut bytes = plain(&Value::Null);
    bytes[5] = 0x80;
    both_fail(&bytes, |e| {
        matches!(e, Error::UnsupportedFlags { flags: 0x80 })
    });
}

#[test]
fn every_truncation_is_an_error() {
    for v in [example_state(), value!({"big": ("abc".repeat(5000))})] {
        let bytes = snapshot_codec::encode(&v).expect("encodes");
        for len in 0..bytes.len() {
            both_fail(&bytes[..len], |e| {
                matches!(e, Error::Truncated | Error::ChecksumMismatch { .. })
            });
        }
    }
}

#[test]
fn trailing_garbage_is_refused() {
    let mut bytes = plain(&example_state());
    bytes.push(0);
    both_fail(&bytes, |e| matches!(e, Error::TrailingBytes));
    // Extra bytes inside a correctly checksummed body are refused too.
    both_fail(&frame(&[0xC0, 0xC0], 0), |e| {
        matches!(e, Error::TrailingBytes)
    });
}

#[test]
fn a_flipped_bit_is_a_checksum_mismatch() {
    let bytes = plain(&example_state());
    for i in 10..bytes.len() - 12 {
        let mut corrupt = bytes.clone();
        corrupt[i] ^= 0x10;
        both_fail(&corrupt, |e| matches!(e, Error::ChecksumMismatch { .. }));
    }
}

#[test]
fn invalid_utf8_is_refused() {
    both_fail(&frame(&[0x82, 0xC3, 0x28], 0), |e| {
        matches!(e, Error::InvalidUtf8)
    });
    both_fail(&frame(&[0xB1, 0xC1, 0xFF, 0xC0], 0), |e| {
        matches!(e, Error::InvalidUtf8)
    });
}

#[test]
fn duplicate_keys_are_refused() {
    // {"a": 1, "a": 2}: the second "a" is a key-table reference.
    both_fail(
        &frame(&[0xB2, 0xC1, b'a', 1, 0x00, 2], 0),
        |e| matches!(e, Error::DuplicateKey { key, .. } if key == "a"),
    );
}

#[test]
fn a_huge_length_in_a_tiny_input_fails_at_once() {
    // A string claiming 4 GiB inside a 28-byte snapshot (22 bytes are frame overhead).
    let bytes = frame(&[0xC6, 0x80, 0x80, 0x80, 0x80, 0x10], 0);
    assert_eq!(bytes.len(), 28);
    assert!(matches!(
        snapshot_codec::decode(&bytes),
        Err(Error::LengthExceedsInput {
            declared: 0x1_0000_0000,
            ..
        })
    ));
    // The streaming reader cannot know the size up front: the claim is past the
    // memory budget, so it fails before allocating for it.
    assert!(matches!(
        snapshot_codec::decode_from_reader(&bytes[..]),
        Err(Error::MemoryLimitExceeded { .. })
    ));
    // Within the budget, it fails at the end of input, still without the allocation.
    let roomy = DecodeOptions::new().with_max_memory(u64::MAX);
    assert!(matches!(
        roomy.decode_from_reader(&bytes[..]),
        Err(Error::Truncated)
    ));
    // Lists and maps likewise.
    assert!(matches!(
        snapshot_codec::decode(&frame(&[0xC8, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 0)),
        Err(Error::LengthExceedsInput { .. })
    ));
    assert!(matches!(
        snapshot_codec::decode(&frame(&[0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 0)),
        Err(Error::LengthExceedsInput { .. })
    ));
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let bomb = frame(&[0xA1; 100_000], 0);
    both_fail(&bomb, |e| {
        matches!(e, Error::DepthLimitExceeded { limit: 128 })
    });
    let mut deep = Value::Null;
    for _ in 0..200 {
        deep = value!([deep]);
    }
    assert!(matches!(
        snapshot_codec::encode(&deep),
        Err(Error::DepthLimitExceeded { limit: 128 })
    ));
    // Writers cannot go past what default readers read: a raised limit is clamped.
    assert!(matches!(
        EncodeOptions::new().with_max_depth(300).encode(&deep),
        Err(Error::DepthLimitExceeded { limit: 128 })
    ));
    // Readers can read deeper than the default (files from elsewhere).
    let mut deep_body = vec![0xA1; 200];
    deep_body.push(0xC0);
    let opts = DecodeOptions::new().with_max_depth(300);
    assert_eq!(opts.decode(&frame(&deep_body, 0)).expect("decodes"), deep);
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    // 64 MiB of one string's worth of bytes, compressed to a few KiB.
    let mut body = vec![0xC6];
    let len = 64u64 << 20;
    let mut v = len;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    body.resize(body.len() + len as usize, b'a');
    let compressed = zstd::bulk::compress(&body, 3).expect("compresses");
    drop(body);
    let bomb = frame(&compressed, FLAG_ZSTD);
    assert!(bomb.len() < 64 * 1024);
    let opts = DecodeOptions::new().with_max_decompressed_size(1 << 20);
    let limit = |e: &Error| matches!(e, Error::DecompressedSizeLimitExceeded { limit } if *limit == 1 << 20);
    let err = opts.decode(&bomb).unwrap_err();
    assert!(limit(&err), "{err:?}");
    let err = opts.decode_from_reader(&bomb[..]).unwrap_err();
    assert!(limit(&err), "{err:?}");
    // Within the limit it decodes.
    let roomy = DecodeOptions::new().with_max_decompressed_size(128 << 20);
    assert_eq!(
        roomy.decode(&bomb).expect("decodes").as_str().map(str::len),
        Some(len as usize)
    );
}

#[test]
fn corrupt_compressed_bodies_are_compression_errors() {
    both_fail(&frame(b"definitely not zstd", FLAG_ZSTD), |e| {
        matches!(e, Error::Compression(_))
    });
}

#[test]
fn malformed_bodies_get_their_own_variants() {
    both_fail(&frame(&[0xFF], 0), |e| {
        matches!(e, Error::InvalidTag { tag: 0xFF })
    });
    both_fail(&frame(&[0xB1, 0xF0, 0xC0], 0), |e| {
        matches!(e, Error::InvalidKeyTag { tag: 0xF0 })
    });
    both_fail(&frame(&[0xB1, 0x05, 0xC0], 0), |e| {
        matches!(e, Error::UndefinedKeyRef { index: 5 })
    });
    both_fail(
        &frame(
            &[
                0xC3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
            ],
            0,
        ),
        |e| matches!(e, Error::InvalidVarint),
    );
    both_fail(
        &frame(
            &[
                0xC4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
            ],
            0,
        ),
        |e| matches!(e, Error::IntegerOutOfRange { .. }),
    );
    both_fail(&frame(&[], 0), |e| matches!(e, Error::Truncated));
}

#[test]
fn key_table_cannot_grow_past_its_limit() {
    let n = snapshot_codec::KEY_TABLE_LIMIT + 1;
    let mut body = vec![0xC9];
    let mut v = n as u64;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    for i in 0..n {
        let k = format!("{i:05}");
        body.push(0xC0 + k.len() as u8);
        body.extend_from_slice(k.as_bytes());
        body.push(0xC0);
    }
    both_fail(&frame(&body, 0), |e| {
        matches!(e, Error::KeyTableOverflow { .. })
    });
}

// ---- extensions ----

#[test]
fn unknown_extensions_survive_reencoding_byte_for_byte() {
    let body_bytes = [0xA2, 0xCA, 0xE7, 0x07, 3, 1, 2, 3, 0xCA, 0x40, 0];
    let snapshot = frame(&body_bytes, 0);
    let value = snapshot_codec::decode(&snapshot).expect("decodes");
    assert_eq!(value[0].as_ext().map(Ext::type_id), Some(999));
    assert_eq!(plain(&value), snapshot);
    let via_serde = EncodeOptions::new()
        .with_compression(Compression::None)
        .to_vec(&value)
        .expect("serializes");
    assert_eq!(via_serde, snapshot);
    let through_serde: Value = snapshot_codec::from_slice(&snapshot).expect("deserializes");
    assert_eq!(through_serde, value);
}

#[derive(Debug, PartialEq)]
struct Celsius(i16);

impl ExtType for Celsius {
    const TYPE_ID: u64 = 100;
    const NAME: &'static str = "celsius";
    fn to_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn from_payload(data: &[u8]) -> Result<Self, String> {
        let bytes: [u8; 2] = data
            .try_into()
            .map_err(|_| format!("need 2 bytes, got {}", data.len()))?;
        Ok(Celsius(i16::from_le_bytes(bytes)))
    }
    fn describe(&self) -> Option<String> {
        Some(format!("{} °C", self.0))
    }
}

struct Kelvin;
impl ExtType for Kelvin {
    const TYPE_ID: u64 = 100;
    const NAME: &'static str = "kelvin";
    fn to_payload(&self, _: &mut Vec<u8>) {}
    fn from_payload(_: &[u8]) -> Result<Self, String> {
        Ok(Kelvin)
    }
}

#[test]
fn registry_rejects_a_taken_id_unless_replacing() {
    let mut registry = Registry::new();
    registry.register::<Celsius>().expect("registers");
    let err = registry.register::<Kelvin>().unwrap_err();
    assert!(matches!(
        err,
        Error::ExtensionIdTaken {
            type_id: 100,
            existing: "celsius"
        }
    ));
    assert_eq!(registry.name(100), Some("celsius"));
    registry.register_replacing::<Kelvin>();
    assert_eq!(registry.name(100), Some("kelvin"));
}

#[test]
fn custom_types_round_trip_and_are_checked_by_the_registry() {
    let v = value!({"temp": (Value::from_ext(&Celsius(-40)))});
    let bytes = snapshot_codec::encode(&v).expect("encodes");
    let back = snapshot_codec::decode(&bytes).expect("decodes");
    assert_eq!(
        back["temp"].to_ext::<Celsius>().transpose().expect("valid"),
        Some(Celsius(-40))
    );
    assert!(back["temp"].to_ext::<Kelvin>().is_some());

    let mut registry = Registry::new();
    registry.register::<Celsius>().expect("registers");
    assert_eq!(
        registry
            .describe(back["temp"].as_ext().expect("ext"))
            .expect("valid"),
        Some("-40 °C".into())
    );
    let bad =
        snapshot_codec::encode(&value!({"temp": (Ext::new(100, vec![1, 2, 3]))})).expect("encodes");
    let strict = DecodeOptions::new().with_registry(registry.into());
    assert!(matches!(
        strict.decode(&bad),
        Err(Error::InvalidExtension {
            type_id: 100,
            name: "celsius",
            ..
        })
    ));
    // Without the registry the bad payload stays opaque.
    assert!(snapshot_codec::decode(&bad).is_ok());
}

#[test]
fn chrono_datetimes_round_trip() {
    use chrono::{DateTime, TimeZone, Utc};
    let when: DateTime<Utc> = Utc
        .with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
        .single()
        .expect("valid")
        + chrono::Duration::nanoseconds(123_456_789);
    let v = value!({"saved_at": (Value::from_ext(&when))});
    let back =
        snapshot_codec::decode(&snapshot_codec::encode(&v).expect("encodes")).expect("decodes");
    let got = back["saved_at"]
        .to_ext::<DateTime<Utc>>()
        .transpose()
        .expect("valid");
    assert_eq!(got, Some(when));
    let registry = Registry::with_builtin_types();
    assert_eq!(
        registry
            .describe(back["saved_at"].as_ext().expect("ext"))
            .expect("valid")
            .as_deref(),
        Some("2024-01-15T10:30:00.123456789Z")
    );
    assert!(
        Ext::new(1, vec![0; 5])
            .decode::<DateTime<Utc>>()
            .expect("same id")
            .is_err()
    );
}
