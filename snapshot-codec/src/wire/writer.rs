//! [`Writer`]: the encoder's primitives, the key table and duplicate-key checks.

use super::*;

/// A map key as written, for finding duplicates: its key-table index, or (for keys
/// written literally) the key itself. In a map that admits its new keys to the table, a
/// key is written one way for the whole snapshot (the table only grows), so equal keys
/// have equal identities; a map keyed by ids ([`Admission`]) compares keys by text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyId {
    Table(u32),
    Literal(Box<str>),
    Int(crate::Integer),
    /// A literal key of a map that compares keys by text, not yet checked: its text is
    /// in `Writer::pending` (spares an allocation per key of a map keyed by ids).
    Pending,
    /// A checked key of such a map: span `1` of the text set of open map `0`.
    Stored(u32, u32),
}

/// How a key was just written.
pub(crate) enum Written {
    /// A reference to a key the table already held.
    Ref(usize),
    /// A new key, entered into the table at this index.
    New(usize),
    /// The key itself, outside the table.
    Literal,
}

impl Written {
    /// The key-table index, if the key is in the table now.
    fn index(&self) -> Option<usize> {
        match *self {
            Written::Ref(index) | Written::New(index) => Some(index),
            Written::Literal => None,
        }
    }
}

/// Entries after which a map decides whether its keys are names or ids.
const ADMISSION_PROBE: u32 = 64;
/// New keys in a row after which a map keyed by ids stops looking its keys up.
const BLIND_AFTER: u32 = 256;

/// Whether one map's new keys enter the key table. The table pays for keys that come
/// back (field names, the keys of many maps of one shape); a map whose first
/// [`ADMISSION_PROBE`] keys were nearly all new (7 in 8 or more) is keyed by ids
/// (user ids, paths, hashes) that will not come back, so its later new keys are written
/// literally: they would fill the table (and leave no room for names that come later)
/// and make every lookup slower, to save no byte. Keys the table holds are still
/// written as references, until [`BLIND_AFTER`] new keys in a row: from then on every
/// key is written literally without looking it up (a key the table holds costs a few
/// bytes more, never correctness: such a map identifies its keys by their text, see
/// [`KeyCheck`]). Readers need nothing new: literal keys are as old as the format.
/// Version 1 writers admit every key, as 0.1 did (their output stays byte for byte).
#[derive(Clone, Copy, Default)]
pub(crate) struct Admission {
    keys: u32,
    new: u32,
    /// New keys in a row since the map turned literal.
    run: u32,
    /// New keys are written literally from now on.
    pub(crate) literal: bool,
    /// Keys are not looked up in the table any more.
    blind: bool,
}

impl Admission {
    #[inline]
    fn note(&mut self, written: &Written) {
        let new = !matches!(written, Written::Ref(_));
        if self.literal {
            self.run = if new { self.run + 1 } else { 0 };
            self.blind = self.run >= BLIND_AFTER;
        } else if self.keys < ADMISSION_PROBE {
            self.keys += 1;
            self.new += u32::from(new);
            if self.keys == ADMISSION_PROBE && self.new * 8 >= ADMISSION_PROBE * 7 {
                self.literal = true;
            }
        }
    }
}

/// The keys of one open map that are not tracked by its bit mask (see `KeyCheck`).
struct OpenMap {
    /// Where this map's keys start in `Writer::map_keys`.
    start: usize,
    /// Past [`SMALL_MAP`] keys, a hash set replaces the linear scan.
    big: Option<Box<BigKeySet>>,
    /// A map that identifies keys by their text keeps them here instead.
    text: Option<Box<TextSet>>,
}

/// Keys identified by their text, held in one buffer (no allocation per key: a map keyed
/// by ids writes most of its keys literally).
#[derive(Default)]
struct TextSet {
    bytes: Vec<u8>,
    /// Start and end in `bytes`, and the next span of the same hash (`u32::MAX`: none).
    spans: Vec<(u32, u32, u32)>,
    /// The first span of each hash.
    by_hash: indexmap::IndexMap<u64, u32, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
}

impl TextSet {
    /// Adds `key` (a kind byte and its bytes) and returns its span; `None` if it was
    /// already there.
    fn insert(&mut self, kind: u8, key: &[u8]) -> Option<u32> {
        use core::hash::BuildHasher;
        let hash = self.hasher.hash_one((kind, key));
        let start = self.bytes.len();
        let next = match self.by_hash.get(&hash) {
            Some(&first) => {
                let mut at = first;
                while let Some(&(from, to, next)) = self.spans.get(at as usize) {
                    let seen = &self.bytes[from as usize..to as usize];
                    if seen.first() == Some(&kind) && &seen[1..] == key {
                        return None;
                    }
                    at = next;
                }
                first
            }
            None => u32::MAX,
        };
        self.bytes.push(kind);
        self.bytes.extend_from_slice(key);
        self.spans
            .push((start as u32, self.bytes.len() as u32, next));
        let span = (self.spans.len() - 1) as u32;
        self.by_hash.insert(hash, span);
        Some(span)
    }

