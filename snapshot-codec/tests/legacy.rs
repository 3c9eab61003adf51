//! The reader for the Python original's files: every sample the original wrote decodes
//! to the value it holds, and malformed input gets typed errors.

use snapshot_codec::legacy::{LegacyError, LegacyOptions, decode_legacy};
use snapshot_codec::{Map, Value, value};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/py-snapshot");

fn from_json(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => Value::Float(n.as_f64().expect("number")),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => a.iter().map(from_json).collect(),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<Map>(),
        ),
    }
}

fn opts() -> LegacyOptions {
    LegacyOptions::new()
}

#[test]
fn every_sample_file_decodes_to_its_expected_value() {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{DATA}/expected.json")).expect("expected.json"),
    )
    .expect("json");
    let samples = expected.as_object().expect("object");
    assert_eq!(samples.len(), 11, "sample count");
    for (name, sample) in samples {
        let file = sample["file"].as_str().expect("file name");
        let bytes = std::fs::read(format!("{DATA}/{file}")).expect("sample file");
        assert_eq!(
            bytes.len() as u64,
            sample["bytes"].as_u64().expect("size"),
            "{name}: size"
        );
        let value = decode_legacy(&bytes, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(value, from_json(&sample["expected"]), "{name}");
        // And it is kept in the file's order.
        let keys: Vec<&str> = value
            .as_map()
            .expect("map")
            .keys()
            .filter_map(snapshot_codec::Key::as_str)
            .collect();
        let want: Vec<&str> = sample["expected"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, want, "{name}: key order");
    }
}

#[test]
fn the_originals_own_failures_read_correctly_here() {
    let read = |f: &str| {
        decode_legacy(
            &std::fs::read(format!("{DATA}/{f}")).expect("file"),
            &opts(),
        )
        .expect("decodes")
    };
    // Compressed strings and keys (the original could not read these back).
    let v = read("compressed_strings.pysnap");
    assert_eq!(
        v["bio"].as_str().map(str::len),
        Some("lorem ipsum dolor sit amet ".len() * 40)
    );
    assert!(
        v.as_map()
            .expect("map")
            .keys()
            .any(|k| k.as_str().is_some_and(|k| k.starts_with("long_key_kkkk")))
    );
    // Big integers come back as integers, not strings.
    let v = read("int_boundaries.pysnap");
    assert_eq!(v["big"].as_i64(), Some(1_099_511_627_776));
    assert_eq!(v["negbig"].as_i64(), Some(-9_007_199_254_740_992));
    // Lists are read whole, falsy items included.
    let v = read("falsy_in_lists.pysnap");
    assert_eq!(v["nums"], value!([0, 1, 2]));
    assert_eq!(v["nested"], value!([[], {}, [1]]));
    assert_eq!(read("empty.pysnap"), value!({}));
}

#[test]
fn the_manager_directory_files_decode() {
    for entry in std::fs::read_dir(format!("{DATA}/manager-dir")).expect("dir") {
        let path = entry.expect("entry").path();
        let v = decode_legacy(&std::fs::read(&path).expect("read"), &opts()).expect("decodes");
        assert!(
            v.as_map().is_some_and(|m| !m.is_empty()),
            "{}",
            path.display()
        );
    }
}

/// `{"k": <int written as text>}`.
fn int_as_text(digits: &str) -> Vec<u8> {
    let mut out = vec![0x01, 0x01, 0x01, b'k', digits.len() as u8];
    out.extend_from_slice(digits.as_bytes());
    out.push(0xC0);
    out
}

#[test]
fn integers_beyond_64_bits_are_an_error_or_an_explicit_fallback() {
    assert_eq!(
        decode_legacy(&int_as_text("18446744073709551615"), &opts()).expect("u64::MAX")["k"]
            .as_u64(),
        Some(u64::MAX)
    );
    assert_eq!(
        decode_legacy(&int_as_text("-9223372036854775808"), &opts()).expect("i64::MIN")["k"]
            .as_i64(),
        Some(i64::MIN)
    );
    let huge = "18446744073709551616";
    assert!(matches!(
        decode_legacy(&int_as_text(huge), &opts()),
        Err(LegacyError::IntegerOutOfRange { text, .. }) if text == huge
    ));
    let lenient = LegacyOptions::new().with_big_integers_as_text(true);
    assert_eq!(
        decode_legacy(&int_as_text(huge), &lenient).expect("as text")["k"].as_str(),
        Some(huge)
    );
    assert!(matches!(
        decode_legacy(&int_as_text("12a"), &opts()),
        Err(LegacyError::InvalidInteger { .. })
    ));
    assert!(matches!(
        decode_legacy(&int_as_text("-"), &opts()),
        Err(LegacyError::InvalidInteger { .. })
    ));
}

#[test]
fn every_truncation_is_an_error() {
    for name in [
        "basic.pysnap",
        "compressed_strings.pysnap",
        "int_boundaries.pysnap",
        "list_of_records.pysnap",
    ] {
        let bytes = std::fs::read(format!("{DATA}/{name}")).expect("file");
        for len in 0..bytes.len() {
            assert!(
                decode_legacy(&bytes[..len], &opts()).is_err(),
                "{name} cut at {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode_legacy(&longer, &opts()),
            Err(LegacyError::TrailingBytes { count: 1 })
        ));
    }
}

