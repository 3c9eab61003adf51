//! Python objects walked straight into the codec's serializer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use foldhash::fast::FixedState;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use snapshot_state::codec::{CHRONO_DATETIME_TYPE_ID, DEFAULT_MAX_DEPTH, Ext as CodecExt};

use super::ndarray::{Numpy, numpy, serialize_ndarray};
use super::*;
use crate::Ext;

/// A step of the path to a value, for messages.
enum Step {
    Key(String),
    Index(usize),
}

/// What one walk shares: the Python error behind a failure and its path.
pub(crate) struct Walker<'py> {
    py: Python<'py>,
    error: RefCell<Option<PyErr>>,
    path: RefCell<Vec<Step>>,
    /// The containers being walked (their addresses), to find cycles.
    open: RefCell<Vec<usize>>,
    /// Dict keys seen in this walk, by the address of their `str` (kept alive in
    /// `held`, so an address is never reused for another string meanwhile).
    keys: RefCell<HashMap<usize, &'static str, FixedState>>,
    held: RefCell<Vec<Py<PyAny>>>,
    /// The last keys looked up, by address, in front of `keys`.
    recent: RefCell<[(usize, &'static str); RECENT_KEYS]>,
}

const RECENT_KEYS: usize = 64;

/// Dict keys as `&'static str`: what lets a dict be written as a serde struct, so the
/// codec writes dicts of the same keys as records (keys once per snapshot, compared by
/// address). Bounded: past these limits dicts are written as plain maps.
static INTERNED: Mutex<Option<HashMap<Box<str>, &'static str, FixedState>>> = Mutex::new(None);
static INTERNED_BYTES: AtomicUsize = AtomicUsize::new(0);
const INTERN_KEYS_LIMIT: usize = 1 << 16;
const INTERN_BYTES_LIMIT: usize = 4 << 20;
/// The format's limits on a shape key's length, and the most fields a dict written as
/// a record may have.
const RECORD_KEY_LEN: usize = 64;
const RECORD_FIELDS: usize = 64;

fn intern(text: &str) -> Option<&'static str> {
    let mut guard = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
    let table = guard.get_or_insert_with(|| HashMap::with_hasher(FixedState::default()));
    if let Some(s) = table.get(text) {
        return Some(s);
    }
    let bytes = INTERNED_BYTES.load(Ordering::Relaxed);
    if table.len() >= INTERN_KEYS_LIMIT || bytes + text.len() > INTERN_BYTES_LIMIT {
        return None;
    }
    let leaked: &'static str = Box::leak(Box::<str>::from(text));
    INTERNED_BYTES.store(bytes + text.len(), Ordering::Relaxed);
    table.insert(text.into(), leaked);
    Some(leaked)
}

