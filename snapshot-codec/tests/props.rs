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
