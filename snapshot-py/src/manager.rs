//! `SnapshotManager` (the classes its methods return are in `results`).

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use serde::{Serialize, Serializer};
use snapshot_state::codec::{EncodedBody, OpenedSnapshot};
use snapshot_state::{
    Create, DecodeOptions, DumpOptions, EncodeOptions, Filter, FsStore, Keyring, Lookup, Order,
    Query, SnapshotKey, SnapshotStore, StoreUrl,
};

use crate::convert::{Build, Builder, Walker, datetime_micros, numpy_bytes};
use crate::errors::{InvalidKeyError, codec_error, guard, open_error, store_error};
use crate::results::{ImportReport, RetentionPlan, RetentionPolicy, SnapshotInfo, VerifyReport};
use crate::runtime;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SnapshotManager>()?;
    m.add_class::<SnapshotInfo>()?;
    m.add_class::<RetentionPolicy>()?;
    m.add_class::<RetentionPlan>()?;
    m.add_class::<VerifyReport>()?;
    m.add_class::<ImportReport>()?;
    m.add_class::<Pending>()?;
    m.add_class::<Fetched>()?;
    m.add_class::<crate::checkpoint::Checkpointer>()?;
    m.add_class::<crate::checkpoint::Checkpoint>()?;
    Ok(())
}

/// Walks `value` into a body (GIL held); `sized` first sums its numpy arrays to size
/// the buffer (what dumps and checkpoints of states do; `dumps`, called per document,
/// skips that look).
fn walk_body(
    py: Python<'_>,
    options: &EncodeOptions,
    value: &Bound<'_, PyAny>,
    sized: bool,
) -> PyResult<EncodedBody> {
    let walker = Walker::new(py);
    let capacity = if sized { numpy_bytes(value) } else { 0 };
    match options.to_body_with_capacity(&walker.value(value), capacity) {
        Ok(body) => Ok(body),
        Err(e) => Err(walker.into_error(e)),
    }
}

/// States holding at least this many bytes of numpy arrays are dumped as a stream
/// (`SnapshotManager::dump_streamed`): the arrays go to the store a chunk at a time
/// while the walk goes on, instead of into a body as large as the state first.
const STREAM_FROM: usize = 8 << 20;

/// The options of a dump at `at` with `labels` and `step`.
fn dump_options(
    at: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyDict>>,
    step: Option<u64>,
) -> PyResult<DumpOptions> {
    let mut options = DumpOptions::new();
    if let Some(at) = at {
        options = options
            .at(key_of(at)?)
            .map_err(|e| InvalidKeyError::new_err(e.to_string()))?;
    }
    if let Some(labels) = labels {
        for (k, v) in labels.iter() {
            options = options.label(k.extract::<String>()?, v.extract::<String>()?);
        }
    }
    if let Some(step) = step {
        options = options.step(step);
    }
    Ok(options)
}

/// A Python state that takes the GIL for as long as it is being serialized, so a dump
/// can run with the GIL released around it. A failure of the walk (with the path to
/// the value) is kept in `failure`, with whether Python raised it.
struct Attached<'a> {
    state: &'a Py<PyAny>,
    failure: &'a Mutex<Option<(PyErr, bool)>>,
}

impl Serialize for Attached<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Python::attach(|py| {
            let walker = Walker::new(py);
            let result = walker.value(self.state.bind(py)).serialize(s);
            if let Err(e) = &result {
                let python = walker.failed();
                let codec = <snapshot_state::codec::Error as serde::ser::Error>::custom(e);
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((walker.into_error(codec), python));
            }
            result
        })
    }
}

/// Snapshots shorter than this are compressed, checked and decompressed with the GIL
/// held: that takes microseconds, about what releasing and retaking the GIL costs.
const SMALL: usize = 16 * 1024;

/// `value` as snapshot bytes.
pub(crate) fn encode(
    py: Python<'_>,
    options: &EncodeOptions,
    value: &Bound<'_, PyAny>,
) -> PyResult<Vec<u8>> {
    let body = walk_body(py, options, value, false)?;
    if body.len() < SMALL {
        // Releasing and taking back the GIL would cost more than compressing this.
        return body.finish().map_err(|e| codec_error(None, &e));
    }
    py.detach(|| body.finish())
        .map_err(|e| codec_error(None, &e))
}

