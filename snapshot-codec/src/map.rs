//! [`Map`]: string or integer keys to values, in insertion order.

use alloc::{boxed::Box, string::String, vec::Vec};
use core::fmt;
use core::hash::{Hash, Hasher};

use crate::{Integer, Value};

type Index = indexmap::IndexMap<Key, Value, foldhash::fast::RandomState>;

/// A [`Map`] key: text or an integer. The two never equal each other: `{1: "a"}` and
/// `{"1": "a"}` are different maps, and both round-trip as they are (format 2; version
/// 1 files hold text keys only, and the version 1 writer writes integers as text).
///
/// ```
/// use snapshot_codec::{Key, Map, Value};
///
/// let mut m = Map::new();
/// m.insert(1, "one");
/// m.insert("1", "text one");
/// assert_eq!(m.len(), 2);
/// assert_eq!(m.get(1), Some(&Value::from("one")));
/// assert_eq!(m.get("1"), Some(&Value::from("text one")));
/// let keys: Vec<&Key> = m.keys().collect();
/// assert_eq!(keys[0].as_integer().and_then(|i| i.as_i64()), Some(1));
/// assert_eq!(keys[1], "1");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// A text key.
    Str(String),
    /// An integer key.
    Int(Integer),
}

/// A borrowed [`Key`], for lookups: `&str`, `&String` and integers convert into it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// A text key.
    Str(&'a str),
    /// An integer key.
    Int(Integer),
}

impl Key {
    /// The text, if this is a text key.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Key::Str(s) => Some(s),
            Key::Int(_) => None,
        }
    }

    /// The integer, if this is an integer key.
    pub fn as_integer(&self) -> Option<Integer> {
        match self {
            Key::Int(i) => Some(*i),
            Key::Str(_) => None,
        }
    }

    /// This key, borrowed.
    pub fn as_ref(&self) -> KeyRef<'_> {
        match self {
            Key::Str(s) => KeyRef::Str(s),
            Key::Int(i) => KeyRef::Int(*i),
        }
    }
}

// `Key` and `KeyRef` hash alike, so a `KeyRef` finds its `Key` in the hashed form.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            KeyRef::Str(s) => {
                state.write_u8(0);
                s.hash(state);
            }
            KeyRef::Int(i) => {
                state.write_u8(1);
                i.hash(state);
            }
        }
    }
}

impl indexmap::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self == key.as_ref()
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// Text keys as they are, integer keys in decimal.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Str(s) => f.write_str(s),
            Key::Int(i) => fmt::Display::fmt(i, f),
        }
    }
}

/// Text keys quoted, integer keys bare: `"a"`, `1`.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Str(s) => fmt::Debug::fmt(s, f),
            Key::Int(i) => fmt::Display::fmt(i, f),
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Str(s.into())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Str(s)
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key::Str(s.clone())
    }
}

impl From<Integer> for Key {
    fn from(i: Integer) -> Self {
        Key::Int(i)
    }
}

impl<'a> From<&'a str> for KeyRef<'a> {
    fn from(s: &'a str) -> Self {
        KeyRef::Str(s)
    }
}

impl<'a> From<&'a String> for KeyRef<'a> {
    fn from(s: &'a String) -> Self {
        KeyRef::Str(s)
    }
}

impl<'a> From<&'a Key> for KeyRef<'a> {
    fn from(k: &'a Key) -> Self {
        k.as_ref()
    }
}

impl From<Integer> for KeyRef<'_> {
    fn from(i: Integer) -> Self {
        KeyRef::Int(i)
    }
}

macro_rules! int_keys {
    ($($t:ty)*) => {$(
        impl From<$t> for Key {
            fn from(v: $t) -> Self {
                Key::Int(v.into())
            }
        }
        impl From<$t> for KeyRef<'_> {
            fn from(v: $t) -> Self {
                KeyRef::Int(v.into())
            }
        }
    )*};
}
int_keys!(u8 u16 u32 u64 usize i8 i16 i32 i64 isize);

