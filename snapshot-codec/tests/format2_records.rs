//! Format 2's maps and records: integer keys keep their type, records share their
//! field names, fields that leave a shape, hostile shapes, and nesting at the limit.

mod common;

use common::{all_ways, compressions, opts_decode};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Error, Metadata, Value, value};
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
