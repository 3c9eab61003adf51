//! Record shapes (format 2): a map whose key sequence repeats is written once with its
//! keys (`CD`, which defines a shape), then as a shape index and its values (`CE`).

use super::*;
use crate::Key as MapKey;

/// The most shapes one snapshot defines; later maps are written as plain maps.
pub(crate) const SHAPE_LIMIT: usize = 4096;
/// The most keys all of a snapshot's shapes hold together.
pub(crate) const SHAPE_KEYS_LIMIT: usize = 65_536;
/// Value maps whose key sequence was seen once are remembered up to this many.
const SEEN_LIMIT: usize = 65_536;

const RECENT: usize = 16;

type FastMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = indexmap::IndexSet<K, foldhash::fast::RandomState>;

/// The writer's shape table.
pub(crate) struct Shapes {
    /// The keys of every shape defined so far, by index.
    pub(crate) keys: Vec<Box<[Box<str>]>>,
    /// For shapes serde structs defined: the address and length of each field name
    /// (`&'static str`), compared before the text.
    pub(crate) statics: Vec<Box<[(usize, usize)]>>,
    /// The last struct shapes looked up, by name address (a direct-mapped cache).
    recent: [(usize, usize, usize, u32); RECENT],
    total_keys: usize,
    /// serde structs: (name address, name length, field count) to shape index.
    by_struct: FastMap<(usize, usize, usize), u32>,
    /// `Value` maps: the hash of a key sequence to its shape index.
    by_keys: FastMap<u64, u32>,
    /// Hashes of `Value` map key sequences seen once (a second sighting defines them).
    seen: FastSet<u64>,
}

impl Default for Shapes {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            statics: Vec::new(),
            recent: [(0, 0, 0, 0); RECENT],
            total_keys: 0,
            by_struct: FastMap::default(),
            by_keys: FastMap::default(),
            seen: FastSet::default(),
        }
    }
}

impl Shapes {
    /// Whether a shape of `len` keys can still be defined.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        len > 0 && self.keys.len() < SHAPE_LIMIT && self.total_keys + len <= SHAPE_KEYS_LIMIT
    }

    /// The shape a serde struct of this name and field count was last written with.
    #[inline]
    pub(crate) fn for_struct(&mut self, name: &'static str, len: usize) -> Option<u32> {
        let addr = name.as_ptr() as usize;
        let slot =
            (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - 4)) % RECENT;
        let (a, l, n, index) = self.recent[slot];
        if a == addr && l == name.len() && n == len {
            return Some(index);
        }
        let index = self.by_struct.get(&(addr, name.len(), len)).copied()?;
        self.recent[slot] = (addr, name.len(), len, index);
        Some(index)
    }

    /// Whether field `key` is the one shape `index` has at `slot`.
    #[inline(always)]
    pub(crate) fn field_follows(&self, index: u32, slot: usize, key: &'static str) -> bool {
        let Some(statics) = self.statics.get(index as usize) else {
            return false;
        };
        match statics.get(slot) {
            Some(&(addr, len)) if addr == key.as_ptr() as usize && len == key.len() => true,
            Some(_) => self.keys[index as usize]
                .get(slot)
                .is_some_and(|k| **k == *key),
            None => false,
        }
    }

    /// Appends a shape (the writer of a `CD` map, when it ends); returns its index.
    fn define(&mut self, keys: Box<[Box<str>]>, statics: Box<[(usize, usize)]>) -> u32 {
        self.total_keys += keys.len();
        self.keys.push(keys);
        self.statics.push(statics);
        (self.keys.len() - 1) as u32
    }

    /// Appends the shape a serde struct defined.
    pub(crate) fn define_struct(&mut self, name: &'static str, fields: &[&'static str]) {
        let keys: Box<[Box<str>]> = fields.iter().map(|f| Box::from(*f)).collect();
        let statics = fields
            .iter()
            .map(|f| (f.as_ptr() as usize, f.len()))
            .collect();
        let index = self.define(keys, statics);
        self.by_struct
            .insert((name.as_ptr() as usize, name.len(), fields.len()), index);
    }
}

