//! The rule: an encode that returns `Ok` produces bytes that decode, to an equal value.
//! Whatever serde can express that the format cannot hold (a map naming one key twice,
//! a type that announces one length and writes another) is refused at encode time,
//! with the key and where it is.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use snapshot_codec::{
    DEFAULT_MAX_DEPTH, EncodeOptions, Error, Ext, ExtType, Map, Registry, Value, value,
};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Flattened {
    a: i32,
    b: Option<String>,
    #[serde(flatten)]
    extra: HashMap<String, i32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone, PartialOrd, Ord, Hash)]
#[serde(untagged)]
enum AnyKey {
    I(i64),
    S(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Outer {
    name: String,
    inner: Vec<Flattened>,
}

fn decodes_equal<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(bytes) = snapshot_codec::to_vec(value) {
        let back: T = snapshot_codec::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(format!("encoded, then refused: {e}")))?;
        prop_assert_eq!(&back, value);
        let dynamic = snapshot_codec::decode(&bytes)
            .map_err(|e| TestCaseError::fail(format!("encoded, then refused as Value: {e}")))?;
        // The dynamic path writes the same bytes for what it read.
        prop_assert_eq!(
            snapshot_codec::decode(&snapshot_codec::encode(&dynamic).expect("re-encodes"))
                .expect("decodes"),
            dynamic
        );
    }
    Ok(())
}

#[test]
fn flattened_field_named_like_a_field_is_refused_with_its_path() {
    let state = Flattened {
        a: 1,
        b: None,
        extra: HashMap::from([("a".to_string(), 2)]),
    };
    let err = snapshot_codec::to_vec(&state).expect_err("a map naming \"a\" twice");
    assert!(
        matches!(&err, Error::DuplicateKey { key, path } if key == "a" && path == ".a"),
        "{err:?}"
    );

    let nested = Outer {
        name: "x".into(),
        inner: vec![
            Flattened {
                a: 0,
                b: None,
                extra: HashMap::new(),
            },
            Flattened {
                extra: HashMap::from([("b".to_string(), 3)]),
                ..state.clone()
            },
        ],
    };
    let err = snapshot_codec::to_vec(&nested).expect_err("duplicate deep inside");
    assert_eq!(
        err.to_string(),
        r#"duplicate map key "b" at .inner[1].b"#,
        "{err:?}"
    );
    // The streaming writer refuses it too, and the same way.
    let mut sink = Vec::new();
    let streamed = EncodeOptions::new().to_writer(&mut sink, &nested);
    assert!(matches!(streamed, Err(Error::DuplicateKey { .. })));
}

#[test]
fn untagged_keys_that_print_alike_are_refused_in_version_1() {
    let map = BTreeMap::from([(AnyKey::I(1), "int"), (AnyKey::S("1".into()), "text")]);
    let doc = BTreeMap::from([("extra", map)]);
    // Format 2 keeps integer keys: two different keys.
    let bytes = snapshot_codec::to_vec(&doc).expect("two keys");
    let back: BTreeMap<String, BTreeMap<AnyKey, String>> =
        snapshot_codec::from_slice(&bytes).expect("decodes");
    assert_eq!(back["extra"].len(), 2);
    let v1 = EncodeOptions::new().with_format_version(1).expect("v1");
    let err = v1.to_vec(&doc).expect_err("\"1\" twice");
    assert!(
        matches!(&err, Error::DuplicateKey { key, path } if key == "1" && path == r#".extra["1"]"#),
        "{err:?}"
    );
}

#[test]
fn duplicates_in_large_maps_are_found_too() {
    // Past the linear scan: 1000 distinct keys, then one of the first again.
    struct Repeats;
    impl Serialize for Repeats {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            for i in 0..1000 {
                m.serialize_entry(&format!("key-{i}"), &i)?;
            }
            m.serialize_entry("key-17", &0)?;
            m.end()
        }
    }
    let err = snapshot_codec::to_vec(&Repeats).expect_err("key-17 twice");
    assert!(matches!(&err, Error::DuplicateKey { key, .. } if key == "key-17"));

    // Long keys are written literally, not through the key table: still caught.
    let long = "k".repeat(200);
    struct LongTwice<'a>(&'a str);
    impl Serialize for LongTwice<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry(self.0, &1)?;
            m.serialize_entry(self.0, &2)?;
            m.end()
        }
    }
    let err = snapshot_codec::to_vec(&LongTwice(&long)).expect_err("long key twice");
    assert!(matches!(&err, Error::DuplicateKey { key, .. } if *key == long));

    // The same key in sibling and nested maps is fine.
    let ok = value!({"a": {"a": 1}, "b": {"a": 2, "b": [{"a": 3}]}});
    let bytes = snapshot_codec::to_vec(&ok).expect("no map repeats a key");
    assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), ok);
}

