//! Python values to the format and back, without an intermediate tree: Python objects
//! are walked straight into the codec's serializer, and decoded straight into Python
//! objects.
//!
//! | Python | stored as | comes back as |
//! |---|---|---|
//! | `None`, `bool`, `str`, `bytes` | null, bool, string, bytes | the same |
//! | `bytearray` | bytes | `bytes` |
//! | `int` in `-2**63 ..= 2**64-1` | integer | `int` |
//! | `float` | 64-bit float, bit for bit | `float` |
//! | `dict` with `str` / `int` keys | map (integer keys kept as integers) | `dict` |
//! | `list`, `tuple` | list (numbers side by side as a typed array) | `list` |
//! | aware `datetime.datetime` | the UTC time extension (type 1) | `datetime` in UTC |
//! | `snapshot_state.Ext` | an extension value | `snapshot_state.Ext` |
//! | numpy array / scalar | typed arrays (one per row) / its number | lists / the number |

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use foldhash::fast::FixedState;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use snapshot_state::codec::{CHRONO_DATETIME_TYPE_ID, DEFAULT_MAX_DEPTH, Ext as CodecExt};

use crate::Ext;

/// `datetime.datetime`, `datetime.timedelta` and the aware epoch, looked up once.
struct DateTimes {
    datetime: Py<PyType>,
    timedelta: Py<PyAny>,
    epoch: Py<PyAny>,
}

static DATETIMES: PyOnceLock<DateTimes> = PyOnceLock::new();

fn datetimes(py: Python<'_>) -> PyResult<&DateTimes> {
    DATETIMES.get_or_try_init(py, || {
        let module = py.import("datetime")?;
        let utc = module.getattr("timezone")?.getattr("utc")?;
        let datetime = module.getattr("datetime")?;
        let epoch = datetime.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok(DateTimes {
            datetime: datetime.cast_into::<PyType>()?.unbind(),
            timedelta: module.getattr("timedelta")?.unbind(),
            epoch: epoch.unbind(),
        })
    })
}

/// Microseconds since the Unix epoch of an aware datetime; a naive one is local time
/// (as `datetime.timestamp` reads it) when `naive_is_local`, else a `TypeError`.
pub(crate) fn datetime_micros(value: &Bound<'_, PyAny>, naive_is_local: bool) -> PyResult<i64> {
    let py = value.py();
    let dt = datetimes(py)?;
    let mut value = value.clone();
    if value.getattr("tzinfo")?.is_none() || value.call_method0("utcoffset")?.is_none() {
        if !naive_is_local {
            return Err(PyTypeError::new_err(
                "a naive datetime (no tzinfo) is ambiguous: give it a timezone, such as \
                 datetime.timezone.utc",
            ));
        }
        value = value.call_method0("astimezone")?;
    }
    let delta = value.sub(dt.epoch.bind(py))?;
    let days: i64 = delta.getattr("days")?.extract()?;
    let seconds: i64 = delta.getattr("seconds")?.extract()?;
    let micros: i64 = delta.getattr("microseconds")?.extract()?;
    Ok((days * 86_400 + seconds) * 1_000_000 + micros)
}

/// The aware UTC datetime `micros` after the epoch.
pub(crate) fn datetime_from_micros(py: Python<'_>, micros: i64) -> PyResult<Bound<'_, PyAny>> {
    let dt = datetimes(py)?;
    let delta = dt.timedelta.bind(py).call1((
        0,
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000),
    ))?;
    dt.epoch.bind(py).add(delta)
}

fn is_datetime(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let dt = datetimes(value.py())?;
    value.is_instance(dt.datetime.bind(value.py()))
}

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
            keys: RefCell::new(HashMap::with_hasher(FixedState::default())),
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

    fn fail<E: ser::Error>(&self, err: PyErr) -> E {
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

enum Numpy {
    Array,
    Scalar,
}

/// Whether `obj` is a numpy array or scalar; numpy is never imported here (an object of
/// its types means it already was).
fn numpy(obj: &Bound<'_, PyAny>) -> PyResult<Option<Numpy>> {
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
fn serialize_ndarray<S: Serializer>(
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

// ---------------------------------------------------------------------------------
// Decoding.

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
}

/// Keys longer than this are not kept; nor are more than [`KEY_CACHE_LIMIT`] keys.
const KEY_CACHE_LEN: usize = 64;
const KEY_CACHE_LIMIT: usize = 4096;

/// What a Python object costs the budget at least: its header and a pointer to it.
const OBJECT_COST: u64 = 24;

impl<'py> Builder<'py> {
    pub(crate) fn new(py: Python<'py>, max_memory: u64) -> Self {
        Builder {
            py,
            error: RefCell::new(None),
            budget: Cell::new(max_memory),
            keys: RefCell::new(HashMap::with_hasher(FixedState::default())),
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
        let (type_id, data) = d.deserialize_tuple(2, ExtPair)?;
        self.builder.charge(data.len() as u64)?;
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
                .and_then(|m| datetime_from_micros(py, m))
                .map_err(|e| self.builder.fail(e));
        }
        let ext = Ext {
            type_id,
            data: PyBytes::new(py, &data).unbind(),
        };
        Bound::new(py, ext)
            .map(|e| e.into_any())
            .map_err(|e| self.builder.fail(e))
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
        if v.len() > KEY_CACHE_LEN {
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

/// An extension value's `(type id, payload)`.
struct ExtPair;

impl<'de> Visitor<'de> for ExtPair {
    type Value = (u64, Vec<u8>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an extension value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let type_id: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let data: Payload = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((type_id, data.0))
    }
}

struct Payload(Vec<u8>);

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}
