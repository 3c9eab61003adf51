//! Streamed writes and reads, and background checkpoints: what a backend must do with
//! snapshots that pass through a bounded buffer.

use std::sync::Mutex;
use std::time::Duration;

use futures::{FutureExt, StreamExt};

use super::*;
use crate::{ByteStream, Checkpointer, Operation, Progress, Submitted, WhenBusy};

/// `len` bytes that do not compress, from `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `bytes` as a stream of 1 MiB chunks, then `end` (an error, to cut it short).
fn chunked(bytes: &Bytes, end: Option<Error>) -> ByteStream {
    let chunks: Vec<Result<Bytes, Error>> = (0..bytes.len())
        .step_by(1 << 20)
        .map(|at| Ok(bytes.slice(at..(at + (1 << 20)).min(bytes.len()))))
        .chain(end.map(Err))
        .collect();
    futures::stream::iter(chunks).boxed()
}

/// A streamed write (24 chunks of 1 MiB: past one part on S3) stores exactly its bytes,
/// which read back the same whole and streamed; a stream that fails part way stores
/// nothing and returns the stream's own error; a streamed write never replaces a
/// snapshot.
pub async fn streamed_writes_publish_whole_or_nothing(store: DynStore) {
    fresh(&store).await;
    let k = key("2024-01-15_10-30-00-000000");
    let bytes = Bytes::from(noise(24 << 20, 1));
    let written = store
        .put_stream(k, chunked(&bytes, None))
        .await
        .expect("streamed put");
    assert_eq!(written, bytes.len() as u64);
    assert_eq!(store.get(k).await.expect("get"), bytes, "bytes differ");
    let (size, stream) = store.get_stream(k).await.expect("get_stream");
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(
        crate::gather(stream).await.expect("streamed read"),
        bytes,
        "streamed read differs"
    );

    let cut = key("2024-01-15_10-30-00-000001");
    let err = store
        .put_stream(
            cut,
            chunked(
                &Bytes::from(noise(30 << 20, 2)),
                Some(Error::backend("encoder", "failed")),
            ),
        )
        .await
        .expect_err("a failed stream must fail the write");
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "encoder",
                ..
            }
        ),
        "the stream's own error must come back: {err:?}"
    );
    assert!(
        matches!(store.get(cut).await, Err(Error::NotFound { .. })),
        "a failed streamed write is readable"
    );
    assert_eq!(
        keys(&store.list(KeyRange::all(), None).await.expect("list")),
        [k.to_string()],
        "a failed streamed write is listed"
    );

    let err = store
        .put_stream(k, chunked(&Bytes::from(noise(17 << 20, 3)), None))
        .await
        .expect_err("the key is taken");
    assert!(err.is_already_exists(), "{err:?}");
    assert_eq!(
        store.get(k).await.expect("get"),
        bytes,
        "a streamed write replaced a snapshot"
    );
}

/// A large state dumped by `dump` and by a checkpoint loads back equal (both stream
/// through the store), with progress reports that only grow and end at the size.
pub async fn streamed_dumps_and_loads_round_trip(store: DynStore) {
    let reports: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let log = reports.clone();
    let manager = fresh(&store)
        .await
        .with_compression(snapshot_codec::Compression::None)
        .with_progress(move |p| log.lock().unwrap_or_else(|e| e.into_inner()).push(*p));
    let weights: Vec<f64> = (0..3_000_000u64).map(|i| (i as f64).sqrt()).collect();
    let info = manager.dump(&weights).await.expect("dump");
    assert!(info.size > 20 << 20, "only {} bytes", info.size);
    let back: Vec<f64> = manager
        .load(Lookup::Exact(info.key))
        .await
        .expect("load")
        .expect("stored");
    assert!(back == weights, "the dumped state came back different");

    let shared = Arc::new(weights);
    let checkpoints = manager.checkpointer();
    let handle = checkpoints
        .checkpoint(shared.clone())
        .await
        .started()
        .expect("started");
    let checkpointed = handle.await.expect("checkpoint");
    assert!(checkpointed.key > info.key);
    let back: Vec<f64> = manager
        .load(Lookup::Latest)
        .await
        .expect("load")
        .expect("stored");
    assert!(
        back == *shared,
        "the checkpointed state came back different"
    );

    let reports = reports.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (operation, key, size) in [
        (Operation::Dump, info.key, info.size),
        (Operation::Load, info.key, info.size),
        (Operation::Dump, checkpointed.key, checkpointed.size),
    ] {
        let mine: Vec<&Progress> = reports
            .iter()
            .filter(|p| p.operation == operation && p.key == key)
            .collect();
        // A dump reports each chunk it hands over; a load, each chunk the store gives
        // (an in-memory store gives one).
        let least = if operation == Operation::Load { 1 } else { 3 };
        assert!(
            mine.len() >= least,
            "{operation:?} {key}: {} reports",
            mine.len()
        );
        assert!(
            mine.windows(2).all(|w| w[0].done <= w[1].done),
            "{operation:?} {key}: progress went back"
        );
        let last = mine.last().expect("reports");
        assert!(
            last.is_finished() && last.done == size,
            "{operation:?} {key}: last report {last:?}, size {size}"
        );
    }
}

