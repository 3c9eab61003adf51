//! Data pipeline checkpoints on S3 or MinIO, written in the background: the loop hands
//! each checkpoint over and goes on with the next batch while it is encoded and
//! uploaded; a run resumes from the latest checkpoint after an interruption, and only
//! the last few checkpoints are kept.
//!
//! Configure the store from the environment, for example for a local MinIO:
//!
//! ```sh
//! export AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
//! export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin
//! export SNAPSHOT_URL=s3://checkpoints/etl/daily
//! cargo run -p snapshot-examples --example pipeline_checkpoints
//! ```
//!
//! Without `SNAPSHOT_URL` it runs against a temporary local directory.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use snapshot_state::{Order, RetentionPolicy, SnapshotManager, WhenBusy};

/// The pipeline's progress.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Checkpoint {
    /// The first batch not yet processed.
    pub next_batch: u64,
    /// Rows processed so far.
    pub rows_done: u64,
    /// One result per processed batch.
    pub totals: Vec<f64>,
    /// The model being trained (a typed array in the snapshot: 4 bytes per weight).
    pub weights: Vec<f32>,
}

/// Processes batches `0..batches`, checkpointing after each; stops after `crash_after`
/// batches if given, as an interrupted run would. Returns the state reached.
pub async fn run_pipeline(
    manager: &SnapshotManager,
    batches: u64,
    crash_after: Option<u64>,
) -> Result<Checkpoint, snapshot_state::Error> {
    // Resume from the newest checkpoint that loads (a damaged newer one is passed over
    // and reported, never fatal), or start fresh on the first run.
    let mut state: Checkpoint = match manager.load_newest_valid().await? {
        Some(recovered) => {
            for skipped in &recovered.skipped {
                eprintln!(
                    "passed over damaged checkpoint {}: {}",
                    skipped.key, skipped.error
                );
            }
            recovered.snapshot.value
        }
        None => Checkpoint {
            weights: vec![0.0; 100_000],
            ..Checkpoint::default()
        },
    };
    println!("starting at batch {}", state.next_batch);
    // One checkpoint in flight at a time; a new one waits for the previous upload
    // (`WhenBusy::Skip` would drop it instead, for loops that must never wait).
    let checkpoints = manager
        .checkpointer()
        .with_max_in_flight(1)
        .with_when_busy(WhenBusy::Wait);
    let mut done_now = 0;
    while state.next_batch < batches {
        if crash_after == Some(done_now) {
            println!("interrupted before batch {}", state.next_batch);
            break;
        }
        state.rows_done += 1000;
        state.totals.push(state.next_batch as f64 * 1.5);
        for (i, w) in state.weights.iter_mut().enumerate() {
            *w += (i % 7) as f32 * 0.001;
        }
        state.next_batch += 1;
        // Hands a copy over and returns; encoding and the upload happen meanwhile, and
        // the retention policy runs after each checkpoint is stored.
        // The handle is dropped: a failure is reported by `flush` below.
        let _started = checkpoints.checkpoint(Arc::new(state.clone())).await;
        done_now += 1;
    }
    // Before the process ends: wait for the checkpoints still being written.
    checkpoints.flush().await?;
    Ok(state)
}

/// An interrupted run, then a resumed one, keeping the last 3 checkpoints.
pub async fn demo(url: &str) -> anyhow::Result<()> {
    let manager =
        snapshot_state::open_or_create(url)?.with_retention(RetentionPolicy::new().keep_last(3));
    let interrupted = run_pipeline(&manager, 10, Some(4)).await?;
    assert_eq!(interrupted.next_batch, 4);

    // A new process picks up where the last checkpoint left off.
    let manager =
        snapshot_state::open_or_create(url)?.with_retention(RetentionPolicy::new().keep_last(3));
    let finished = run_pipeline(&manager, 10, None).await?;
    assert_eq!(finished.next_batch, 10);
    assert_eq!(
        finished.totals.len(),
        10,
        "no batch was done twice or skipped"
    );
    let kept = manager.list(Order::NewestFirst).await?;
    assert_eq!(kept.len(), 3);
    println!(
        "done: {} rows; checkpoints kept: {:?}",
        finished.rows_done,
        kept.iter().map(|m| m.key.to_string()).collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let url = std::env::var("SNAPSHOT_URL").unwrap_or_else(|_| temp.path().display().to_string());
    demo(&url).await
}
