//! Background checkpoints: `SnapshotManager.checkpointer()`, the Python side of the
//! Rust `Checkpointer` (and of PyTorch's `async_save`).
//!
//! `checkpoint(state)` walks the state into an encoded body with the GIL held — that
//! walk is the capture: every Python object is read and every numpy buffer copied into
//! the body, so the caller may change the state as soon as the call returns — and hands
//! the body to the I/O runtime. Compression, encryption, the checksum and the upload run
//! there, with the GIL free. At most `max_in_flight` checkpoints are in flight; past
//! that a new one waits (GIL released) or is skipped.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::Semaphore;

use crate::errors::{guard, store_error};
use crate::results::SnapshotInfo;
use crate::runtime;

/// The outcome of one checkpoint, shared by its task, its handle and the checkpointer.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Result<SnapshotInfo, PyErr>>,
    /// Whether the handle's owner asked for the outcome (a failure nobody asked for is
    /// raised by the next `flush`).
    seen: bool,
}

impl Slot {
    fn finish(&self, outcome: Result<SnapshotInfo, PyErr>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.outcome = Some(outcome);
        self.done.notify_all();
    }

    /// Waits (the GIL released) until the outcome is in, or `timeout` passes.
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let deadline = timeout
            .map(|t| {
                Duration::try_from_secs_f64(t.max(0.0)).map_err(|_| {
                    PyValueError::new_err("timeout must be a finite number of seconds")
                })
            })
            .transpose()?
            .map(|d| Instant::now() + d);
        let finished = py.detach(|| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            while state.outcome.is_none() {
                match deadline {
                    None => state = self.done.wait(state).unwrap_or_else(|p| p.into_inner()),
                    Some(at) => {
                        let left = at.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return false;
                        }
                        state = self
                            .done
                            .wait_timeout(state, left)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
            }
            true
        });
        if finished {
            Ok(())
        } else {
            Err(PyTimeoutError::new_err(
                "the checkpoint is still being written",
            ))
        }
    }

    fn is_done(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.outcome.is_some()
    }

    /// The outcome, marked as seen (a copy: it can be asked for again).
    fn outcome(&self, py: Python<'_>) -> Option<Result<SnapshotInfo, PyErr>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.seen = true;
        state.outcome.as_ref().map(|o| match o {
            Ok(info) => Ok(info.clone()),
            Err(e) => Err(e.clone_ref(py)),
        })
    }
}

/// A checkpoint being written in the background: a future-like handle
/// (`concurrent.futures.Future`'s `done()`, `result(timeout)`, `exception(timeout)`).
/// Dropping it does not cancel the checkpoint; a failure nobody asked for is raised by
/// the checkpointer's next `flush()`.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct Checkpoint {
    slot: Arc<Slot>,
}

#[pymethods]
impl Checkpoint {
    /// Whether the checkpoint is stored or has failed.
    fn done(&self) -> bool {
        self.slot.is_done()
    }

    /// Waits for the checkpoint and returns its `SnapshotInfo`, or raises its error;
    /// `TimeoutError` if `timeout` seconds pass first.
    #[pyo3(signature = (timeout=None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<SnapshotInfo> {
        guard(|| {
            self.slot.wait(py, timeout)?;
            match self.slot.outcome(py) {
                Some(outcome) => outcome,
                None => Err(PyTimeoutError::new_err(
                    "the checkpoint is still being written",
                )),
            }
        })
    }

    /// Waits for the checkpoint and returns its error, or `None` if it was stored.
    #[pyo3(signature = (timeout=None))]
    fn exception(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyErr>> {
        guard(|| {
            self.slot.wait(py, timeout)?;
            Ok(self.slot.outcome(py).and_then(|o| o.err()))
        })
    }

    fn __repr__(&self) -> String {
        let state = self.slot.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.outcome {
            None => "Checkpoint(running)".into(),
            Some(Ok(info)) => format!("Checkpoint(stored {})", info.key),
            Some(Err(_)) => "Checkpoint(failed)".into(),
        }
    }
}

