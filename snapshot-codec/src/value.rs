//! The dynamic [`Value`] model.

use alloc::{borrow::ToOwned, boxed::Box, string::String, vec::Vec};
use core::fmt;

use crate::{Array, Ext, Map};

/// An integer anywhere in `i64::MIN ..= u64::MAX`.
///
/// Non-negative integers and negative ones have one representation each, so
/// `Integer::from(5u8) == Integer::from(5i64)`.
///
/// ```
/// use snapshot_codec::Integer;
///
/// assert_eq!(Integer::from(u64::MAX).as_u64(), Some(u64::MAX));
/// assert_eq!(Integer::from(u64::MAX).as_i64(), None);
/// assert_eq!(Integer::from(-1i32).as_i64(), Some(-1));
/// assert_eq!(Integer::from(7u8), Integer::from(7i64));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Integer(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    /// Zero or positive.
    Unsigned(u64),
    /// Strictly negative.
    Negative(i64),
}

impl Integer {
    /// The value as `i64`, if it fits.
    pub fn as_i64(self) -> Option<i64> {
        match self.0 {
            Repr::Unsigned(u) => i64::try_from(u).ok(),
            Repr::Negative(i) => Some(i),
        }
    }

    /// The value as `u64`, if it fits (that is, if it is not negative).
    pub fn as_u64(self) -> Option<u64> {
        match self.0 {
            Repr::Unsigned(u) => Some(u),
            Repr::Negative(_) => None,
        }
    }

    /// The value as `i128`, which always fits.
    pub fn as_i128(self) -> i128 {
        match self.0 {
            Repr::Unsigned(u) => i128::from(u),
            Repr::Negative(i) => i128::from(i),
        }
    }

    /// The value as the nearest `f64`.
    pub fn as_f64(self) -> f64 {
        match self.0 {
            Repr::Unsigned(u) => u as f64,
            Repr::Negative(i) => i as f64,
        }
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        matches!(self.0, Repr::Negative(_))
    }

    /// For the encoder: `Ok(u)` for non-negative values, `Err(i)` for negative ones.
    pub(crate) fn split(self) -> Result<u64, i64> {
        match self.0 {
            Repr::Unsigned(u) => Ok(u),
            Repr::Negative(i) => Err(i),
        }
    }
}

/// Integers order by value.
impl PartialOrd for Integer {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Integer {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_i128().cmp(&other.as_i128())
    }
}

impl fmt::Debug for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Unsigned(u) => u.fmt(f),
            Repr::Negative(i) => i.fmt(f),
        }
    }
}

macro_rules! integer_from_unsigned {
    ($($t:ty)*) => {$(
        impl From<$t> for Integer {
            fn from(v: $t) -> Self {
                Integer(Repr::Unsigned(v as u64))
            }
        }
    )*};
}
macro_rules! integer_from_signed {
    ($($t:ty)*) => {$(
        impl From<$t> for Integer {
            fn from(v: $t) -> Self {
                if v < 0 {
                    Integer(Repr::Negative(v as i64))
                } else {
                    Integer(Repr::Unsigned(v as u64))
                }
            }
        }
    )*};
}
integer_from_unsigned!(u8 u16 u32 u64 usize);
integer_from_signed!(i8 i16 i32 i64 isize);

impl TryFrom<i128> for Integer {
    type Error = crate::Error;
    fn try_from(v: i128) -> Result<Self, Self::Error> {
        if let Ok(u) = u64::try_from(v) {
            Ok(u.into())
        } else if let Ok(i) = i64::try_from(v) {
            Ok(i.into())
        } else {
            Err(crate::Error::IntegerOutOfRange {
                value: alloc::format!("{v}"),
                target: "Integer",
            })
        }
    }
}

/// A dynamically typed snapshot value.
///
/// Equality is structural and exact: floats compare by their bits, so a NaN equals the
/// same NaN and `0.0 != -0.0`; a decoded snapshot equals what was encoded.
///
/// ```
/// use snapshot_codec::{value, Value};
///
/// let state = value!({
///     "user_id": 12345,
///     "name": "John Doe",
///     "tags": ["python", "compression"],
///     "parent": null,
/// });
/// assert_eq!(state["user_id"].as_i64(), Some(12345));
/// assert_eq!(state["tags"][1].as_str(), Some("compression"));
/// assert!(state["parent"].is_null());
/// assert!(state["missing"].is_null());
/// ```
#[derive(Clone, Default)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer in `i64::MIN ..= u64::MAX`.
    Int(Integer),
    /// A 64-bit float, kept bit for bit (NaN payloads, `-0.0`, infinities).
    Float(f64),
    /// A 32-bit float, kept bit for bit (format 2; version 1 files widen it to
    /// [`Value::Float`]).
    Float32(f32),
    /// UTF-8 text.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An ordered list.
    List(Vec<Value>),
    /// String keys to values, in insertion order.
    Map(Map),
    /// A value of a custom type: a type identifier and its payload.
    Ext(Box<Ext>),
    /// Numbers of one type side by side (format 2): what a `Vec<f32>` or `[u16; N]`
    /// decodes to, one allocation instead of one `Value` per element.
    Array(Array),
}