#[test]
fn a_type_that_lies_about_its_length_is_refused() {
    struct Liar;
    impl Serialize for Liar {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(3))?;
            seq.serialize_element(&1)?;
            seq.end()
        }
    }
    let err = snapshot_codec::to_vec(&Liar).expect_err("announced 3, wrote 1");
    assert!(
        matches!(
            err,
            Error::LengthMismatch {
                kind: "list",
                declared: 3,
                written: 1
            }
        ),
        "{err:?}"
    );
}

struct Even;
impl ExtType for Even {
    const TYPE_ID: u64 = 77;
    const NAME: &'static str = "even";
    fn to_payload(&self, out: &mut Vec<u8>) {
        out.push(2);
    }
    fn from_payload(data: &[u8]) -> Result<Self, String> {
        match data {
            [b] if b % 2 == 0 => Ok(Even),
            _ => Err("not one even byte".into()),
        }
    }
}

#[test]
fn payloads_a_registered_reader_would_refuse_are_not_written() {
    let mut registry = Registry::new();
    registry.register::<Even>().expect("free id");
    let opts = EncodeOptions::new().with_registry(registry.into());
    let bad = value!({"x": Value::from(Ext::new(77, vec![3]))});
    assert!(matches!(
        opts.encode(&bad),
        Err(Error::InvalidExtension { type_id: 77, .. })
    ));
    assert!(matches!(
        opts.to_vec(&bad),
        Err(Error::InvalidExtension { type_id: 77, .. })
    ));
    let good = value!({"x": Value::from(Ext::new(77, vec![4]))});
    assert!(opts.encode(&good).is_ok());
}

#[test]
fn the_encoder_never_nests_deeper_than_a_default_reader_reads() {
    let mut deep = Value::Null;
    for _ in 0..DEFAULT_MAX_DEPTH + 1 {
        deep = Value::List(vec![deep]);
    }
    let opts = EncodeOptions::new().with_max_depth(10 * DEFAULT_MAX_DEPTH);
    assert!(matches!(
        opts.encode(&deep),
        Err(Error::DepthLimitExceeded { .. })
    ));
    let Value::List(mut items) = deep else {
        unreachable!()
    };
    let at_limit = items.pop().expect("one item");
    let bytes = opts.encode(&at_limit).expect("exactly at the limit");
    assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), at_limit);
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Shape {
    Unit,
    Newtype(i64),
    Tuple(u8, String),
    Struct {
        inner: Option<Box<Shape>>,
        weights: Vec<f64>,
    },
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(tag = "kind")]
enum Tagged {
    Circle { r: u32 },
    Named { name: String, extra: Option<i8> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Mixed {
    by_number: BTreeMap<u32, String>,
    by_signed: BTreeMap<i64, bool>,
    by_char: BTreeMap<char, u8>,
    by_unit_enum: BTreeMap<Color, i32>,
    shapes: Vec<Shape>,
    tagged: Vec<Tagged>,
    maybe: Option<u16>,
    #[serde(flatten)]
    rest: BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
enum Color {
    Red,
    Green,
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        Just(Shape::Unit),
        any::<i64>().prop_map(Shape::Newtype),
        (any::<u8>(), "[a-z]{0,4}").prop_map(|(a, b)| Shape::Tuple(a, b)),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        (
            proptest::option::of(inner),
            proptest::collection::vec(
                any::<f64>().prop_filter("NaN != NaN", |f| !f.is_nan()),
                0..3,
            ),
        )
            .prop_map(|(inner, weights)| Shape::Struct {
                inner: inner.map(Box::new),
                weights,
            })
    })
}

fn arb_tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        any::<u32>().prop_map(|r| Tagged::Circle { r }),
        ("[a-z]{0,4}", proptest::option::of(any::<i8>()))
            .prop_map(|(name, extra)| Tagged::Named { name, extra }),
    ]
}

/// Flattened keys drawn from a small set that includes the struct's own field names,
/// so collisions are frequent.
fn arb_rest() -> impl Strategy<Value = BTreeMap<String, i64>> {
    proptest::collection::btree_map(
        prop_oneof![
            Just("maybe".to_string()),
            Just("shapes".to_string()),
            "[a-z]{1,3}"
        ],
        any::<i64>(),
        0..4,
    )
}

