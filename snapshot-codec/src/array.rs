//! [`Array`]: numbers of one type stored side by side (format 2's typed arrays).

use alloc::{borrow::Cow, vec, vec::Vec};
use core::fmt;

use crate::{Error, Integer, Result, Value};

/// The type of an [`Array`]'s elements, with its code in the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementType {
    /// `bool`, one byte each (0 or 1).
    Bool,
    /// `u8`.
    U8,
    /// `i8`.
    I8,
    /// `u16`.
    U16,
    /// `i16`.
    I16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `u64`.
    U64,
    /// `i64`.
    I64,
    /// `f32`, IEEE 754 binary32.
    F32,
    /// `f64`, IEEE 754 binary64.
    F64,
}

impl ElementType {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            ElementType::Bool | ElementType::U8 | ElementType::I8 => 1,
            ElementType::U16 | ElementType::I16 => 2,
            ElementType::U32 | ElementType::I32 | ElementType::F32 => 4,
            ElementType::U64 | ElementType::I64 | ElementType::F64 => 8,
        }
    }

    /// The element type's name: `"bool"`, `"u8"`, ..., `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            ElementType::Bool => "bool",
            ElementType::U8 => "u8",
            ElementType::I8 => "i8",
            ElementType::U16 => "u16",
            ElementType::I16 => "i16",
            ElementType::U32 => "u32",
            ElementType::I32 => "i32",
            ElementType::U64 => "u64",
            ElementType::I64 => "i64",
            ElementType::F32 => "f32",
            ElementType::F64 => "f64",
        }
    }

    /// The code written in the element byte (FORMAT.md).
    pub(crate) fn code(self) -> u8 {
        match self {
            ElementType::Bool => 0,
            ElementType::U8 => 1,
            ElementType::I8 => 2,
            ElementType::U16 => 3,
            ElementType::I16 => 4,
            ElementType::U32 => 5,
            ElementType::I32 => 6,
            ElementType::U64 => 7,
            ElementType::I64 => 8,
            ElementType::F32 => 9,
            ElementType::F64 => 10,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ElementType::Bool,
            1 => ElementType::U8,
            2 => ElementType::I8,
            3 => ElementType::U16,
            4 => ElementType::I16,
            5 => ElementType::U32,
            6 => ElementType::I32,
            7 => ElementType::U64,
            8 => ElementType::I64,
            9 => ElementType::F32,
            10 => ElementType::F64,
            _ => return None,
        })
    }
}

/// Numbers of one type, held side by side: what format 2 writes for a `Vec<f32>`,
/// `[f64; N]`, `Vec<u16>`, ... (one tag, the element type, the count, then the raw
/// little-endian elements), and what a [`Value`] holds for them instead of one `Value`
/// per element.
///
/// Equality compares the element type and the elements; floats compare by their bits,
/// as everywhere in [`Value`]. An array never equals a [`Value::List`] holding the same
/// numbers: convert with [`Array::to_values`] and [`Array::from_values`].
///
/// ```
/// use snapshot_codec::{Array, ElementType, Value};
///
/// let weights = Value::Array(vec![0.5f32, -1.25, 3.0].into());
/// let array = weights.as_array().unwrap();
/// assert_eq!(array.element_type(), ElementType::F32);
/// assert_eq!(array.len(), 3);
/// assert_eq!(array.get(1), Some(Value::Float32(-1.25)));
///
/// let back = snapshot_codec::decode(&snapshot_codec::encode(&weights)?)?;
/// assert_eq!(back, weights);
///
/// // To and from a list of numbers.
/// let list = array.to_values();
/// assert_eq!(list[2], Value::Float32(3.0));
/// assert_eq!(Array::from_values(&list).as_ref(), Some(array));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Array {
    /// Booleans.
    Bool(Vec<bool>),
    /// `u8`s.
    U8(Vec<u8>),
    /// `i8`s.
    I8(Vec<i8>),
    /// `u16`s.
    U16(Vec<u16>),
    /// `i16`s.
    I16(Vec<i16>),
    /// `u32`s.
    U32(Vec<u32>),
    /// `i32`s.
    I32(Vec<i32>),
    /// `u64`s.
    U64(Vec<u64>),
    /// `i64`s.
    I64(Vec<i64>),
    /// `f32`s.
    F32(Vec<f32>),
    /// `f64`s.
    F64(Vec<f64>),
}

macro_rules! each_array {
    ($array:expr, $v:ident => $body:expr) => {
        match $array {
            Array::Bool($v) => $body,
            Array::U8($v) => $body,
            Array::I8($v) => $body,
            Array::U16($v) => $body,
            Array::I16($v) => $body,
            Array::U32($v) => $body,
            Array::I32($v) => $body,
            Array::U64($v) => $body,
            Array::I64($v) => $body,
            Array::F32($v) => $body,
            Array::F64($v) => $body,
        }
    };
}