    /// The text of span `span` (without its kind byte).
    fn text(&self, span: u32) -> &[u8] {
        self.spans
            .get(span as usize)
            .and_then(|&(from, to, _)| self.bytes.get(from as usize + 1..to as usize))
            .unwrap_or_default()
    }
}

/// Maps up to this many (untracked-by-mask) keys look for duplicates by scanning;
/// larger ones hash.
const SMALL_MAP: usize = 32;

/// Refuses repeated keys in one map being written: keys at key-table indices 0..64
/// (struct field names, nearly always) take one bit of a mask kept by the caller;
/// other keys go to a frame of the writer, opened only when the first one comes.
///
/// A map whose new keys are written literally ([`Admission`]) identifies every key by
/// its text from then on: one key may then be written literally and later, once a map
/// nested in it entered the key into the table, as a reference.
#[derive(Default)]
pub(crate) struct KeyCheck {
    pub(crate) low: u64,
    frame: Option<usize>,
    /// How this map admits new keys (serde maps; handed to the writer per key).
    pub(crate) admission: Admission,
    /// Keys are identified by their text (see above).
    by_text: bool,
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
    /// The admission of the map whose key `write_unique_key` writes (its map hands it
    /// over for the key and takes it back).
    pub(crate) admission: Admission,
    /// The text of a `KeyId::Pending` key.
    pending: String,
    /// What the last `Pending` key became when its map checked it.
    pub(crate) stored: Option<KeyId>,
    /// Extension payloads of registered types are checked as they are written.
    registry: Option<alloc::sync::Arc<crate::Registry>>,
    /// The format version written: version 1 has no 32-bit floats and no arrays.
    pub(crate) version: u8,
    /// Whether numeric arrays may be byte-shuffled: `None` when the body is not
    /// compressed (or the version has no arrays), else the setting.
    pub(crate) shuffle: Option<crate::Shuffle>,
    /// Whether the body's compression is a fast one (shuffling must then also make
    /// compression pay, or it is not done).
    pub(crate) fast_compression: bool,
    /// Numbers of a sequence being gathered into an array (serde path).
    pub(crate) numbers: Gather,
    /// The next list is a `Value::List` passing serde: written as a list, never an array.
    pub(crate) plain_list: bool,
    /// Record shapes defined so far (format 2).
    pub(crate) shapes: Shapes,
}

const STATIC_KEY_SLOTS: usize = 64;

impl<O: Output> Writer<O> {
    pub(crate) fn new(out: O, opts: &crate::EncodeOptions) -> Self {
        Self {
            out,
            // Sized for a small document's keys: growing from empty rehashed three times.
            keys: KeySet::with_capacity_and_hasher(16, Default::default()),
            depth: 0,
            max_depth: opts.max_depth,
            deferred: Vec::new(),
            static_keys: [(0, 0, 0); STATIC_KEY_SLOTS],
            map_keys: Vec::new(),
            open_maps: Vec::new(),
            last_key: None,
            admission: Admission::default(),
            pending: String::new(),
            stored: None,
            registry: opts.registry.clone(),
            version: opts.format_version,
            shuffle: match opts.shuffle {
                _ if opts.format_version < 2 => None,
                crate::Shuffle::Always => Some(crate::Shuffle::Always),
                _ if matches!(opts.compression, crate::Compression::None) => None,
                shuffle => Some(shuffle),
            },
            fast_compression: opts.compression.is_fast(),
            numbers: Default::default(),
            plain_list: false,
            shapes: Shapes::default(),
        }
    }

    /// Records `id` as a key of the map `check` belongs to; a key seen before in that
    /// map is [`Error::DuplicateKey`].
    #[inline]
    pub(crate) fn check_key(&mut self, check: &mut KeyCheck, id: KeyId) -> Result<()> {
        if check.admission.literal && !check.by_text {
            self.identify_by_text(check);
        }
        if check.by_text {
            return self.check_text(check, &id);
        }
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
        let frame = self.frame_of(check);
        self.check_other_key(frame, id)
    }

    /// The writer's frame for `check`'s map, opened when its first untracked key comes.
    fn frame_of(&mut self, check: &mut KeyCheck) -> usize {
        if let Some(frame) = check.frame {
            return frame;
        }
        self.open_maps.push(OpenMap {
            start: self.map_keys.len(),
            big: None,
            text: None,
        });
        let frame = self.open_maps.len() - 1;
        check.frame = Some(frame);
        frame
    }

