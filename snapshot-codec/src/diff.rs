//! What changed between two values, path by path.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::ndarray::to_f64;
use crate::{DType, NDARRAY_TYPE_ID, NdArray, Value};

/// Strings longer than this are described by their length, not quoted.
const QUOTE_LIMIT: usize = 200;

/// The differences between two values ([`diff`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Diff {
    /// Every path that was added, removed or changed, in the order met: a map's keys in
    /// the old value's order, then the keys only the new one has.
    pub changes: Vec<Change>,
    /// How many leaf values (everything but maps and lists) are equal at the same path.
    pub unchanged: u64,
}

impl Diff {
    /// Whether the two values were equal.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// One path that differs. Paths are JSON Pointers (RFC 6901): `/users/7/name`, `""` for
/// the root; a `/` in a key is written `~1` and a `~` is written `~0`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// The path is only in the new value.
    Added {
        /// Where.
        path: String,
        /// What is there now.
        new: Brief,
    },
    /// The path is only in the old value.
    Removed {
        /// Where.
        path: String,
        /// What was there.
        old: Brief,
    },
    /// A different value, or a different kind of value, at the same path.
    Changed {
        /// Where.
        path: String,
        /// Before.
        old: Brief,
        /// After.
        new: Brief,
    },
    /// Numeric arrays (typed arrays or n-dimensional arrays) of the same type and shape
    /// whose elements differ.
    Elements {
        /// Where.
        path: String,
        /// The element type, by numpy's name (`float32`).
        element_type: &'static str,
        /// How many elements the arrays hold.
        len: u64,
        /// How many elements differ.
        changed: u64,
        /// The largest absolute difference between two elements at the same index
        /// (NaN when an element is NaN on one side only; 0 for booleans and complex
        /// numbers, which are counted but not measured).
        max_abs_diff: f64,
    },
}

impl Change {
    /// The path that differs.
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Changed { path, .. }
            | Change::Elements { path, .. } => path,
        }
    }
}

/// A value described in brief: scalars in full, containers by kind and size.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Brief {
    /// [`Value::kind`], or `ndarray` for an n-dimensional array.
    pub kind: &'static str,
    /// Entries, items, elements or bytes (for containers, arrays, long strings, bytes).
    pub len: Option<u64>,
    /// The value itself when it is a scalar (null, bool, number, a string of at most
    /// 200 bytes).
    pub value: Option<Value>,
}

impl Brief {
    /// Describes `value`.
    pub fn of(value: &Value) -> Brief {
        let (len, scalar) = match value {
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Float32(_) => {
                (None, true)
            }
            Value::String(s) if s.len() <= QUOTE_LIMIT => (None, true),
            Value::String(s) => (Some(s.len() as u64), false),
            Value::Bytes(b) => (Some(b.len() as u64), false),
            Value::List(l) => (Some(l.len() as u64), false),
            Value::Map(m) => (Some(m.len() as u64), false),
            Value::Array(a) => (Some(a.len() as u64), false),
            Value::Ext(e) => match ndarray(value) {
                Some((dtype, _, data)) => (Some((data.len() / dtype.width()) as u64), false),
                None => (Some(e.data().len() as u64), false),
            },
        };
        Brief {
            kind: match ndarray(value) {
                Some(_) => "ndarray",
                None => value.kind(),
            },
            len,
            value: scalar.then(|| value.clone()),
        }
    }
}

impl fmt::Display for Brief {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.len) {
            (Some(Value::String(s)), _) => write!(f, "{s:?}"),
            (Some(v), _) => write!(f, "{v}"),
            (None, Some(len)) => write!(f, "{} of {len}", self.kind),
            (None, None) => f.write_str(self.kind),
        }
    }
}

impl fmt::Display for Change {
    /// One line: `~ /path: old -> new`, `+ /path: new`, `- /path: old`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |p: &str| {
            if p.is_empty() {
                "/".to_owned()
            } else {
                p.to_owned()
            }
        };
        match self {
            Change::Added { path, new } => write!(f, "+ {}: {new}", shown(path)),
            Change::Removed { path, old } => write!(f, "- {}: {old}", shown(path)),
            Change::Changed { path, old, new } => write!(f, "~ {}: {old} -> {new}", shown(path)),
            Change::Elements {
                path,
                element_type,
                len,
                changed,
                max_abs_diff,
            } => write!(
                f,
                "~ {}: {changed} of {len} {element_type} elements differ, max abs diff {max_abs_diff}",
                shown(path)
            ),
        }
    }
}

/// What changed from `old` to `new`: the paths added, removed and changed, and how many
/// leaf values are unchanged.
///
/// Maps are compared key by key, lists index by index (items past the shorter list are
/// added or removed), numeric arrays of one type and shape element by element (counted,
/// with the largest absolute difference), everything else by value: floats bit for bit
/// (a NaN equals the same NaN), and an integer never equals a float. Memory: both values
/// (the caller's) and the list of changes.
///
/// ```
/// use snapshot_codec::{diff, value, Change};
///
/// let old = value!({"step": 1, "loss": 0.5, "tags": ["a"], "lr": 0.1});
/// let new = value!({"step": 2, "loss": 0.5, "tags": ["a", "b"]});
/// let d = diff(&old, &new);
/// let paths: Vec<&str> = d.changes.iter().map(Change::path).collect();
/// assert_eq!(paths, ["/step", "/tags/1", "/lr"]);
/// assert_eq!(d.unchanged, 2); // loss and tags/0
/// assert_eq!(d.changes[0].to_string(), "~ /step: 1 -> 2");
/// ```
pub fn diff(old: &Value, new: &Value) -> Diff {
    let mut out = Diff::default();
    let mut path = String::new();
    walk(old, new, &mut path, &mut out);
    out
}