impl Value {
    /// A [`Value::Bytes`] (`From` conversions of slices and `Vec`s make lists, as
    /// serde does).
    ///
    /// ```
    /// use snapshot_codec::Value;
    ///
    /// assert_eq!(Value::bytes(&b"raw"[..]).as_bytes(), Some(&b"raw"[..]));
    /// assert_eq!(Value::from(vec![1u8, 2]).as_list().map(|l| l.len()), Some(2)); // two integers
    /// assert_eq!(Value::from(&[1u8, 2][..]), Value::from(vec![1u8, 2]));
    /// ```
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Value::Bytes(data.into())
    }

    /// The name of this value's kind: `"null"`, `"bool"`, `"int"`, `"float"`
    /// (64- and 32-bit), `"string"`, `"bytes"`, `"list"`, `"map"`, `"ext"` or `"array"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) | Value::Float32(_) => "float",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Ext(_) => "ext",
            Value::Array(_) => "array",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_integer(&self) -> Option<Integer> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The integer as `i64`, if this is a [`Value::Int`] that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_integer().and_then(Integer::as_i64)
    }

    /// The integer as `u64`, if this is a non-negative [`Value::Int`].
    pub fn as_u64(&self) -> Option<u64> {
        self.as_integer().and_then(Integer::as_u64)
    }

    /// The float, if this is a [`Value::Float`] or a [`Value::Float32`] (widened,
    /// exactly); integers are not converted.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Float32(f) => Some(f64::from(*f)),
            _ => None,
        }
    }

    /// The numeric array, if this is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The text, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The items, mutably, if this is a [`Value::List`].
    pub fn as_list_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a [`Value::Map`].
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The map, mutably, if this is a [`Value::Map`].
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The extension value, if this is a [`Value::Ext`].
    pub fn as_ext(&self) -> Option<&Ext> {
        match self {
            Value::Ext(e) => Some(e),
            _ => None,
        }
    }

    /// Looks up `key` (a `&str` or an integer) in a map; `None` for absent keys and for
    /// non-maps.
    pub fn get<'k>(&self, key: impl Into<crate::KeyRef<'k>>) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Returns the item at `index` of a list; `None` when out of range or not a list.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.as_list().and_then(|l| l.get(index))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Float32(a), Value::Float32(b)) => a.to_bits() == b.to_bits(),
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Ext(a), Value::Ext(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => fmt::Debug::fmt(b, f),
            Value::Int(i) => fmt::Display::fmt(i, f),
            Value::Float(x) => fmt::Debug::fmt(x, f),
            Value::Float32(x) => write!(f, "{x:?}f32"),
            Value::Array(a) => fmt::Debug::fmt(a, f),
            Value::String(s) => fmt::Debug::fmt(s, f),
            Value::Bytes(b) => write!(f, "b{:?}", BytesDebug(b)),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Map(m) => fmt::Debug::fmt(m, f),
            Value::Ext(e) => fmt::Debug::fmt(e, f),
        }
    }
}

/// JSON-like text: `null`, `true`, `12`, `1.5`, `"text"`, `[1, 2]`, `{"key": value}`;
/// byte strings as `b"..."` and extension values as `Ext(id, n bytes)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

struct BytesDebug<'a>(&'a [u8]);
impl fmt::Debug for BytesDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

static NULL: Value = Value::Null;

impl core::ops::Index<&str> for Value {
    type Output = Value;
    /// Returns the value under `key`, or [`Value::Null`] when absent or not a map.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl core::ops::Index<usize> for Value {
    type Output = Value;
    /// Returns the list item at `index`, or [`Value::Null`] when out of range or not a list.
    fn index(&self, index: usize) -> &Value {
        self.get_index(index).unwrap_or(&NULL)
    }
}

macro_rules! value_from_int {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v.into())
            }
        }
    )*};
}
value_from_int!(u8 u16 u32 u64 usize i8 i16 i32 i64 isize);