impl<'py> Walker<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        Walker {
            py,
            error: RefCell::new(None),
            path: RefCell::new(Vec::new()),
            open: RefCell::new(Vec::new()),
            keys: RefCell::new(HashMap::with_capacity_and_hasher(16, FixedState::default())),
            held: RefCell::new(Vec::new()),
            recent: RefCell::new([(0, ""); RECENT_KEYS]),
        }
    }

    /// A dict's key as a static string, if it is an exact `str` short enough for a
    /// record's shape.
    fn static_key(&self, key: &Bound<'py, PyAny>) -> Option<&'static str> {
        let text = key.cast_exact::<PyString>().ok()?;
        let addr = key.as_ptr() as usize;
        let slot = (addr >> 4) % RECENT_KEYS;
        let (seen, recent) = self.recent.borrow()[slot];
        if seen == addr {
            return Some(recent);
        }
        if let Some(s) = self.keys.borrow().get(&addr).copied() {
            self.recent.borrow_mut()[slot] = (addr, s);
            return Some(s);
        }
        let text = text.to_str().ok()?;
        if text.len() > RECORD_KEY_LEN || text.is_empty() {
            return None;
        }
        let interned = intern(text)?;
        self.keys.borrow_mut().insert(addr, interned);
        self.held.borrow_mut().push(key.clone().unbind());
        self.recent.borrow_mut()[slot] = (addr, interned);
        Some(interned)
    }

    /// The value to serialize.
    pub(crate) fn value<'a>(&'a self, obj: &'a Bound<'py, PyAny>) -> Walk<'a, 'py> {
        Walk { obj, walker: self }
    }

    pub(super) fn fail<E: ser::Error>(&self, err: PyErr) -> E {
        *self.error.borrow_mut() = Some(err);
        E::custom("a Python value cannot be stored")
    }

    fn path_text(&self) -> String {
        let mut text = String::from("value");
        for step in self.path.borrow().iter().rev() {
            match step {
                Step::Key(k) => text.push_str(&format!("[{k}]")),
                Step::Index(i) => text.push_str(&format!("[{i}]")),
            }
        }
        text
    }

    /// The Python exception for a failed walk: the one a value raised, or the codec's
    /// error, with the path to the value.
    /// Whether the walk stopped on a Python error (which [`into_error`](Self::into_error)
    /// returns), rather than on its output.
    pub(crate) fn failed(&self) -> bool {
        self.error.borrow().is_some()
    }

    pub(crate) fn into_error(self, codec: snapshot_state::codec::Error) -> PyErr {
        let at = self.path_text();
        let py = self.py;
        match self.error.into_inner() {
            Some(err) => {
                let text = crate::errors::first_arg(py, &err);
                let ty = err.get_type(py);
                PyErr::from_type(ty, format!("{text} (at {at})"))
            }
            None => match codec {
                snapshot_state::codec::Error::DepthLimitExceeded { .. } => {
                    PyValueError::new_err(format!(
                        "nested deeper than the format's limit of {DEFAULT_MAX_DEPTH} levels (at {at})"
                    ))
                }
                other => PyValueError::new_err(format!("{other} (at {at})")),
            },
        }
    }

    fn enter(&self, obj: &Bound<'py, PyAny>) -> Result<Entered<'_>, PyErr> {
        let id = obj.as_ptr() as usize;
        let mut open = self.open.borrow_mut();
        if open.contains(&id) {
            return Err(PyValueError::new_err(
                "a cyclic structure (a container that holds itself) cannot be stored",
            ));
        }
        if open.len() >= DEFAULT_MAX_DEPTH {
            return Err(PyValueError::new_err(format!(
                "nested deeper than the format's limit of {DEFAULT_MAX_DEPTH} levels"
            )));
        }
        open.push(id);
        Ok(Entered(&self.open))
    }

    fn step<T, E>(&self, result: Result<T, E>, step: impl FnOnce() -> Step) -> Result<T, E> {
        if result.is_err() {
            self.path.borrow_mut().push(step());
        }
        result
    }
}

/// A container being walked; leaving it (dropping this) takes it off the open list,
/// however the walk of it ends (the codec's number probe stops at the container).
struct Entered<'a>(&'a RefCell<Vec<usize>>);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().pop();
    }
}

/// One Python value being serialized.
pub(crate) struct Walk<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    walker: &'a Walker<'py>,
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn key_text(key: &Bound<'_, PyAny>) -> String {
    key.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn serialize_int<S: Serializer>(
    w: &Walker<'_>,
    int: &Bound<'_, PyAny>,
    s: S,
) -> Result<S::Ok, S::Error> {
    if let Ok(v) = int.extract::<i64>() {
        return s.serialize_i64(v);
    }
    if let Ok(v) = int.extract::<u64>() {
        return s.serialize_u64(v);
    }
    Err(w.fail(PyOverflowError::new_err(format!(
        "int {} does not fit the format's integers (-2**63 to 2**64-1)",
        int.str().map(|s| s.to_string()).unwrap_or_default()
    ))))
}

fn serialize_text<S: Serializer>(
    w: &Walker<'_>,
    text: &Bound<'_, PyString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match text.to_str() {
        Ok(text) => s.serialize_str(text),
        Err(e) => Err(w.fail(e)),
    }
}

/// A list or tuple: a list.
fn serialize_items<'py, S: Serializer>(
    w: &Walker<'py>,
    obj: &Bound<'py, PyAny>,
    len: usize,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let _entered = w.enter(obj).map_err(|e| w.fail(e))?;
    let mut seq = s.serialize_seq(Some(len))?;
    for (i, item) in items.enumerate() {
        let r = seq.serialize_element(&Walk {
            obj: &item,
            walker: w,
        });
        w.step(r, || Step::Index(i))?;
    }
    seq.end()
}