/// The Python value of an opened snapshot (GIL held).
fn build<'py>(
    py: Python<'py>,
    opened: &OpenedSnapshot<'_>,
    key: Option<SnapshotKey>,
) -> PyResult<Bound<'py, PyAny>> {
    // Python objects cost more than their encoded bytes: they get the codec's default
    // memory limit of their own.
    let builder = Builder::new(
        py,
        snapshot_state::codec::DEFAULT_MAX_MEMORY,
        opened.body_len(),
    );
    let result = opened.deserialize_seed(Build { builder: &builder });
    match result {
        Ok(value) => Ok(value),
        Err(e) => Err(builder.take_error().unwrap_or_else(|| codec_error(key, &e))),
    }
}

/// Snapshot bytes as a Python value: the frame, checksum, decryption and decompression
/// with the GIL released, the objects with it held.
pub(crate) fn decode<'py>(
    py: Python<'py>,
    options: &DecodeOptions,
    key: Option<SnapshotKey>,
    bytes: &[u8],
) -> PyResult<Bound<'py, PyAny>> {
    let opened = if bytes.len() < SMALL {
        options.open(bytes)
    } else {
        py.detach(|| options.open(bytes))
    }
    .map_err(|e| codec_error(key, &e))?;
    build(py, &opened, key)
}

/// A key from a string (a key `YYYY-MM-DD_HH-MM-SS-ffffff`, RFC 3339 with an offset, or a
/// date, midnight UTC: `SnapshotKey::parse_time`), a `SnapshotInfo`, or a datetime
/// (aware, or naive as local time like `datetime.timestamp`).
pub(crate) fn key_of(target: &Bound<'_, PyAny>) -> PyResult<SnapshotKey> {
    if let Ok(text) = target.cast::<PyString>() {
        return SnapshotKey::parse_time(text.to_str()?)
            .map_err(|e| InvalidKeyError::new_err(e.to_string()));
    }
    if let Ok(info) = target.cast::<SnapshotInfo>() {
        return Ok(info.get().key);
    }
    let micros = match datetime_micros(target, true) {
        Ok(m) => m,
        Err(e) if e.is_instance_of::<PyTypeError>(target.py()) => return Err(e),
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "a snapshot time is a key string (YYYY-MM-DD_HH-MM-SS-ffffff) or a datetime, not {}",
                target.get_type().name()?
            )));
        }
    };
    SnapshotKey::from_micros(micros).map_err(|e| InvalidKeyError::new_err(e.to_string()))
}

pub(crate) fn filter_of(
    labels: Option<&Bound<'_, PyDict>>,
    step: Option<u64>,
    max_step: Option<u64>,
) -> PyResult<Filter> {
    let mut filter = Filter::new();
    if let Some(labels) = labels {
        for (k, v) in labels.iter() {
            filter = filter.label(k.extract::<String>()?, v.extract::<String>()?);
        }
    }
    if let Some(step) = step {
        filter = filter.step(step);
    }
    if let Some(max) = max_step {
        filter = filter.step_at_most(max);
    }
    Ok(filter)
}

/// A state walked into a body, waiting to be stored (the first half of `dump_async`).
#[pyclass(name = "_Pending", module = "snapshot_state")]
pub(crate) struct Pending {
    body: Option<(EncodedBody, DumpOptions)>,
}