    /// Checks a key of a map that identifies keys by their text; a `Pending` key
    /// becomes `Stored` (in `stored`, for the map to name in errors).
    fn check_text(&mut self, check: &KeyCheck, id: &KeyId) -> Result<()> {
        let Some(frame) = check.frame else {
            return Ok(());
        };
        let Some(set) = self
            .open_maps
            .get_mut(frame)
            .and_then(|map| map.text.as_deref_mut())
        else {
            return Ok(());
        };
        let span = match id {
            KeyId::Table(index) => {
                let text = self.keys.get_index(*index as usize).map_or("", |k| &**k);
                set.insert(0, text.as_bytes())
            }
            KeyId::Literal(text) => set.insert(0, text.as_bytes()),
            KeyId::Pending => set.insert(0, self.pending.as_bytes()),
            KeyId::Int(i) => match i.split() {
                Ok(u) => set.insert(1, &u.to_le_bytes()),
                Err(n) => set.insert(2, &n.to_le_bytes()),
            },
            KeyId::Stored(..) => Some(0),
        };
        match span {
            Some(span) => {
                if matches!(id, KeyId::Pending) {
                    self.stored = Some(KeyId::Stored(frame as u32, span));
                }
                Ok(())
            }
            None => Err(self.repeated(id)),
        }
    }

