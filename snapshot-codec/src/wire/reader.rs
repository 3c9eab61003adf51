//! [`Reader`]: the decoder's primitives, the key table, the depth count and the
//! memory budget.

use super::*;

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
    /// How many bytes have been read so far.
    fn position(&self) -> u64;
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

    #[inline]
    fn position(&self) -> u64 {
        self.pos as u64
    }
}

/// A body held in memory as several chunks of one snapshot (a streamed, uncompressed
/// snapshot read whole): read where it lies; only a value that crosses from one chunk
/// into the next is copied, into a scratch buffer.
pub(crate) struct ChunksInput<'de> {
    data: &'de [u8],
    chunks: &'de [(usize, usize)],
    /// The chunk being read and where in `data` it ends.
    index: usize,
    end: usize,
    pos: usize,
    /// Body bytes in the chunks before the current one.
    before: u64,
    total: u64,
    scratch: Vec<u8>,
}

impl<'de> ChunksInput<'de> {
    /// `chunks` are ranges of `data`, none empty, in order.
    pub(crate) fn new(data: &'de [u8], chunks: &'de [(usize, usize)]) -> Self {
        let (pos, end) = chunks.first().copied().unwrap_or((0, 0));
        Self {
            data,
            chunks,
            index: 0,
            end,
            pos,
            before: 0,
            total: chunks.iter().map(|(s, e)| (e - s) as u64).sum(),
            scratch: Vec::new(),
        }
    }

    /// Moves to the next chunk when the current one is read out; false at the end.
    #[inline]
    fn ready(&mut self) -> bool {
        while self.pos == self.end {
            let Some(&(start, end)) = self.chunks.get(self.index + 1) else {
                return false;
            };
            self.before += (self.end - self.chunks[self.index].0) as u64;
            self.index += 1;
            self.pos = start;
            self.end = end;
        }
        true
    }

    /// Copies the next `len` bytes, across chunks, into the scratch buffer.
    fn gather(&mut self, len: usize) -> Result<()> {
        if self.remaining().is_none_or(|r| r < len) {
            return Err(Error::Truncated);
        }
        self.scratch.clear();
        self.scratch.reserve(len);
        let mut left = len;
        while left > 0 {
            if !self.ready() {
                return Err(Error::Truncated);
            }
            let take = left.min(self.end - self.pos);
            self.scratch
                .extend_from_slice(&self.data[self.pos..self.pos + take]);
            self.pos += take;
            left -= take;
        }
        Ok(())
    }
}

impl<'de> Input<'de> for ChunksInput<'de> {
    #[inline]
    fn next_u8(&mut self) -> Result<u8> {
        if !self.ready() {
            return Err(Error::Truncated);
        }
        let b = self.data[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<Option<u8>> {
        Ok(self.ready().then(|| self.data[self.pos]))
    }

    #[inline]
    fn read_bytes(&mut self, len: usize) -> Result<Bytes<'de, '_>> {
        if len == 0 {
            return Ok(Bytes::Borrowed(&[]));
        }
        if self.ready() && self.end - self.pos >= len {
            let data: &'de [u8] = self.data;
            let bytes = &data[self.pos..self.pos + len];
            self.pos += len;
            return Ok(Bytes::Borrowed(bytes));
        }
        self.gather(len)?;
        Ok(Bytes::Copied(&self.scratch))
    }

    #[inline]
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.read_bytes(N)?.get());
        Ok(out)
    }

    #[inline]
    fn remaining(&self) -> Option<usize> {
        Some((self.total - self.position()) as usize)
    }

    #[inline]
    fn position(&self) -> u64 {
        let start = self.chunks.get(self.index).map_or(0, |c| c.0);
        self.before + (self.pos - start) as u64
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

/// A map key as read: text, or (format 2) an integer.
pub(crate) enum ReadKey<'de, 's> {
    Text(Key<'de, 's>),
    Int(Integer),
}

impl ReadKey<'_, '_> {
    /// The key as a [`crate::Key`].
    pub(crate) fn to_key(&self) -> crate::Key {
        match self {
            ReadKey::Text(k) => crate::Key::Str(String::from(k.as_str())),
            ReadKey::Int(i) => crate::Key::Int(*i),
        }
    }

    /// The key's length in bytes, for the memory budget (an integer: 8).
    pub(crate) fn cost(&self) -> u64 {
        match self {
            ReadKey::Text(k) => k.as_str().len() as u64,
            ReadKey::Int(_) => 8,
        }
    }
}

/// What a value tag says, with its inline length or payload read.
#[derive(Clone, Copy)]
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
    /// Format 2: a 32-bit float.
    Float32(f32),
    /// Format 2: a typed array's element type, count and shuffle flag.
    Array(crate::ElementType, usize, bool),
    /// Format 2: a list in runs of this many items.
    Runs(usize),
    /// Format 2: a map of this many entries that defines a shape.
    ShapeMap(usize),
    /// Format 2: a record of the shape at this index.
    Record(usize),
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
    /// The format version of the body: tags of later versions are invalid in it.
    pub(crate) version: u8,
    /// Record shapes defined so far (format 2), by index.
    pub(crate) shapes: Vec<Box<[crate::Key]>>,
    pub(crate) shape_keys: usize,
}