fn sequence_hash(map: &Map) -> u64 {
    use core::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5EED).build_hasher();
    for k in map.keys() {
        if let MapKey::Str(s) = k {
            h.write(s.as_bytes());
            h.write_u8(0xFF);
        }
    }
    h.finish()
}

/// How a `Value` map is written.
pub(crate) enum MapForm {
    /// As a record of this shape.
    Record(u32),
    /// As a map that defines a shape (its hash is recorded when it ends).
    Define(u64),
    /// As a plain map.
    Plain,
}

impl<O: Output> Writer<O> {
    /// Chooses how a `Value` map is written: a record when its key sequence has a
    /// shape, a shape definition when the sequence was seen once before, else plain.
    pub(crate) fn map_form(&mut self, map: &Map) -> MapForm {
        if self.version < 2
            || map.is_empty()
            || !map
                .keys()
                .all(|k| k.as_str().is_some_and(|s| s.len() <= MAX_INTERNED_KEY_LEN))
        {
            return MapForm::Plain;
        }
        let hash = sequence_hash(map);
        if let Some(&index) = self.shapes.by_keys.get(&hash)
            && let Some(keys) = self.shapes.keys.get(index as usize)
            && keys.len() == map.len()
            && keys.iter().zip(map.keys()).all(|(a, b)| b == &**a)
        {
            return MapForm::Record(index);
        }
        if self.shapes.seen.contains(&hash) {
            if self.shapes.has_room(map.len()) {
                return MapForm::Define(hash);
            }
        } else if self.shapes.seen.len() < SEEN_LIMIT {
            self.shapes.seen.insert(hash);
        }
        MapForm::Plain
    }

    /// Records the shape a `Value` map defined.
    pub(crate) fn define_map_shape(&mut self, hash: u64, map: &Map) {
        let keys: Box<[Box<str>]> = map
            .keys()
            .map(|k| Box::from(k.as_str().unwrap_or_default()))
            .collect();
        let index = self.shapes.define(keys, Box::new([]));
        self.shapes.by_keys.insert(hash, index);
    }

    /// The header of a map that defines a shape.
    pub(crate) fn begin_shape_map(&mut self, len: usize) -> Result<()> {
        self.put_u8(SHAPE_MAP)?;
        self.write_varint(len as u64)
    }

    /// The header of a record of shape `index`.
    pub(crate) fn begin_record(&mut self, index: u32) -> Result<()> {
        self.put_u8(RECORD)?;
        self.write_varint(u64::from(index))
    }

    /// Ends a record early: the rest of it, `len` entries, follows as keys and values.
    pub(crate) fn write_break(&mut self, len: usize) -> Result<()> {
        self.put_u8(BREAK)?;
        self.write_varint(len as u64)
    }
}

impl<'de, I: Input<'de>> Reader<I> {
    /// Reads a record's shape index and checks it is defined.
    pub(crate) fn read_shape_index(&mut self) -> Result<usize> {
        let index = self.read_varint()?;
        usize::try_from(index)
            .ok()
            .filter(|&i| i < self.shapes.len())
            .ok_or_else(|| Error::InvalidShape {
                reason: "a record refers to a shape not defined",
            })
    }

    /// Appends the shape a `CD` map defined.
    pub(crate) fn define_shape(&mut self, keys: Vec<MapKey>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        if self.shapes.len() >= SHAPE_LIMIT || self.shape_keys + keys.len() > SHAPE_KEYS_LIMIT {
            return Err(Error::InvalidShape {
                reason: "more shapes or shape keys than a snapshot may hold",
            });
        }
        self.shape_keys += keys.len();
        self.shapes.push(keys.into_boxed_slice());
        Ok(())
    }

