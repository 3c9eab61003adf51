//! The streaming diff gives the in-memory diff's answer, on every encoding.

use proptest::prelude::*;
use serde::Serialize;
use snapshot_codec::{Array, Compression, DecodeOptions, EncodeOptions, Map, Value, diff, value};

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(0.5f64), Just(f64::NAN), any::<f64>()].prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        proptest::collection::vec(-2.0f32..2.0, 0..40).prop_map(|v| Value::Array(Array::F32(v))),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(("[a-d]{1}", inner), 0..6)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
}

/// `value` changed in a few places chosen by `choices` (so the two share most paths).
fn mutate(value: &Value, choices: &mut impl Iterator<Item = u8>) -> Value {
    let pick = choices.next().unwrap_or(0);
    match value {
        Value::Map(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                match choices.next().unwrap_or(0) % 8 {
                    0 => {} // removed
                    1 => {
                        out.insert(k.clone(), value!("changed"));
                    }
                    _ => {
                        out.insert(k.clone(), mutate(v, choices));
                    }
                }
            }
            if pick.is_multiple_of(5) {
                out.insert("new", value!(1));
            }
            Value::Map(out)
        }
        Value::List(items) => {
            let mut out: Vec<Value> = items.iter().map(|v| mutate(v, choices)).collect();
            match pick % 4 {
                0 => out.push(value!(7)),
                1 => {
                    out.pop();
                }
                _ => {}
            }
            Value::List(out)
        }
        Value::Array(Array::F32(v)) if pick.is_multiple_of(3) && !v.is_empty() => {
            let mut v = v.clone();
            v[0] += 1.0;
            Value::Array(Array::F32(v))
        }
        Value::Int(_) if pick.is_multiple_of(3) => value!(99),
        other => other.clone(),
    }
}

fn options(which: u8) -> EncodeOptions {
    match which % 4 {
        0 => EncodeOptions::new(),
        1 => EncodeOptions::new().with_compression(Compression::Zstd { level: 1 }),
        2 => EncodeOptions::new().with_compression(Compression::Lz4),
        _ => EncodeOptions::new().with_format_version(1).expect("v1"),
    }
}

fn streamed(a: &[u8], b: &[u8]) -> snapshot_codec::Diff {
    DecodeOptions::new()
        .diff_from_readers(a, b)
        .expect("both intact")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn streamed_equals_in_memory(old in arb_value(), other in arb_value(),
                                 choices in proptest::collection::vec(any::<u8>(), 64),
                                 independent in any::<bool>(), fa in any::<u8>(), fb in any::<u8>()) {
        let new = if independent { other } else { mutate(&old, &mut choices.into_iter()) };
        let (Ok(a), Ok(b)) = (options(fa).encode(&old), options(fb).encode(&new)) else {
            return Ok(()); // e.g. version 1 cannot hold a typed array's f32s as they are
        };
        // What each side decodes to is what the in-memory diff compares.
        let (old, new) = (snapshot_codec::decode(&a).expect("a"), snapshot_codec::decode(&b).expect("b"));
        prop_assert_eq!(format!("{:?}", streamed(&a, &b)), format!("{:?}", diff(&old, &new)));
    }
}

#[derive(Serialize)]
struct User {
    id: u32,
    name: String,
    tags: Vec<String>,
}

#[test]
fn records_written_through_serde_stream_side_by_side() {
    let users = |n: u32, renamed: u32| -> Vec<User> {
        (0..n)
            .map(|id| User {
                id,
                name: if id == renamed {
                    "renamed".into()
                } else {
                    format!("u{id}")
                },
                tags: vec!["a".into()],
            })
            .collect()
    };
    let a = snapshot_codec::to_vec(&users(500, u32::MAX)).expect("a");
    let b = snapshot_codec::to_vec(&users(501, 7)).expect("b");
    let d = streamed(&a, &b);
    let lines: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        ["~ /7/name: \"u7\" -> \"renamed\"", "+ /500: map of 3"]
    );
    assert_eq!(d.unchanged, 500 * 3 - 1);
}

#[test]
fn keys_in_another_order_still_compare() {
    let a = snapshot_codec::encode(&value!({"x": 1, "y": {"p": 1, "q": 2}, "z": 3})).expect("a");
    let b = snapshot_codec::encode(&value!({"x": 1, "z": 4, "y": {"q": 2, "p": 0}})).expect("b");
    let d = streamed(&a, &b);
    let lines: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines, ["~ /y/p: 1 -> 0", "~ /z: 3 -> 4"]);
}

#[test]
fn a_damaged_side_is_an_error() {
    let a = snapshot_codec::encode(&value!({"x": [1, 2, 3]})).expect("a");
    let mut b = a.clone();
    b.truncate(a.len() - 1);
    assert!(
        DecodeOptions::new()
            .diff_from_readers(&a[..], &b[..])
            .is_err()
    );
    assert!(
        DecodeOptions::new()
            .diff_from_readers(&b[..], &a[..])
            .is_err()
    );
    let mut flipped = a.clone();
    let at = a.len() - 9;
    flipped[at] ^= 1;
    assert!(
        DecodeOptions::new()
            .diff_from_readers(&a[..], &flipped[..])
            .is_err()
    );
}