impl<'de, I: Input<'de>> Reader<I> {
    pub(crate) fn new(input: I, max_depth: usize, version: u8) -> Self {
        Self {
            version,
            shapes: Vec::new(),
            shape_keys: 0,
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
    pub(crate) fn read_len(&mut self, min_item_size: usize) -> Result<usize> {
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
            FLOAT32 if self.version >= 2 => {
                Head::Float32(f32::from_le_bytes(self.input.read_array()?))
            }
            ARRAY if self.version >= 2 => {
                let (ty, count, shuffled) = self.read_elements_head()?;
                Head::Array(ty, count, shuffled)
            }
            RUNS if self.version >= 2 => Head::Runs(self.read_len(1)?),
            SHAPE_MAP if self.version >= 2 => Head::ShapeMap(self.read_len(2)?),
            RECORD if self.version >= 2 => Head::Record(self.read_shape_index()?),
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
    pub(crate) fn read_key(&mut self) -> Result<ReadKey<'de, '_>> {
        let tag = self.input.next_u8()?;
        let (len, intern) = match tag {
            0..=KEY_REF_INLINE_MAX => return self.key_ref(u64::from(tag)).map(ReadKey::Text),
            KEY_REF => {
                let index = self.read_varint()?;
                return self.key_ref(index).map(ReadKey::Text);
            }
            0xC0..=0xDF => (usize::from(tag - KEY_NEW_INLINE), true),
            KEY_NEW => (self.read_len(1)?, true),
            KEY_LITERAL => (self.read_len(1)?, false),
            KEY_INT if self.version >= 2 => {
                return Ok(ReadKey::Int(self.read_varint()?.into()));
            }
            KEY_NEGINT if self.version >= 2 => {
                let n = self.read_varint()?;
                if n > i64::MAX as u64 {
                    return Err(Error::IntegerOutOfRange {
                        value: alloc::format!("-{}", u128::from(n) + 1),
                        target: "i64",
                    });
                }
                return Ok(ReadKey::Int((!(n as i64)).into()));
            }
            _ => return Err(Error::InvalidKeyTag { tag }),
        };
        if !intern {
            return self.read_str(len).map(ReadKey::Text);
        }
        if self.keys.len() >= KEY_TABLE_LIMIT {
            return Err(Error::KeyTableOverflow {
                limit: KEY_TABLE_LIMIT,
            });
        }
        let key = String::from(self.read_str(len)?.as_str());
        self.keys.push(key);
        Ok(ReadKey::Text(Key::Table(
            self.keys.last().map_or("", String::as_str),
        )))
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
    ///
    /// Containers, strings and byte strings are charged to the memory budget as a
    /// decode charges them, and map keys are checked for repeats, so what a decode would
    /// refuse is refused here too (a bomb at its first container head).
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        match self.read_head()? {
            Head::Str(len) | Head::Bytes(len) => {
                self.charge(len as u64)?;
                self.input.read_bytes(len)?;
            }
            // A registered type's payload is checked as a decode would.
            Head::Ext(type_id, len) => {
                self.charge(len as u64)?;
                let data = self.input.read_bytes(len)?;
                if let Some(registry) = &self.registry {
                    registry.check(type_id, data.get())?;
                }
            }
            Head::List(len) => {
                self.charge((len as u64).saturating_mul(ITEM_COST))?;
                self.enter()?;
                for _ in 0..len {
                    self.skip_value()?;
                }
                self.leave();
            }
            Head::Map(len) => {
                self.charge((len as u64).saturating_mul(ENTRY_COST))?;
                self.enter()?;
                let mut seen = Map::with_capacity(self.prealloc(len));
                for _ in 0..len {
                    let read = self.read_key()?;
                    let (cost, key) = (read.cost(), read.to_key());
                    self.charge(cost)?;
                    seen.insert_new(key, Value::Null).map_err(|k| {
                        Error::duplicate_key(alloc::string::ToString::to_string(&k))
                    })?;
                    self.skip_value()?;
                }
                self.leave();
            }
            Head::Array(ty, count, shuffled) => {
                self.enter()?;
                self.skip_elements(ty, count, shuffled)?;
                self.leave();
            }
            Head::ShapeMap(len) => self.skip_shape_map(len)?,
            Head::Record(index) => self.skip_record(index)?,
            Head::Runs(len) => {
                self.enter()?;
                let mut done = 0;
                while done < len {
                    match self.read_run_head()? {
                        RunItem::Run(ty, count, shuffled) if count <= len - done => {
                            self.skip_elements(ty, count, shuffled)?;
                            done += count;
                        }
                        RunItem::Run(..) => {
                            return Err(Error::InvalidArray {
                                reason: "a run goes past its list's length",
                            });
                        }
                        RunItem::Item => {
                            self.skip_value()?;
                            done += 1;
                        }
                    }
                }
                self.leave();
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn read_value(&mut self) -> Result<Value> {
        let head = self.read_head()?;
        self.value_from_head(head)
    }

    /// Reads the rest of a value whose head has been read.
    #[inline(always)]
    pub(crate) fn value_from_head(&mut self, head: Head) -> Result<Value> {
        Ok(match head {
            Head::Null => Value::Null,
            Head::Bool(b) => Value::Bool(b),
            Head::UInt(u) => Value::Int(u.into()),
            Head::NegInt(i) => Value::Int(Integer::from(i)),
            Head::Float(f) => Value::Float(f),
            Head::Float32(f) => Value::Float32(f),
            Head::Array(ty, count, shuffled) => {
                self.enter()?;
                let array = self.read_elements(ty, count, shuffled)?;
                self.leave();
                Value::Array(array)
            }
            Head::Runs(len) => self.read_runs_value(len)?,
            Head::ShapeMap(len) => self.read_shape_map(len)?,
            Head::Record(index) => self.read_record(index)?,
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
            Head::List(len) => self.read_list(len)?,
            Head::Map(len) => self.read_map(len)?,
        })
    }

    // Containers are read out of line: `read_value` recurses once per level of
    // nesting, and its frame stays small that way (debug builds included).
    #[inline(never)]
    fn read_list(&mut self, len: usize) -> Result<Value> {
        // Paid for before the list is allocated: a count the budget cannot hold is
        // refused before any memory is asked for.
        self.charge((len as u64).saturating_mul(ITEM_COST))?;
        self.enter()?;
        let mut items = Vec::with_capacity(self.prealloc(len));
        for i in 0..len {
            items.push(self.read_value().map_err(|e| e.in_item(i))?);
        }
        self.leave();
        Ok(Value::List(items))
    }

    #[inline(never)]
    fn read_map(&mut self, len: usize) -> Result<Value> {
        self.charge((len as u64).saturating_mul(ENTRY_COST))?;
        self.enter()?;
        let mut map = Map::with_capacity(self.prealloc(len));
        for _ in 0..len {
            let read = self.read_key()?;
            let (cost, key) = (read.cost(), read.to_key());
            self.charge(cost)?;
            let value = self
                .read_value()
                .map_err(|e| e.in_key(&alloc::string::ToString::to_string(&key)))?;
            map.insert_new(key, value)
                .map_err(|k| Error::duplicate_key(alloc::string::ToString::to_string(&k)))?;
        }
        self.leave();
        Ok(Value::Map(map))
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