/// Maps up to this many entries are a plain list searched in order; larger ones are
/// hashed. Records (the common case) stay small: one allocation, no hashing.
const SMALL: usize = 16;

#[derive(Clone)]
enum Repr {
    Small(Vec<(Key, Value)>),
    Large(Box<Index>),
}

/// A map from [`Key`]s (text or integers) to [`Value`]s that keeps insertion order.
///
/// Iteration yields entries in the order they were first inserted, which is also the
/// order they are encoded in. Lookups scan small maps (up to 16 entries) and hash
/// larger ones. Equality ignores order, as for any map.
///
/// ```
/// use snapshot_codec::{Map, Value};
///
/// let mut settings = Map::new();
/// settings.insert("theme", "dark");
/// settings.insert("notifications", true);
/// assert_eq!(settings.get("theme"), Some(&Value::from("dark")));
/// assert_eq!(settings.keys().collect::<Vec<_>>(), ["theme", "notifications"]);
/// ```
#[derive(Clone)]
pub struct Map {
    repr: Repr,
}

impl Default for Map {
    fn default() -> Self {
        Self {
            repr: Repr::Small(Vec::new()),
        }
    }
}

impl Map {
    /// Creates an empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        let repr = if capacity <= SMALL {
            Repr::Small(Vec::with_capacity(capacity))
        } else {
            Repr::Large(Box::new(Index::with_capacity_and_hasher(
                capacity,
                Default::default(),
            )))
        };
        Self { repr }
    }

    fn position(entries: &[(Key, Value)], key: KeyRef<'_>) -> Option<usize> {
        entries.iter().position(|(k, _)| k.as_ref() == key)
    }

    /// Moves a full small map to the hashed form.
    fn grow(&mut self) -> &mut Index {
        if let Repr::Small(entries) = &mut self.repr {
            let mut index = Index::with_capacity_and_hasher(entries.len() * 2, Default::default());
            index.extend(entries.drain(..));
            self.repr = Repr::Large(Box::new(index));
        }
        match &mut self.repr {
            Repr::Large(index) => index,
            Repr::Small(_) => unreachable!("just converted"),
        }
    }

    /// Inserts `value` under `key`; returns the value it replaces, if any.
    ///
    /// A replaced entry keeps its position; a new one goes to the end.
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        let (key, value) = (key.into(), value.into());
        match &mut self.repr {
            Repr::Small(entries) => {
                if let Some(i) = Self::position(entries, key.as_ref()) {
                    return Some(core::mem::replace(&mut entries[i].1, value));
                }
                if entries.len() < SMALL {
                    entries.push((key, value));
                    return None;
                }
                self.grow().insert(key, value)
            }
            Repr::Large(index) => index.insert(key, value),
        }
    }

    /// Inserts only if `key` is new; gives the key back if it was already present.
    pub(crate) fn insert_new(&mut self, key: Key, value: Value) -> Result<(), Key> {
        match &mut self.repr {
            Repr::Small(entries) => {
                if Self::position(entries, key.as_ref()).is_some() {
                    return Err(key);
                }
                if entries.len() < SMALL {
                    entries.push((key, value));
                    return Ok(());
                }
                self.grow();
                self.insert_new(key, value)
            }
            Repr::Large(index) => match index.entry(key) {
                indexmap::map::Entry::Occupied(e) => Err(e.key().clone()),
                indexmap::map::Entry::Vacant(e) => {
                    e.insert(value);
                    Ok(())
                }
            },
        }
    }

    /// Returns the value stored under `key` (a `&str` or an integer).
    pub fn get<'k>(&self, key: impl Into<KeyRef<'k>>) -> Option<&Value> {
        let key = key.into();
        match &self.repr {
            Repr::Small(entries) => entries
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v),
            Repr::Large(index) => index.get(&key),
        }
    }

    /// Returns a mutable reference to the value stored under `key`.
    pub fn get_mut<'k>(&mut self, key: impl Into<KeyRef<'k>>) -> Option<&mut Value> {
        let key = key.into();
        match &mut self.repr {
            Repr::Small(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v),
            Repr::Large(index) => index.get_mut(&key),
        }
    }

    /// Returns whether the map holds `key`.
    pub fn contains_key<'k>(&self, key: impl Into<KeyRef<'k>>) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, keeping the order of the other entries, and returns its value.
    pub fn remove<'k>(&mut self, key: impl Into<KeyRef<'k>>) -> Option<Value> {
        let key = key.into();
        match &mut self.repr {
            Repr::Small(entries) => Self::position(entries, key).map(|i| entries.remove(i).1),
            Repr::Large(index) => index.shift_remove(&key),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(entries) => entries.len(),
            Repr::Large(index) => index.len(),
        }
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Small(entries) => IterRepr::Small(entries.iter()),
            Repr::Large(index) => IterRepr::Large(index.iter()),
        })
    }

    /// The entries in insertion order, with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(match &mut self.repr {
            Repr::Small(entries) => IterMutRepr::Small(entries.iter_mut()),
            Repr::Large(index) => IterMutRepr::Large(index.iter_mut()),
        })
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }
}

