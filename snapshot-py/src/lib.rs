//! The Python package `snapshot`: the facade crate's managers, lookups, retention and
//! codec for Python, built with PyO3 (stable ABI, one wheel per platform) and maturin.
//!
//! Python values are converted straight to and from the format (module `convert`); every
//! blocking call releases the GIL for compression, checksums, encryption and storage I/O
//! and holds it only while Python objects are read or made. No panic reaches Python:
//! each entry point turns one into `snapshot.InternalError`.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

mod checkpoint;
mod convert;
mod errors;
mod manager;
mod results;

use errors::guard;

/// The module's Rust allocations (encoded bodies, decoded buffers) come from mimalloc, as
/// in other PyO3 packages (pydantic-core, polars): measured on a 256 MiB array, glibc's
/// malloc maps every large buffer afresh and the process then takes a page fault per
/// 4 KiB (BENCHMARKS.md, Python), where mimalloc keeps and reuses its memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The runtime every blocking call runs its store operations on: one per process (a
/// child forked by `multiprocessing` has none of its parent's threads, so it gets its
/// own; the parent's is left alone, never dropped, in the child).
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("snapshot-io")
        .enable_all()
        .build()
        .map_err(|e| errors::StoreError::new_err(format!("starting the I/O runtime: {e}")))?;
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// An extension value: a custom type's id and payload, as Rust programs store their own
/// types (`snapshot_codec::ExtType`). Loads give one for every type this package does not
/// know; dumping one stores it unchanged.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct Ext {
    /// The type id.
    #[pyo3(get)]
    pub(crate) type_id: u64,
    /// The payload.
    #[pyo3(get)]
    pub(crate) data: Py<PyBytes>,
}

#[pymethods]
impl Ext {
    #[new]
    fn new(py: Python<'_>, type_id: u64, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let data = bytes_of(data)?;
        Ok(Ext {
            type_id,
            data: PyBytes::new(py, &data).unbind(),
        })
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        let py = other.py();
        match other.cast::<Ext>() {
            Ok(o) => {
                let o = o.get();
                o.type_id == self.type_id
                    && o.data.bind(py).as_bytes() == self.data.bind(py).as_bytes()
            }
            Err(_) => false,
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        (self.type_id, self.data.bind(py)).into_pyobject(py)?.hash()
    }

    fn __repr__(&self) -> String {
        Python::attach(|py| {
            let data = self.data.bind(py);
            format!(
                "Ext(type_id={}, data={})",
                self.type_id,
                data.repr().map(|r| r.to_string()).unwrap_or_default()
            )
        })
    }
}

/// The bytes of `bytes`, `bytearray`, `memoryview` or anything else with the buffer
/// protocol (`str` is refused: it has no single byte form).
pub(crate) fn bytes_of(data: &Bound<'_, PyAny>) -> PyResult<PyBackedBytes> {
    if let Ok(b) = data.extract::<PyBackedBytes>() {
        return Ok(b);
    }
    if data.is_instance_of::<pyo3::types::PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "expected bytes (or bytearray, memoryview), not str",
        ));
    }
    let builtins = data.py().import("builtins")?;
    Ok(builtins
        .getattr("bytes")?
        .call1((data,))?
        .extract::<PyBackedBytes>()?)
}

/// The compression named in Python.
pub(crate) fn compression(name: &str) -> PyResult<snapshot_state::Compression> {
    match name {
        "zstd" => Ok(snapshot_state::Compression::Zstd {
            level: snapshot_state::codec::DEFAULT_ZSTD_LEVEL,
        }),
        "lz4" => Ok(snapshot_state::Compression::Lz4),
        "none" => Ok(snapshot_state::Compression::None),
        other => Err(PyValueError::new_err(format!(
            "unknown compression {other:?} (use \"zstd\", \"lz4\" or \"none\")"
        ))),
    }
}

/// Encodes `value` as a snapshot (compressed, checksummed) and returns its bytes.
#[pyfunction]
#[pyo3(signature = (value, *, compression = "lz4"))]
fn dumps<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    compression: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(|| {
        let options =
            snapshot_state::EncodeOptions::new().with_compression(self::compression(compression)?);
        let bytes = manager::encode(py, &options, value)?;
        Ok(PyBytes::new(py, &bytes))
    })
}

/// Decodes a snapshot from bytes (anything with the buffer protocol).
#[pyfunction]
fn loads<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let bytes = bytes_of(data)?;
        manager::decode(py, &snapshot_state::DecodeOptions::new(), None, &bytes)
    })
}

/// Panics, for the test that no panic reaches Python.
#[pyfunction]
fn _panic_for_test() -> PyResult<()> {
    guard(|| panic!("deliberate panic to test the guard"))
}

#[pymodule]
fn _snapshot(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<Ext>()?;
    manager::register(m)?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(loads, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    Ok(())
}
