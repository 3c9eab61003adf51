//! [`Map`]: string keys to values, in insertion order.

use alloc::{boxed::Box, string::String};
use core::fmt;

use crate::Value;

type Inner = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;

/// A map from string keys to [`Value`]s that keeps insertion order.
///
/// Lookups by key are hashed (O(1)); iteration yields entries in the order they were
/// first inserted, which is also the order they are encoded in.
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
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Map {
    // Boxed so that a `Value` stays 32 bytes: lists of scalars dominate big snapshots.
    inner: Box<Inner>,
}

impl Map {
    /// Creates an empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Box::new(Inner::with_capacity_and_hasher(
                capacity,
                Default::default(),
            )),
        }
    }

    /// Inserts `value` under `key`; returns the value it replaces, if any.
    ///
    /// A replaced entry keeps its position; a new one goes to the end.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.inner.insert(key.into(), value.into())
    }

    /// Returns the value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.inner.get(key)
    }

    /// Returns a mutable reference to the value stored under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.inner.get_mut(key)
    }

    /// Returns whether the map holds `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.inner.contains_key(key)
    }

    /// Removes `key`, keeping the order of the other entries, and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.inner.shift_remove(key)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Value)> + ExactSizeIterator {
        self.inner.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entries in insertion order, with mutable values.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&str, &mut Value)> + ExactSizeIterator {
        self.inner.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.inner.keys().map(String::as_str)
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.inner.values()
    }

    /// Inserts only if `key` is new; gives the key back if it was already present.
    pub(crate) fn insert_new(&mut self, key: String, value: Value) -> Result<(), String> {
        match self.inner.entry(key) {
            indexmap::map::Entry::Occupied(e) => Err(e.key().clone()),
            indexmap::map::Entry::Vacant(e) => {
                e.insert(value);
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.inner.iter()).finish()
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
    type IntoIter = indexmap::map::IntoIter<String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.inner.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = indexmap::map::Iter<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.inner.iter()
    }
}

impl core::ops::Index<&str> for Map {
    type Output = Value;
    /// Returns the value under `key`, or [`Value::Null`] when it is absent.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&Value::Null)
    }
}