/// A snapshot read and opened, waiting to be built into Python objects (the first half
/// of `load_async`).
#[pyclass(name = "_Fetched", module = "snapshot_state")]
pub(crate) struct Fetched {
    opened: Option<(SnapshotKey, OpenedSnapshot<'static>)>,
}

/// Saves and restores snapshots of Python values in a store: a directory, S3 or memory.
#[pyclass(frozen, subclass, module = "snapshot_state")]
pub(crate) struct SnapshotManager {
    inner: snapshot_state::SnapshotManager,
    url: String,
}

impl SnapshotManager {
    fn query(
        lookup: Lookup,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<Query> {
        Ok(lookup.matching(filter_of(labels, step, max_step)?))
    }

    /// The stored bytes of the snapshot `query` selects (GIL released).
    fn fetch_bytes(
        &self,
        py: Python<'_>,
        query: Query,
    ) -> PyResult<Option<(SnapshotKey, bytes::Bytes)>> {
        let manager = self.inner.clone();
        py.detach(|| -> PyResult<_> {
            let fetched = runtime()?
                .block_on(manager.raw().load_encoded(query))
                .map_err(store_error)?;
            Ok(fetched.map(|(meta, bytes)| (meta.key, bytes)))
        })
    }

    /// The snapshot `query` selects, read and opened (GIL released), owning its body.
    fn fetch(
        &self,
        py: Python<'_>,
        query: Query,
    ) -> PyResult<Option<(SnapshotKey, OpenedSnapshot<'static>)>> {
        let Some((key, bytes)) = self.fetch_bytes(py, query)? else {
            return Ok(None);
        };
        let options = self.inner.raw().decode_options();
        let opened = py
            .detach(|| options.open(&bytes).map(OpenedSnapshot::into_owned))
            .map_err(|e| codec_error(Some(key), &e))?;
        Ok(Some((key, opened)))
    }

    fn load_query<'py>(
        &self,
        py: Python<'py>,
        query: Query,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some((key, bytes)) = self.fetch_bytes(py, query)? else {
            return Ok(None);
        };
        // Opened in place: an uncompressed body is read where it lies, not copied.
        let options = self.inner.raw().decode_options();
        let opened = py
            .detach(|| options.open(&bytes))
            .map_err(|e| codec_error(Some(key), &e))?;
        build(py, &opened, Some(key)).map(Some)
    }

    /// The Rust manager.
    pub(crate) fn inner(&self) -> &snapshot_state::SnapshotManager {
        &self.inner
    }

    pub(crate) fn prepare(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        at: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
    ) -> PyResult<(EncodedBody, DumpOptions)> {
        let options = dump_options(at, labels, step)?;
        let body = walk_body(py, &self.inner.raw().encode_options(&options), state, true)?;
        Ok((body, options))
    }

    /// A dump streamed to the store as the state is walked: the GIL released, taken
    /// back on this thread only while the objects are read (the store writes on the I/O
    /// runtime meanwhile); the arrays are copied a chunk at a time, never whole.
    fn dump_streamed(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        options: &DumpOptions,
    ) -> PyResult<SnapshotInfo> {
        let state = state.clone().unbind();
        let failure = Mutex::new(None);
        let manager = self.inner.clone();
        let outcome = py.detach(|| -> PyResult<_> {
            let attached = Attached {
                state: &state,
                failure: &failure,
            };
            Ok(runtime()?.block_on(manager.dump_with(&attached, options)))
        })?;
        match outcome {
            Ok(info) => Ok(SnapshotInfo::from(info)),
            // The walk's own error (a type that cannot be stored, with its path) comes
            // first; a stream that stopped because the store failed is the store's.
            Err(e) => {
                let walked = failure.into_inner().unwrap_or_else(|p| p.into_inner());
                let encoder = matches!(&e, snapshot_state::Error::Codec(c)
                    if !matches!(c, snapshot_state::codec::Error::Io(_)));
                match walked {
                    Some((err, python)) if python || encoder => Err(err),
                    _ => Err(store_error(e)),
                }
            }
        }
    }

    fn store(
        &self,
        py: Python<'_>,
        body: EncodedBody,
        options: DumpOptions,
    ) -> PyResult<SnapshotInfo> {
        let manager = self.inner.clone();
        py.detach(|| -> PyResult<SnapshotInfo> {
            // The body comes from the codec's own writer: stored without decoding it again.
            let info = runtime()?
                .block_on(manager.raw().dump_body(body, &options))
                .map_err(store_error)?;
            Ok(SnapshotInfo::from(info))
        })
    }

