//! The body encoding: tag bytes, variable-length integers and the key table.
//!
//! [`Writer`] and [`Reader`] hold the primitives; the `Value` encoder and decoder (here)
//! and the serde serializer and deserializer (`ser.rs`, `de.rs`) are built on them, so
//! both paths write exactly the same bytes. FORMAT.md is the specification.

// Skipping, deferred lengths and copied input serve the serde and std paths only.
#![cfg_attr(not(all(feature = "serde", feature = "std")), allow(dead_code))]

use alloc::{boxed::Box, string::String, vec::Vec};

use crate::{Error, Ext, Integer, Map, Result, Value};

// Value tags.
pub(crate) const FIXINT_MAX: u8 = 0x7F;
pub(crate) const FIXSTR: u8 = 0x80;
pub(crate) const FIXSTR_MAX_LEN: usize = 31;
pub(crate) const FIXLIST: u8 = 0xA0;
pub(crate) const FIXLIST_MAX_LEN: usize = 15;
pub(crate) const FIXMAP: u8 = 0xB0;
pub(crate) const FIXMAP_MAX_LEN: usize = 15;
pub(crate) const NULL: u8 = 0xC0;
pub(crate) const FALSE: u8 = 0xC1;
pub(crate) const TRUE: u8 = 0xC2;
pub(crate) const UINT: u8 = 0xC3;
pub(crate) const NEGINT: u8 = 0xC4;
pub(crate) const FLOAT64: u8 = 0xC5;
pub(crate) const STR: u8 = 0xC6;
pub(crate) const BYTES: u8 = 0xC7;
pub(crate) const LIST: u8 = 0xC8;
pub(crate) const MAP: u8 = 0xC9;
pub(crate) const EXT: u8 = 0xCA;

// Key tags (the byte that starts every map key).
const KEY_REF_INLINE_MAX: u8 = 0xBF;
const KEY_NEW_INLINE: u8 = 0xC0;
const KEY_NEW_INLINE_MAX_LEN: usize = 31;
const KEY_NEW: u8 = 0xE0;
const KEY_REF: u8 = 0xE1;
const KEY_LITERAL: u8 = 0xE2;

/// The most keys one snapshot's key table holds; later new keys are written literally.
pub const KEY_TABLE_LIMIT: usize = 4096;
/// Keys longer than this are written literally instead of entering the key table.
pub const MAX_INTERNED_KEY_LEN: usize = 64;

/// Where encoded bytes go.
pub(crate) trait Output {
    fn put(&mut self, bytes: &[u8]) -> Result<()>;
    fn put_u8(&mut self, byte: u8) -> Result<()>;
}

impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        self.push(byte);
        Ok(())
    }
}

type KeySet = indexmap::IndexSet<Box<str>, foldhash::fast::RandomState>;

/// A map key as written, for finding duplicates: its key-table index, or (for keys
/// written literally) the key itself. A key is written one way for the whole snapshot
/// (the table only grows), so equal keys always have equal identities.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyId {
    Table(u32),
    Literal(Box<str>),
}

/// How a key was just written.
pub(crate) enum Written {
    Table(usize),
    Literal,
}

/// The keys of one open map that are not tracked by its bit mask (see `KeyCheck`).
struct OpenMap {
    /// Where this map's keys start in `Writer::map_keys`.
    start: usize,
    /// Past [`SMALL_MAP`] keys, a hash set replaces the linear scan.
    big: Option<Box<BigKeySet>>,
}

/// Maps up to this many (untracked-by-mask) keys look for duplicates by scanning;
/// larger ones hash.
const SMALL_MAP: usize = 32;

/// Refuses repeated keys in one map being written: keys at key-table indices 0..64
/// (struct field names, nearly always) take one bit of a mask kept by the caller;
/// other keys go to a frame of the writer, opened only when the first one comes.
#[derive(Default)]
pub(crate) struct KeyCheck {
    pub(crate) low: u64,
    frame: Option<usize>,
}

type BigKeySet = indexmap::IndexSet<KeyId, foldhash::fast::RandomState>;