/// Writes checkpoints in the background, at most `max_in_flight` at a time (made by
/// `SnapshotManager.checkpointer`).
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct Checkpointer {
    manager: Py<crate::manager::SnapshotManager>,
    permits: Arc<Semaphore>,
    max_in_flight: usize,
    skip: bool,
    slots: Mutex<Vec<Arc<Slot>>>,
}

impl Checkpointer {
    pub(crate) fn new(
        manager: Py<crate::manager::SnapshotManager>,
        max_in_flight: usize,
        when_busy: &str,
    ) -> PyResult<Self> {
        if max_in_flight == 0 {
            return Err(PyValueError::new_err("max_in_flight must be at least 1"));
        }
        let skip = match when_busy {
            "wait" => false,
            "skip" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "when_busy is \"wait\" or \"skip\", not {other:?}"
                )));
            }
        };
        Ok(Checkpointer {
            manager,
            permits: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            skip,
            slots: Mutex::new(Vec::new()),
        })
    }
}

#[pymethods]
impl Checkpointer {
    /// Captures `state` (walks it; numpy arrays are copied) and returns a `Checkpoint`
    /// as soon as that is done; it is written in the background. When `max_in_flight`
    /// checkpoints are still being written, waits for one to finish
    /// (`when_busy="wait"`) or returns `None` without capturing anything
    /// (`when_busy="skip"`).
    #[pyo3(signature = (state, *, labels=None, step=None))]
    fn checkpoint(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
    ) -> PyResult<Option<Checkpoint>> {
        guard(|| {
            let rt = runtime()?;
            let permit = if self.skip {
                match self.permits.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => return Ok(None),
                }
            } else {
                let permits = self.permits.clone();
                py.detach(|| rt.block_on(permits.acquire_owned()))
                    .map_err(|_| PyValueError::new_err("the checkpointer is closed"))?
            };
            // Stored under the time of the call (or the next free microsecond), so
            // checkpoints written side by side keep the order they were taken in.
            let taken = snapshot_state::SnapshotKey::now();
            let manager = self.manager.bind(py).get();
            let (body, options) = manager.prepare(py, state, None, labels, step)?;
            let options = options
                .at(taken)
                .map_err(|e| crate::errors::InvalidKeyError::new_err(e.to_string()))?;
            let inner = manager.inner().clone();
            let slot = Arc::new(Slot::default());
            let task_slot = slot.clone();
            rt.spawn(async move {
                let outcome = inner.raw().dump_body(body, &options).await;
                drop(permit);
                task_slot.finish(outcome.map(SnapshotInfo::from).map_err(store_error));
            });
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.retain(|s| !(s.is_done() && s.state.lock().is_ok_and(|st| st.seen)));
            slots.push(slot.clone());
            Ok(Some(Checkpoint { slot }))
        })
    }

    /// Waits (GIL released) until every checkpoint started so far is stored or failed;
    /// raises the first failure that no `Checkpoint.result()` / `exception()` was asked
    /// for.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| {
            let slots: Vec<Arc<Slot>> =
                std::mem::take(&mut *self.slots.lock().unwrap_or_else(|p| p.into_inner()));
            let mut first = None;
            for slot in slots {
                slot.wait(py, None)?;
                let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
                if !state.seen
                    && let Some(Err(e)) = &state.outcome
                    && first.is_none()
                {
                    first = Some(e.clone_ref(py));
                }
                state.seen = true;
            }
            first.map_or(Ok(()), Err)
        })
    }

    /// How many checkpoints are being written now.
    #[getter]
    fn in_flight(&self) -> usize {
        self.max_in_flight - self.permits.available_permits()
    }

    /// The most checkpoints written at once.
    #[getter]
    fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving a `with` block flushes (and raises a failure nobody saw).
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.flush(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Checkpointer(max_in_flight={}, when_busy={:?}, in_flight={})",
            self.max_in_flight,
            if self.skip { "skip" } else { "wait" },
            self.in_flight()
        )
    }
}
