//! numpy arrays and scalars: typed arrays (one per row) and numbers.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::*;

pub(super) enum Numpy {
    Array,
    Scalar,
}

/// Whether `obj` is a numpy array or scalar; numpy is never imported here (an object of
/// its types means it already was).
pub(super) fn numpy(obj: &Bound<'_, PyAny>) -> PyResult<Option<Numpy>> {
    let py = obj.py();
    let modules = py.import("sys")?.getattr("modules")?;
    let Ok(np) = modules.get_item("numpy") else {
        return Ok(None);
    };
    if np.is_none() {
        return Ok(None); // `sys.modules["numpy"] = None` blocks numpy
    }
    if obj.is_instance(&np.getattr("ndarray")?)? {
        return Ok(Some(Numpy::Array));
    }
    if obj.is_instance(&np.getattr("generic")?)? {
        return Ok(Some(Numpy::Scalar));
    }
    Ok(None)
}

/// A numpy array as (nested lists of) typed arrays of its dtype.
pub(super) fn serialize_ndarray<S: Serializer>(
    w: &Walker<'_>,
    arr: &Bound<'_, PyAny>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let describe = || -> PyResult<(String, usize, Vec<usize>, Vec<u8>)> {
        let dtype = arr.getattr("dtype")?;
        let kind: String = dtype.getattr("kind")?.extract()?;
        let size: usize = dtype.getattr("itemsize")?.extract()?;
        let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
        // Native byte order, C order.
        let native = arr.call_method1("astype", (dtype.call_method1("newbyteorder", ("=",))?,))?;
        let data: Vec<u8> = native.call_method0("tobytes")?.extract()?;
        Ok((kind, size, shape, data))
    };
    let (kind, size, shape, data) = describe().map_err(|e| w.fail(e))?;
    let supported = matches!(
        (kind.as_str(), size),
        ("b", 1) | ("u", 1 | 2 | 4 | 8) | ("i", 1 | 2 | 4 | 8) | ("f", 4 | 8)
    );
    if !supported {
        return Err(w.fail(PyTypeError::new_err(format!(
            "cannot store a numpy array of dtype kind {kind:?} with {size}-byte items \
             (bool, int, uint and float32/float64 arrays can be stored)"
        ))));
    }
    if shape.is_empty() {
        // A 0-d array: its one number.
        return Elem {
            kind: &kind,
            bytes: &data,
        }
        .serialize(s);
    }
    Rows {
        kind: &kind,
        size,
        shape: &shape,
        data: &data,
    }
    .serialize(s)
}

struct Rows<'a> {
    kind: &'a str,
    size: usize,
    shape: &'a [usize],
    data: &'a [u8],
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (n, inner) = (self.shape[0], &self.shape[1..]);
        let mut seq = s.serialize_seq(Some(n))?;
        if inner.is_empty() {
            for bytes in self.data.chunks_exact(self.size) {
                seq.serialize_element(&Elem {
                    kind: self.kind,
                    bytes,
                })?;
            }
        } else {
            let row = inner.iter().product::<usize>() * self.size;
            for i in 0..n {
                seq.serialize_element(&Rows {
                    kind: self.kind,
                    size: self.size,
                    shape: inner,
                    data: &self.data[i * row..(i + 1) * row],
                })?;
            }
        }
        seq.end()
    }
}

struct Elem<'a> {
    kind: &'a str,
    bytes: &'a [u8],
}

impl Serialize for Elem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        macro_rules! ne {
            ($t:ty) => {{
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(self.bytes);
                <$t>::from_ne_bytes(b)
            }};
        }
        match (self.kind, self.bytes.len()) {
            ("b", _) => s.serialize_bool(self.bytes[0] != 0),
            ("u", 1) => s.serialize_u8(ne!(u8)),
            ("u", 2) => s.serialize_u16(ne!(u16)),
            ("u", 4) => s.serialize_u32(ne!(u32)),
            ("u", _) => s.serialize_u64(ne!(u64)),
            ("i", 1) => s.serialize_i8(ne!(i8)),
            ("i", 2) => s.serialize_i16(ne!(i16)),
            ("i", 4) => s.serialize_i32(ne!(i32)),
            ("i", _) => s.serialize_i64(ne!(i64)),
            ("f", 4) => s.serialize_f32(ne!(f32)),
            _ => s.serialize_f64(ne!(f64)),
        }
    }
}
