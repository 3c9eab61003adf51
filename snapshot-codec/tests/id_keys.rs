//! Maps keyed by ids: after 64 keys that were nearly all new, a map writes its new keys
//! outside the key table, and after 256 more in a row stops looking them up. Whatever
//! way each key was written, the snapshot round-trips, the table keeps room for names
//! that come later, and a repeated key is refused even when it was written once
//! literally and once (after a nested map entered it into the table) as a reference.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use snapshot_codec::{Compression, EncodeOptions, Error, Value};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Profile {
    name: String,
    visits: u32,
}

fn ids(n: usize) -> BTreeMap<String, Profile> {
    (0..n)
        .map(|i| {
            (
                format!("user_{}", 10_000_019 * (i as u64 + 1) % 99_999_989),
                Profile {
                    name: format!("n{i}"),
                    visits: i as u32,
                },
            )
        })
        .collect()
}

fn plain() -> EncodeOptions {
    EncodeOptions::new().with_compression(Compression::None)
}

#[test]
fn maps_keyed_by_ids_round_trip_on_every_path() {
    for n in [10, 63, 64, 65, 300, 321, 5_000] {
        let map = ids(n);
        let bytes = plain().to_vec(&map).expect("encodes");
        let back: BTreeMap<String, Profile> = snapshot_codec::from_slice(&bytes).expect("decodes");
        assert_eq!(back, map, "{n} ids through serde");
        let mut streamed = Vec::new();
        plain().to_writer(&mut streamed, &map).expect("streams");
        let back: BTreeMap<String, Profile> =
            snapshot_codec::from_reader(&streamed[..]).expect("reads");
        assert_eq!(back, map, "{n} ids streamed");
        let value: Value = snapshot_codec::decode(&bytes).expect("as a value");
        let again = plain().encode(&value).expect("value encodes");
        assert_eq!(
            snapshot_codec::decode(&again).expect("value decodes"),
            value,
            "{n} ids as a Value"
        );
    }
}

#[test]
fn names_after_a_map_of_ids_still_enter_the_table() {
    // 5,000 ids, then 2,000 maps with keys never seen before: the keys are still
    // interned (the ids did not fill the 4,096-entry table), so each map costs what it
    // costs without the ids before it.
    #[derive(Serialize)]
    struct Both<'a> {
        ids: &'a BTreeMap<String, Profile>,
        late: Vec<BTreeMap<&'static str, u32>>,
    }
    let map = ids(5_000);
    let late = || {
        (0..2_000)
            .map(|i| BTreeMap::from([("a_key_seen_late", i), ("another_late_key", i)]))
            .collect::<Vec<_>>()
    };
    let alone = plain().to_vec(&late()).expect("encodes").len();
    let ids_only = plain().to_vec(&map).expect("encodes").len();
    let both = plain()
        .to_vec(&Both {
            ids: &map,
            late: late(),
        })
        .expect("encodes")
        .len();
    let late_cost = both - ids_only;
    assert!(
        late_cost < alone + 64,
        "maps after the ids cost {late_cost} bytes, alone {alone}"
    );
}

/// A map of `ids` keys, then `key`, whose value is a map that enters `key` into the key
/// table, then `key` again.
struct Repeats {
    ids: usize,
    key: &'static str,
}

impl Serialize for Repeats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for i in 0..self.ids {
            map.serialize_entry(&format!("id-{i:06}"), &i)?;
        }
        map.serialize_entry(self.key, &BTreeMap::from([(self.key, 1)]))?;
        map.serialize_entry("filler", &0)?;
        map.serialize_entry(self.key, &2)?;
        map.end()
    }
}

#[test]
fn a_key_written_both_ways_is_still_a_duplicate() {
    // 100 ids: new keys literal, still looked up; 700: past the blind point too.
    for ids in [100, 700] {
        for key in ["late-key", "id-000003"] {
            let err = plain()
                .to_vec(&Repeats { ids, key })
                .expect_err("a repeated key");
            assert!(
                matches!(&err, Error::DuplicateKey { key: k, .. } if k == key),
                "{ids} ids, {key}: {err:?}"
            );
            let mut sink = Vec::new();
            assert!(
                matches!(
                    plain().to_writer(&mut sink, &Repeats { ids, key }),
                    Err(Error::DuplicateKey { .. })
                ),
                "{ids} ids, {key}: streamed"
            );
        }
    }
}

#[test]
fn struct_field_names_repeated_in_a_map_of_ids_are_duplicates() {
    // The field names sit in the table (index < 64, checked by bit mask until the map
    // turns to text identities); the map repeats one after 200 ids.
    struct Mixed;
    impl Serialize for Mixed {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry(
                "name",
                &Profile {
                    name: "x".into(),
                    visits: 1,
                },
            )?;
            for i in 0..200 {
                map.serialize_entry(&format!("id-{i:06}"), &i)?;
            }
            map.serialize_entry("visits", &1)?;
            map.serialize_entry("name", &2)?;
            map.end()
        }
    }
    let err = plain().to_vec(&Mixed).expect_err("\"name\" twice");
    assert!(
        matches!(&err, Error::DuplicateKey { key, .. } if key == "name"),
        "{err:?}"
    );
}

#[test]
fn errors_deep_in_a_map_of_ids_name_the_id() {
    // A value that repeats a key, under one id among 700 (past the blind point): the
    // error's path names that id.
    struct Bad;
    impl Serialize for Bad {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("x", &1)?;
            map.serialize_entry("x", &2)?;
            map.end()
        }
    }
    enum Entry {
        Good(usize),
        Bad,
    }
    impl Serialize for Entry {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Entry::Good(i) => s.serialize_u64(*i as u64),
                Entry::Bad => Bad.serialize(s),
            }
        }
    }
    for bad_at in [10, 100, 650] {
        let map: BTreeMap<String, Entry> = (0..700)
            .map(|i| {
                let entry = if i == bad_at {
                    Entry::Bad
                } else {
                    Entry::Good(i)
                };
                (format!("id-{i:06}"), entry)
            })
            .collect();
        let err = plain().to_vec(&map).expect_err("a repeated key inside");
        let want = format!("id-{bad_at:06}");
        assert!(
            matches!(&err, Error::DuplicateKey { key, path } if key == "x" && path.contains(&want)),
            "{bad_at}: {err:?}"
        );
    }
}