impl Array {
    /// How many elements it holds.
    pub fn len(&self) -> usize {
        each_array!(self, v => v.len())
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type of its elements.
    pub fn element_type(&self) -> ElementType {
        match self {
            Array::Bool(_) => ElementType::Bool,
            Array::U8(_) => ElementType::U8,
            Array::I8(_) => ElementType::I8,
            Array::U16(_) => ElementType::U16,
            Array::I16(_) => ElementType::I16,
            Array::U32(_) => ElementType::U32,
            Array::I32(_) => ElementType::I32,
            Array::U64(_) => ElementType::U64,
            Array::I64(_) => ElementType::I64,
            Array::F32(_) => ElementType::F32,
            Array::F64(_) => ElementType::F64,
        }
    }

    /// The element at `index` as a [`Value`] (`Bool`, `Int`, `Float32` or `Float`).
    pub fn get(&self, index: usize) -> Option<Value> {
        Some(match self {
            Array::Bool(v) => Value::Bool(*v.get(index)?),
            Array::U8(v) => Value::Int((*v.get(index)?).into()),
            Array::I8(v) => Value::Int((*v.get(index)?).into()),
            Array::U16(v) => Value::Int((*v.get(index)?).into()),
            Array::I16(v) => Value::Int((*v.get(index)?).into()),
            Array::U32(v) => Value::Int((*v.get(index)?).into()),
            Array::I32(v) => Value::Int((*v.get(index)?).into()),
            Array::U64(v) => Value::Int((*v.get(index)?).into()),
            Array::I64(v) => Value::Int((*v.get(index)?).into()),
            Array::F32(v) => Value::Float32(*v.get(index)?),
            Array::F64(v) => Value::Float(*v.get(index)?),
        })
    }

    /// The elements as a list of [`Value`]s.
    pub fn to_values(&self) -> Vec<Value> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }

    /// An array of the numbers in `items`, when they are all of one kind and at least
    /// one is there: all `Bool`, all `Float32`, all `Float`, or all `Int` (as `i64`
    /// when every one fits, else as `u64` when every one is non-negative). `None`
    /// otherwise.
    pub fn from_values(items: &[Value]) -> Option<Array> {
        let first = items.first()?;
        Some(match first {
            Value::Bool(_) => Array::Bool(items.iter().map(Value::as_bool).collect::<Option<_>>()?),
            Value::Float32(_) => Array::F32(
                items
                    .iter()
                    .map(|v| match v {
                        Value::Float32(f) => Some(*f),
                        _ => None,
                    })
                    .collect::<Option<_>>()?,
            ),
            Value::Float(_) => Array::F64(items.iter().map(Value::as_f64).collect::<Option<_>>()?),
            Value::Int(_) => {
                let ints: Vec<Integer> =
                    items.iter().map(Value::as_integer).collect::<Option<_>>()?;
                match ints
                    .iter()
                    .map(|i| i.as_i64())
                    .collect::<Option<Vec<i64>>>()
                {
                    Some(v) => Array::I64(v),
                    None => Array::U64(ints.iter().map(|i| i.as_u64()).collect::<Option<_>>()?),
                }
            }
            _ => return None,
        })
    }

    /// The elements as little-endian bytes (borrowed on little-endian machines).
    pub(crate) fn le_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Array::Bool(v) => Cow::Owned(v.iter().map(|&b| u8::from(b)).collect()),
            Array::U8(v) => Cow::Borrowed(v),
            Array::I8(v) => Cow::Borrowed(bytemuck::cast_slice(v)),
            Array::U16(v) => le(v),
            Array::I16(v) => le(v),
            Array::U32(v) => le(v),
            Array::I32(v) => le(v),
            Array::U64(v) => le(v),
            Array::I64(v) => le(v),
            Array::F32(v) => le(v),
            Array::F64(v) => le(v),
        }
    }

    /// Builds an array from `count` little-endian elements of type `ty` in `bytes`
    /// (byte-shuffled when `shuffled`).
    pub(crate) fn from_le_bytes(ty: ElementType, bytes: &[u8], shuffled: bool) -> Result<Array> {
        let plain: Cow<'_, [u8]> = if shuffled && ty.width() > 1 {
            Cow::Owned(unshuffle(bytes, ty.width()))
        } else {
            Cow::Borrowed(bytes)
        };
        let bytes = &*plain;
        Ok(match ty {
            ElementType::Bool => Array::Bool(
                bytes
                    .iter()
                    .map(|&b| match b {
                        0 => Ok(false),
                        1 => Ok(true),
                        _ => Err(Error::InvalidArray {
                            reason: "a bool element is neither 0 nor 1",
                        }),
                    })
                    .collect::<Result<_>>()?,
            ),
            ElementType::U8 => Array::U8(bytes.to_vec()),
            ElementType::I8 => Array::I8(from_le(bytes)),
            ElementType::U16 => Array::U16(from_le(bytes)),
            ElementType::I16 => Array::I16(from_le(bytes)),
            ElementType::U32 => Array::U32(from_le(bytes)),
            ElementType::I32 => Array::I32(from_le(bytes)),
            ElementType::U64 => Array::U64(from_le(bytes)),
            ElementType::I64 => Array::I64(from_le(bytes)),
            ElementType::F32 => Array::F32(from_le(bytes)),
            ElementType::F64 => Array::F64(from_le(bytes)),
        })
    }

    /// Appends the elements of `other` (of the same type); gives it back otherwise.
    pub(crate) fn append(&mut self, other: Array) -> core::result::Result<(), Array> {
        macro_rules! join {
            ($($variant:ident)*) => {
                match (self, other) {
                    $((Array::$variant(a), Array::$variant(b)) => { a.extend(b); Ok(()) })*
                    (_, other) => Err(other),
                }
            };
        }
        join!(Bool U8 I8 U16 I16 U32 I32 U64 I64 F32 F64)
    }
}