    fn block<T: Send>(
        &self,
        py: Python<'_>,
        f: impl std::future::Future<Output = snapshot_state::Result<T>> + Send,
    ) -> PyResult<T> {
        py.detach(|| runtime()?.block_on(f).map_err(store_error))
    }
}

#[pymethods]
impl SnapshotManager {
    /// Opens the store at `path`: a directory (created if missing unless
    /// `create=False`), `file://...`, `s3://bucket/prefix` (endpoint and credentials
    /// from the `AWS_*` variables) or `memory:`. `keys` is the text of a key file (one
    /// `snapshot-key:ID:HEX` per line; the first encrypts, all decrypt). `fsync=False`
    /// (directories only) writes as `numpy.save` does, to the page cache: a crashed
    /// process still leaves every saved snapshot whole, a power loss may not.
    #[new]
    #[pyo3(signature = (path=None, *, create=true, keys=None, compression="lz4", fsync=true))]
    fn new(
        py: Python<'_>,
        path: Option<&Bound<'_, PyAny>>,
        create: bool,
        keys: Option<&str>,
        compression: &str,
        fsync: bool,
    ) -> PyResult<Self> {
        guard(|| {
            let url: String = match path {
                None => "./snapshot".to_owned(),
                Some(path) => py
                    .import("os")?
                    .call_method1("fspath", (path,))?
                    .extract()?,
            };
            let create = if create {
                Create::IfMissing
            } else {
                Create::No
            };
            let store = if fsync {
                py.detach(|| snapshot_state::open_store(&url, create))
                    .map_err(open_error)?
            } else {
                let Ok(StoreUrl::Dir(dir)) = StoreUrl::parse(&url) else {
                    return Err(PyValueError::new_err(format!(
                        "fsync=False applies to directories, not to {url:?}"
                    )));
                };
                let opened = py.detach(|| {
                    FsStore::builder(dir)
                        .with_create(create == Create::IfMissing)
                        .with_fsync(false)
                        .build()
                });
                Arc::new(opened.map_err(|e| open_error(e.into()))?) as Arc<dyn SnapshotStore>
            };
            let mut inner = snapshot_state::SnapshotManager::new(store)
                .with_compression(crate::compression(compression)?);
            if let Some(keys) = keys {
                let keyring =
                    Keyring::parse(keys).map_err(|e| PyValueError::new_err(e.to_string()))?;
                inner = inner.with_keyring(keyring);
            }
            Ok(SnapshotManager { inner, url })
        })
    }

    /// The URL or path this manager was opened with.
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    fn __repr__(&self) -> String {
        format!("SnapshotManager({:?})", self.url)
    }

    /// Saves `state` under the current UTC time (or `at`), with optional `labels` and
    /// `step`; returns the stored snapshot's info. Never overwrites: a taken microsecond
    /// moves the snapshot to the next free one.
    #[pyo3(signature = (state, *, at=None, labels=None, step=None))]
    fn dump(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        at: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
    ) -> PyResult<SnapshotInfo> {
        guard(|| {
            if numpy_bytes(state) >= STREAM_FROM {
                let options = dump_options(at, labels, step)?;
                return self.dump_streamed(py, state, &options);
            }
            let (body, options) = self.prepare(py, state, at, labels, step)?;
            self.store(py, body, options)
        })
    }

    /// A checkpointer: `checkpoint(state)` returns once the state is captured and writes
    /// it in the background, at most `max_in_flight` at a time; when that many are in
    /// flight a new one waits (`when_busy="wait"`) or is skipped (`"skip"`).
    #[pyo3(signature = (*, max_in_flight=1, when_busy="wait"))]
    fn checkpointer(
        slf: &Bound<'_, Self>,
        max_in_flight: usize,
        when_busy: &str,
    ) -> PyResult<crate::checkpoint::Checkpointer> {
        crate::checkpoint::Checkpointer::new(slf.clone().unbind(), max_in_flight, when_busy)
    }

    /// The first half of `dump_async`: walks `state` now, on the calling thread.
    #[pyo3(signature = (state, *, at=None, labels=None, step=None))]
    fn _prepare(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        at: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
    ) -> PyResult<Pending> {
        guard(|| {
            let body = self.prepare(py, state, at, labels, step)?;
            Ok(Pending { body: Some(body) })
        })
    }

    /// The second half of `dump_async`: compresses and stores (GIL released).
    fn _store(&self, py: Python<'_>, pending: &Bound<'_, Pending>) -> PyResult<SnapshotInfo> {
        guard(|| {
            let taken = pending.borrow_mut().body.take();
            let (body, options) =
                taken.ok_or_else(|| PyValueError::new_err("this dump was already stored"))?;
            self.store(py, body, options)
        })
    }