    /// Turns what `check` recorded so far into text identities (see [`KeyCheck`]).
    #[cold]
    fn identify_by_text(&mut self, check: &mut KeyCheck) {
        let mut ids: Vec<KeyId> = (0..64)
            .filter(|bit| check.low & (1u64 << bit) != 0)
            .map(KeyId::Table)
            .collect();
        check.low = 0;
        let frame = self.frame_of(check);
        if let Some(map) = self.open_maps.get_mut(frame) {
            match map.big.take() {
                Some(set) => ids.extend(*set),
                None => ids.extend(self.map_keys.drain(map.start..)),
            }
        }
        check.by_text = true;
        if let Some(map) = self.open_maps.get_mut(frame) {
            map.text = Some(Box::default());
        }
        for id in &ids {
            // The keys were distinct as they were identified before.
            let _ = self.check_text(check, id);
        }
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
            Some(set) => match set.insert_full(id) {
                (_, true) => None,
                (at, false) => set.get_index(at).cloned(),
            },
            None => {
                let seen = &self.map_keys[map.start..];
                if seen.contains(&id) {
                    Some(id)
                } else if seen.len() >= SMALL_MAP {
                    let mut set = BigKeySet::default();
                    set.extend(self.map_keys.drain(map.start..));
                    set.insert(id);
                    map.big = Some(Box::new(set));
                    None
                } else {
                    self.map_keys.push(id);
                    None
                }
            }
        };
        match repeated {
            Some(id) => Err(self.repeated(&id)),
            None => Ok(()),
        }
    }

    /// The identity a key written now would have (for duplicate checks).
    pub(crate) fn key_id_of(&self, key: &str) -> KeyId {
        match self.keys.get_index_of(key) {
            Some(index) => KeyId::Table(index as u32),
            None => KeyId::Literal(key.into()),
        }
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
            KeyId::Int(i) => alloc::format!("{i}"),
            KeyId::Pending => self.pending.clone(),
            KeyId::Stored(frame, span) => self
                .open_maps
                .get(*frame as usize)
                .and_then(|map| map.text.as_deref())
                .map(|set| String::from_utf8_lossy(set.text(*span)).into_owned())
                .unwrap_or_default(),
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
        let written = if self.admission.blind {
            self.write_literal_key(key)?
        } else {
            self.write_key_as(key, !self.admission.literal)?
        };
        if self.version >= 2 {
            self.admission.note(&written);
        }
        let id = match written.index() {
            Some(index) => KeyId::Table(index as u32),
            // The map compares keys by text: no copy of its own for each key.
            None if self.admission.literal => {
                self.pending.clear();
                self.pending.push_str(key);
                KeyId::Pending
            }
            None => KeyId::Literal(key.into()),
        };
        self.last_key = Some(id);
        Ok(())
    }

    /// Writes an integer map key (as text in version 1) and leaves what was written in
    /// `last_key`, like [`Self::write_unique_key`].
    #[inline]
    pub(crate) fn write_unique_int_key(&mut self, key: crate::Integer) -> Result<()> {
        if self.version < 2 {
            return self.write_unique_key(&alloc::format!("{key}"));
        }
        self.write_int_key(key)?;
        self.last_key = Some(KeyId::Int(key));
        Ok(())
    }

    /// Writes an integer key: `E3`/`E4` and a varint (format 2).
    #[inline]
    pub(crate) fn write_int_key(&mut self, key: crate::Integer) -> Result<()> {
        match key.split() {
            Ok(u) => {
                self.put_u8(KEY_INT)?;
                self.write_varint(u)
            }
            Err(n) => {
                self.put_u8(KEY_NEGINT)?;
                self.write_varint(!(n as u64))
            }
        }
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
        Ok(match self.write_key_as(key, true)?.index() {
            Some(index) => {
                self.static_keys[slot] = (addr, key.len(), index as u32);
                Some(index as u32)
            }
            None => None,
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
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        match self.deferred.last_mut() {
            None => self.out.put(bytes),
            Some(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    #[inline]
    pub(crate) fn put_u8(&mut self, byte: u8) -> Result<()> {
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
    pub(crate) fn write_tag_len(
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

    /// Whether a registry checks payloads of `type_id`.
    pub(crate) fn registry_knows(&self, type_id: u64) -> bool {
        self.registry.as_ref().is_some_and(|r| r.knows(type_id))
    }

    /// An extension's tag, type and length; its `len` payload bytes follow through
    /// [`put`](Self::put).
    pub(crate) fn write_ext_header(&mut self, type_id: u64, len: u64) -> Result<()> {
        self.put_u8(EXT)?;
        self.write_varint(type_id)?;
        self.write_varint(len)
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

    /// Writes a map key: a reference if the key table has it, else the key itself
    /// (entering the table while there is room).
    #[inline]
    pub(crate) fn write_key(&mut self, key: &str) -> Result<()> {
        self.write_key_as(key, true).map(drop)
    }

    /// Writes a key of a `Value` map, whose [`Admission`] the caller keeps.
    #[inline]
    fn write_map_key(&mut self, key: &str, admission: &mut Admission) -> Result<()> {
        let written = if admission.blind {
            self.write_literal_key(key)?
        } else {
            self.write_key_as(key, !admission.literal)?
        };
        if self.version >= 2 {
            admission.note(&written);
        }
        Ok(())
    }

    /// Writes a key as it is, outside the key table.
    #[inline]
    fn write_literal_key(&mut self, key: &str) -> Result<Written> {
        self.put_u8(KEY_LITERAL)?;
        self.write_varint(key.len() as u64)?;
        self.put(key.as_bytes())?;
        Ok(Written::Literal)
    }

    /// Writes a key as a reference if the table holds it, else as a new table entry
    /// (if `admit` and the table has room for it) or literally.
    #[inline]
    fn write_key_as(&mut self, key: &str, admit: bool) -> Result<Written> {
        if let Some(index) = self.keys.get_index_of(key) {
            self.write_key_ref(index)?;
            return Ok(Written::Ref(index));
        }
        let written =
            if admit && key.len() <= MAX_INTERNED_KEY_LEN && self.keys.len() < KEY_TABLE_LIMIT {
                let (index, _) = self.keys.insert_full(key.into());
                self.write_tag_len(KEY_NEW_INLINE, KEY_NEW_INLINE_MAX_LEN, KEY_NEW, key.len())?;
                Written::New(index)
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
            Value::Float32(f) => self.write_f32(*f),
            Value::Array(a) => self.write_array(a),
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
            // A `Map` never holds a key twice, so no duplicate check is needed here,
            // except in version 1, where integer keys become text.
            Value::Map(map) => {
                if self.version < 2 && map.keys().any(|k| k.as_integer().is_some()) {
                    let mut texts = alloc::collections::BTreeSet::new();
                    for k in map.keys() {
                        let text = alloc::format!("{k}");
                        if !texts.insert(text.clone()) {
                            return Err(Error::duplicate_key(text));
                        }
                    }
                }
                let form = self.map_form(map);
                match form {
                    MapForm::Record(index) => {
                        self.enter()?;
                        self.begin_record(index)?;
                        for (k, v) in map.iter() {
                            self.write_value(v)
                                .map_err(|e| e.in_key(&alloc::format!("{k}")))?;
                        }
                        self.leave();
                        return Ok(());
                    }
                    MapForm::Define(_) => {
                        self.enter()?;
                        self.begin_shape_map(map.len())?;
                    }
                    MapForm::Plain => self.begin_map(map.len())?,
                }
                let mut admission = Admission::default();
                for (k, v) in map.iter() {
                    match k {
                        crate::Key::Str(s) => self.write_map_key(s, &mut admission)?,
                        crate::Key::Int(i) if self.version >= 2 => self.write_int_key(*i)?,
                        crate::Key::Int(i) => self.write_key(&alloc::format!("{i}"))?,
                    }
                    self.write_value(v)
                        .map_err(|e| e.in_key(&alloc::format!("{k}")))?;
                }
                self.leave();
                if let MapForm::Define(hash) = form {
                    self.define_map_shape(hash, map);
                }
                Ok(())
            }
            Value::Ext(e) => self.write_ext(e.type_id(), e.data()),
        }
    }
}
