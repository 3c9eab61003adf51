//! numpy arrays as the codec's `NdArray` extension (one block: element type, shape,
//! little-endian elements) and back; numpy scalars as Python numbers.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde::ser::{Serialize, Serializer};
use snapshot_state::codec::{DType, ExtParts, NDARRAY_TYPE_ID, NdArray};

use super::*;

pub(super) enum Numpy {
    Array,
    Scalar,
}

/// The numpy module if the program imported it (and did not block it with
/// `sys.modules["numpy"] = None`); numpy is never imported here.
fn imported_numpy<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let modules = py.import("sys")?.getattr("modules")?;
    match modules.get_item("numpy") {
        Ok(np) if !np.is_none() => Ok(Some(np)),
        _ => Ok(None),
    }
}

/// About how many bytes the numpy arrays in `value` hold, so a walk can size its buffer
/// once instead of growing it by doubling (each growth copies what was written). The
/// containers are looked into three levels deep, breadth first; a list or tuple of more
/// than 64 items is estimated from its first 64 (but never above twice what was seen);
/// at most 4,096 objects are looked at.
pub(crate) fn numpy_bytes<'py>(value: &Bound<'py, PyAny>) -> usize {
    const SAMPLE: usize = 64;
    let Some(ndarray) = ndarray_type(value.py()) else {
        return 0;
    };
    // Scalars are not queued at all: a small document costs a few type checks.
    let plain = |o: &Bound<'_, PyAny>| {
        o.is_exact_instance_of::<PyString>()
            || o.is_exact_instance_of::<PyInt>()
            || o.is_exact_instance_of::<PyFloat>()
            || o.is_none()
    };
    let (mut total, mut seen) = (0f64, 0f64);
    let mut queue = vec![(value.clone(), 0u8, 1f64)];
    let mut next = 0;
    while next < queue.len() && next < 4096 {
        let (obj, depth, weight) = queue[next].clone();
        next += 1;
        let mut sample = |len: usize, items: &mut dyn Iterator<Item = Bound<'py, PyAny>>| {
            if depth >= 3 || len == 0 {
                return;
            }
            let scale = weight * len as f64 / len.min(SAMPLE) as f64;
            for item in items.take(SAMPLE) {
                if !plain(&item) {
                    queue.push((item, depth + 1, scale));
                }
            }
        };
        if let Ok(d) = obj.cast::<PyDict>() {
            sample(d.len(), &mut d.iter().map(|(_, v)| v));
        } else if let Ok(l) = obj.cast::<PyList>() {
            sample(l.len(), &mut l.iter());
        } else if let Ok(t) = obj.cast::<PyTuple>() {
            sample(t.len(), &mut t.iter());
        } else if obj.is_instance(&ndarray).unwrap_or(false)
            && let Ok(n) = obj.getattr("nbytes").and_then(|n| n.extract::<usize>())
        {
            total += weight * (n as f64 + 16.0);
            seen += n as f64 + 16.0;
        }
    }
    // Never more than twice the bytes of the arrays actually looked at: a sample that
    // misleads reserves at most that much, and the walk grows the buffer past it.
    total.min(2.0 * seen) as usize
}