/// A state whose serialization waits until released: a checkpoint of it is in flight
/// for as long as the test wants.
struct Gated {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    fail: bool,
}

impl Gated {
    fn new(fail: bool) -> (Arc<Self>, impl Fn()) {
        let open = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let release = {
            let open = open.clone();
            move || {
                *open.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
                open.1.notify_all();
            }
        };
        (Arc::new(Self { open, fail }), release)
    }
}

impl Serialize for Gated {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (lock, cvar) = &*self.open;
        let mut open = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = cvar.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        if self.fail {
            return Err(serde::ser::Error::custom("this state refuses to be saved"));
        }
        serializer.serialize_str("gated state")
    }
}

/// Background checkpoints: at most N in flight; a new one waits (or is skipped) while
/// they are; `flush` waits for all and reports failures nobody awaited; a dropped
/// checkpointer's checkpoints still land; racing retention never deletes the newest.
pub async fn background_checkpoints(store: DynStore) {
    let manager = fresh(&store).await;

    // Skip: the second checkpoint is skipped while the first is held in flight.
    let skipping = manager.checkpointer().with_when_busy(WhenBusy::Skip);
    let (held, release) = Gated::new(false);
    let first = skipping.checkpoint(held).await.started().expect("started");
    assert_eq!(skipping.in_flight(), 1);
    assert!(
        matches!(skipping.checkpoint(Arc::new(1u8)).await, Submitted::Skipped),
        "a busy Skip checkpointer started another"
    );
    release();
    let stored = first.await.expect("first checkpoint");
    skipping.flush().await.expect("flush");
    assert_eq!(skipping.in_flight(), 0);

    // Wait: the second waits for the first.
    let waiting = manager.checkpointer();
    let (held, release) = Gated::new(false);
    let first = waiting.checkpoint(held).await.started().expect("started");
    let mut second = Box::pin(waiting.checkpoint(Arc::new(2u8)));
    assert!(
        (&mut second).now_or_never().is_none(),
        "a busy Wait checkpointer started another at once"
    );
    release();
    let second = second.await.started().expect("started after the first");
    let a = first.await.expect("first");
    let b = second.await.expect("second");
    assert!(stored.key < a.key && a.key < b.key);

    // A failure whose handle was dropped is reported by the next flush, once.
    let (failing, release) = Gated::new(true);
    drop(waiting.checkpoint(failing).await);
    release();
    match waiting.flush().await {
        Err(Error::CheckpointsFailed { failed }) => {
            assert_eq!(failed.len(), 1);
            assert!(matches!(failed[0], Error::Codec(_)), "{:?}", failed[0]);
        }
        other => panic!("flush after a failed checkpoint: {other:?}"),
    }
    waiting.flush().await.expect("reported once");
    assert_eq!(
        manager.load::<u8>(Lookup::Latest).await.expect("load"),
        Some(2),
        "a failed checkpoint stored something"
    );

    // Dropped with a checkpoint in flight: it still lands.
    let dropped: Checkpointer = manager.checkpointer();
    let (held, release) = Gated::new(false);
    let handle = dropped.checkpoint(held).await.started().expect("started");
    drop(dropped);
    release();
    let landed = handle.await.expect("a dropped checkpointer's checkpoint");
    assert!(
        manager
            .load::<String>(Lookup::Exact(landed.key))
            .await
            .expect("load")
            .is_some()
    );

    // Racing with retention (keep the last one): the newest is never deleted.
    let keeping = manager
        .clone()
        .with_retention(RetentionPolicy::new().keep_last(1));
    let racing = keeping.checkpointer().with_max_in_flight(4);
    let mut handles = Vec::new();
    for step in 0..12u64 {
        if let Submitted::Started(h) = racing.checkpoint(Arc::new(step)).await {
            handles.push(h);
        }
        if step % 3 == 0 {
            keeping.dump(&(100 + step)).await.expect("dump");
        }
    }
    let mut newest = landed.key;
    for h in handles {
        newest = newest.max(h.await.expect("checkpoint").key);
    }
    racing.flush().await.expect("flush");
    let latest = keeping
        .resolve(Lookup::Latest)
        .await
        .expect("resolve")
        .expect("the newest survives");
    assert!(
        latest.key >= newest,
        "retention deleted the newest checkpoint"
    );
    tokio::time::timeout(Duration::from_secs(60), async {
        while keeping.list(Order::NewestFirst).await.expect("list").len() > 1 {
            keeping
                .apply(&RetentionPolicy::new().keep_last(1))
                .await
                .expect("apply");
        }
    })
    .await
    .expect("retention settles");
}
