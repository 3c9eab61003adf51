//! Format 2's new forms: 32-bit floats, typed arrays, lists in runs, shuffling, LZ4,
//! metadata, the encrypted flag, and the version 1 writer.

mod common;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use snapshot_codec::{
    Array, Compression, DecodeOptions, EncodeOptions, Error, Metadata, Value, value,
};

fn all_ways(opts: &EncodeOptions, value: &Value) {
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

fn compressions() -> Vec<Compression> {
    vec![
        Compression::None,
        Compression::Lz4,
        Compression::Zstd { level: 3 },
    ]
}

#[test]
fn a_million_f32_weights_take_four_bytes_each() {
    let weights: Vec<f32> = (0..1_000_000).map(|i| (i as f32 * 0.001).sin()).collect();
    let opts = EncodeOptions::new().with_compression(Compression::None);
    let bytes = opts.to_vec(&weights).expect("serializes");
    assert!(
        bytes.len() <= 4_000_000 * 101 / 100,
        "{} bytes for 4,000,000 bytes of f32",
        bytes.len()
    );
    let back: Vec<f32> = opts_decode(&bytes);
    assert!(
        back.iter()
            .zip(&weights)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // The dynamic reader holds them as one array.
    let value = snapshot_codec::decode(&bytes).expect("decodes");
    assert_eq!(value.as_array().map(Array::len), Some(1_000_000));
    assert_eq!(value, Value::Array(weights.into()));
}

fn opts_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    let from_slice: T = snapshot_codec::from_slice(bytes).expect("from_slice");
    let _: T = snapshot_codec::from_reader(bytes).expect("from_reader");
    from_slice
}

#[test]
fn every_element_type_round_trips_on_every_path() {
    let arrays: Vec<Array> = vec![
        vec![true, false, true].into(),
        vec![0u8, 1, 255].into(),
        vec![-128i8, 0, 127].into(),
        vec![0u16, 300, u16::MAX].into(),
        vec![i16::MIN, -1, i16::MAX].into(),
        vec![0u32, 70_000, u32::MAX].into(),
        vec![i32::MIN, 0, i32::MAX].into(),
        vec![0u64, 1 << 40, u64::MAX].into(),
        vec![i64::MIN, -5, i64::MAX].into(),
        vec![f32::NAN, -0.0, f32::INFINITY, 1.5].into(),
        vec![f64::NAN, -0.0, f64::NEG_INFINITY, 2.25].into(),
    ];
    for compression in compressions() {
        let opts = EncodeOptions::new().with_compression(compression);
        for a in &arrays {
            all_ways(&opts, &Value::Array(a.clone()));
            all_ways(
                &opts,
                &value!({"a": (Value::Array(a.clone())), "f": (Value::Float32(0.1))}),
            );
        }
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Checkpoint {
    step: u64,
    weights: Vec<f32>,
    bias: [f64; 4],
    counts: Vec<u16>,
    ids: Vec<u64>,
    mask: Vec<bool>,
    maybe: Vec<Option<f32>>,
    mixed: Vec<Value>,
    point: (f32, f32, f32),
}

fn checkpoint(n: usize) -> Checkpoint {
    Checkpoint {
        step: 7,
        weights: (0..n).map(|i| i as f32 * 0.5 - 3.0).collect(),
        bias: [0.1, -0.2, f64::NAN, 4.0],
        counts: (0..n as u16).map(|i| i.wrapping_mul(997)).collect(),
        ids: (0..n as u64).collect(),
        mask: (0..n).map(|i| i % 3 == 0).collect(),
        maybe: (0..n).map(|i| (i % 5 != 0).then_some(i as f32)).collect(),
        mixed: vec![1.into(), Value::Float32(2.0), "x".into(), (-4).into()],
        point: (1.0, 2.0, 3.0),
    }
}

fn same_checkpoint(a: &Checkpoint, b: &Checkpoint) -> bool {
    let bits = |c: &Checkpoint| c.bias.map(f64::to_bits);
    a.step == b.step
        && a.weights == b.weights
        && bits(a) == bits(b)
        && a.counts == b.counts
        && a.ids == b.ids
        && a.mask == b.mask
        && a.maybe == b.maybe
        && a.mixed == b.mixed
        && a.point == b.point
}

#[test]
fn serde_types_with_numbers_round_trip_small_and_past_a_run() {
    for n in [0, 1, 5, 40_000] {
        let c = checkpoint(n);
        for compression in compressions() {
            let opts = EncodeOptions::new().with_compression(compression);
            let bytes = opts.to_vec(&c).expect("serializes");
            let back: Checkpoint = opts_decode(&bytes);
            assert!(same_checkpoint(&back, &c), "n = {n}, {compression:?}");
            let mut streamed = Vec::new();
            opts.to_writer(&mut streamed, &c).expect("streams");
            let back: Checkpoint = opts_decode(&streamed);
            assert!(same_checkpoint(&back, &c), "streamed, n = {n}");
            // The dynamic reader reads it too, and writing that Value again reads back
            // the same.
            let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
            let again = snapshot_codec::encode(&dynamic).expect("encodes");
            assert_eq!(snapshot_codec::decode(&again).expect("decodes"), dynamic);
        }
    }
}

#[test]
fn small_integers_in_wide_types_stay_small() {
    let ids: Vec<u64> = (0..100).collect();
    let bytes = EncodeOptions::new()
        .with_compression(Compression::None)
        .to_vec(&ids)
        .expect("serializes");
    // One byte each as a plain list, not eight as an array.
    assert!(bytes.len() < 130, "{} bytes", bytes.len());
    assert!(
        snapshot_codec::decode(&bytes)
            .expect("decodes")
            .as_list()
            .is_some()
    );
}

#[test]
fn shuffling_is_chosen_when_compressing_and_shrinks_smooth_series() {
    let series: Vec<f64> = (0..200_000)
        .map(|i| (i as f64 * 0.0005).sin() * 100.0 + ((i * 7919) % 13) as f64 * 1e-6)
        .collect();
    let value = Value::Array(series.clone().into());
    for compression in [Compression::Lz4, Compression::Zstd { level: 3 }] {
        let opts = EncodeOptions::new().with_compression(compression);
        let bytes = opts.encode(&value).expect("encodes");
        assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), value);
        let serde_bytes = opts.to_vec(&series).expect("serializes");
        let back: Vec<f64> = snapshot_codec::from_slice(&serde_bytes).expect("deserializes");
        assert!(
            back.iter()
                .zip(&series)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let raw = series.len() * 8;
        assert!(
            bytes.len() < raw,
            "{compression:?}: {} of {raw}",
            bytes.len()
        );
    }
}

#[test]
fn version_1_writer_widens_and_refuses_what_it_cannot_hold() {
    let v1 = EncodeOptions::new()
        .with_format_version(1)
        .expect("version 1");
    let bytes = v1
        .encode(&value!({"f": (Value::Float32(1.5)), "a": (Value::Array(vec![1u8, 2].into()))}))
        .expect("encodes");
    assert_eq!(bytes[4], 1);
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes"),
        value!({"f": 1.5, "a": [1, 2]})
    );
    let weights = vec![0.5f32; 10];
    let bytes = v1.to_vec(&weights).expect("serializes");
    assert_eq!(bytes[4], 1);
    assert_eq!(
        snapshot_codec::from_slice::<Vec<f32>>(&bytes).expect("reads"),
        weights
    );
    assert!(matches!(
        v1.clone()
            .with_compression(Compression::Lz4)
            .encode(&Value::from("x".repeat(500))),
        Err(Error::CompressionUnsupported)
    ));
    assert!(matches!(
        v1.with_metadata(Metadata::new().with_step(1))
            .encode(&Value::Null),
        Err(Error::InvalidMetadata { .. })
    ));
    assert!(matches!(
        EncodeOptions::new().with_format_version(3),
        Err(Error::UnsupportedVersion { found: 3, .. })
    ));
}

#[test]
fn version_1_bodies_refuse_version_2_tags() {
    for body in [
        &[0xCB, 0, 0, 0xC0, 0x3F][..],
        &[0xCC, 0x01, 0x01, 0x05],
        &[0xD0, 0x00],
    ] {
        let v1 = snapshot_testkit::bombs::frame_versioned(body, 0, 1);
        assert!(
            matches!(snapshot_codec::decode(&v1), Err(Error::InvalidTag { .. })),
            "{body:02X?}"
        );
        let v2 = snapshot_testkit::bombs::frame_versioned(body, 0, 2);
        assert!(snapshot_codec::decode(&v2).is_ok(), "{body:02X?}");
    }
}

#[test]
fn malformed_arrays_and_runs_are_typed_errors() {
    type Check = fn(&Error) -> bool;
    let cases: Vec<(&[u8], Check)> = vec![
        (&[0xCC, 0x0B, 0x01, 0x00], |e| {
            matches!(e, Error::InvalidArray { .. })
        }),
        (&[0xCC, 0x00, 0x01, 0x02], |e| {
            matches!(e, Error::InvalidArray { .. })
        }),
        (&[0xCC, 0x0A, 0xFF, 0xFF, 0xFF, 0x0F], |e| {
            matches!(e, Error::LengthExceedsInput { .. })
        }),
        (&[0xD0, 0x01, 0xD1, 0x01, 0x02, 0x01, 0x02], |e| {
            matches!(e, Error::InvalidArray { .. })
        }),
        (&[0xD0, 0x01, 0xD1, 0x01, 0x00], |e| {
            matches!(e, Error::InvalidArray { .. })
        }),
        (&[0xD1, 0x01, 0x01, 0x00], |e| {
            matches!(e, Error::InvalidTag { .. })
        }),
        (&[0xD2], |e| matches!(e, Error::InvalidTag { .. })),
        (&[0xCE, 0x00], |e| matches!(e, Error::InvalidShape { .. })),
        (&[0xA1, 0xCF, 0x00], |e| {
            matches!(e, Error::InvalidTag { tag: 0xCF })
        }),
    ];
    for (body, check) in cases {
        let bytes = snapshot_testkit::bombs::frame_versioned(body, 0, 2);
        let a = snapshot_codec::decode(&bytes).expect_err("must fail");
        assert!(check(&a), "{body:02X?}: {a:?}");
        let b = snapshot_codec::decode_from_reader(&bytes[..]).expect_err("must fail");
        assert!(
            check(&b) || matches!(b, Error::Truncated),
            "{body:02X?}: {b:?}"
        );
        assert!(snapshot_codec::from_slice::<Value>(&bytes).is_err());
        assert!(snapshot_codec::from_slice::<Vec<f64>>(&bytes).is_err());
    }
}

#[test]
fn metadata_is_read_without_the_body_and_checked_by_the_checksum() {
    let meta = Metadata::new()
        .with_created_micros(1_700_000_000_000_000)
        .with_step(42)
        .with_label("run", "r-7")
        .with_label("tag", "nightly");
    let state = value!({"big": (Value::Array(vec![1.0f64; 10_000].into()))});
    for compression in compressions() {
        let opts = EncodeOptions::new()
            .with_compression(compression)
            .with_metadata(meta.clone());
        let bytes = opts.encode(&state).expect("encodes");
        assert_eq!(
            snapshot_codec::read_metadata(&bytes[..bytes.len().min(200)]).expect("meta"),
            Some(meta.clone())
        );
        all_ways(&opts, &state);
        let report = snapshot_codec::inspect(&bytes, &DecodeOptions::new()).expect("inspects");
        assert_eq!(report.metadata.as_ref(), Some(&meta));
        // The checksum covers the metadata.
        let mut tampered = bytes.clone();
        let at = tampered
            .windows(7)
            .position(|w| w == b"nightly")
            .expect("label");
        tampered[at] = b'N';
        assert!(matches!(
            snapshot_codec::decode(&tampered),
            Err(Error::ChecksumMismatch { .. })
        ));
        assert!(matches!(
            snapshot_codec::read_metadata(&bytes[..10]),
            Err(Error::Truncated)
        ));
    }
    assert_eq!(
        snapshot_codec::read_metadata(&snapshot_codec::encode(&Value::Null).expect("encodes"))
            .expect("meta"),
        None
    );
    let too_big = Metadata::new().with_label("k", "v".repeat(70_000));
    assert!(matches!(
        EncodeOptions::new()
            .with_metadata(too_big)
            .encode(&Value::Null),
        Err(Error::InvalidMetadata { .. })
    ));
}

#[test]
fn encrypted_flag_without_a_key_field_is_refused() {
    // The flag alone names no key: the frame is malformed (the encryption tests cover
    // real encrypted snapshots).
    let bytes =
        snapshot_testkit::bombs::frame_versioned(&[0xC0], snapshot_codec::FLAG_ENCRYPTED, 2);
    assert!(matches!(
        snapshot_codec::decode(&bytes),
        Err(Error::InvalidMetadata { .. })
    ));
    assert!(matches!(
        snapshot_codec::decode_from_reader(&bytes[..]),
        Err(Error::InvalidMetadata { .. })
    ));
    let both = snapshot_testkit::bombs::frame_versioned(&[0xC0], 0x03, 2);
    assert!(matches!(
        snapshot_codec::decode(&both),
        Err(Error::UnsupportedFlags { .. })
    ));
}

#[test]
fn lz4_bombs_stop_at_the_limit() {
    let big = Value::Bytes(vec![0u8; 8 << 20]);
    let bytes = EncodeOptions::new()
        .with_compression(Compression::Lz4)
        .encode(&big)
        .expect("encodes");
    assert!(bytes.len() < 100_000, "{}", bytes.len());
    let tight = DecodeOptions::new().with_max_decompressed_size(1 << 20);
    assert!(matches!(
        tight.decode(&bytes),
        Err(Error::DecompressedSizeLimitExceeded { .. })
    ));
    assert!(matches!(
        tight.decode_from_reader(&bytes[..]),
        Err(Error::DecompressedSizeLimitExceeded { .. })
    ));
    let garbage = snapshot_testkit::bombs::frame_versioned(
        b"not lz4 at all, not at all",
        snapshot_codec::FLAG_LZ4,
        2,
    );
    assert!(matches!(
        snapshot_codec::decode(&garbage),
        Err(Error::Compression(_))
    ));
}

fn arb_array() -> impl Strategy<Value = Array> {
    prop_oneof![
        proptest::collection::vec(any::<bool>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<i16>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<u32>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<i64>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<f32>(), 0..40).prop_map(Array::from),
        proptest::collection::vec(any::<f64>(), 0..2000).prop_map(Array::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arrays_round_trip_through_values(arrays in proptest::collection::vec(arb_array(), 0..4), lz4 in any::<bool>()) {
        let value = Value::List(arrays.into_iter().map(Value::Array).collect());
        let compression = if lz4 { Compression::Lz4 } else { Compression::Zstd { level: 1 } };
        let opts = EncodeOptions::new().with_compression(compression);
        let bytes = opts.encode(&value).expect("encodes");
        prop_assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), value.clone());
        let mut streamed = Vec::new();
        opts.encode_to_writer(&mut streamed, &value).expect("streams");
        prop_assert_eq!(snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"), value);
    }

    #[test]
    fn mixed_number_sequences_round_trip_through_serde(items in proptest::collection::vec(prop_oneof![
        any::<f32>().prop_map(Num::F),
        any::<i64>().prop_map(Num::I),
        any::<u8>().prop_map(Num::B),
        Just(Num::N),
    ], 0..300)) {
        let bytes = snapshot_codec::to_vec(&items).expect("serializes");
        let back: Vec<Num> = snapshot_codec::from_slice(&bytes).expect("deserializes");
        prop_assert_eq!(back.len(), items.len());
        for (a, b) in back.iter().zip(&items) {
            prop_assert!(a.same(b), "{a:?} != {b:?}");
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(untagged)]
enum Num {
    B(u8),
    I(i64),
    F(f32),
    N,
}

impl Num {
    fn same(&self, other: &Num) -> bool {
        match (self, other) {
            (Num::F(a), Num::F(b)) => a.to_bits() == b.to_bits(),
            (Num::I(a), Num::I(b)) => a == b,
            (Num::B(a), Num::B(b)) => a == b,
            // An untagged `I` that fits a u8 comes back as `B`.
            (Num::B(a), Num::I(b)) | (Num::I(b), Num::B(a)) => i64::from(*a) == *b,
            (Num::N, Num::N) => true,
            _ => false,
        }
    }
}

#[test]
fn integer_keys_keep_their_type() {
    let mut m = snapshot_codec::Map::new();
    m.insert(1, "one");
    m.insert("1", "text one");
    m.insert(-7, "minus seven");
    m.insert(u64::MAX, "max");
    m.insert(i64::MIN, "min");
    let value = value!({"ints": (Value::Map(m.clone()))});
    for compression in compressions() {
        all_ways(&EncodeOptions::new().with_compression(compression), &value);
    }
    // Through serde: integer-keyed maps of any integer type.
    let typed: std::collections::BTreeMap<i32, String> =
        [(3, "c".to_string()), (-1, "z".to_string())].into();
    let bytes = snapshot_codec::to_vec(&typed).expect("serializes");
    let back: std::collections::BTreeMap<i32, String> =
        snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(back, typed);
    let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
    assert_eq!(dynamic.get(3), Some(&Value::from("c")));
    assert_eq!(dynamic.get("3"), None);
    // A map with text keys reads integer keys as their decimal text.
    let as_text: std::collections::BTreeMap<String, String> =
        snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(as_text.get("-1").map(String::as_str), Some("z"));
    // Version 1 holds text keys only: integers are written as text, and a map where an
    // integer and a text key print alike cannot be written.
    let v1 = EncodeOptions::new().with_format_version(1).expect("v1");
    let mut plain = snapshot_codec::Map::new();
    plain.insert(5, "five");
    let bytes = v1.encode(&Value::Map(plain)).expect("encodes");
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes"),
        value!({"5": "five"})
    );
    assert!(matches!(
        v1.encode(&Value::Map(m)),
        Err(Error::DuplicateKey { .. })
    ));
    // Integer key tags are format 2 only.
    let v1_body = snapshot_testkit::bombs::frame_versioned(&[0xB1, 0xE3, 0x01, 0xC0], 0, 1);
    assert!(matches!(
        snapshot_codec::decode(&v1_body),
        Err(Error::InvalidKeyTag { tag: 0xE3 })
    ));
    let v2_body =
        snapshot_testkit::bombs::frame_versioned(&[0xB2, 0xE3, 0x01, 0xC0, 0xE3, 0x01, 0xC0], 0, 2);
    assert!(matches!(
        snapshot_codec::decode(&v2_body),
        Err(Error::DuplicateKey { .. })
    ));
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Row {
    id: u64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    note: Option<String>,
    point: (f32, f32),
}

/// Writes the same struct name and field count with fields in an order that changes.
struct Shifty(u8);

impl Serialize for Shifty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Shifty", 3)?;
        let names: [&'static str; 3] = match self.0 % 3 {
            0 => ["a", "b", "c"],
            1 => ["a", "c", "b"],
            _ => ["c", "b", "a"],
        };
        for n in names {
            st.serialize_field(n, &u32::from(self.0))?;
        }
        st.end()
    }
}

#[test]
fn records_round_trip_and_drop_the_keys() {
    let rows: Vec<Row> = (0..500)
        .map(|i| Row {
            id: i,
            name: format!("row {i}"),
            note: (i % 3 == 0).then(|| "third".to_string()),
            point: (i as f32, -(i as f32)),
        })
        .collect();
    for compression in compressions() {
        let opts = EncodeOptions::new().with_compression(compression);
        let bytes = opts.to_vec(&rows).expect("serializes");
        let back: Vec<Row> = opts_decode(&bytes);
        assert_eq!(back, rows);
        // The dynamic reader reads records, and writes them back as records of its own.
        let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
        assert_eq!(dynamic[3]["note"].as_str(), Some("third"));
        assert!(dynamic[4].get("note").is_none());
        all_ways(&opts, &dynamic);
        let again: Vec<Row> = snapshot_codec::from_slice(&opts.encode(&dynamic).expect("encodes"))
            .expect("deserializes");
        assert_eq!(again, rows);
    }
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let v1 = plain.clone().with_format_version(1).expect("v1");
    let (two, one) = (
        plain.to_vec(&rows).expect("v2").len(),
        v1.to_vec(&rows).expect("v1").len(),
    );
    assert!(two < one, "format 2 {two} bytes, format 1 {one}");
}

#[test]
fn fields_that_leave_the_shape_are_written_after_a_break() {
    let items: Vec<Shifty> = (0..9).map(Shifty).collect();
    let bytes = snapshot_codec::to_vec(&items).expect("serializes");
    assert!(bytes.contains(&0xCF), "a break was written");
    let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
    for (i, item) in dynamic.as_list().expect("list").iter().enumerate() {
        let map = item.as_map().expect("map");
        assert_eq!(map.len(), 3);
        for k in ["a", "b", "c"] {
            assert_eq!(
                map.get(k).and_then(Value::as_u64),
                Some(i as u64),
                "{i} {k}"
            );
        }
    }
    #[derive(Deserialize)]
    struct Abc {
        a: u32,
        b: u32,
        c: u32,
    }
    let typed: Vec<Abc> = snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert!(
        typed
            .iter()
            .enumerate()
            .all(|(i, x)| [x.a, x.b, x.c] == [i as u32; 3])
    );
    let mut streamed = Vec::new();
    EncodeOptions::new()
        .to_writer(&mut streamed, &items)
        .expect("streams");
    assert_eq!(
        snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"),
        dynamic
    );

    /// A field named twice, the second time after a break.
    struct Twice;
    impl Serialize for Twice {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("Twice", 2)?;
            st.serialize_field("a", &1)?;
            st.serialize_field("a", &2)?;
            st.end()
        }
    }
    struct Once;
    impl Serialize for Once {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("Twice", 2)?;
            st.serialize_field("a", &1)?;
            st.serialize_field("b", &2)?;
            st.end()
        }
    }
    let err = snapshot_codec::to_vec(&(Once, Twice)).expect_err("a repeated key");
    assert!(matches!(err, Error::DuplicateKey { .. }), "{err:?}");
}

