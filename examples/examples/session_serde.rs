//! Session state with typed structs through serde, including a field added later.

use serde::{Deserialize, Serialize};
use snapshot_state::Value;
use snapshot_state::{Lookup, MemoryStore, SnapshotManager};

/// What version 1 of the service stored.
#[derive(Serialize, Deserialize)]
struct SessionV1 {
    user_id: u64,
    cart: Vec<CartItem>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct CartItem {
    item_id: u32,
    quantity: u16,
    price: f64,
}

/// Version 2 added a field; old snapshots still load thanks to `#[serde(default)]`.
#[derive(Serialize, Deserialize, Debug)]
struct SessionV2 {
    user_id: u64,
    cart: Vec<CartItem>,
    #[serde(default)]
    coupon: Option<String>,
}

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let manager = SnapshotManager::new(MemoryStore::new());
    let cart = vec![CartItem {
        item_id: 1,
        quantity: 2,
        price: 29.99,
    }];
    manager
        .dump(&SessionV1 {
            user_id: 7,
            cart: cart.clone(),
        })
        .await?;

    let session: SessionV2 = manager
        .load(Lookup::Latest)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    assert_eq!(session.cart, cart);
    assert_eq!(session.coupon, None);
    println!("loaded an old session into the new type: {session:?}");

    // The same snapshot read dynamically.
    let dynamic = manager
        .load::<Value>(Lookup::Latest)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    println!(
        "cart total: {}",
        dynamic["cart"][0]["price"].as_f64().unwrap_or(0.0) * 2.0
    );
    Ok(())
}
