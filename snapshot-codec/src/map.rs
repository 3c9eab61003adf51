//! [`Map`]: string keys to values, in insertion order.

use alloc::{boxed::Box, string::String, vec::Vec};
use core::fmt;

use crate::Value;

type Index = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;

/// Maps up to this many entries are a plain list searched in order; larger ones are
/// hashed. Records (the common case) stay small: one allocation, no hashing.
const SMALL: usize = 16;

#[derive(Clone)]
enum Repr {
    Small(Vec<(String, Value)>),
    Large(Box<Index>),
}

/// A map from string keys to [`Value`]s that keeps insertion order.
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

    fn position(entries: &[(String, Value)], key: &str) -> Option<usize> {
        entries.iter().position(|(k, _)| k == key)
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
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let (key, value) = (key.into(), value.into());
        match &mut self.repr {
            Repr::Small(entries) => {
                if let Some(i) = Self::position(entries, &key) {
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
    pub(crate) fn insert_new(&mut self, key: String, value: Value) -> Result<(), String> {
        match &mut self.repr {
            Repr::Small(entries) => {
                if Self::position(entries, &key).is_some() {
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

    /// Returns the value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.repr {
            Repr::Small(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(index) => index.get(key),
        }
    }

    /// Returns a mutable reference to the value stored under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match &mut self.repr {
            Repr::Small(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(index) => index.get_mut(key),
        }
    }

    /// Returns whether the map holds `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, keeping the order of the other entries, and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        match &mut self.repr {
            Repr::Small(entries) => Self::position(entries, key).map(|i| entries.remove(i).1),
            Repr::Large(index) => index.shift_remove(key),
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
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
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
    Small(core::slice::Iter<'a, (String, Value)>),
    Large(indexmap::map::Iter<'a, String, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(k, v)| (k.as_str(), v)),
            IterRepr::Large(it) => it.next().map(|(k, v)| (k.as_str(), v)),
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
            IterRepr::Small(it) => it.next_back().map(|(k, v)| (k.as_str(), v)),
            IterRepr::Large(it) => it.next_back().map(|(k, v)| (k.as_str(), v)),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// An iterator over a [`Map`]'s entries with mutable values, in insertion order.
pub struct IterMut<'a>(IterMutRepr<'a>);

enum IterMutRepr<'a> {
    Small(core::slice::IterMut<'a, (String, Value)>),
    Large(indexmap::map::IterMut<'a, String, Value>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a str, &'a mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(it) => it.next().map(|(k, v)| (k.as_str(), v)),
            IterMutRepr::Large(it) => it.next().map(|(k, v)| (k.as_str(), v)),
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
            IterMutRepr::Small(it) => it.next_back().map(|(k, v)| (k.as_str(), v)),
            IterMutRepr::Large(it) => it.next_back().map(|(k, v)| (k.as_str(), v)),
        }
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// An owning iterator over a [`Map`]'s entries, in insertion order.
pub struct IntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(alloc::vec::IntoIter<(String, Value)>),
    Large(indexmap::map::IntoIter<String, Value>),
}

impl Iterator for IntoIter {
    type Item = (String, Value);
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

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(match self.repr {
            Repr::Small(entries) => IntoIterRepr::Small(entries.into_iter()),
            Repr::Large(index) => IntoIterRepr::Large(index.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a str, &'a Value);
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
            let keys: Vec<&str> = m.keys().collect();
            let want: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            assert_eq!(keys, want, "order kept at {n}");
            if n > 0 {
                assert_eq!(m.insert("k0", "again"), Some(Value::from(0usize)));
                assert_eq!(
                    m.keys().next(),
                    Some("k0"),
                    "a replaced entry keeps its place"
                );
                assert_eq!(m.remove("k0"), Some(Value::from("again")));
                assert_eq!(m.len(), n - 1);
                if n > 1 {
                    assert!(m.insert_new(format!("k{}", n - 1), Value::Null).is_err());
                }
            }
            let back: Map = m.clone().into_iter().collect();
            assert_eq!(back, m);
            assert_eq!(m.iter().rev().count(), m.len());
        }
    }
}
