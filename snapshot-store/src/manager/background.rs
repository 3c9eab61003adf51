//! Background checkpoints: dumps that return to the caller at hand-over, encode on the
//! blocking pool and stream into the store while the caller goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Semaphore, oneshot};
use tracing::Instrument;

use super::pipe::{Operation, encoder_pipe};
use super::{DumpOptions, OnTaken, joined, settle};
use crate::{DumpInfo, Error, Result, SnapshotKey, SnapshotManager};
use snapshot_codec::EncodeOptions;

/// What [`Checkpointer::checkpoint`] does when the most checkpoints allowed are still
/// being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WhenBusy {
    /// Wait until one finishes, then start (the caller's `checkpoint().await` waits
    /// meanwhile: no state is ever dropped). The default.
    #[default]
    Wait,
    /// Start nothing and return [`Submitted::Skipped`] at once (a training loop that
    /// would rather skip a checkpoint than stall).
    Skip,
}

/// The answer of [`Checkpointer::checkpoint`].
#[derive(Debug)]
#[must_use = "a started checkpoint's outcome arrives through its handle (or the next flush)"]
pub enum Submitted {
    /// The checkpoint was handed over and is being written; await the handle for its
    /// [`DumpInfo`] (or drop it and let [`Checkpointer::flush`] report a failure).
    Started(Checkpoint),
    /// Skipped under [`WhenBusy::Skip`]: nothing was started.
    Skipped,
}

impl Submitted {
    /// The handle, if the checkpoint was started.
    pub fn started(self) -> Option<Checkpoint> {
        match self {
            Submitted::Started(handle) => Some(handle),
            Submitted::Skipped => None,
        }
    }
}

/// A checkpoint being written in the background: a future of its outcome.
///
/// Dropping it does not cancel the checkpoint; its failure, if any, is then reported by
/// the next [`Checkpointer::flush`].
#[derive(Debug)]
pub struct Checkpoint {
    key: SnapshotKey,
    outcome: oneshot::Receiver<Result<DumpInfo>>,
}

impl Checkpoint {
    /// The key the checkpoint was started at (the time its state was handed over). It
    /// is stored under this key, or the next free microsecond if another writer took it.
    pub fn key(&self) -> SnapshotKey {
        self.key
    }
}

impl Future for Checkpoint {
    type Output = Result<DumpInfo>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.outcome).poll(cx).map(|received| {
            received.unwrap_or_else(|_| {
                Err(Error::backend(
                    "task",
                    "the checkpoint's task ended without an outcome (its runtime shut down)",
                ))
            })
        })
    }
}

/// What a checkpointer's tasks share with it.
#[derive(Debug, Default)]
struct Shared {
    in_flight: AtomicUsize,
    /// Failures of checkpoints whose handles were dropped, for the next flush.
    unobserved: Mutex<Vec<Error>>,
}

/// Writes checkpoints in the background, at most a set number at a time.
///
/// [`checkpoint`](Self::checkpoint) takes the state as an `Arc` and returns once the
/// checkpoint is handed over; the state is encoded on tokio's blocking pool (never on
/// a runtime worker) straight into the store, a chunk at a time, and the manager's
/// retention policy runs after each one that is stored.
///
/// **Shutdown.** Dropping a `Checkpointer` does not cancel its checkpoints: they go on
/// as long as the runtime runs (a warning is logged with how many, and failures nobody
/// will see are logged as errors). Call [`flush`](Self::flush) before exiting to wait
/// for them and hear of failures. If the runtime shuts down first, a checkpoint not yet
/// stored is abandoned, and is never visible: what it wrote is left in the store's
/// temporary area, which `FsStore` cleans when opened and `S3Store::remove_stale` (or
/// `snapshot doctor --remove-stale`) on S3.
///
/// ```
/// use std::sync::Arc;
/// use snapshot_store::{Lookup, MemoryStore, SnapshotManager, WhenBusy};
///
/// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
/// let manager = SnapshotManager::new(MemoryStore::new());
/// let checkpoints = manager.checkpointer().with_max_in_flight(2).with_when_busy(WhenBusy::Wait);
/// for step in 0..4u64 {
///     let state = Arc::new(vec![step; 1000]);
///     // Returns at hand-over; the training loop goes on while it is written.
///     let _handle = checkpoints.checkpoint(state).await;
/// }
/// checkpoints.flush().await?; // every checkpoint is stored, or the failures are here
/// let last: Vec<u64> = manager.load(Lookup::Latest).await?.expect("stored");
/// assert_eq!(last[0], 3);
/// # Ok::<(), snapshot_store::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Checkpointer {
    manager: SnapshotManager,
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    when_busy: WhenBusy,
    shared: Arc<Shared>,
}

