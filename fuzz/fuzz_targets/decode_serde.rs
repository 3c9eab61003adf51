//! Arbitrary bytes deserialized through serde into a typical application struct, both
//! as a whole snapshot and as the body of a correctly checksummed one: a value or an
//! error, never a panic.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;
use shared::frame;
use serde::{Deserialize, Serialize};
use snapshot_codec::DecodeOptions;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Status {
    Active,
    Suspended { reason: String },
    Banned(u32),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Account {
    id: u64,
    name: String,
    balance: f64,
    tags: Vec<String>,
    limits: std::collections::BTreeMap<String, i32>,
    status: Status,
    parent: Option<Box<Account>>,
    raw: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    // The default size limit (1 GiB) under a 256 MiB memory budget: bombs must be
    // refused by the budget, well inside the fuzzer's RSS limit.
    let opts = DecodeOptions::new().with_max_memory(256 << 20);
    let _ = opts.from_slice::<Account>(data);
    let framed = frame(data, 0);
    if let Ok(account) = opts.from_slice::<Account>(&framed) {
        // Whatever deserializes serializes and reads back the same.
        let again = snapshot_codec::to_vec(&account).expect("serializes");
        let back: Account = snapshot_codec::from_slice(&again).expect("reads back");
        assert!(back == account || account.balance.is_nan());
    }
    let _ = opts.from_reader::<_, Account>(&framed[..]);
});
