//! Format 2's new forms: 32-bit floats, typed arrays, lists in runs, shuffling, LZ4,
//! metadata, the encrypted flag, and the version 1 writer.

mod common;

use common::{all_ways, compressions, opts_decode};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use snapshot_codec::{
    Array, Compression, DecodeOptions, EncodeOptions, Error, Metadata, Value, value,
};

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
            .encode(&Value::from("x".repeat(2000))),
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

/// A streamed state that is a few bytes in front of one large byte string: whether to
/// compress is judged on pieces of that string, not on the few bytes before it.
#[test]
fn a_streamed_state_of_one_large_payload_is_compressed_when_the_payload_compresses() {
    for compression in [Compression::Lz4, Compression::Zstd { level: -1 }] {
        let opts = EncodeOptions::new().with_compression(compression);
        let zeros = Value::Bytes(vec![0; 1 << 20]);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise = Value::Bytes(
            (0..1 << 20)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect(),
        );
        for (data, compresses) in [(zeros, true), (noise, false)] {
            let state = value!({"w": (data.clone())});
            let mut streamed = Vec::new();
            opts.to_writer(&mut streamed, &state).expect("streams");
            let flagged = streamed[5] & (snapshot_codec::FLAG_LZ4 | snapshot_codec::FLAG_ZSTD) != 0;
            assert_eq!(
                flagged, compresses,
                "{compression:?}, compresses: {compresses}"
            );
            if compresses {
                assert!(streamed.len() < 64 * 1024, "{}", streamed.len());
            }
            assert_eq!(snapshot_codec::decode(&streamed).expect("decodes"), state);
        }
    }
}
