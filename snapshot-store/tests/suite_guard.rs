//! The conformance suite deletes every snapshot it finds, so it refuses a store that
//! holds snapshots it did not write, unless told it may clear it.

use std::sync::Arc;

use snapshot_codec::value;
use snapshot_store::conformance::{self, DynStore};
use snapshot_store::{MemoryStore, Order, SnapshotManager};

#[tokio::test(flavor = "multi_thread")]
async fn the_suite_refuses_a_store_it_did_not_fill_unless_allowed() {
    let store: DynStore = Arc::new(MemoryStore::new());
    let manager = SnapshotManager::new(store.clone());
    manager
        .dump(&value!({"precious": true}))
        .await
        .expect("dump");

    let refused = tokio::spawn(conformance::create_only(store.clone()))
        .await
        .expect_err("the suite must refuse");
    let message = refused.into_panic();
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("refusing to run the conformance suite"),
        "{text}"
    );
    assert_eq!(
        manager.list(Order::NewestFirst).await.expect("list").len(),
        1,
        "nothing was deleted"
    );

    conformance::allow_clearing(&store);
    conformance::create_only(store.clone()).await;

    // A store the suite found empty stays usable for the next behaviour, although the
    // previous one left snapshots in it.
    let fresh: DynStore = Arc::new(MemoryStore::new());
    conformance::create_only(fresh.clone()).await;
    conformance::list_orders(fresh).await;
}