#[test]
fn hostile_shapes_are_typed_errors() {
    let long_key = {
        let mut b = vec![0xCD, 0x01, 0xE2, 65];
        b.extend_from_slice(&[b'k'; 65]);
        b.push(0xC0);
        b
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0xCE, 0x05], "undefined shape"),
        (long_key, "long shape key"),
        (
            vec![
                0xA2, 0xCD, 0x02, 0xC1, b'a', 0xC0, 0xC1, b'b', 0xC0, 0xCE, 0x00, 0xC0, 0xCF, 0x01,
                0x00, 0xC0,
            ],
            "repeat after a break",
        ),
        (
            vec![0xA2, 0xCD, 0x02, 0xC1, b'a', 0xC0, 0x00, 0xC0, 0xC0],
            "a shape map repeating a key",
        ),
    ];
    for (body, what) in cases {
        let bytes = snapshot_testkit::bombs::frame_versioned(&body, 0, 2);
        assert!(snapshot_codec::decode(&bytes).is_err(), "{what}");
        assert!(
            snapshot_codec::decode_from_reader(&bytes[..]).is_err(),
            "{what}"
        );
        assert!(
            snapshot_codec::from_slice::<Value>(&bytes).is_err(),
            "{what}"
        );
    }
    // A record that ends early with an empty break is a shorter map.
    let body = [
        0xA2, 0xCD, 0x02, 0xC1, b'a', 0x01, 0xC1, b'b', 0x02, 0xCE, 0x00, 0x03, 0xCF, 0x00,
    ];
    let bytes = snapshot_testkit::bombs::frame_versioned(&body, 0, 2);
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes"),
        value!([{"a": 1, "b": 2}, {"a": 3}])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn records_with_optional_fields_round_trip(rows in proptest::collection::vec(
        (any::<u64>(), "[a-z]{0,6}", proptest::option::of("[a-z]{0,3}"), any::<(f32, f32)>()),
        0..40,
    )) {
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|(id, name, note, point)| Row { id, name, note, point })
            .collect();
        let bytes = snapshot_codec::to_vec(&rows).expect("serializes");
        let back: Vec<Row> = snapshot_codec::from_slice(&bytes).expect("deserializes");
        prop_assert_eq!(back.len(), rows.len());
        for (a, b) in back.iter().zip(&rows) {
            prop_assert!(a.id == b.id && a.name == b.name && a.note == b.note);
            prop_assert_eq!(a.point.0.to_bits(), b.point.0.to_bits());
        }
        let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
        let again = snapshot_codec::encode(&dynamic).expect("encodes");
        prop_assert_eq!(snapshot_codec::decode(&again).expect("decodes"), dynamic);
    }
}

