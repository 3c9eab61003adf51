//! The serde paths: typed structs in and out, mixing with `Value`, schema evolution.

mod common;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize, Serializer, ser::SerializeSeq};
use snapshot_codec::{Compression, EncodeOptions, Error, Ext, Value, value};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Address {
    street: String,
    city: String,
    zip: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct User {
    id: u64,
    name: String,
    email: String,
    age: u8,
    active: bool,
    score: f64,
    tags: Vec<String>,
    address: Address,
    created_at: String,
}

fn user(i: u64) -> User {
    User {
        id: i,
        name: format!("User {i}"),
        email: format!("user{i}@example.com"),
        age: (18 + (i * 7) % 60) as u8,
        active: !i.is_multiple_of(3),
        score: (i as f64) * 1.25 % 100.0,
        tags: vec![
            "customer".into(),
            if i.is_multiple_of(2) {
                "premium"
            } else {
                "basic"
            }
            .into(),
        ],
        address: Address {
            street: format!("{} Main St", i % 1000),
            city: "Springfield".into(),
            zip: format!("{:05}", i % 99999),
        },
        created_at: format!("2024-01-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
    }
}

#[test]
fn structs_round_trip() {
    let users: Vec<User> = (0..1000).map(user).collect();
    let bytes = snapshot_codec::to_vec(&users).expect("serializes");
    let back: Vec<User> = snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(back, users);
    let mut streamed = Vec::new();
    snapshot_codec::to_writer(&mut streamed, &users).expect("streams");
    let back: Vec<User> = snapshot_codec::from_reader(&streamed[..]).expect("reads");
    assert_eq!(back, users);
}

#[test]
fn serde_and_value_read_each_other() {
    let users: Vec<User> = (0..200).map(user).collect();
    let opts = EncodeOptions::new().with_compression(Compression::None);
    let from_structs = opts.to_vec(&users).expect("serializes");
    let from_values = opts.encode(&common::users(200)).expect("encodes");
    // Both write record shapes, at different moments (a struct defines its shape the
    // first time, a `Value` map the second), so the bytes differ; what they hold does not.
    assert_eq!(
        snapshot_codec::decode(&from_structs).expect("decodes"),
        snapshot_codec::decode(&from_values).expect("decodes")
    );
    let back: Vec<User> = snapshot_codec::from_slice(&from_values).expect("deserializes");
    assert_eq!(back, users);
    // Every record after the first costs its values only: version 1 paid one key byte
    // per field (12 with the address), format 2 two bytes per record (and the address).
    let record = |opts: &EncodeOptions| {
        opts.to_vec(&users[..2]).expect("serializes").len()
            - opts.to_vec(&users[..1]).expect("serializes").len()
    };
    let v1 = opts.clone().with_format_version(1).expect("v1");
    assert!(
        record(&opts) + 8 <= record(&v1),
        "{} vs {}",
        record(&opts),
        record(&v1)
    );
    let dynamic = snapshot_codec::decode(&from_structs).expect("decodes");
    assert_eq!(dynamic[3]["address"]["city"].as_str(), Some("Springfield"));
    assert_eq!(dynamic[3]["age"].as_u64(), Some(u64::from(user(3).age)));
}

#[test]
fn a_value_reads_back_as_a_struct() {
    let v = value!({"street": "1 Main St", "city": "Springfield", "zip": "00001"});
    let bytes = snapshot_codec::encode(&v).expect("encodes");
    let a: Address = snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(a.city, "Springfield");
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct SessionV1 {
    user: String,
    visits: u32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct SessionV2 {
    user: String,
    visits: u32,
    #[serde(default)]
    theme: Option<String>,
    #[serde(default = "default_limit")]
    limit: u16,
}

fn default_limit() -> u16 {
    10
}

#[test]
fn new_fields_with_defaults_read_old_snapshots() {
    let old = snapshot_codec::to_vec(&SessionV1 {
        user: "ada".into(),
        visits: 3,
    })
    .expect("serializes");
    let new: SessionV2 = snapshot_codec::from_slice(&old).expect("deserializes");
    assert_eq!(
        new,
        SessionV2 {
            user: "ada".into(),
            visits: 3,
            theme: None,
            limit: 10
        }
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let newer = SessionV2 {
        user: "ada".into(),
        visits: 3,
        theme: Some("dark".into()),
        limit: 4,
    };
    let bytes = snapshot_codec::to_vec(&newer).expect("serializes");
    let old: SessionV1 = snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(
        old,
        SessionV1 {
            user: "ada".into(),
            visits: 3
        }
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Event {
    Started,
    Moved(i32, i32),
    Renamed(String),
    Scored { points: u64, bonus: bool },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Everything {
    unit: (),
    tuple: (u8, i64, f32),
    option_none: Option<u32>,
    option_some: Option<u32>,
    events: Vec<Event>,
    bytes: serde_bytes_like::Bytes,
    int_keys: BTreeMap<u32, String>,
    neg_keys: HashMap<i64, bool>,
    ch: char,
    big: u128,
    small: i128,
    nested: Vec<Vec<Option<bool>>>,
    dynamic: Value,
}

/// `Vec<u8>` written as a byte string rather than a list of numbers.
mod serde_bytes_like {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Debug, PartialEq)]
    pub struct Bytes(pub Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[test]
fn the_whole_serde_data_model_round_trips() {
    let original = Everything {
        unit: (),
        tuple: (7, -9_000_000_000, 1.5),
        option_none: None,
        option_some: Some(4),
        events: vec![
            Event::Started,
            Event::Moved(-1, 2),
            Event::Renamed("x".into()),
            Event::Scored {
                points: 10,
                bonus: true,
            },
        ],
        bytes: serde_bytes_like::Bytes(vec![0, 255, 7]),
        int_keys: [(1, "one".to_string()), (20, "twenty".to_string())].into(),
        neg_keys: [(-5, true)].into(),
        ch: 'é',
        big: u128::from(u64::MAX),
        small: i128::from(i64::MIN),
        nested: vec![vec![Some(true), None], vec![]],
        dynamic: value!({"any": [1, "thing", (Value::from(Ext::new(300, vec![1])))]}),
    };
    let bytes = snapshot_codec::to_vec(&original).expect("serializes");
    let back: Everything = snapshot_codec::from_slice(&bytes).expect("deserializes");
    assert_eq!(back, original);
    let dynamic = snapshot_codec::decode(&bytes).expect("decodes");
    // Integer keys stay integers (format 2).
    assert_eq!(
        dynamic["int_keys"].get(20).and_then(Value::as_str),
        Some("twenty")
    );
    assert_eq!(dynamic["events"][3]["Scored"]["points"].as_u64(), Some(10));
    assert_eq!(
        dynamic["dynamic"]["any"][2].as_ext().map(Ext::type_id),
        Some(300)
    );
}

#[test]
fn out_of_range_integers_are_errors() {
    assert!(matches!(
        snapshot_codec::to_vec(&u128::MAX),
        Err(Error::IntegerOutOfRange { .. })
    ));
    let bytes = snapshot_codec::to_vec(&300u32).expect("serializes");
    assert!(matches!(
        snapshot_codec::from_slice::<u8>(&bytes),
        Err(Error::Message(_))
    ));
    let bytes = snapshot_codec::to_vec(&-1i32).expect("serializes");
    assert!(snapshot_codec::from_slice::<u64>(&bytes).is_err());
}

#[test]
fn non_string_map_keys_are_refused_clearly() {
    let m: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert!(matches!(
        snapshot_codec::to_vec(&m),
        Err(Error::KeyMustBeString { found: "tuple" })
    ));
}

/// A sequence whose length is not known until it has been written.
struct Unsized(Vec<u32>);

impl Serialize for Unsized {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for x in &self.0 {
            seq.serialize_element(&value!({"x": (*x)}))?;
        }
        seq.end()
    }
}

#[test]
fn sequences_of_unknown_length_are_written_with_their_length() {
    let opts = EncodeOptions::new().with_compression(Compression::None);
    let bytes = opts.to_vec(&Unsized(vec![1, 2, 3])).expect("serializes");
    let known = opts
        .encode(&value!([{"x": 1}, {"x": 2}, {"x": 3}]))
        .expect("encodes");
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes"),
        snapshot_codec::decode(&known).expect("decodes")
    );
    // Flattened structs serialize as maps of unknown length.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Outer {
        a: u8,
        #[serde(flatten)]
        inner: SessionV1,
    }
    let o = Outer {
        a: 1,
        inner: SessionV1 {
            user: "u".into(),
            visits: 2,
        },
    };
    let bytes = snapshot_codec::to_vec(&o).expect("serializes");
    assert_eq!(
        snapshot_codec::from_slice::<Outer>(&bytes).expect("deserializes"),
        o
    );
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes")["visits"].as_u64(),
        Some(2)
    );
}

#[test]
fn type_mismatches_are_errors_not_panics() {
    let bytes = snapshot_codec::encode(&value!({"user": 5, "visits": "many"})).expect("encodes");
    let err = snapshot_codec::from_slice::<SessionV1>(&bytes).unwrap_err();
    assert!(matches!(err, Error::Message(_)), "{err:?}");
    let bytes = snapshot_codec::encode(&value!([1, 2, 3])).expect("encodes");
    assert!(snapshot_codec::from_slice::<(u8, u8)>(&bytes).is_err());
}
