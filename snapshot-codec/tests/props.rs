//! Property tests: any value round-trips; no byte sequence makes the decoder panic.

mod common;

use proptest::prelude::*;
use serde::Deserialize;
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Ext, Map, Value};

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<u64>().prop_map(|bits| Value::Float(f64::from_bits(bits))),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(id, data)| Value::from(Ext::new(id, data))),
    ];
    leaf.prop_recursive(6, 200, 12, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..12).prop_map(Value::List),
            proptest::collection::vec(("[a-z]{0,6}|.{0,70}", inner), 0..12)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Typical {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
    nested: Option<Box<Typical>>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_round_trips(value in arb_value(), level in prop_oneof![Just(None), (1i32..6).prop_map(Some)]) {
        let compression = level.map_or(Compression::None, |level| Compression::Zstd { level });
        let opts = EncodeOptions::new().with_compression(compression);
        let bytes = opts.encode(&value).expect("encodes");
        prop_assert_eq!(&snapshot_codec::decode(&bytes).expect("decodes"), &value);
        let mut streamed = Vec::new();
        opts.encode_to_writer(&mut streamed, &value).expect("streams");
        prop_assert_eq!(&snapshot_codec::decode_from_reader(&streamed[..]).expect("reads"), &value);
        let via_serde: Value = snapshot_codec::from_slice(&bytes).expect("deserializes");
        prop_assert_eq!(&via_serde, &value);
        prop_assert_eq!(opts.to_vec(&value).expect("serializes"), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = snapshot_codec::decode(&bytes);
        let _ = snapshot_codec::decode_from_reader(&bytes[..]);
        let _ = snapshot_codec::from_slice::<Typical>(&bytes);
    }

    // Random bytes rarely pass the checksum, so also feed them to the body decoder
    // inside a correctly checksummed frame.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256), zstd in any::<bool>()) {
        let snapshot = common::frame(&body, u8::from(zstd));
        let opts = DecodeOptions::new().with_max_decompressed_size(1 << 20);
        let _ = opts.decode(&snapshot);
        let _ = opts.decode_from_reader(&snapshot[..]);
        let _ = opts.from_slice::<Typical>(&snapshot);
        let _ = opts.from_slice::<Value>(&snapshot);
    }

    // Mutations of real snapshots reach deeper than random bytes.
    #[test]
    fn mutated_bodies_never_panic(value in arb_value(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let encoded = common::plain(&value);
        let mut body = common::body(&encoded).to_vec();
        for (at, byte) in flips {
            let i = at % body.len();
            body[i] = byte;
        }
        let snapshot = common::frame(&body, 0);
        if let Ok(v) = snapshot_codec::decode(&snapshot) {
            // Whatever decodes must re-encode and decode to itself.
            let again = common::plain(&v);
            prop_assert_eq!(snapshot_codec::decode(&again).expect("re-decodes"), v);
        }
        let _ = snapshot_codec::decode_from_reader(&snapshot[..]);
        let _ = snapshot_codec::from_slice::<Typical>(&snapshot);
    }
}

/// A body cut into chunks anywhere (inside a tag, a key, a number, a string) reads as
/// the same value as the one-chunk body, through `decode`, serde and `open`.
mod chunked_bodies {
    use proptest::prelude::*;
    use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Value};

    fn state() -> Value {
        snapshot_codec::value!({
            "name": "a string long enough to be cut somewhere in its middle",
            "numbers": [1, -2, 300000, 4.5, 1e300],
            "weights": (Value::from(snapshot_codec::Array::from(vec![0.25f32; 33]))),
            "records": [{"id": 1, "tag": "x"}, {"id": 2, "tag": "y"}, {"id": 3, "tag": "z"}],
            "bytes": (Value::Bytes((0..=255).collect())),
        })
    }

    proptest! {
        #[test]
        fn read_the_same_wherever_cut(mut cuts in proptest::collection::vec(0usize..1000, 0..12)) {
            let v = state();
            let whole = EncodeOptions::new().with_compression(Compression::None).to_vec(&v).expect("encodes");
            let len = u32::from_le_bytes(whole[6..10].try_into().expect("4 bytes")) as usize;
            let body = &whole[10..10 + len];
            cuts.iter_mut().for_each(|c| *c %= body.len());
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces = Vec::new();
            let mut at = 0;
            for &c in &cuts {
                pieces.push(&body[at..c]);
                at = c;
            }
            pieces.push(&body[at..]);
            let chunked = snapshot_testkit::bombs::frame_chunked(&pieces, 0, 2);
            prop_assert_eq!(DecodeOptions::new().decode(&chunked).expect("decodes"), v.clone());
            // Through serde a typed array arrives as a list: compared with the one-chunk form.
            let via_serde: Value = snapshot_codec::from_slice(&chunked).expect("deserializes");
            let whole_serde: Value = snapshot_codec::from_slice(&whole).expect("deserializes");
            prop_assert_eq!(via_serde, whole_serde);
            let opened = DecodeOptions::new().open(&chunked).expect("opens");
            prop_assert_eq!(opened.body_len(), body.len());
            prop_assert_eq!(opened.decode().expect("reads"), v.clone());
            // One byte more or less in the last chunk: refused, never misread.
            let short = snapshot_testkit::bombs::frame_chunked(&[&body[..body.len() - 1]], 0, 2);
            prop_assert!(DecodeOptions::new().decode(&short).is_err());
        }
    }
}
