//! What encryption adds to a dump and a load of 64 MiB, against the same dump without
//! a key, in the same process: a dump of a state that compresses (user records) and
//! of one that does not (random f64), to a directory (`FsStore`, fsynced) and to
//! memory (`MemoryStore`, where nothing hides the CPU cost). Rounds alternate between
//! the two settings, and each figure is the median. Prints markdown for BENCHMARKS.md.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde::Serialize;
use snapshot_bench::users;
use snapshot_state::{
    EncryptionKey, FsStore, Keyring, Lookup, MemoryStore, SnapshotManager, SnapshotStore, Value,
};

/// Makes a fresh store named by its argument.
type MakeStore<'a> = Box<dyn Fn(&str) -> Box<dyn SnapshotStore> + 'a>;

fn rounds() -> usize {
    if std::env::var_os("SNAPSHOT_BENCH_QUICK").is_some() {
        5
    } else {
        15
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// Median dump and load times of `state` through `plain` and `sealed` (rounds
/// alternating), with the fastest dump of each.
fn measure<T: Serialize + Sync>(
    rt: &tokio::runtime::Runtime,
    plain: &SnapshotManager,
    sealed: &SnapshotManager,
    state: &T,
) -> [Timing; 2] {
    let mut times = [(vec![], vec![], 0u64), (vec![], vec![], 0u64)];
    for _ in 0..rounds() {
        for (i, manager) in [plain, sealed].into_iter().enumerate() {
            let started = Instant::now();
            let info = rt.block_on(manager.dump(state)).expect("dump");
            times[i].0.push(started.elapsed());
            times[i].2 = info.size;
            let started = Instant::now();
            let back: Option<Value> = rt
                .block_on(manager.load(Lookup::Exact(info.key)))
                .expect("load");
            times[i].1.push(started.elapsed());
            assert!(back.is_some());
            rt.block_on(manager.raw().delete_all()).expect("clean");
        }
    }
    times.map(|(d, l, size)| Timing {
        best_dump: d.iter().copied().min().unwrap_or_default(),
        dump: median(d),
        load: median(l),
        size,
    })
}

struct Timing {
    dump: Duration,
    best_dump: Duration,
    load: Duration,
    size: u64,
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir =
        tempfile::tempdir_in(std::env::var("SNAPSHOT_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("tempdir");
    let key = EncryptionKey::generate("bench").expect("key");
    // 64 MiB of each state, encoded uncompressed.
    let records = users(440_000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let floats: Vec<f64> = (0..(8 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            f64::from_bits((x >> 12) | 0x3FF0_0000_0000_0000)
        })
        .collect();
    let mut out = String::from(
        "| state (64 MiB encoded) | store | dump ms | dump ms, encrypted | ÷ | fastest dumps ÷ | load ms | load ms, encrypted | ÷ | stored MiB |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let stores: Vec<(&str, MakeStore)> = vec![
        (
            "directory",
            Box::new(|name: &str| {
                Box::new(FsStore::create(dir.path().join(name)).expect("store"))
                    as Box<dyn SnapshotStore>
            }),
        ),
        (
            "memory",
            Box::new(|_: &str| Box::new(MemoryStore::new()) as Box<dyn SnapshotStore>),
        ),
    ];
    for (store_name, make) in &stores {
        for (state_name, which) in [("user records (compress)", 0), ("random f64 (do not)", 1)] {
            let plain = SnapshotManager::new(make("plain"));
            let sealed =
                SnapshotManager::new(make("sealed")).with_keyring(Keyring::new(key.clone()));
            let [p, e] = match which {
                0 => measure(&rt, &plain, &sealed, &records),
                _ => measure(&rt, &plain, &sealed, &floats),
            };
            out.push_str(&format!(
                "| {state_name} | {store_name} | {} | {} | {:.2} | {:.2} | {} | {} | {:.2} | {:.1} |\n",
                ms(p.dump),
                ms(e.dump),
                e.dump.as_secs_f64() / p.dump.as_secs_f64(),
                e.best_dump.as_secs_f64() / p.best_dump.as_secs_f64(),
                ms(p.load),
                ms(e.load),
                e.load.as_secs_f64() / p.load.as_secs_f64(),
                p.size as f64 / (1 << 20) as f64
            ));
        }
    }
    out.push_str(&cipher_line(&key));
    print!("{out}");
}

/// The cipher alone: encoding 64 MiB of bytes uncompressed, with and without a key.
fn cipher_line(key: &EncryptionKey) -> String {
    use snapshot_state::{Compression, EncodeOptions};
    let blob = Value::Bytes(vec![0x5A; 64 << 20]);
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let sealed = plain.clone().with_encryption(key.clone());
    let time = |opts: &EncodeOptions| {
        median(
            (0..rounds())
                .map(|_| {
                    let started = Instant::now();
                    let bytes = opts.encode(std::hint::black_box(&blob)).expect("encodes");
                    let took = started.elapsed();
                    drop(std::hint::black_box(bytes));
                    took
                })
                .collect(),
        )
    };
    let (p, s) = (time(&plain), time(&sealed));
    let extra = s.saturating_sub(p);
    format!(
        "\nThe cipher alone (64 MiB of bytes encoded uncompressed, in memory): {} ms without a key, \
         {} ms with one: XChaCha20-Poly1305 at {:.2} GB/s on this machine.\n",
        ms(p),
        ms(s),
        (64u64 << 20) as f64 / extra.as_secs_f64() / 1e9
    )
}
