//! A dump that returns `Ok` is a snapshot that loads: states the format cannot hold are
//! refused before anything is stored.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use snapshot_codec::{Ext, ExtType, Value, value};
use snapshot_store::Order;
use snapshot_store::{Error, Lookup, MemoryStore, SnapshotManager};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct WithExtra {
    a: i32,
    #[serde(flatten)]
    extra: HashMap<String, i32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(untagged)]
enum Key {
    I(i64),
    S(String),
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[test]
fn states_with_a_repeated_key_are_refused_and_nothing_is_stored() {
    rt().block_on(async {
        let manager = SnapshotManager::new(MemoryStore::new());
        let flattened = WithExtra {
            a: 1,
            extra: HashMap::from([("a".into(), 2)]),
        };
        let err = manager.dump(&flattened).await.expect_err("refused");
        assert!(
            matches!(&err, Error::Codec(snapshot_codec::Error::DuplicateKey { key, path }) if key == "a" && path == ".a"),
            "{err}"
        );
        assert!(manager.list(Order::NewestFirst).await.expect("list").is_empty());
        assert!(manager.load_newest_valid::<Value>().await.expect("reads").is_none());
        // Format 2 keeps integer keys: 1 and "1" are two keys, stored and loaded as such.
        let untagged = BTreeMap::from([(Key::I(1), 1), (Key::S("1".into()), 2)]);
        manager.dump(&untagged).await.expect("two different keys");
        let back: Option<BTreeMap<Key, i32>> = manager.load(Lookup::Latest).await.expect("loads");
        assert_eq!(back, Some(untagged));
        manager.raw().delete_all().await.expect("clean");

        // The same types without a collision dump, load and verify.
        let fine = WithExtra {
            a: 1,
            extra: HashMap::from([("b".into(), 2)]),
        };
        manager.dump(&fine).await.expect("stored");
        let back: Option<WithExtra> = manager.load(Lookup::Latest).await.expect("loads");
        assert_eq!(back, Some(fine));
        assert!(manager.verify().await.expect("verify").bad.is_empty());
    });
}

struct Positive;
impl ExtType for Positive {
    const TYPE_ID: u64 = 90;
    const NAME: &'static str = "positive";
    fn to_payload(&self, out: &mut Vec<u8>) {
        out.push(1);
    }
    fn from_payload(data: &[u8]) -> Result<Self, String> {
        match data {
            [n] if *n > 0 => Ok(Positive),
            _ => Err("one non-zero byte".into()),
        }
    }
}

#[test]
fn payloads_the_manager_would_refuse_to_load_are_refused_at_dump() {
    rt().block_on(async {
        let mut types = snapshot_codec::Registry::new();
        types.register::<Positive>().expect("registers");
        let manager = SnapshotManager::new(MemoryStore::new()).with_registry(types);
        let bad = value!({"p": Value::from(Ext::new(90, vec![0]))});
        let err = manager.dump(&bad).await.expect_err("refused");
        assert!(
            matches!(
                err,
                Error::Codec(snapshot_codec::Error::InvalidExtension { type_id: 90, .. })
            ),
            "{err}"
        );
        assert!(
            manager
                .list(Order::NewestFirst)
                .await
                .expect("list")
                .is_empty()
        );
        let good = value!({"p": Value::from(Ext::new(90, vec![7]))});
        manager.dump(&good).await.expect("stored");
        assert_eq!(
            manager.load::<Value>(Lookup::Latest).await.expect("loads"),
            Some(good)
        );
    });
}