pub(crate) fn walk(old: &Value, new: &Value, path: &mut String, out: &mut Diff) {
    match (old, new) {
        (Value::Map(a), Value::Map(b)) => walk_maps(a, b, path, out),
        (Value::List(a), Value::List(b)) => {
            for i in 0..a.len().max(b.len()) {
                let at = path.len();
                push_segment(path, &i.to_string());
                match (a.get(i), b.get(i)) {
                    (Some(av), Some(bv)) => walk(av, bv, path, out),
                    (Some(av), None) => out.changes.push(Change::Removed {
                        path: path.clone(),
                        old: Brief::of(av),
                    }),
                    (None, Some(bv)) => out.changes.push(Change::Added {
                        path: path.clone(),
                        new: Brief::of(bv),
                    }),
                    (None, None) => {}
                }
                path.truncate(at);
            }
        }
        _ => {
            if let Some(change) = compare_numbers(old, new, path) {
                match change {
                    Some(change) => out.changes.push(change),
                    None => out.unchanged += 1,
                }
            } else if same(old, new) {
                out.unchanged += 1;
            } else {
                out.changes.push(Change::Changed {
                    path: path.clone(),
                    old: Brief::of(old),
                    new: Brief::of(new),
                });
            }
        }
    }
}

/// The entries of two maps: each key of `a` in order (changed or removed), then the keys
/// only `b` has.
pub(crate) fn walk_maps(a: &crate::Map, b: &crate::Map, path: &mut String, out: &mut Diff) {
    for (key, av) in a.iter() {
        let at = path.len();
        push_segment(path, &key.to_string());
        match b.get(key) {
            Some(bv) => walk(av, bv, path, out),
            None => out.changes.push(Change::Removed {
                path: path.clone(),
                old: Brief::of(av),
            }),
        }
        path.truncate(at);
    }
    for (key, bv) in b.iter() {
        if a.get(key).is_none() {
            let at = path.len();
            push_segment(path, &key.to_string());
            out.changes.push(Change::Added {
                path: path.clone(),
                new: Brief::of(bv),
            });
            path.truncate(at);
        }
    }
}

/// Equal as stored: floats bit for bit.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Float32(x), Value::Float32(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// For two numeric arrays of one type and shape: `Some(None)` when equal, `Some(change)`
/// when elements differ; `None` when these are not two such arrays.
fn compare_numbers(old: &Value, new: &Value, path: &str) -> Option<Option<Change>> {
    let (a_type, a_shape, a_bytes) = numeric(old)?;
    let (b_type, b_shape, b_bytes) = numeric(new)?;
    if a_type != b_type || a_shape != b_shape || a_bytes.len() != b_bytes.len() {
        return None;
    }
    if a_bytes == b_bytes {
        return Some(None);
    }
    let width = a_type.width();
    let mut changed = 0u64;
    let mut max_abs_diff = 0.0f64;
    for (x, y) in a_bytes.chunks_exact(width).zip(b_bytes.chunks_exact(width)) {
        if x == y {
            continue;
        }
        changed += 1;
        let (Some(x), Some(y)) = (to_f64(a_type, x), to_f64(a_type, y)) else {
            continue;
        };
        if x.is_nan() != y.is_nan() {
            max_abs_diff = f64::NAN;
        } else if !max_abs_diff.is_nan() && (x - y).abs() > max_abs_diff {
            max_abs_diff = (x - y).abs();
        }
    }
    Some(Some(Change::Elements {
        path: path.to_owned(),
        element_type: a_type.numpy_name(),
        len: (a_bytes.len() / width) as u64,
        changed,
        max_abs_diff,
    }))
}

/// A numeric array's element type, shape and little-endian elements.
fn numeric(value: &Value) -> Option<(DType, Vec<usize>, Cow<'_, [u8]>)> {
    match value {
        Value::Array(a) => {
            let dtype = DType::from_code(a.element_type().code())?;
            Some((dtype, alloc::vec![a.len()], a.le_bytes()))
        }
        _ => ndarray(value).map(|(dtype, shape, data)| (dtype, shape, Cow::Borrowed(data))),
    }
}

/// The element type, shape and elements of the n-dimensional array `value` holds, if it
/// is a valid one (read in place).
fn ndarray(value: &Value) -> Option<(DType, Vec<usize>, &[u8])> {
    let Value::Ext(e) = value else { return None };
    if e.type_id() != NDARRAY_TYPE_ID {
        return None;
    }
    let (dtype, shape, at) = NdArray::parse_header(e.data()).ok()?;
    let data = e.data().get(at..)?;
    let count: usize = shape.iter().product();
    (data.len() == count.checked_mul(dtype.width())?).then_some((dtype, shape, data))
}

/// Appends `/key` to a JSON Pointer.
pub(crate) fn push_segment(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        let mut p = String::new();
        push_segment(&mut p, "a/b~c");
        assert_eq!(p, "/a~1b~0c");
    }
}