#[test]
fn nesting_at_the_limit_reads_on_every_path_within_a_test_threads_stack() {
    // 128 levels of maps that define shapes (the same key at every level) around an
    // array: the default limit, on a default 2 MiB stack.
    let mut deep = Value::Array(vec![1.5f32, 2.5].into());
    for _ in 0..127 {
        deep = value!({"inner": deep});
    }
    let bytes = snapshot_codec::encode(&deep).expect("encodes");
    let body = common::body(&bytes);
    assert!(body.contains(&0xCD), "shape definitions");
    assert_eq!(snapshot_codec::decode(&bytes).expect("decode"), deep);
    assert_eq!(
        snapshot_codec::decode_from_reader(&bytes[..]).expect("stream"),
        deep
    );
    let via_serde: Value = snapshot_codec::from_slice(&bytes).expect("serde");
    assert_eq!(via_serde["inner"]["inner"]["inner"].kind(), "map");
    let _: Value = snapshot_codec::from_reader(&bytes[..]).expect("serde stream");
    snapshot_codec::inspect(&bytes, &DecodeOptions::new()).expect("inspect");
    // One more level is refused.
    let deeper = value!({"inner": deep});
    assert!(matches!(
        snapshot_codec::encode(&deeper),
        Err(Error::DepthLimitExceeded { limit: 128 })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn metadata_round_trips(
        created in proptest::option::of(any::<i64>()),
        step in proptest::option::of(any::<u64>()),
        labels in proptest::collection::btree_map("[a-z=]{1,8}", ".{0,12}", 0..6),
        lz4 in any::<bool>(),
    ) {
        let mut meta = Metadata::new();
        meta.created_micros = created;
        meta.step = step;
        meta.labels = labels;
        let compression = if lz4 { Compression::Lz4 } else { Compression::None };
        let opts = EncodeOptions::new().with_compression(compression).with_metadata(meta.clone());
        let bytes = opts.encode(&value!({"x": 1})).expect("encodes");
        let read = snapshot_codec::read_metadata(&bytes).expect("reads");
        if meta.is_empty() {
            prop_assert_eq!(read, None);
        } else {
            prop_assert_eq!(read, Some(meta.clone()));
        }
        let mut streamed = Vec::new();
        opts.encode_to_writer(&mut streamed, &value!({"x": 1})).expect("streams");
        prop_assert_eq!(&streamed, &bytes);
        prop_assert_eq!(snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"), value!({"x": 1}));
    }
}