fn arb_mixed() -> impl Strategy<Value = Mixed> {
    (
        proptest::collection::btree_map(any::<u32>(), "[a-z]{0,3}", 0..4),
        proptest::collection::btree_map(any::<i64>(), any::<bool>(), 0..4),
        proptest::collection::btree_map(any::<char>(), any::<u8>(), 0..4),
        proptest::collection::btree_map(
            prop_oneof![Just(Color::Red), Just(Color::Green)],
            any::<i32>(),
            0..2,
        ),
        proptest::collection::vec(arb_shape(), 0..3),
        proptest::collection::vec(arb_tagged(), 0..3),
        proptest::option::of(any::<u16>()),
        arb_rest(),
    )
        .prop_map(
            |(by_number, by_signed, by_char, by_unit_enum, shapes, tagged, maybe, rest)| Mixed {
                by_number,
                by_signed,
                by_char,
                by_unit_enum,
                shapes,
                tagged,
                maybe,
                rest,
            },
        )
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z]{0,5}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(("[a-c]{1,2}", inner), 0..6)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn serde_types_that_encode_also_decode(mixed in arb_mixed()) {
        // Which of these collide (a flattened key named like a field) is up to the
        // generator; the rule holds either way.
        let collides = mixed.rest.keys().any(|k| k == "maybe" || k == "shapes");
        let encoded = snapshot_codec::to_vec(&mixed);
        prop_assert_eq!(encoded.is_err(), collides, "{:?}", encoded.err());
        decodes_equal(&mixed)?;
    }

    #[test]
    fn flattened_maps_encode_only_when_they_decode(a in any::<i32>(), b in proptest::option::of("[a-z]{0,3}"),
                                                   extra in proptest::collection::hash_map(prop_oneof![Just("a".to_string()), Just("b".to_string()), "[a-d]"], any::<i32>(), 0..4)) {
        decodes_equal(&Flattened { a, b, extra })?;
    }

    #[test]
    fn untagged_keys_keep_their_kind(keys in proptest::collection::btree_map(
        prop_oneof![(0i64..5).prop_map(AnyKey::I), (0i64..5).prop_map(|n| AnyKey::S(n.to_string())), "[a-b]".prop_map(AnyKey::S)],
        any::<u8>(), 0..5)) {
        // Format 2: integer keys stay integers, so 1 and "1" are two keys.
        let bytes = snapshot_codec::to_vec(&keys).expect("no two keys are alike");
        let back: BTreeMap<AnyKey, u8> = snapshot_codec::from_slice(&bytes).expect("decodes");
        prop_assert_eq!(&back, &keys);
        let dynamic = snapshot_codec::decode(&bytes).expect("decodes as Value");
        let map = dynamic.as_map().expect("a map");
        prop_assert_eq!(map.len(), keys.len());
        for (k, v) in &keys {
            let found = match k {
                AnyKey::I(n) => map.get(*n),
                AnyKey::S(s) => map.get(s.as_str()),
            };
            prop_assert_eq!(found, Some(&Value::from(*v)));
        }
        // Version 1 keys are text: each comes back as the text it printed as, and two
        // keys that print alike are refused.
        let printed: std::collections::BTreeSet<String> = keys.keys().map(|k| match k {
            AnyKey::I(n) => n.to_string(),
            AnyKey::S(s) => s.clone(),
        }).collect();
        let v1 = snapshot_codec::EncodeOptions::new().with_format_version(1).expect("v1");
        match v1.to_vec(&keys) {
            Ok(bytes) => {
                prop_assert_eq!(printed.len(), keys.len());
                let back: BTreeMap<String, u8> = snapshot_codec::from_slice(&bytes).expect("decodes");
                prop_assert_eq!(back.keys().cloned().collect::<std::collections::BTreeSet<_>>(), printed);
            }
            Err(e) => {
                prop_assert!(printed.len() < keys.len(), "refused without a collision: {e}");
                prop_assert!(matches!(e, Error::DuplicateKey { .. }), "{e:?}");
            }
        }
    }

    #[test]
    fn dynamic_values_that_encode_also_decode(value in arb_value()) {
        for bytes in [snapshot_codec::encode(&value), snapshot_codec::to_vec(&value)] {
            let bytes = bytes.expect("a Value never repeats a key");
            let back = snapshot_codec::decode(&bytes).expect("decodes");
            prop_assert!(same(&back, &value));
        }
    }
}

/// Equality with NaN equal to itself (floats are stored bit for bit).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

#[test]
fn null_has_one_form() {
    // As in JSON, `Some(None)` is written as null and reads back as `None`: the one
    // serde value the format does not tell apart (documented in FORMAT.md).
    let nested: Option<Option<u8>> = Some(None);
    let bytes = snapshot_codec::to_vec(&nested).expect("encodes");
    let back: Option<Option<u8>> = snapshot_codec::from_slice(&bytes).expect("decodes");
    assert_eq!(back, None);
}