impl Serialize for Walk<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.walker;
        let obj = self.obj;
        // The common types first, by exact type; subclasses below.
        if let Ok(v) = obj.cast_exact::<PyString>() {
            return serialize_text(w, v, s);
        }
        if let Ok(v) = obj.cast_exact::<PyBool>() {
            return s.serialize_bool(v.is_true());
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return serialize_int(w, obj, s);
        }
        if let Ok(v) = obj.cast_exact::<PyFloat>() {
            return s.serialize_f64(v.value());
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            let _entered = w.enter(obj).map_err(|e| w.fail(e))?;
            let len = d.len();
            if (1..=RECORD_FIELDS).contains(&len) {
                let mut fields = Vec::with_capacity(len);
                for (k, v) in d.iter() {
                    match w.static_key(&k) {
                        Some(key) => fields.push((key, k, v)),
                        None => break,
                    }
                }
                if fields.len() == len {
                    // Named by its first key: dicts of the same first key and length
                    // share a shape (others get the format's break, still correct).
                    let mut record = s.serialize_struct(fields[0].0, len)?;
                    for (key, k, v) in &fields {
                        let r = record.serialize_field(key, &Walk { obj: v, walker: w });
                        w.step(r, || Step::Key(key_text(k)))?;
                    }
                    return record.end();
                }
            }
            let mut map = s.serialize_map(Some(len))?;
            for (k, v) in d.iter() {
                let key = Key { obj: &k, walker: w };
                let entry = map.serialize_entry(&key, &Walk { obj: &v, walker: w });
                w.step(entry, || Step::Key(key_text(&k)))?;
            }
            return map.end();
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return serialize_items(w, obj, l.len(), l.iter(), s);
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return serialize_items(w, obj, t.len(), t.iter(), s);
        }
        if obj.is_none() {
            return s.serialize_unit();
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return s.serialize_bytes(b.as_bytes());
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return s.serialize_bytes(&b.to_vec());
        }
        // Subclasses of the scalar types (an IntEnum, a str subclass).
        if let Ok(v) = obj.cast::<PyString>() {
            return serialize_text(w, v, s);
        }
        if let Ok(v) = obj.cast::<PyBool>() {
            return s.serialize_bool(v.is_true());
        }
        if obj.is_instance_of::<PyInt>() {
            return serialize_int(w, obj, s);
        }
        if let Ok(v) = obj.cast::<PyFloat>() {
            return s.serialize_f64(v.value());
        }
        if let Ok(ext) = obj.cast::<Ext>() {
            let ext = ext.get();
            let data = ext.data.bind(w.py).as_bytes().to_vec();
            return CodecExt::new(ext.type_id, data).serialize(s);
        }
        match is_datetime(obj) {
            Ok(true) => {
                let micros = datetime_micros(obj, false).map_err(|e| w.fail(e))?;
                let mut payload = Vec::with_capacity(12);
                payload.extend_from_slice(&micros.div_euclid(1_000_000).to_le_bytes());
                let nanos = (micros.rem_euclid(1_000_000) * 1_000) as u32;
                payload.extend_from_slice(&nanos.to_le_bytes());
                return CodecExt::new(CHRONO_DATETIME_TYPE_ID, payload).serialize(s);
            }
            Ok(false) => {}
            Err(e) => return Err(w.fail(e)),
        }
        match numpy(obj) {
            Ok(Some(Numpy::Array)) => return serialize_ndarray(w, obj, s),
            Ok(Some(Numpy::Scalar)) => {
                let item = obj.call_method0("item").map_err(|e| w.fail(e))?;
                return Walk {
                    obj: &item,
                    walker: w,
                }
                .serialize(s);
            }
            Ok(None) => {}
            Err(e) => return Err(w.fail(e)),
        }
        Err(w.fail(PyTypeError::new_err(format!(
            "cannot store a value of type {}: snapshots hold None, bool, int, float, str, \
             bytes, bytearray, list, tuple, dict, aware datetime, snapshot_state.Ext and numpy arrays",
            type_name(obj)
        ))))
    }
}

/// A dict key: str or int.
struct Key<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    walker: &'a Walker<'py>,
}

impl Serialize for Key<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.walker;
        if let Ok(v) = self.obj.cast::<PyString>() {
            return serialize_text(w, v, s);
        }
        if self.obj.is_instance_of::<PyInt>() && !self.obj.is_instance_of::<PyBool>() {
            return serialize_int(w, self.obj, s);
        }
        Err(w.fail(PyTypeError::new_err(format!(
            "dict keys must be str or int, not {} (key {})",
            type_name(self.obj),
            key_text(self.obj)
        ))))
    }
}
