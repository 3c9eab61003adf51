//! Peak resident memory of dumping and of loading a state whose encoded size is 256 MiB,
//! against that size. Run as `memory DIR` (it runs its two halves as child processes so
//! each peak is measured alone) and prints a markdown table.

use snapshot_state::Order;
use snapshot_state::{Compression, Lookup, SnapshotManager, Value};
use snapshot_store_fs::FsStore;

const STRINGS: usize = 16 * 1024;
const STRING_LEN: usize = 16 * 1024;

use snapshot_bench::proc_status as status;

fn state() -> Value {
    let mut rng = snapshot_bench::Rng::new(7);
    (0..STRINGS)
        .map(|_| {
            Value::String(
                (0..STRING_LEN)
                    .map(|_| (b'a' + rng.below(26) as u8) as char)
                    .collect(),
            )
        })
        .collect()
}

/// The memory a decoded state holds: resident memory after the decode minus before
/// (the encoded bytes already read), in a fresh process.
fn tree(mode: &str, file: &str) {
    let bytes = std::fs::read(file).expect("read");
    let before = status("VmRSS:");
    if mode == "typed" {
        let users: Vec<snapshot_bench::User> =
            snapshot_state::codec::from_slice(&bytes).expect("decodes");
        println!("{} {} {}", before, status("VmRSS:"), bytes.len());
        drop(std::hint::black_box(users));
    } else {
        let value = snapshot_state::codec::decode(&bytes).expect("decodes");
        println!("{} {} {}", before, status("VmRSS:"), bytes.len());
        drop(std::hint::black_box(value));
    }
}

fn child(mode: &str, dir: &str) {
    if mode == "typed" || mode == "value" {
        return tree(mode, dir);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let manager = SnapshotManager::new(FsStore::create(dir).expect("store"))
        .with_compression(Compression::None);
    rt.block_on(async {
        match mode {
            "dump" => {
                let state = state();
                let before = status("VmRSS:");
                let info = manager.dump(&state).await.expect("dump");
                println!("{} {} {}", before, status("VmHWM:"), info.size);
            }
            _ => {
                let before = status("VmRSS:");
                let value = manager
                    .load::<Value>(Lookup::Latest)
                    .await
                    .expect("load")
                    .expect("a snapshot");
                let size = manager.list(Order::NewestFirst).await.expect("list")[0].size;
                println!("{} {} {}", before, status("VmHWM:"), size);
                drop(value);
            }
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 {
        return child(&args[1], &args[2]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf-8").to_owned();
    let exe = std::env::current_exe().expect("exe");
    let run = |mode: &str| -> (f64, f64, f64) {
        let out = std::process::Command::new(&exe)
            .args([mode, &path])
            .output()
            .expect("child");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let v: Vec<f64> = text
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        (v[0], v[1], v[2])
    };
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "| operation | encoded MiB | RSS before MiB | peak RSS MiB | peak − before, in encoded sizes |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (before, peak, size) = run("dump");
    println!(
        "| dump (state already in memory) | {:.0} | {:.0} | {:.0} | {:.2} |",
        mib(size),
        mib(before),
        mib(peak),
        (peak - before) / size
    );
    let (before, peak, size) = run("load");
    println!(
        "| load (the decoded state is part of the peak) | {:.0} | {:.0} | {:.0} | {:.2} |",
        mib(size),
        mib(before),
        mib(peak),
        (peak - before) / size
    );
    // A loaded `Value` tree against the typed state it came from.
    let users = dir.path().join("users.snap");
    let bytes = snapshot_state::codec::to_vec(&snapshot_bench::users(200_000)).expect("encodes");
    std::fs::write(&users, &bytes).expect("write");
    let users = users.to_str().expect("utf-8").to_owned();
    let held = |mode: &str| -> f64 {
        let out = std::process::Command::new(&exe)
            .args([mode, &users])
            .output()
            .expect("child");
        assert!(out.status.success(), "{mode}");
        let v: Vec<f64> = String::from_utf8(out.stdout)
            .expect("utf-8")
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        v[1] - v[0]
    };
    let (typed, value) = (held("typed"), held("value"));
    println!(
        "\nA decoded state's resident memory, `users` × 200,000 ({:.0} MiB encoded): as `Vec<User>` \
         {:.0} MiB, as a `Value` tree {:.0} MiB, {:.2}x the typed state.",
        mib(bytes.len() as f64),
        mib(typed),
        mib(value),
        value / typed
    );
}