/// Writes values in the body encoding, keeping the key table and the depth count.
pub(crate) struct Writer<O> {
    pub(crate) out: O,
    keys: KeySet,
    depth: usize,
    max_depth: usize,
    /// Lists and maps whose length was not known up front (serde's `len: None`): their
    /// contents are gathered here, innermost last, until the length is known.
    deferred: Vec<Vec<u8>>,
    /// Struct field names are `&'static str`: their table index is cached by address,
    /// which spares hashing the name for every field of every record.
    static_keys: [(usize, usize, u32); STATIC_KEY_SLOTS],
    /// The keys of every open map written through serde (whose maps can repeat a key:
    /// flattened fields, keys that print alike), innermost map's last.
    map_keys: Vec<KeyId>,
    open_maps: Vec<OpenMap>,
    /// The key the last `write_unique_key` wrote, for its map to check.
    pub(crate) last_key: Option<KeyId>,
    /// Extension payloads of registered types are checked as they are written.
    registry: Option<alloc::sync::Arc<crate::Registry>>,
}

const STATIC_KEY_SLOTS: usize = 64;

impl<O: Output> Writer<O> {
    pub(crate) fn new(out: O, max_depth: usize) -> Self {
        Self {
            out,
            keys: KeySet::default(),
            depth: 0,
            max_depth,
            deferred: Vec::new(),
            static_keys: [(0, 0, 0); STATIC_KEY_SLOTS],
            map_keys: Vec::new(),
            open_maps: Vec::new(),
            last_key: None,
            registry: None,
        }
    }

    /// Checks extension payloads against `registry` as they are written.
    pub(crate) fn with_registry(
        mut self,
        registry: Option<alloc::sync::Arc<crate::Registry>>,
    ) -> Self {
        self.registry = registry;
        self
    }

    /// Records `id` as a key of the map `check` belongs to; a key seen before in that
    /// map is [`Error::DuplicateKey`].
    #[inline]
    pub(crate) fn check_key(&mut self, check: &mut KeyCheck, id: KeyId) -> Result<()> {
        if let KeyId::Table(index) = id
            && index < 64
        {
            let bit = 1u64 << index;
            if check.low & bit != 0 {
                return Err(self.repeated(&id));
            }
            check.low |= bit;
            return Ok(());
        }
        let frame = match check.frame {
            Some(frame) => frame,
            None => {
                self.open_maps.push(OpenMap {
                    start: self.map_keys.len(),
                    big: None,
                });
                let frame = self.open_maps.len() - 1;
                check.frame = Some(frame);
                frame
            }
        };
        self.check_other_key(frame, id)
    }

    /// Forgets what `check` recorded; called when its map ends.
    #[inline]
    pub(crate) fn end_key_check(&mut self, check: &KeyCheck) {
        if let Some(frame) = check.frame {
            if let Some(map) = self.open_maps.get(frame) {
                self.map_keys.truncate(map.start);
            }
            self.open_maps.truncate(frame);
        }
    }

    fn check_other_key(&mut self, frame: usize, id: KeyId) -> Result<()> {
        let Some(map) = self.open_maps.get_mut(frame) else {
            return Ok(());
        };
        let repeated = match &mut map.big {
            Some(set) => !set.insert(id.clone()),
            None => {
                let seen = &self.map_keys[map.start..];
                if seen.contains(&id) {
                    true
                } else if seen.len() >= SMALL_MAP {
                    let mut set = BigKeySet::default();
                    set.extend(self.map_keys.drain(map.start..));
                    set.insert(id.clone());
                    map.big = Some(Box::new(set));
                    false
                } else {
                    self.map_keys.push(id.clone());
                    false
                }
            }
        };
        if repeated {
            return Err(self.repeated(&id));
        }
        Ok(())
    }

    /// The text of a key as written.
    #[cold]
    pub(crate) fn key_text(&self, id: &KeyId) -> String {
        match id {
            KeyId::Table(index) => self
                .keys
                .get_index(*index as usize)
                .map_or_else(String::new, |k| String::from(&**k)),
            KeyId::Literal(key) => String::from(&**key),
        }
    }

