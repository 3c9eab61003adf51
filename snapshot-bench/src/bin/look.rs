//! Looking inside a 1 GiB checkpoint: peak resident memory and time of a summary
//! (`snapshot show --summary`), a diff of two such checkpoints (`snapshot diff`), and a
//! full load for comparison. Each runs in a fresh child process, so each peak is its own.
//! Run as `look` (a temporary directory store) or `look DIR`; prints a markdown table.
//!
//! The checkpoint: 240 float32 arrays of 4 MiB (numpy's form, an n-dimensional array
//! extension each, as the Python package writes them), 100,000 small records, a step.
//! The second checkpoint changes 10 arrays, 1,000 records and the step.

use std::time::Instant;

use snapshot_bench::proc_status as status;
use snapshot_state::codec::{DType, Map, NdArray, SummaryOptions};
use snapshot_state::{DumpOptions, Lookup, Order, SnapshotManager, Value, value};
use snapshot_store_fs::FsStore;

const ARRAYS: usize = 240;
const ELEMENTS: usize = 1 << 20;
const RECORDS: usize = 100_000;

fn checkpoint(step: u64) -> Value {
    let mut rng = snapshot_bench::Rng::new(11);
    let mut layers = Map::new();
    for i in 0..ARRAYS {
        let shift = if step > 1 && i % 24 == 0 { 0.001 } else { 0.0 };
        let data: Vec<u8> = (0..ELEMENTS)
            .flat_map(|_| ((rng.below(2000) as f32 - 1000.0) / 1000.0 + shift).to_le_bytes())
            .collect();
        let array = NdArray::new(DType::F32, vec![1024, ELEMENTS / 1024], data).expect("array");
        layers.insert(format!("layer{i:03}"), Value::from_ext(&array));
    }
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            let visits = if step > 1 && i % 100 == 0 { i + 1 } else { i };
            value!({"id": (i as u64), "name": (format!("user-{i}")), "visits": (visits as u64)})
        })
        .collect();
    value!({"step": step, "layers": (Value::Map(layers)), "records": (Value::List(records))})
}

fn child(mode: &str, dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let manager = SnapshotManager::new(FsStore::create(dir).expect("store"));
    rt.block_on(async {
        if mode == "write" {
            for step in [1, 2] {
                let at = format!("2024-01-15_1{step}-00-00-000000");
                let options = DumpOptions::new().at(at.as_str()).expect("time");
                manager
                    .dump_with(&checkpoint(step), &options)
                    .await
                    .expect("dump");
            }
            return;
        }
        let listed = manager.list(Order::OldestFirst).await.expect("list");
        let (old, new) = (listed[0], listed[1]);
        let before = status("VmRSS:");
        let started = Instant::now();
        let detail = match mode {
            "summary" => {
                let summary = manager
                    .raw()
                    .summarize(new.key, &SummaryOptions::new())
                    .await
                    .expect("summary");
                format!("{} paths", summary.to_string().lines().count())
            }
            "diff" => {
                let d = manager.raw().diff(old.key, new.key).await.expect("diff");
                format!("{} changes, {} unchanged", d.changes.len(), d.unchanged)
            }
            _ => {
                let value = manager
                    .load::<Value>(Lookup::Exact(new.key))
                    .await
                    .expect("load")
                    .expect("there");
                format!("{} entries", value.as_map().map_or(0, |m| m.len()))
            }
        };
        let took = started.elapsed().as_secs_f64();
        println!("{before} {} {} {took} {detail}", status("VmHWM:"), new.size);
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 {
        return child(&args[1], &args[2]);
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| temp.path().to_str().expect("utf-8").to_owned());
    let exe = std::env::current_exe().expect("exe");
    let run = |mode: &str| -> String {
        let out = std::process::Command::new(&exe)
            .args([mode, &dir])
            .output()
            .expect("child");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    run("write");
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "| operation (1 GiB checkpoint) | stored MiB | peak RSS − before, MiB | seconds | result |"
    );
    println!("|---|---:|---:|---:|---|");
    for (mode, name) in [
        ("summary", "summary (`show --summary`)"),
        ("diff", "diff of two (`diff`)"),
        ("load", "full load, for comparison"),
    ] {
        let text = run(mode);
        let mut parts = text.split_whitespace();
        let mut num = || {
            parts
                .next()
                .and_then(|x| x.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let (before, peak, size, took) = (num(), num(), num(), num());
        let detail: Vec<&str> = text.split_whitespace().skip(4).collect();
        println!(
            "| {name} | {:.0} | {:.0} | {took:.2} | {} |",
            mib(size),
            mib(peak - before),
            detail.join(" ")
        );
    }
}