/// A plain-old-data number with a little-endian byte form.
pub(crate) trait Element: bytemuck::Pod {
    fn to_le(self) -> Self;
}

macro_rules! element {
    ($($t:ty)*) => {$(
        impl Element for $t {
            #[inline]
            fn to_le(self) -> Self {
                <$t>::from_le_bytes(self.to_ne_bytes())
            }
        }
    )*};
}
element!(u8 i8 u16 i16 u32 i32 u64 i64);

impl Element for f32 {
    #[inline]
    fn to_le(self) -> Self {
        f32::from_bits(self.to_bits().to_le())
    }
}

impl Element for f64 {
    #[inline]
    fn to_le(self) -> Self {
        f64::from_bits(self.to_bits().to_le())
    }
}

fn le<T: Element>(v: &[T]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(v))
    } else {
        let swapped: Vec<T> = v.iter().map(|x| x.to_le()).collect();
        Cow::Owned(bytemuck::cast_slice(&swapped).to_vec())
    }
}

fn from_le<T: Element>(bytes: &[u8]) -> Vec<T> {
    let mut out: Vec<T> = vec![T::zeroed(); bytes.len() / core::mem::size_of::<T>()];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(bytes);
    if cfg!(target_endian = "big") {
        for x in &mut out {
            *x = x.to_le();
        }
    }
    out
}

/// Byte shuffling: byte 0 of every element, then byte 1 of every element, and so on.
pub(crate) fn shuffle(bytes: &[u8], width: usize) -> Vec<u8> {
    let n = bytes.len() / width;
    let mut out = vec![0u8; bytes.len()];
    for (b, plane) in out.chunks_exact_mut(n.max(1)).enumerate().take(width) {
        for (dst, element) in plane.iter_mut().zip(bytes.chunks_exact(width)) {
            *dst = element[b];
        }
    }
    out
}

/// Undoes [`shuffle`].
pub(crate) fn unshuffle(bytes: &[u8], width: usize) -> Vec<u8> {
    let n = bytes.len() / width;
    let mut out = vec![0u8; bytes.len()];
    for (b, plane) in bytes.chunks_exact(n.max(1)).enumerate().take(width) {
        for (element, &src) in out.chunks_exact_mut(width).zip(plane) {
            element[b] = src;
        }
    }
    out
}

impl PartialEq for Array {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Array::F32(a), Array::F32(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (Array::F64(a), Array::F64(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (Array::Bool(a), Array::Bool(b)) => a == b,
            (Array::U8(a), Array::U8(b)) => a == b,
            (Array::I8(a), Array::I8(b)) => a == b,
            (Array::U16(a), Array::U16(b)) => a == b,
            (Array::I16(a), Array::I16(b)) => a == b,
            (Array::U32(a), Array::U32(b)) => a == b,
            (Array::I32(a), Array::I32(b)) => a == b,
            (Array::U64(a), Array::U64(b)) => a == b,
            (Array::I64(a), Array::I64(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.element_type().name())?;
        each_array!(self, v => f.debug_list().entries(v.iter()).finish())
    }
}

macro_rules! array_from {
    ($($variant:ident $t:ty)*) => {$(
        impl From<Vec<$t>> for Array {
            fn from(v: Vec<$t>) -> Self {
                Array::$variant(v)
            }
        }
    )*};
}
array_from!(Bool bool I8 i8 U16 u16 I16 i16 U32 u32 I32 i32 U64 u64 I64 i64 F32 f32 F64 f64 U8 u8);

impl From<Array> for Value {
    fn from(a: Array) -> Self {
        Value::Array(a)
    }
}