    #[cold]
    pub(crate) fn repeated(&self, id: &KeyId) -> Error {
        Error::duplicate_key(self.key_text(id))
    }

    /// Writes a map key and leaves what was written in `last_key` for its map to
    /// check (the key serializer cannot reach the map).
    #[inline]
    pub(crate) fn write_unique_key(&mut self, key: &str) -> Result<()> {
        let id = match self.write_key_as(key)? {
            Written::Table(index) => KeyId::Table(index as u32),
            Written::Literal => KeyId::Literal(key.into()),
        };
        self.last_key = Some(id);
        Ok(())
    }

    /// Writes a key that lives for the whole program (a struct field name); returns its
    /// key-table index, or `None` for a key written literally.
    #[inline]
    pub(crate) fn write_static_key(&mut self, key: &'static str) -> Result<Option<u32>> {
        let addr = key.as_ptr() as usize;
        // Literals sit a few bytes apart: mix the address before taking the slot.
        let slot = (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - 6))
            % STATIC_KEY_SLOTS;
        let (cached_addr, cached_len, index) = self.static_keys[slot];
        if cached_addr == addr && cached_len == key.len() {
            self.write_key_ref(index as usize)?;
            return Ok(Some(index));
        }
        Ok(match self.write_key_as(key)? {
            Written::Table(index) => {
                self.static_keys[slot] = (addr, key.len(), index as u32);
                Some(index as u32)
            }
            Written::Literal => None,
        })
    }

    #[inline]
    fn write_key_ref(&mut self, index: usize) -> Result<()> {
        if index <= usize::from(KEY_REF_INLINE_MAX) {
            self.put_u8(index as u8)
        } else {
            self.put_u8(KEY_REF)?;
            self.write_varint(index as u64)
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        match self.deferred.last_mut() {
            None => self.out.put(bytes),
            Some(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        match self.deferred.last_mut() {
            None => self.out.put_u8(byte),
            Some(buf) => {
                buf.push(byte);
                Ok(())
            }
        }
    }

    /// Starts gathering a list's or map's contents whose length is not yet known.
    pub(crate) fn begin_deferred(&mut self) -> Result<()> {
        self.enter()?;
        self.deferred.push(Vec::new());
        Ok(())
    }

    /// Ends a deferred list or map of `len` items: writes its header, then its contents.
    pub(crate) fn end_deferred(&mut self, is_map: bool, len: usize) -> Result<()> {
        let contents = self.deferred.pop().unwrap_or_default();
        if is_map {
            self.write_tag_len(FIXMAP, FIXMAP_MAX_LEN, MAP, len)?;
        } else {
            self.write_tag_len(FIXLIST, FIXLIST_MAX_LEN, LIST, len)?;
        }
        self.put(&contents)?;
        self.leave();
        Ok(())
    }

    #[inline]
    pub(crate) fn write_varint(&mut self, mut v: u64) -> Result<()> {
        let mut buf = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            buf[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        buf[n] = v as u8;
        self.put(&buf[..=n])
    }

    #[inline]
    fn write_tag_len(
        &mut self,
        small_tag: u8,
        small_max: usize,
        tag: u8,
        len: usize,
    ) -> Result<()> {
        if len <= small_max {
            self.put_u8(small_tag + len as u8)
        } else {
            self.put_u8(tag)?;
            self.write_varint(len as u64)
        }
    }

    pub(crate) fn write_null(&mut self) -> Result<()> {
        self.put_u8(NULL)
    }

    pub(crate) fn write_bool(&mut self, b: bool) -> Result<()> {
        self.put_u8(if b { TRUE } else { FALSE })
    }

    #[inline]
    pub(crate) fn write_u64(&mut self, v: u64) -> Result<()> {
        if v <= u64::from(FIXINT_MAX) {
            self.put_u8(v as u8)
        } else {
            self.put_u8(UINT)?;
            self.write_varint(v)
        }
    }

    #[inline]
    pub(crate) fn write_i64(&mut self, v: i64) -> Result<()> {
        if v >= 0 {
            self.write_u64(v as u64)
        } else {
            self.put_u8(NEGINT)?;
            // -1 -> 0, -2 -> 1, ..., i64::MIN -> 2^63 - 1
            self.write_varint(!(v as u64))
        }
    }

    #[inline]
    pub(crate) fn write_f64(&mut self, v: f64) -> Result<()> {
        let mut buf = [0u8; 9];
        buf[0] = FLOAT64;
        buf[1..].copy_from_slice(&v.to_le_bytes());
        self.put(&buf)
    }

    #[inline]
    pub(crate) fn write_str(&mut self, s: &str) -> Result<()> {
        self.write_tag_len(FIXSTR, FIXSTR_MAX_LEN, STR, s.len())?;
        self.put(s.as_bytes())
    }

    pub(crate) fn write_bytes(&mut self, b: &[u8]) -> Result<()> {
        self.put_u8(BYTES)?;
        self.write_varint(b.len() as u64)?;
        self.put(b)
    }

    pub(crate) fn write_ext(&mut self, type_id: u64, data: &[u8]) -> Result<()> {
        if let Some(registry) = &self.registry {
            registry.check(type_id, data)?;
        }
        self.put_u8(EXT)?;
        self.write_varint(type_id)?;
        self.write_varint(data.len() as u64)?;
        self.put(data)
    }

    /// Starts a list of `len` items; the caller writes them, then calls `leave`.
    #[inline]
    pub(crate) fn begin_list(&mut self, len: usize) -> Result<()> {
        self.enter()?;
        self.write_tag_len(FIXLIST, FIXLIST_MAX_LEN, LIST, len)
    }

    /// Starts a map of `len` entries; the caller writes keys and values, then `leave`s.
    #[inline]
    pub(crate) fn begin_map(&mut self, len: usize) -> Result<()> {
        self.enter()?;
        self.write_tag_len(FIXMAP, FIXMAP_MAX_LEN, MAP, len)
    }

    #[inline]
    fn enter(&mut self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(Error::DepthLimitExceeded {
                limit: self.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Writes a map key: a reference if the key table has it, else the key itself
    /// (entering the table while there is room).
    #[inline]
    pub(crate) fn write_key(&mut self, key: &str) -> Result<()> {
        self.write_key_as(key).map(drop)
    }

    #[inline]
    fn write_key_as(&mut self, key: &str) -> Result<Written> {
        if let Some(index) = self.keys.get_index_of(key) {
            self.write_key_ref(index)?;
            return Ok(Written::Table(index));
        }
        let written = if key.len() <= MAX_INTERNED_KEY_LEN && self.keys.len() < KEY_TABLE_LIMIT {
            let (index, _) = self.keys.insert_full(key.into());
            self.write_tag_len(KEY_NEW_INLINE, KEY_NEW_INLINE_MAX_LEN, KEY_NEW, key.len())?;
            Written::Table(index)
        } else {
            self.put_u8(KEY_LITERAL)?;
            self.write_varint(key.len() as u64)?;
            Written::Literal
        };
        self.put(key.as_bytes())?;
        Ok(written)
    }

    pub(crate) fn write_value(&mut self, value: &Value) -> Result<()> {
        match value {
            Value::Null => self.write_null(),
            Value::Bool(b) => self.write_bool(*b),
            Value::Int(i) => match i.split() {
                Ok(u) => self.write_u64(u),
                Err(n) => self.write_i64(n),
            },
            Value::Float(f) => self.write_f64(*f),
            Value::String(s) => self.write_str(s),
            Value::Bytes(b) => self.write_bytes(b),
            Value::List(items) => {
                self.begin_list(items.len())?;
                for (i, item) in items.iter().enumerate() {
                    self.write_value(item).map_err(|e| e.in_item(i))?;
                }
                self.leave();
                Ok(())
            }
            // A `Map` never holds a key twice, so no duplicate check is needed here.
            Value::Map(map) => {
                self.begin_map(map.len())?;
                for (k, v) in map.iter() {
                    self.write_key(k)?;
                    self.write_value(v).map_err(|e| e.in_key(k))?;
                }
                self.leave();
                Ok(())
            }
            Value::Ext(e) => self.write_ext(e.type_id(), e.data()),
        }
    }
}

/// Bytes read from an input: borrowed from it for the whole decode, or copied into a
/// scratch buffer that lives until the next read.
pub(crate) enum Bytes<'de, 's> {
    Borrowed(&'de [u8]),
    Copied(&'s [u8]),
}

impl<'de, 's> Bytes<'de, 's> {
    #[inline]
    pub(crate) fn get(&self) -> &[u8] {
        match self {
            Bytes::Borrowed(b) => b,
            Bytes::Copied(b) => b,
        }
    }
}

/// Where encoded bytes come from.
pub(crate) trait Input<'de> {
    fn next_u8(&mut self) -> Result<u8>;
    fn peek_u8(&mut self) -> Result<Option<u8>>;
    fn read_bytes(&mut self, len: usize) -> Result<Bytes<'de, '_>>;
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]>;
    /// How many bytes are left, when the input knows (used to reject hostile lengths).
    fn remaining(&self) -> Option<usize>;
}

/// A complete body held in memory.
pub(crate) struct SliceInput<'de> {
    data: &'de [u8],
    pos: usize,
}

impl<'de> SliceInput<'de> {
    pub(crate) fn new(data: &'de [u8]) -> Self {
        Self { data, pos: 0 }
    }
}

impl<'de> Input<'de> for SliceInput<'de> {
    #[inline]
    fn next_u8(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<Option<u8>> {
        Ok(self.data.get(self.pos).copied())
    }

    #[inline]
    fn read_bytes(&mut self, len: usize) -> Result<Bytes<'de, '_>> {
        let end = self.pos.checked_add(len).ok_or_else(|| Error::Truncated)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| Error::Truncated)?;
        self.pos = end;
        Ok(Bytes::Borrowed(bytes))
    }

    #[inline]
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N).ok_or_else(|| Error::Truncated)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| Error::Truncated)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    #[inline]
    fn remaining(&self) -> Option<usize> {
        Some(self.data.len() - self.pos)
    }
}

/// A map key as read: from the key table, or written out in place.
pub(crate) enum Key<'de, 's> {
    Table(&'s str),
    Borrowed(&'de str),
    Copied(&'s str),
}

impl Key<'_, '_> {
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Table(s) | Key::Copied(s) => s,
            Key::Borrowed(s) => s,
        }
    }
}

/// What a value tag says, with its inline length or payload read.
pub(crate) enum Head {
    Null,
    Bool(bool),
    UInt(u64),
    NegInt(i64),
    Float(f64),
    Str(usize),
    Bytes(usize),
    List(usize),
    Map(usize),
    Ext(u64, usize),
}

/// What one list item costs a decode's memory budget (the size of a `Value`).
pub(crate) const ITEM_COST: u64 = core::mem::size_of::<Value>() as u64;
/// What one map entry costs (a key `String` and a `Value`).
pub(crate) const ENTRY_COST: u64 =
    (core::mem::size_of::<Value>() + core::mem::size_of::<String>()) as u64;

/// Reads values in the body encoding, keeping the key table, the depth count and the
/// memory budget.
pub(crate) struct Reader<I> {
    pub(crate) input: I,
    keys: Vec<String>,
    depth: usize,
    max_depth: usize,
    /// Bytes of the budget not yet spent.
    budget: u64,
    /// The whole budget, for the error.
    max_memory: u64,
    /// Extension payloads of registered types are checked as they are read, on every
    /// path (dynamic values and serde types alike).
    pub(crate) registry: Option<alloc::sync::Arc<crate::Registry>>,
}

impl<'de, I: Input<'de>> Reader<I> {
    pub(crate) fn new(input: I, max_depth: usize) -> Self {
        Self {
            input,
            keys: Vec::new(),
            depth: 0,
            max_depth,
            budget: u64::MAX,
            max_memory: u64::MAX,
            registry: None,
        }
    }

    /// Checks extension payloads against `registry` as they are read.
    pub(crate) fn with_registry(
        mut self,
        registry: Option<alloc::sync::Arc<crate::Registry>>,
    ) -> Self {
        self.registry = registry;
        self
    }

    /// Limits what the decode may allocate to `max_memory`, of which `spent` is already
    /// used (by a decompressed body, say).
    pub(crate) fn with_memory_budget(mut self, max_memory: u64, spent: u64) -> Self {
        self.max_memory = max_memory;
        self.budget = max_memory.saturating_sub(spent);
        self
    }

    /// Spends `bytes` of the memory budget, or fails if it does not have them.
    #[inline]
    pub(crate) fn charge(&mut self, bytes: u64) -> Result<()> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(self.over_budget()),
        }
    }

    #[cold]
    fn over_budget(&self) -> Error {
        Error::MemoryLimitExceeded {
            limit: self.max_memory,
        }
    }

    #[inline]
    pub(crate) fn read_varint(&mut self) -> Result<u64> {
        let mut result = 0u64;
        for i in 0..10 {
            let b = self.input.next_u8()?;
            if i == 9 && b > 1 {
                return Err(Error::InvalidVarint);
            }
            result |= u64::from(b & 0x7F) << (7 * i);
            if b < 0x80 {
                return Ok(result);
            }
        }
        Err(Error::InvalidVarint)
    }

    /// Reads a length and checks that `min_item_size * len` bytes can still follow.
    #[inline]
    fn read_len(&mut self, min_item_size: usize) -> Result<usize> {
        let declared = self.read_varint()?;
        self.check_len(declared, min_item_size)
    }

    #[inline]
    fn check_len(&self, declared: u64, min_item_size: usize) -> Result<usize> {
        if let Some(available) = self.input.remaining() {
            let available = (available / min_item_size) as u64;
            if declared > available {
                return Err(Error::LengthExceedsInput {
                    declared,
                    available,
                });
            }
        }
        usize::try_from(declared).map_err(|_| Error::LengthExceedsInput {
            declared,
            available: usize::MAX as u64,
        })
    }

    /// Reads a value's tag and whatever the tag carries before the value's contents.
    #[inline(always)]
    pub(crate) fn read_head(&mut self) -> Result<Head> {
        let tag = self.input.next_u8()?;
        Ok(match tag {
            0..=FIXINT_MAX => Head::UInt(u64::from(tag)),
            0x80..=0x9F => {
                let len = usize::from(tag - FIXSTR);
                Head::Str(self.check_len(len as u64, 1)?)
            }
            0xA0..=0xAF => Head::List(self.check_len(u64::from(tag - FIXLIST), 1)?),
            0xB0..=0xBF => Head::Map(self.check_len(u64::from(tag - FIXMAP), 2)?),
            NULL => Head::Null,
            FALSE => Head::Bool(false),
            TRUE => Head::Bool(true),
            UINT => Head::UInt(self.read_varint()?),
            NEGINT => {
                let n = self.read_varint()?;
                if n > i64::MAX as u64 {
                    return Err(Error::IntegerOutOfRange {
                        value: alloc::format!("-{}", u128::from(n) + 1),
                        target: "i64",
                    });
                }
                Head::NegInt(!(n as i64))
            }
            FLOAT64 => Head::Float(f64::from_le_bytes(self.input.read_array()?)),
            STR => Head::Str(self.read_len(1)?),
            BYTES => Head::Bytes(self.read_len(1)?),
            LIST => Head::List(self.read_len(1)?),
            MAP => Head::Map(self.read_len(2)?),
            EXT => {
                let type_id = self.read_varint()?;
                Head::Ext(type_id, self.read_len(1)?)
            }
            _ => return Err(Error::InvalidTag { tag }),
        })
    }

    #[inline]
    pub(crate) fn read_str(&mut self, len: usize) -> Result<Key<'de, '_>> {
        Ok(match self.input.read_bytes(len)? {
            Bytes::Borrowed(b) => {
                Key::Borrowed(core::str::from_utf8(b).map_err(|_| Error::InvalidUtf8)?)
            }
            Bytes::Copied(b) => {
                Key::Copied(core::str::from_utf8(b).map_err(|_| Error::InvalidUtf8)?)
            }
        })
    }

    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(Error::DepthLimitExceeded {
                limit: self.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reads a map key.
    #[inline]
    pub(crate) fn read_key(&mut self) -> Result<Key<'de, '_>> {
        let tag = self.input.next_u8()?;
        let (len, intern) = match tag {
            0..=KEY_REF_INLINE_MAX => return self.key_ref(u64::from(tag)),
            KEY_REF => {
                let index = self.read_varint()?;
                return self.key_ref(index);
            }
            0xC0..=0xDF => (usize::from(tag - KEY_NEW_INLINE), true),
            KEY_NEW => (self.read_len(1)?, true),
            KEY_LITERAL => (self.read_len(1)?, false),
            _ => return Err(Error::InvalidKeyTag { tag }),
        };
        if !intern {
            return self.read_str(len);
        }
        if self.keys.len() >= KEY_TABLE_LIMIT {
            return Err(Error::KeyTableOverflow {
                limit: KEY_TABLE_LIMIT,
            });
        }
        let key = String::from(self.read_str(len)?.as_str());
        self.keys.push(key);
        Ok(Key::Table(self.keys.last().map_or("", String::as_str)))
    }

    #[inline]
    fn key_ref(&self, index: u64) -> Result<Key<'de, '_>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.keys.get(i))
            .map(|k| Key::Table(k.as_str()))
            .ok_or_else(|| Error::UndefinedKeyRef { index })
    }

    /// Skips one value without building it.
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        match self.read_head()? {
            Head::Str(len) | Head::Bytes(len) | Head::Ext(_, len) => {
                self.input.read_bytes(len)?;
            }
            Head::List(len) => {
                self.enter()?;
                for _ in 0..len {
                    self.skip_value()?;
                }
                self.leave();
            }
            Head::Map(len) => {
                self.enter()?;
                for _ in 0..len {
                    self.read_key()?;
                    self.skip_value()?;
                }
                self.leave();
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn read_value(&mut self) -> Result<Value> {
        Ok(match self.read_head()? {
            Head::Null => Value::Null,
            Head::Bool(b) => Value::Bool(b),
            Head::UInt(u) => Value::Int(u.into()),
            Head::NegInt(i) => Value::Int(Integer::from(i)),
            Head::Float(f) => Value::Float(f),
            Head::Str(len) => {
                self.charge(len as u64)?;
                Value::String(String::from(self.read_str(len)?.as_str()))
            }
            Head::Bytes(len) => {
                self.charge(len as u64)?;
                Value::Bytes(self.input.read_bytes(len)?.get().to_vec())
            }
            Head::Ext(type_id, len) => {
                self.charge(len as u64)?;
                let data = self.input.read_bytes(len)?.get().to_vec();
                if let Some(registry) = &self.registry {
                    registry.check(type_id, &data)?;
                }
                Value::from(Ext::new(type_id, data))
            }
            Head::List(len) => {
                // Paid for before the list is allocated: a count the budget cannot
                // hold is refused before any memory is asked for.
                self.charge((len as u64).saturating_mul(ITEM_COST))?;
                self.enter()?;
                let mut items = Vec::with_capacity(self.prealloc(len));
                for i in 0..len {
                    items.push(self.read_value().map_err(|e| e.in_item(i))?);
                }
                self.leave();
                Value::List(items)
            }
            Head::Map(len) => {
                self.charge((len as u64).saturating_mul(ENTRY_COST))?;
                self.enter()?;
                let mut map = Map::with_capacity(self.prealloc(len));
                for _ in 0..len {
                    let key = String::from(self.read_key()?.as_str());
                    self.charge(key.len() as u64)?;
                    let value = self.read_value().map_err(|e| e.in_key(&key))?;
                    map.insert_new(key, value).map_err(Error::duplicate_key)?;
                }
                self.leave();
                Value::Map(map)
            }
        })
    }

    /// How many items to reserve room for: never more than the input could hold, and
    /// when the input's size is unknown (a stream), a modest start that grows.
    #[inline]
    pub(crate) fn prealloc(&self, len: usize) -> usize {
        match self.input.remaining() {
            Some(_) => len,
            None => len.min(4096),
        }
    }
}