impl SnapshotManager {
    /// A [`Checkpointer`] writing with this manager's settings: one checkpoint in flight
    /// at a time, and a new one waits for it ([`WhenBusy::Wait`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use snapshot_store::{DumpOptions, Error, Filter, Lookup, MemoryStore, Order, RetentionPolicy, SnapshotKey, SnapshotManager};
    /// use snapshot_store::snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// let checkpoints = manager.checkpointer();
    /// for step in 0..3u64 {
    ///     // Returns once the state is handed over; the handle can be awaited or dropped.
    ///     let _handle = checkpoints.checkpoint(Arc::new(vec![step; 1000])).await;
    /// }
    /// checkpoints.flush().await?;
    /// assert_eq!(manager.list(Order::NewestFirst).await?.len(), 3);
    /// let last: Option<Vec<u64>> = manager.load(Lookup::Latest).await?;
    /// assert_eq!(last.map(|v| v[0]), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn checkpointer(&self) -> Checkpointer {
        Checkpointer {
            manager: self.clone(),
            slots: Arc::new(Semaphore::new(1)),
            max_in_flight: 1,
            when_busy: WhenBusy::Wait,
            shared: Arc::default(),
        }
    }

    /// Encodes `state` on the blocking pool into the store, under `first` or the next
    /// free microsecond; the dump of a [`Checkpointer`].
    async fn dump_shared<T>(
        &self,
        first: SnapshotKey,
        state: Arc<T>,
        encode: EncodeOptions,
    ) -> Result<DumpInfo>
    where
        T: Serialize + Send + Sync + ?Sized + 'static,
    {
        let span = super::dump_span();
        let started = Instant::now();
        let stored = self
            .put_loop(first, OnTaken::NextFree, None, |key| {
                let (writer, body) = encoder_pipe(self.reporter(Operation::Dump, key));
                let encode = encode.clone();
                let state = state.clone();
                let encoder = tokio::task::spawn_blocking(move || writer.encode(&encode, &*state));
                let store = self.store.clone();
                Box::pin(async move {
                    let stored = store.put_stream(key, body).await;
                    settle(joined(encoder.await), stored)
                })
            })
            .instrument(span.clone())
            .await;
        self.finish_dump(stored, started, &span)
            .instrument(span.clone())
            .await
    }
}

impl Checkpointer {
    /// Allows `n` checkpoints in flight at once (at least 1).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.clamp(1, Semaphore::MAX_PERMITS);
        self.slots = Arc::new(Semaphore::new(self.max_in_flight));
        self
    }

    /// Sets what happens to a checkpoint asked for while the most allowed are in flight.
    pub fn with_when_busy(mut self, when_busy: WhenBusy) -> Self {
        self.when_busy = when_busy;
        self
    }

    /// How many checkpoints are being written now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Starts writing `state` as a new snapshot (at the current time) and returns once it
    /// is handed over, with a handle to its outcome; when the most checkpoints allowed
    /// are in flight, first waits for one to finish or skips, as set by
    /// [`with_when_busy`](Self::with_when_busy).
    ///
    /// The state is shared, not copied: keep your own `Arc` clone, and change the state
    /// through a new `Arc` (or after the handle resolves), since the checkpoint reads it
    /// while being written.
    pub async fn checkpoint<T>(&self, state: Arc<T>) -> Submitted
    where
        T: Serialize + Send + Sync + ?Sized + 'static,
    {
        self.checkpoint_with(state, &DumpOptions::new()).await
    }

    /// [`checkpoint`](Self::checkpoint) with labels, a step number or a time
    /// ([`DumpOptions`], as [`SnapshotManager::dump_with`] takes them).
    pub async fn checkpoint_with<T>(&self, state: Arc<T>, options: &DumpOptions) -> Submitted
    where
        T: Serialize + Send + Sync + ?Sized + 'static,
    {
        let encode = self.manager.encode_options_for(options);
        let at = options.at;
        let permit = match self.when_busy {
            WhenBusy::Skip => match self.slots.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => return Submitted::Skipped,
            },
            _ => match self.slots.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => return Submitted::Skipped,
            },
        };
        let first = at.unwrap_or_else(|| self.manager.next_dump_key());
        let (tx, rx) = oneshot::channel();
        let manager = self.manager.clone();
        let shared = self.shared.clone();
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let outcome = manager.dump_shared(first, state, encode).await;
            // The outcome is delivered (or kept for flush) before the slot is given
            // back, so a flush that finds every slot free also finds every failure.
            if let Err(Err(error)) = tx.send(outcome) {
                if Arc::strong_count(&shared) == 1 {
                    tracing::error!(
                        target: "snapshot",
                        error = %error.chain_to_string(),
                        "a background checkpoint failed after its checkpointer was dropped"
                    );
                } else {
                    tracing::warn!(
                        target: "snapshot",
                        error = %error.chain_to_string(),
                        "a background checkpoint failed (reported by the next flush)"
                    );
                    shared
                        .unobserved
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(error);
                }
            }
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
        });
        Submitted::Started(Checkpoint {
            key: first,
            outcome: rx,
        })
    }

    /// Waits until every checkpoint started so far is finished (stored, retention run,
    /// or failed).
    ///
    /// # Errors
    /// [`Error::CheckpointsFailed`] with the failures of checkpoints whose handles were
    /// dropped since the last flush (a failure awaited through its handle is reported
    /// there, and only there).
    pub async fn flush(&self) -> Result<()> {
        let all = u32::try_from(self.max_in_flight).unwrap_or(u32::MAX);
        // All slots free means nothing in flight; they are given back at once.
        if let Ok(permits) = self.slots.acquire_many(all).await {
            drop(permits);
        }
        let failed = std::mem::take(
            &mut *self
                .shared
                .unobserved
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::CheckpointsFailed { failed })
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let in_flight = self.in_flight();
        if in_flight > 0 {
            tracing::warn!(
                target: "snapshot",
                in_flight,
                "checkpointer dropped with checkpoints in flight: they go on in the background"
            );
        }
        let unobserved = self
            .shared
            .unobserved
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        for error in unobserved {
            tracing::error!(
                target: "snapshot",
                error = %error.chain_to_string(),
                "a background checkpoint failed and no flush reported it"
            );
        }
    }
}