    /// A key of a map being read as a shape definition: text keys longer than 64 bytes
    /// cannot be part of a shape.
    pub(crate) fn shape_key(read: &ReadKey<'_, '_>) -> Result<MapKey> {
        if let ReadKey::Text(k) = read
            && k.as_str().len() > MAX_INTERNED_KEY_LEN
        {
            return Err(Error::InvalidShape {
                reason: "a shape key is longer than 64 bytes",
            });
        }
        Ok(read.to_key())
    }

    /// Reads a `CD` map's entries as a `Value` and defines its shape.
    pub(crate) fn read_shape_map(&mut self, len: usize) -> Result<Value> {
        self.charge((len as u64).saturating_mul(ENTRY_COST))?;
        self.enter()?;
        let mut map = Map::with_capacity(self.prealloc(len));
        let mut keys = Vec::with_capacity(self.prealloc(len));
        for _ in 0..len {
            let read = self.read_key()?;
            let (cost, key) = (read.cost(), Self::shape_key(&read)?);
            self.charge(cost)?;
            let value = self
                .read_value()
                .map_err(|e| e.in_key(&alloc::format!("{key}")))?;
            keys.push(key.clone());
            map.insert_new(key, value)
                .map_err(|k| Error::duplicate_key(alloc::format!("{k}")))?;
        }
        self.leave();
        self.define_shape(keys)?;
        Ok(Value::Map(map))
    }

    /// Reads a record of shape `index` as a `Value`.
    pub(crate) fn read_record(&mut self, index: usize) -> Result<Value> {
        let len = self.shapes[index].len();
        self.charge((len as u64).saturating_mul(ENTRY_COST))?;
        self.enter()?;
        let mut map = Map::with_capacity(len);
        for slot in 0..len {
            if self.input.peek_u8()? == Some(BREAK) {
                self.input.next_u8()?;
                let rest = self.read_len(2)?;
                self.charge((rest as u64).saturating_mul(ENTRY_COST))?;
                for _ in 0..rest {
                    let read = self.read_key()?;
                    let (cost, key) = (read.cost(), read.to_key());
                    self.charge(cost)?;
                    let value = self
                        .read_value()
                        .map_err(|e| e.in_key(&alloc::format!("{key}")))?;
                    map.insert_new(key, value)
                        .map_err(|k| Error::duplicate_key(alloc::format!("{k}")))?;
                }
                break;
            }
            let key = self.shapes[index][slot].clone();
            self.charge(match &key {
                MapKey::Str(s) => s.len() as u64,
                MapKey::Int(_) => 8,
            })?;
            let value = self
                .read_value()
                .map_err(|e| e.in_key(&alloc::format!("{key}")))?;
            map.insert_new(key, value)
                .map_err(|k| Error::duplicate_key(alloc::format!("{k}")))?;
        }
        self.leave();
        Ok(Value::Map(map))
    }

    /// Skips a `CD` map, defining its shape.
    pub(crate) fn skip_shape_map(&mut self, len: usize) -> Result<()> {
        self.enter()?;
        let mut keys: FastSet<MapKey> = FastSet::default();
        for _ in 0..len {
            let read = self.read_key()?;
            let key = Self::shape_key(&read)?;
            if !keys.insert(key.clone()) {
                return Err(Error::duplicate_key(alloc::format!("{key}")));
            }
            self.skip_value()?;
        }
        self.leave();
        self.define_shape(keys.into_iter().collect())
    }

    /// Skips a record of shape `index`.
    pub(crate) fn skip_record(&mut self, index: usize) -> Result<()> {
        let len = self.shapes[index].len();
        self.enter()?;
        for _ in 0..len {
            if self.input.peek_u8()? == Some(BREAK) {
                self.input.next_u8()?;
                let rest = self.read_len(2)?;
                for _ in 0..rest {
                    self.read_key()?;
                    self.skip_value()?;
                }
                break;
            }
            self.skip_value()?;
        }
        self.leave();
        Ok(())
    }
}
