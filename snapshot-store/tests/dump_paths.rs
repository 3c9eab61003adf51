//! Every way a dump can run: streamed under `block_in_place` on a multi-thread runtime's
//! worker, streamed on the thread of `Runtime::block_on` or a `LocalSet` (no panic
//! caught, none printed), encoded in memory on a current-thread runtime, and a state
//! that fails part way through a streamed dump; loads decode off the async workers.

use std::sync::Arc;

use snapshot_store::{Error, Lookup, MemoryStore, Order, SnapshotManager};

/// A state of `strings` strings of 1 MiB that fails after `fail_after` of them, if set.
struct Strings {
    strings: usize,
    fail_after: Option<usize>,
}

impl serde::Serialize for Strings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.strings))?;
        for i in 0..self.strings {
            if self.fail_after == Some(i) {
                return Err(serde::ser::Error::custom("this state gave up part way"));
            }
            let mut text = "0".repeat((1 << 20) - 1);
            text.push_str(&i.to_string());
            seq.serialize_element(&text)?;
        }
        seq.end()
    }
}

fn manager() -> SnapshotManager {
    SnapshotManager::new(MemoryStore::new())
        .with_compression(snapshot_store::snapshot_codec::Compression::None)
}

async fn dumps_and_loads(manager: &SnapshotManager) {
    let info = manager
        .dump(&Strings {
            strings: 6,
            fail_after: None,
        })
        .await
        .expect("dump");
    let back: Vec<String> = manager
        .load(Lookup::Exact(info.key))
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(back.len(), 6);
    assert!(back[5].ends_with('5') && back[5].len() == 1 << 20);
}

#[test]
fn on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(dumps_and_loads(&manager()));
}

#[test]
fn on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(dumps_and_loads(&manager()));
}

/// Counts panics anywhere in this process (a dump that relied on catching tokio's panic
/// would print it and count here).
fn count_panics() -> Arc<std::sync::atomic::AtomicUsize> {
    static COUNT: std::sync::OnceLock<Arc<std::sync::atomic::AtomicUsize>> =
        std::sync::OnceLock::new();
    COUNT
        .get_or_init(|| {
            let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = count.clone();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                previous(info);
            }));
            count
        })
        .clone()
}

/// A type whose decoding notes whether it ran on an async worker thread.
#[derive(Debug)]
struct WhereDecoded(Option<usize>);

impl<'de> serde::Deserialize<'de> for WhereDecoded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let _: serde::de::IgnoredAny = serde::Deserialize::deserialize(d)?;
        Ok(WhereDecoded(tokio::runtime::worker_index()))
    }
}

#[test]
fn small_loads_decode_off_the_async_workers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::spawn(async {
            let manager = manager();
            let info = manager.dump(&vec![1u8, 2, 3]).await.expect("dump");
            assert!(tokio::runtime::worker_index().is_some(), "a worker");
            let found: WhereDecoded = manager
                .load(Lookup::Exact(info.key))
                .await
                .expect("load")
                .expect("stored");
            assert_eq!(found.0, None, "decoded on async worker {:?}", found.0);
        })
        .await
        .expect("task");
    });
}

#[test]
fn in_a_local_set_on_a_multi_thread_runtime() {
    let panics = count_panics();
    let before = panics.load(std::sync::atomic::Ordering::SeqCst);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let manager = manager();
    rt.block_on(local.run_until(async move {
        tokio::task::spawn_local(async move {
            dumps_and_loads(&manager).await;
            manager.list(Order::NewestFirst).await.expect("list").len()
        })
        .await
        .expect("local task")
    }));
    assert_eq!(
        panics.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "a dump in a LocalSet panicked (and caught it)"
    );
}

#[test]
fn a_state_that_fails_part_way_stores_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let manager = SnapshotManager::new(store.clone());
    rt.block_on(async {
        let err = manager
            .dump(&Strings {
                strings: 8,
                fail_after: Some(5),
            })
            .await
            .expect_err("the state failed");
        assert!(
            matches!(&err, Error::Codec(e) if e.to_string().contains("gave up part way")),
            "{err:?}"
        );
        assert!(
            manager
                .list(Order::NewestFirst)
                .await
                .expect("list")
                .is_empty()
        );
    });
}