impl From<Integer> for Value {
    fn from(v: Integer) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(v.clone())
    }
}
impl From<char> for Value {
    fn from(v: char) -> Self {
        Value::String(v.into())
    }
}
/// A slice is a list, as a `Vec` is (and as serde writes both): `&[1u8, 2][..]` is a
/// list of two integers. Bytes are [`Value::Bytes`] or [`Value::bytes`].
impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(v: &[T]) -> Self {
        Value::List(v.iter().cloned().map(Into::into).collect())
    }
}
impl From<Map> for Value {
    fn from(v: Map) -> Self {
        Value::Map(v)
    }
}
impl From<Ext> for Value {
    fn from(v: Ext) -> Self {
        Value::Ext(Box::new(v))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::Null
    }
}
impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::List(iter.into_iter().map(Into::into).collect())
    }
}

/// Builds a [`Value`] from JSON-like syntax.
///
/// Maps are `{ "key": value, ... }` with string-literal (or parenthesised expression)
/// keys, lists are `[a, b, ...]`, `null` is [`Value::Null`], and any other expression is
/// converted with [`Value::from`].
///
/// ```
/// use snapshot_codec::{value, Value};
///
/// let level = 5;
/// let v = value!({
///     "level": level,
///     "ratio": -0.5,
///     "inventory": ["sword", "shield"],
///     "position": {"x": 100, "y": -200},
///     "boss": null,
/// });
/// assert_eq!(v["position"]["y"], Value::from(-200));
/// assert_eq!(v["inventory"].as_list().map(|l| l.len()), Some(2));
/// assert_eq!(value!([]), Value::List(vec![]));
/// ```
#[macro_export]
macro_rules! value {
    (null) => { $crate::Value::Null };
    ([]) => { $crate::Value::List($crate::__private::Vec::new()) };
    ([ $($tt:tt)+ ]) => {{
        let mut list = $crate::__private::Vec::new();
        $crate::value!(@list list ($($tt)+));
        $crate::Value::List(list)
    }};
    ({}) => { $crate::Value::Map($crate::Map::new()) };
    ({ $($tt:tt)+ }) => {{
        let mut map = $crate::Map::new();
        $crate::value!(@map map ($($tt)+));
        $crate::Value::Map(map)
    }};
    ($other:expr) => { $crate::Value::from($other) };

    // List items: nested literals first, then any expression up to the next comma.
    (@list $l:ident ()) => {};
    (@list $l:ident (null $(, $($rest:tt)*)?)) => {
        $l.push($crate::Value::Null);
        $crate::value!(@list $l ($($($rest)*)?));
    };
    (@list $l:ident ([ $($inner:tt)* ] $(, $($rest:tt)*)?)) => {
        $l.push($crate::value!([ $($inner)* ]));
        $crate::value!(@list $l ($($($rest)*)?));
    };
    (@list $l:ident ({ $($inner:tt)* } $(, $($rest:tt)*)?)) => {
        $l.push($crate::value!({ $($inner)* }));
        $crate::value!(@list $l ($($($rest)*)?));
    };
    (@list $l:ident ($item:expr $(, $($rest:tt)*)?)) => {
        $l.push($crate::Value::from($item));
        $crate::value!(@list $l ($($($rest)*)?));
    };

    // Map entries: `key: value`, the key a literal or a parenthesised expression.
    (@map $m:ident ()) => {};
    (@map $m:ident ($key:literal : $($rest:tt)*)) => {
        $crate::value!(@entry $m ($key) ($($rest)*));
    };
    (@map $m:ident (($key:expr) : $($rest:tt)*)) => {
        $crate::value!(@entry $m ($key) ($($rest)*));
    };
    (@entry $m:ident ($key:expr) (null $(, $($rest:tt)*)?)) => {
        $m.insert($key, $crate::Value::Null);
        $crate::value!(@map $m ($($($rest)*)?));
    };
    (@entry $m:ident ($key:expr) ([ $($inner:tt)* ] $(, $($rest:tt)*)?)) => {
        $m.insert($key, $crate::value!([ $($inner)* ]));
        $crate::value!(@map $m ($($($rest)*)?));
    };
    (@entry $m:ident ($key:expr) ({ $($inner:tt)* } $(, $($rest:tt)*)?)) => {
        $m.insert($key, $crate::value!({ $($inner)* }));
        $crate::value!(@map $m ($($($rest)*)?));
    };
    (@entry $m:ident ($key:expr) ($val:expr $(, $($rest:tt)*)?)) => {
        $m.insert($key, $crate::Value::from($val));
        $crate::value!(@map $m ($($($rest)*)?));
    };
}