/// `numpy.ndarray`, once the program has imported numpy (kept from then on).
fn ndarray_type(py: Python<'_>) -> Option<Bound<'_, PyType>> {
    static NDARRAY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    if let Some(t) = NDARRAY.get(py) {
        return Some(t.bind(py).clone());
    }
    let t = imported_numpy(py)
        .ok()??
        .getattr("ndarray")
        .ok()?
        .cast_into::<PyType>()
        .ok()?;
    let _ = NDARRAY.set(py, t.clone().unbind());
    Some(t)
}

/// Whether `obj` is a numpy array or scalar.
pub(super) fn numpy(obj: &Bound<'_, PyAny>) -> PyResult<Option<Numpy>> {
    let Some(np) = imported_numpy(obj.py())? else {
        return Ok(None);
    };
    if obj.is_instance(&np.getattr("ndarray")?)? {
        return Ok(Some(Numpy::Array));
    }
    if obj.is_instance(&np.getattr("generic")?)? {
        return Ok(Some(Numpy::Scalar));
    }
    Ok(None)
}

/// The element type of a numpy dtype, if it is one a snapshot stores.
fn dtype_of(kind: &str, size: usize) -> Option<DType> {
    Some(match (kind, size) {
        ("b", 1) => DType::Bool,
        ("u", 1) => DType::U8,
        ("i", 1) => DType::I8,
        ("u", 2) => DType::U16,
        ("i", 2) => DType::I16,
        ("u", 4) => DType::U32,
        ("i", 4) => DType::I32,
        ("u", 8) => DType::U64,
        ("i", 8) => DType::I64,
        ("f", 2) => DType::F16,
        ("f", 4) => DType::F32,
        ("f", 8) => DType::F64,
        ("c", 8) => DType::Complex64,
        ("c", 16) => DType::Complex128,
        _ => return None,
    })
}

/// A numpy array as the `NdArray` extension: its header, then its elements written
/// from the array's own buffer (little-endian, C order; other layouts are converted
/// first). The writer copies them once, into the body or a stream's buffer, before
/// anything is computed over them.
pub(super) fn serialize_ndarray<S: Serializer>(
    w: &Walker<'_>,
    arr: &Bound<'_, PyAny>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let (header, element, buffer) = elements(arr).map_err(|e| w.fail(e))?;
    if !buffer.is_c_contiguous() || buffer.item_size() != 1 {
        return Err(w.fail(PyTypeError::new_err(
            "numpy gave a non-contiguous buffer for a contiguous array",
        )));
    }
    // SAFETY: `buffer` holds the array's memory (a contiguous run of `len_bytes`
    // bytes, checked above) alive and in place until it is dropped after the write.
    // The GIL is held; numpy code in another thread that released it could still
    // write these bytes meanwhile (as it could under `numpy.save`): the codec only
    // copies them, into the body or a stream's buffer, before it hashes anything, so
    // such a write tears the stored array's values but never its checksum.
    #[allow(unsafe_code)]
    let data =
        unsafe { std::slice::from_raw_parts(buffer.buf_ptr().cast::<u8>(), buffer.len_bytes()) };
    let result = if element == DType::Bool {
        // A bool array viewed from other bytes can hold any byte; stored as numpy reads
        // it (nonzero is True), so the snapshot is one every reader accepts.
        let normal: Vec<u8> = data.iter().map(|&b| u8::from(b != 0)).collect();
        ExtParts::new(NDARRAY_TYPE_ID, &[&header, &normal]).serialize(s)
    } else {
        ExtParts::new(NDARRAY_TYPE_ID, &[&header, data]).serialize(s)
    };
    drop(buffer);
    result
}

/// A numpy array's `NdArray` header, element type and a buffer of its elements.
fn elements(arr: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, DType, PyBuffer<u8>)> {
    let py = arr.py();
    let np = py.import("numpy")?;
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    let size: usize = dtype.getattr("itemsize")?.extract()?;
    let Some(element) = dtype_of(&kind, size) else {
        return Err(PyTypeError::new_err(format!(
            "cannot store a numpy array of dtype {} (bool, int8-64, uint8-64, float16/32/64 \
             and complex64/128 arrays can be stored)",
            dtype.str()?
        )));
    };
    let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
    // Little-endian and C-contiguous: a view when it already is, a copy otherwise.
    let little = dtype.call_method1("newbyteorder", ("<",))?;
    let contiguous = np.call_method1("ascontiguousarray", (arr, little))?;
    let bytes = contiguous
        .call_method1("reshape", (-1,))?
        .call_method1("view", (np.getattr("uint8")?,))?;
    let buffer = PyBuffer::<u8>::get(&bytes)?;
    let mut header = Vec::with_capacity(2 + 10 * shape.len());
    NdArray::write_header(element, &shape, &mut header);
    Ok((header, element, buffer))
}

/// An `NdArray` payload as a numpy array (one copy, into the new array), or as nested
/// lists when numpy cannot be imported.
pub(super) fn build_ndarray<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let (dtype, shape, at) =
        NdArray::parse_header(data).map_err(pyo3::exceptions::PyValueError::new_err)?;
    let elements = &data[at..];
    let np = match py.import("numpy") {
        Ok(np) => np,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyImportError>(py) => {
            return nested_lists(py, dtype, &shape, elements);
        }
        Err(e) => return Err(e),
    };
    let dt = np
        .call_method1("dtype", (dtype.numpy_name(),))?
        .call_method1("newbyteorder", ("<",))?;
    let shape_t = PyTuple::new(py, &shape)?;
    let array = np.call_method1("empty", (shape_t, &dt))?;
    let flat = array
        .call_method1("reshape", (-1,))?
        .call_method1("view", (np.getattr("uint8")?,))?;
    let buffer = PyBuffer::<u8>::get(&flat)?;
    buffer.copy_from_slice(py, elements)?;
    drop(buffer);
    if cfg!(target_endian = "big") {
        return array.call_method1("astype", (dt.call_method1("newbyteorder", ("=",))?,));
    }
    Ok(array)
}

/// Without numpy: nested lists of Python numbers, through `memoryview.cast`; complex and
/// float16 elements (which `memoryview` cannot make numbers of everywhere) stay a
/// `snapshot_state.Ext`.
fn nested_lists<'py>(
    py: Python<'py>,
    dtype: DType,
    shape: &[usize],
    elements: &[u8],
) -> PyResult<Bound<'py, PyAny>> {
    let format = match dtype {
        DType::Bool => "?",
        DType::U8 => "B",
        DType::I8 => "b",
        DType::U16 => "H",
        DType::I16 => "h",
        DType::U32 => "I",
        DType::I32 => "i",
        DType::U64 => "Q",
        DType::I64 => "q",
        DType::F32 => "f",
        DType::F64 => "d",
        _ => "",
    };
    if format.is_empty() || cfg!(target_endian = "big") || shape.contains(&0) {
        let mut payload = Vec::new();
        NdArray::write_header(dtype, shape, &mut payload);
        payload.extend_from_slice(elements);
        let ext = crate::Ext {
            type_id: NDARRAY_TYPE_ID,
            data: PyBytes::new(py, &payload).unbind(),
        };
        return Ok(Bound::new(py, ext)?.into_any());
    }
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((PyBytes::new(py, elements),))?;
    let shape_t = PyTuple::new(py, shape)?;
    view.call_method1("cast", (format, shape_t))?
        .call_method0("tolist")
}