#[test]
fn hostile_input_fails_at_once() {
    // A count of 4 billion entries in a 7-byte file.
    assert!(matches!(
        decode_legacy(&[0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xC0], &opts()),
        Err(LegacyError::LengthExceedsInput {
            declared: 0xFFFF_FFFF,
            ..
        })
    ));
    // A string claiming 4 GiB.
    assert!(matches!(
        decode_legacy(
            &[0x01, 0x03, 0x01, b'k', 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0],
            &opts()
        ),
        Err(LegacyError::LengthExceedsInput { .. })
    ));
    assert!(matches!(
        decode_legacy(&[0x01, 0x09, 0x01, b'k', 0x00, 0xC0], &opts()),
        Err(LegacyError::UnknownType {
            byte: 0x09,
            offset: 1
        })
    ));
    assert!(matches!(
        decode_legacy(&[0x01, 0x03, 0x01, b'k', 0x01, 0xFF, 0xC0], &opts()),
        Err(LegacyError::InvalidUtf8 { .. })
    ));
    assert!(matches!(
        decode_legacy(&[0x01, 0x03, 0x01, b'k', 0x00, 0x00], &opts()),
        Err(LegacyError::MissingEndMarker { offset: 5 })
    ));
    assert!(matches!(
        decode_legacy(&[0x01, 0x03, 0x01, b'k', 0xB0, 0xC0], &opts()),
        Err(LegacyError::InvalidLength { byte: 0xB0, .. })
    ));
    // Two keys that are the same text.
    assert!(matches!(
        decode_legacy(
            &[0x02, 0x03, 0x01, b'1', 0x00, 0x03, 0x01, b'1', 0x00, 0xC0],
            &opts()
        ),
        Err(LegacyError::DuplicateKey { .. })
    ));
    assert!(matches!(
        decode_legacy(&[], &opts()),
        Err(LegacyError::Truncated { offset: 0 })
    ));
}

/// A file of the root map holding `lists` lists nested in one another.
fn nested_lists(lists: usize) -> Vec<u8> {
    let mut file = vec![0x01, 0x04, 0x01, b'k'];
    for _ in 1..lists {
        file.extend_from_slice(&[0x01, 0x04]);
    }
    file.push(0x00);
    file.push(0xC0);
    file
}

#[test]
fn the_legacy_depth_limit_is_the_formats() {
    // Root map + 127 lists = 128 levels: read, and written again as a snapshot.
    let value = decode_legacy(&nested_lists(127), &opts()).expect("at the limit");
    let bytes = snapshot_codec::encode(&value).expect("the codec writes what the reader read");
    assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), value);
    // One more level is refused by both, with the same limit in the message.
    let err = decode_legacy(&nested_lists(128), &opts()).expect_err("past the limit");
    assert!(
        matches!(err, LegacyError::DepthLimitExceeded { limit: 128 }),
        "{err:?}"
    );
}

#[test]
fn nesting_and_zlib_bombs_are_limited() {
    // 10,000 nested single-item lists.
    let mut deep = vec![0x01, 0x04, 0x01, b'k'];
    for _ in 0..10_000 {
        deep.extend_from_slice(&[0x01, 0x04]);
    }
    deep.push(0x00);
    deep.push(0xC0);
    assert!(matches!(
        decode_legacy(&deep, &opts()),
        Err(LegacyError::DepthLimitExceeded { limit: 128 })
    ));

    // 16 MiB of 'a' compressed to a few KiB, against a 1 MiB limit.
    let bomb_text = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b'a'; 16 << 20], 9);
    assert!(bomb_text.len() < 64 * 1024);
    let mut file = vec![0x01, 0x03, 0x01, b'k', 0xC3, 0x80];
    file.extend_from_slice(&(bomb_text.len() as u32).to_le_bytes());
    file.extend_from_slice(&bomb_text);
    file.push(0xC0);
    let limited = LegacyOptions::new().with_max_decompressed_size(1 << 20);
    assert!(matches!(
        decode_legacy(&file, &limited),
        Err(LegacyError::DecompressedSizeLimitExceeded { limit: 1_048_576 })
    ));
    assert_eq!(
        decode_legacy(&file, &opts()).expect("within 64 MiB")["k"]
            .as_str()
            .map(str::len),
        Some(16 << 20)
    );
    // Corrupt zlib data.
    let mut bad = vec![0x01, 0x03, 0x01, b'k', 0xC3, 0x03, 0x78, 0x9C, 0xFF, 0xC0];
    assert!(matches!(
        decode_legacy(&bad, &opts()),
        Err(LegacyError::Zlib { .. })
    ));
    bad.truncate(4);
}

#[test]
fn legacy_files_are_decoded_within_a_memory_budget() {
    use snapshot_testkit::bombs;
    // 1,000,000 empty lists: 2 MB of file, 32 MB once built.
    let file = bombs::legacy_list_bomb(1_000_000);
    let tight = LegacyOptions::new().with_max_memory(16 << 20);
    assert!(matches!(
        decode_legacy(&file, &tight),
        Err(LegacyError::MemoryLimitExceeded { limit: 16_777_216 })
    ));
    assert!(decode_legacy(&file, &LegacyOptions::new()).is_ok());
}
