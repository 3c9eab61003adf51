//! The metrics a manager records, read back through a recorder (the only test in this
//! binary: the recorder is process-wide).

use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

type Metrics = Vec<(
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;
use snapshot_codec::{Value, value};
use snapshot_store::metrics as m;
use snapshot_store::{
    DumpOptions, Lookup, MemoryStore, RetentionPolicy, SnapshotManager, SnapshotStore,
};

/// The value of counter `name` with `labels` (0 when never recorded).
fn counter(snapshot: &Metrics, name: &str, labels: &[(&str, &str)]) -> u64 {
    snapshot
        .iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let same_labels = key.labels().count() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v));
            match value {
                DebugValue::Counter(n) if key.name() == name && same_labels => Some(*n),
                _ => None,
            }
        })
        .unwrap_or(0)
}

fn histogram_len(snapshot: &Metrics, name: &str) -> usize {
    snapshot
        .iter()
        .find_map(|(key, _, _, value)| match value {
            DebugValue::Histogram(v) if key.key().name() == name => Some(v.len()),
            _ => None,
        })
        .unwrap_or(0)
}

/// A state whose serialization fails.
struct Unencodable;

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not today"))
    }
}

#[test]
fn dumps_loads_deletes_and_retention_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let manager = SnapshotManager::new(MemoryStore::new())
            .with_retention(RetentionPolicy::new().keep_last(2));
        let mut stored = 0;
        for i in 0..4 {
            let at = format!("2024-01-15_10-00-0{i}-000000");
            let info = manager
                .dump_with(
                    &value!({"i": i}),
                    &DumpOptions::new().at(at.as_str()).expect("time"),
                )
                .await
                .expect("dump");
            stored += info.size;
        }
        // A dump that fails: the state cannot be encoded.
        assert!(manager.dump(&Unencodable).await.is_err());

        let loaded = manager
            .load_snapshot::<Value>(Lookup::Latest)
            .await
            .expect("load")
            .expect("one");
        let missing = manager
            .load::<Value>(Lookup::Exact(
                "2020-01-01_00-00-00-000000".parse().expect("key"),
            ))
            .await
            .expect("no error");
        assert!(missing.is_none());
        let bad = "2024-01-15_11-00-00-000000".parse().expect("key");
        manager
            .raw()
            .store()
            .put(bad, bytes::Bytes::from_static(b"torn"))
            .await
            .expect("put");
        assert!(manager.load::<Value>(Lookup::Latest).await.is_err());
        manager.delete(bad).await.expect("delete");

        // One reading: the recorder hands out what changed since the last one.
        let snapshotter = snapshotter.snapshot().into_vec();
        assert_eq!(counter(&snapshotter, m::DUMPS, &[("outcome", "ok")]), 4);
        assert_eq!(counter(&snapshotter, m::DUMPS, &[("outcome", "error")]), 1);
        assert_eq!(counter(&snapshotter, m::DUMP_BYTES, &[]), stored);
        assert_eq!(histogram_len(&snapshotter, m::DUMP_SECONDS), 4);
        assert_eq!(counter(&snapshotter, m::LOADS, &[("outcome", "ok")]), 1);
        assert_eq!(
            counter(&snapshotter, m::LOADS, &[("outcome", "missing")]),
            1
        );
        assert_eq!(counter(&snapshotter, m::LOADS, &[("outcome", "error")]), 1);
        assert_eq!(counter(&snapshotter, m::LOAD_BYTES, &[]), loaded.meta.size);
        assert_eq!(histogram_len(&snapshotter, m::LOAD_SECONDS), 1);
        assert_eq!(counter(&snapshotter, m::DELETES, &[]), 1);
        // Retention ran after each of the four dumps and removed the two oldest.
        assert_eq!(
            counter(&snapshotter, m::RETENTION_RUNS, &[("outcome", "ok")]),
            4
        );
        assert_eq!(counter(&snapshotter, m::RETENTION_REMOVED, &[]), 2);
    });
}
