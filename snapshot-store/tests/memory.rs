//! MemoryStore runs the whole conformance suite: one test per behaviour on a fresh
//! store, and the whole suite once more through a boxed trait object.

use std::sync::Arc;

use snapshot_store::conformance::{self, DynStore};
use snapshot_store::{MemoryStore, SnapshotStore};

fn store() -> (DynStore, Arc<MemoryStore>) {
    let memory = Arc::new(MemoryStore::new());
    (memory.clone(), memory)
}

macro_rules! behaviours {
    ($($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            conformance::$name(store().0).await;
        }
    )*};
}

snapshot_store::for_each_store_behaviour!(behaviours);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_objects_are_ignored() {
    let (dynamic, memory) = store();
    conformance::foreign_objects_are_ignored(dynamic, memory.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_through_a_boxed_trait_object() {
    let memory = Arc::new(MemoryStore::new());
    let boxed: Box<dyn SnapshotStore> = Box::new(memory.clone());
    conformance::run_all(Arc::new(boxed), memory.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_writers_pruner_and_readers() {
    let report = conformance::soak(store().0, std::time::Duration::from_secs(3)).await;
    println!("{report:?}");
    assert!(
        report.dumps > 100 && report.loads > 0 && report.prune_passes > 10,
        "{report:?}"
    );
}
