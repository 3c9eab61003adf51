//! The manager's operations appear as `tracing` spans an application can see.

use std::sync::{Arc, Mutex};

use snapshot_codec::{Value, value};
use snapshot_store::{Lookup, MemoryStore, Order, RetentionPolicy, SnapshotManager};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the name and fields of every span opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

struct FieldText<'a>(&'a mut String);

impl tracing::field::Visit for FieldText<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = span.metadata().name().to_owned();
        span.record(&mut FieldText(&mut text));
        let mut spans = self.0.lock().expect("lock");
        spans.push(text);
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().expect("lock");
        if let Some(text) = spans.get_mut(id.into_u64() as usize - 1) {
            values.record(&mut FieldText(text));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn dump_load_list_delete_and_retention_are_spans_with_key_and_bytes() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(spans.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let manager = SnapshotManager::new(MemoryStore::new())
            .with_retention(RetentionPolicy::new().keep_last(1));
        let first = manager.dump(&value!({"a": 1})).await.expect("dump");
        let second = manager.dump(&value!({"a": 2})).await.expect("dump");
        assert_eq!(second.removed(), [first.key]);
        manager
            .load::<Value>(Lookup::Latest)
            .await
            .expect("load")
            .expect("a snapshot");
        manager.list(Order::NewestFirst).await.expect("list");
        manager.delete(second.key).await.expect("delete");
    });
    let seen = spans.0.lock().expect("lock").clone();
    let has = |name: &str, needles: &[&str]| {
        seen.iter()
            .any(|s| s.starts_with(name) && needles.iter().all(|n| s.contains(n)))
    };
    let key = |k: &snapshot_store::SnapshotKey| format!("key={k}");
    assert!(has("snapshot.dump", &["bytes="]), "{seen:#?}");
    assert!(has("snapshot.put", &["bytes="]), "{seen:#?}");
    assert!(has("snapshot.load", &["bytes=", "key="]), "{seen:#?}");
    assert!(has("snapshot.get", &[]), "{seen:#?}");
    assert!(has("snapshot.list", &[]), "{seen:#?}");
    assert!(has("snapshot.retention", &["removed=1"]), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|s| s.starts_with("snapshot.delete") && s.contains(&key(&seen_key(&seen)))),
        "{seen:#?}"
    );
}

/// The key of the last dump, as its span recorded it.
fn seen_key(seen: &[String]) -> snapshot_store::SnapshotKey {
    let dump = seen
        .iter()
        .rev()
        .find(|s| s.starts_with("snapshot.dump"))
        .expect("a dump span");
    let at = dump.find("key=").expect("the dump recorded its key") + 4;
    dump[at..at + snapshot_store::KEY_LEN]
        .parse()
        .expect("a key")
}