    /// The first half of `load_async`: reads and opens the snapshot `load` would
    /// (GIL released).
    #[pyo3(signature = (target=None, *, labels=None, step=None, max_step=None))]
    fn _fetch(
        &self,
        py: Python<'_>,
        target: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyDict>>,
        step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<Fetched> {
        guard(|| {
            let query = Self::query(load_lookup(target)?, labels, step, max_step)?;
            Ok(Fetched {
                opened: self.fetch(py, query)?,
            })
        })
    }

    /// The second half of `load_async`: builds the value (None when nothing matched).
    fn _build<'py>(
        &self,
        py: Python<'py>,
        fetched: &Bound<'py, Fetched>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(|| {
            let taken = fetched.borrow_mut().opened.take();
            match taken {
                Some((key, opened)) => build(py, &opened, Some(key)).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Loads the latest snapshot, or with `target` (a datetime or key string) the one
    /// nearest to it; None when the store has none. Filters: `labels` (all must match),
    /// `step`, `max_step`. `target_timestamp` is the original's name for `target`.
    #[pyo3(signature = (target=None, *, target_timestamp=None, labels=None, step=None, max_step=None))]
    fn load<'py>(
        &self,
        py: Python<'py>,
        target: Option<&Bound<'py, PyAny>>,
        target_timestamp: Option<&Bound<'py, PyAny>>,
        labels: Option<&Bound<'py, PyDict>>,
        step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(|| {
            let lookup = load_lookup(either(target, target_timestamp)?)?;
            self.load_query(py, Self::query(lookup, labels, step, max_step)?)
        })
    }

    /// The lookups the Python class names `latest`, `exact`, `nearest`, `at_or_before`
    /// and `at_or_after`, in one: `kind` is the name; `target` is needed by all but
    /// `latest`. The snapshot found (that matches the filters), or None.
    #[pyo3(signature = (kind, target=None, *, labels=None, step=None, max_step=None))]
    fn _lookup<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        target: Option<&Bound<'py, PyAny>>,
        labels: Option<&Bound<'py, PyDict>>,
        step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(|| {
            let at = || match target {
                Some(target) => key_of(target),
                None => Err(PyTypeError::new_err(format!(
                    "{kind}() missing its target time"
                ))),
            };
            let lookup = match kind {
                "latest" => Lookup::Latest,
                "exact" => Lookup::Exact(at()?),
                "nearest" => Lookup::Nearest(at()?),
                "at_or_before" => Lookup::AtOrBefore(at()?),
                "at_or_after" => Lookup::AtOrAfter(at()?),
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown lookup {other:?} (latest, exact, nearest, at_or_before, at_or_after)"
                    )));
                }
            };
            self.load_query(py, Self::query(lookup, labels, step, max_step)?)
        })
    }

    /// Every snapshot, newest first; with `target`, closest to it first
    /// (`target_timestamp` is the original's name for it).
    #[pyo3(signature = (target=None, *, target_timestamp=None))]
    fn list(
        &self,
        py: Python<'_>,
        target: Option<&Bound<'_, PyAny>>,
        target_timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<SnapshotInfo>> {
        guard(|| {
            let order = match either(target, target_timestamp)? {
                None => Order::NewestFirst,
                Some(t) => Order::NearestTo(key_of(t)?),
            };
            let metas = self.block(py, self.inner.list(order).into_future())?;
            Ok(metas.into_iter().map(SnapshotInfo::from).collect())
        })
    }

    /// Removes the oldest `max_prune` snapshots, never the newest; returns how many.
    #[pyo3(signature = (max_prune=1))]
    fn prune(&self, py: Python<'_>, max_prune: usize) -> PyResult<usize> {
        guard(|| Ok(self.block(py, self.inner.raw().prune(max_prune))?.len()))
    }

    /// Removes the snapshot at `key` (a key string, datetime or SnapshotInfo).
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let key = key_of(key)?;
            self.block(py, self.inner.delete(key))
        })
    }

    /// What `policy` would keep (with reasons) and remove; removes nothing.
    fn plan(&self, py: Python<'_>, policy: &RetentionPolicy) -> PyResult<RetentionPlan> {
        guard(|| Ok(self.block(py, self.inner.plan(&policy.policy))?.into()))
    }

    /// Applies `policy`: removes what its plan removes; returns the plan.
    fn apply(&self, py: Python<'_>, policy: &RetentionPolicy) -> PyResult<RetentionPlan> {
        guard(|| Ok(self.block(py, self.inner.apply(&policy.policy))?.into()))
    }

    /// Reads every snapshot and checks that it loads.
    fn verify(&self, py: Python<'_>) -> PyResult<VerifyReport> {
        guard(|| {
            let report = self.block(py, self.inner.verify())?;
            Ok(VerifyReport {
                checked: report.checked,
                bad: report
                    .bad
                    .iter()
                    .map(|s| (s.key.to_string(), snapshot_state::chain_to_string(&s.error)))
                    .collect(),
                not_decrypted: report
                    .not_decrypted
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            })
        })
    }

    /// Imports a directory written by the original py-snapshot (files named by its
    /// writer's local time; `utc_offset`, a timedelta, is that clock's offset from UTC).
    /// Running it twice imports nothing twice.
    #[pyo3(signature = (directory, *, utc_offset=None))]
    fn import_py(
        &self,
        py: Python<'_>,
        directory: &Bound<'_, PyAny>,
        utc_offset: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ImportReport> {
        guard(|| {
            let dir: std::path::PathBuf = py
                .import("os")?
                .call_method1("fspath", (directory,))?
                .extract()?;
            let mut options = snapshot_state::import::ImportOptions::new();
            if let Some(offset) = utc_offset {
                let seconds: f64 = offset.call_method0("total_seconds")?.extract()?;
                let offset = chrono::FixedOffset::east_opt(seconds.round() as i32)
                    .ok_or_else(|| PyValueError::new_err("utc_offset must be within ±24 hours"))?;
                options = options.with_utc_offset(offset);
            }
            let manager = self.inner.clone();
            let report = py.detach(|| {
                runtime()?
                    .block_on(snapshot_state::import::import_py_dir(
                        &dir, &manager, &options,
                    ))
                    .map_err(store_error)
            })?;
            let files = report
                .files
                .iter()
                .map(|f| {
                    use snapshot_state::import::Outcome;
                    let outcome = match &f.outcome {
                        Outcome::Imported(k) => format!("imported as {k}"),
                        Outcome::AlreadyPresent(k) => format!("already present as {k}"),
                        Outcome::WouldImport(k) => format!("would import as {k}"),
                        Outcome::Skipped(why) => format!("skipped: {why}"),
                        Outcome::Failed(e) => {
                            format!("failed: {}", snapshot_state::chain_to_string(e))
                        }
                        other => format!("{other:?}"),
                    };
                    (f.file.clone(), outcome)
                })
                .collect();
            Ok(ImportReport {
                files,
                imported: report.imported(),
                skipped: report.skipped(),
                failures: report.failures(),
            })
        })
    }

    /// Writes `state` as one snapshot to `buffer` (anything with `write`); returns the
    /// number of bytes written.
    fn write_to_buffer(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        buffer: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        guard(|| {
            let bytes = encode(
                py,
                &self.inner.raw().encode_options(&DumpOptions::new()),
                state,
            )?;
            buffer.call_method1("write", (PyBytes::new(py, &bytes),))?;
            Ok(bytes.len())
        })
    }

    /// Reads one snapshot from `buffer` (anything with `read`), from its position to its end.
    fn read_from_buffer<'py>(
        &self,
        py: Python<'py>,
        buffer: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let data = buffer.call_method0("read")?;
            let bytes = crate::bytes_of(&data)?;
            decode(py, self.inner.raw().decode_options(), None, &bytes)
        })
    }
}

/// `target`, or the original's `target_timestamp` for it; not both.
fn either<'a, 'py>(
    target: Option<&'a Bound<'py, PyAny>>,
    target_timestamp: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Option<&'a Bound<'py, PyAny>>> {
    match (target, target_timestamp) {
        (Some(_), Some(_)) => Err(PyTypeError::new_err(
            "give target or target_timestamp (the original's name for it), not both",
        )),
        (t, None) | (None, t) => Ok(t),
    }
}

/// What `load` looks up: the latest snapshot, or the one nearest to `target`.
fn load_lookup(target: Option<&Bound<'_, PyAny>>) -> PyResult<Lookup> {
    Ok(match target {
        None => Lookup::Latest,
        Some(t) => Lookup::Nearest(key_of(t)?),
    })
}
