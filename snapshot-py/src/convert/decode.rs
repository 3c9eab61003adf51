//! Snapshots decoded straight into Python objects.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use foldhash::fast::FixedState;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use snapshot_state::codec::{CHRONO_DATETIME_TYPE_ID, NDARRAY_TYPE_ID};

use super::ndarray::build_ndarray;
use super::*;
use crate::Ext;

/// What one decode shares: the Python error behind a failure, and the memory its
/// objects may take (Python objects cost more than their encoded bytes; a hostile
/// snapshot must not make a decode take unbounded memory).
pub(crate) struct Builder<'py> {
    py: Python<'py>,
    error: RefCell<Option<PyErr>>,
    budget: Cell<u64>,
    /// Map keys made so far: a snapshot of records repeats a few keys many times, and
    /// one `str` per key (whose hash Python keeps) saves making, hashing and freeing one
    /// per entry.
    keys: RefCell<HashMap<Box<str>, Py<PyString>, FixedState>>,
    /// Whether keys go through `keys` (not for small bodies: a document of a few
    /// hundred bytes rarely repeats a key, and the cache then costs an allocation and a
    /// hash per key for nothing).
    cache_keys: bool,
}

/// Bodies at least this long cache their keys.
const KEY_CACHE_FROM: usize = 4096;

/// Keys longer than this are not kept; nor are more than [`KEY_CACHE_LIMIT`] keys.
const KEY_CACHE_LEN: usize = 64;
const KEY_CACHE_LIMIT: usize = 4096;

/// What a Python object costs the budget at least: its header and a pointer to it.
const OBJECT_COST: u64 = 24;

impl<'py> Builder<'py> {
    /// A builder for a body of `body_len` bytes.
    pub(crate) fn new(py: Python<'py>, max_memory: u64, body_len: usize) -> Self {
        Builder {
            py,
            error: RefCell::new(None),
            budget: Cell::new(max_memory),
            keys: RefCell::new(HashMap::with_hasher(FixedState::default())),
            cache_keys: body_len >= KEY_CACHE_FROM,
        }
    }

    /// The Python error a failed decode stashed, if the failure was Python's.
    pub(crate) fn take_error(&self) -> Option<PyErr> {
        self.error.borrow_mut().take()
    }

    fn fail<E: de::Error>(&self, err: PyErr) -> E {
        *self.error.borrow_mut() = Some(err);
        E::custom("building a Python value failed")
    }

    fn charge<E: de::Error>(&self, bytes: u64) -> Result<(), E> {
        let cost = OBJECT_COST + bytes;
        match self.budget.get().checked_sub(cost) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(E::custom(
                "the Python objects of this snapshot would exceed the memory limit",
            )),
        }
    }
}

/// Builds one Python value.
#[derive(Clone, Copy)]
pub(crate) struct Build<'a, 'py> {
    pub(crate) builder: &'a Builder<'py>,
}

impl<'de, 'py> DeserializeSeed<'de> for Build<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for Build<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a snapshot value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.builder.py.None().into_bound(self.builder.py))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.builder.py, v).to_owned().into_any())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.builder.charge(8)?;
        let Ok(int) = v.into_pyobject(self.builder.py);
        Ok(int.into_any())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.builder.charge(8)?;
        let Ok(int) = v.into_pyobject(self.builder.py);
        Ok(int.into_any())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.builder.charge(8)?;
        Ok(PyFloat::new(self.builder.py, v).into_any())
    }
    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
        self.visit_f64(f64::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.builder.charge(v.len() as u64)?;
        Ok(PyString::new(self.builder.py, v).into_any())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        self.builder.charge(v.len() as u64)?;
        Ok(PyBytes::new(self.builder.py, v).into_any())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.builder.charge(0)?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            self.builder.charge(8)?;
            items.push(item);
        }
        PyList::new(self.builder.py, items)
            .map(|l| l.into_any())
            .map_err(|e| self.builder.fail(e))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        self.builder.charge(64)?;
        let dict = PyDict::new(self.builder.py);
        while let Some(key) = map.next_key_seed(BuildKey(self))? {
            let value = map.next_value_seed(self)?;
            self.builder.charge(24)?;
            dict.set_item(key, value)
                .map_err(|e| self.builder.fail(e))?;
        }
        Ok(dict.into_any())
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, ExtPair(self))
    }
}

impl<'py> Build<'_, 'py> {
    /// The Python value of an extension: a datetime, a numpy array, or an `Ext`.
    fn ext(self, type_id: u64, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let py = self.builder.py;
        if type_id == CHRONO_DATETIME_TYPE_ID && data.len() == 12 {
            let mut secs = [0u8; 8];
            secs.copy_from_slice(&data[..8]);
            let secs = i64::from_le_bytes(secs);
            let nanos = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
            // A leap second's nanoseconds (above a billion) end in the second's last µs.
            let micros = i64::from(nanos.min(999_999_999) / 1_000);
            return secs
                .checked_mul(1_000_000)
                .and_then(|m| m.checked_add(micros))
                .ok_or_else(|| PyOverflowError::new_err("a time too far from 1970 for Python"))
                .and_then(|m| datetime_from_micros(py, m));
        }
        if type_id == NDARRAY_TYPE_ID {
            return build_ndarray(py, data);
        }
        let ext = Ext {
            type_id,
            data: PyBytes::new(py, data).unbind(),
        };
        Ok(Bound::new(py, ext)?.into_any())
    }
}

/// A map key: text keys come from the builder's key cache.
#[derive(Clone, Copy)]
struct BuildKey<'a, 'py>(Build<'a, 'py>);

impl<'de, 'py> DeserializeSeed<'de> for BuildKey<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for BuildKey<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let builder = self.0.builder;
        let py = builder.py;
        if v.len() > KEY_CACHE_LEN || !builder.cache_keys {
            return self.0.visit_str(v);
        }
        let mut keys = builder.keys.borrow_mut();
        if let Some(key) = keys.get(v) {
            builder.charge(8)?;
            return Ok(key.bind(py).clone().into_any());
        }
        builder.charge(v.len() as u64)?;
        let key = PyString::new(py, v);
        if keys.len() < KEY_CACHE_LIMIT {
            keys.insert(v.into(), key.clone().unbind());
        }
        Ok(key.into_any())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.visit_u64(v)
    }
}

/// An extension value's `(type id, payload)`, built into its Python value from the
/// payload in place (a numpy array's payload is copied once, into the array).
struct ExtPair<'a, 'py>(Build<'a, 'py>);

impl<'de, 'py> Visitor<'de> for ExtPair<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an extension value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let type_id: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &"an extension value"))?;
        seq.next_element_seed(ExtPayload {
            build: self.0,
            type_id,
        })?
        .ok_or_else(|| de::Error::invalid_length(1, &"an extension value"))
    }
}

struct ExtPayload<'a, 'py> {
    build: Build<'a, 'py>,
    type_id: u64,
}

impl<'de, 'py> DeserializeSeed<'de> for ExtPayload<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de, 'py> Visitor<'de> for ExtPayload<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an extension payload")
    }
    fn visit_bytes<E: de::Error>(self, data: &[u8]) -> Result<Self::Value, E> {
        let builder = self.build.builder;
        builder.charge(data.len() as u64)?;
        self.build
            .ext(self.type_id, data)
            .map_err(|e| builder.fail(e))
    }
}