/// An iterator over a [`Map`]'s entries, in insertion order.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Small(core::slice::Iter<'a, (Key, Value)>),
    Large(indexmap::map::Iter<'a, Key, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(k, v)| (k, v)),
            IterRepr::Large(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(it) => it.size_hint(),
            IterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next_back().map(|(k, v)| (k, v)),
            IterRepr::Large(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// An iterator over a [`Map`]'s entries with mutable values, in insertion order.
pub struct IterMut<'a>(IterMutRepr<'a>);

enum IterMutRepr<'a> {
    Small(core::slice::IterMut<'a, (Key, Value)>),
    Large(indexmap::map::IterMut<'a, Key, Value>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Key, &'a mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(it) => it.next().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterMutRepr::Small(it) => it.size_hint(),
            IterMutRepr::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for IterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(it) => it.next_back().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// An owning iterator over a [`Map`]'s entries, in insertion order.
pub struct IntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(alloc::vec::IntoIter<(Key, Value)>),
    Large(indexmap::map::IntoIter<Key, Value>),
}

impl Iterator for IntoIter {
    type Item = (Key, Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(it) => it.next(),
            IntoIterRepr::Large(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterRepr::Small(it) => it.size_hint(),
            IntoIterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(it) => it.next_back(),
            IntoIterRepr::Large(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for IntoIter {}

impl PartialEq for Map {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Eq for Map {}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<Key>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(match self.repr {
            Repr::Small(entries) => IntoIterRepr::Small(entries.into_iter()),
            Repr::Large(index) => IntoIterRepr::Large(index.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl core::ops::Index<&str> for Map {
    type Output = Value;
    /// Returns the value under `key`, or [`Value::Null`] when it is absent.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn small_and_large_maps_behave_alike() {
        for n in [0usize, 1, SMALL - 1, SMALL, SMALL + 1, 100] {
            let mut m = Map::new();
            for i in 0..n {
                assert_eq!(m.insert(format!("k{i}"), i), None);
            }
            assert_eq!(m.len(), n);
            for i in 0..n {
                assert_eq!(m.get(&format!("k{i}")), Some(&Value::from(i)));
            }
            let keys: Vec<&str> = m.keys().filter_map(Key::as_str).collect();
            let want: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            assert_eq!(keys, want, "order kept at {n}");
            if n > 0 {
                assert_eq!(m.insert("k0", "again"), Some(Value::from(0usize)));
                assert_eq!(
                    m.keys().next().and_then(Key::as_str),
                    Some("k0"),
                    "a replaced entry keeps its place"
                );
                assert_eq!(m.remove("k0"), Some(Value::from("again")));
                assert_eq!(m.len(), n - 1);
                if n > 1 {
                    assert!(
                        m.insert_new(format!("k{}", n - 1).into(), Value::Null)
                            .is_err()
                    );
                }
            }
            let back: Map = m.clone().into_iter().collect();
            assert_eq!(back, m);
            assert_eq!(m.iter().rev().count(), m.len());
        }
    }
}
