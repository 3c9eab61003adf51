//! Maps that define a shape, records that use one, and map keys.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::wire::{Input, Key, ReadKey, Reader};
use crate::{Error, Result};

impl<'de, I: Input<'de>> Reader<I> {
    #[inline(never)]
    pub(super) fn visit_shape_map<V: Visitor<'de>>(
        &mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter()?;
        let mut access = ShapeMapAccess {
            r: self,
            left: len,
            // Sized for the entries up front (a length beyond the input was refused).
            keys: indexmap::IndexSet::with_capacity_and_hasher(
                len.min(crate::wire::MAX_SHAPE_KEYS_HINT),
                Default::default(),
            ),
        };
        let value = visitor.visit_map(&mut access)?;
        if access.left != 0 {
            return Err(de::Error::invalid_length(len, &"fewer entries"));
        }
        let keys = core::mem::take(&mut access.keys);
        self.leave();
        self.define_shape(keys.into_iter().collect())?;
        Ok(value)
    }

    #[inline(never)]
    pub(super) fn visit_record<V: Visitor<'de>>(
        &mut self,
        index: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter()?;
        let len = self.shapes[index].len();
        let mut access = RecordAccess {
            r: self,
            shape: index,
            slot: 0,
            len,
            rest: None,
        };
        let value = visitor.visit_map(&mut access)?;
        if access.slot < access.len && access.rest != Some(0) {
            return Err(de::Error::invalid_length(len, &"fewer entries"));
        }
        self.leave();
        Ok(value)
    }
}

/// The entries of a map that defines a shape; its keys are kept for the shape.
struct ShapeMapAccess<'a, I> {
    r: &'a mut Reader<I>,
    left: usize,
    keys: indexmap::IndexSet<crate::Key, foldhash::fast::RandomState>,
}

impl<'de, I: Input<'de>> de::MapAccess<'de> for ShapeMapAccess<'_, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.r.charge(crate::wire::ENTRY_COST)?;
        let read = self.r.read_key()?;
        let (cost, key) = (read.cost(), Reader::<I>::shape_key(&read)?);
        self.r.charge(cost)?;
        let value = seed.deserialize(KeyDeserializer(Known(&key))).map(Some);
        if !self.keys.insert(key) {
            return Err(Error::Message(
                "a map that defines a shape repeats a key".into(),
            ));
        }
        value
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.r)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.r.prealloc(self.left))
    }
}

/// The entries of a record: keys from its shape, values from the input; a break
/// hands the rest over to ordinary entries.
struct RecordAccess<'a, I> {
    r: &'a mut Reader<I>,
    shape: usize,
    slot: usize,
    len: usize,
    /// After a break: the entries left.
    rest: Option<usize>,
}

impl<'de, I: Input<'de>> de::MapAccess<'de> for RecordAccess<'_, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.rest.is_none() && self.slot < self.len {
            if self.r.input.peek_u8()? == Some(crate::wire::BREAK) {
                self.r.input.next_u8()?;
                self.rest = Some(self.r.read_len(2)?);
            } else {
                self.r.charge(crate::wire::ENTRY_COST)?;
                let key = &self.r.shapes[self.shape][self.slot];
                self.slot += 1;
                return seed.deserialize(KeyDeserializer(Known(key))).map(Some);
            }
        }
        match &mut self.rest {
            Some(0) | None => Ok(None),
            Some(left) => {
                *left -= 1;
                self.r.charge(crate::wire::ENTRY_COST)?;
                seed.deserialize(KeyDeserializer(FromInput(&mut *self.r)))
                    .map(Some)
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.r)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.slot)
    }
}

/// Where a map key comes from: the input (read now, its cost charged once it has been
/// visited) or a shape that read it before.
pub(super) trait KeySource<'de> {
    /// Calls `visit` with the key.
    fn visit_key<R>(self, visit: impl FnOnce(ReadKey<'de, '_>) -> Result<R>) -> Result<R>;
}

/// The input's next map key.
pub(super) struct FromInput<'a, I>(pub(super) &'a mut Reader<I>);

impl<'de, I: Input<'de>> KeySource<'de> for FromInput<'_, I> {
    #[inline]
    fn visit_key<R>(self, visit: impl FnOnce(ReadKey<'de, '_>) -> Result<R>) -> Result<R> {
        let key = self.0.read_key()?;
        let cost = key.cost();
        let visited = visit(key);
        self.0.charge(cost)?;
        visited
    }
}

/// A key a shape read before (its cost was charged then).
struct Known<'a>(&'a crate::Key);

impl<'de> KeySource<'de> for Known<'_> {
    #[inline]
    fn visit_key<R>(self, visit: impl FnOnce(ReadKey<'de, '_>) -> Result<R>) -> Result<R> {
        match self.0 {
            crate::Key::Int(i) => visit(ReadKey::Int(*i)),
            crate::Key::Str(text) => visit(ReadKey::Text(Key::Copied(text))),
        }
    }
}

/// Hands a map key to a `Deserialize` type: text keys as they are, integer keys
/// (format 2) as integers, or as their decimal text to a string target (so a
/// `HashMap<String, _>` reads a map written with integer keys); numeric targets parse
/// a text key, the way the serializer wrote it.
pub(super) struct KeyDeserializer<S>(pub(super) S);

fn visit_integer<'de, V: Visitor<'de>>(i: crate::Integer, visitor: V) -> Result<V::Value> {
    match i.as_u64() {
        Some(u) => visitor.visit_u64(u),
        None => visitor.visit_i64(i.as_i64().unwrap_or(i64::MIN)),
    }
}

macro_rules! parse_key {
    ($($f:ident $visit:ident $t:ty)*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.0.visit_key(|key| match key {
                ReadKey::Int(i) => visit_integer(i, visitor),
                ReadKey::Text(text) => {
                    let parsed: $t = text.as_str().parse().map_err(|_| {
                        Error::Message(alloc::format!(
                            "map key {:?} is not a {}",
                            text.as_str(),
                            stringify!($t)
                        ))
                    })?;
                    visitor.$visit(parsed)
                }
            })
        }
    )*};
}

impl<'de, S: KeySource<'de>> de::Deserializer<'de> for KeyDeserializer<S> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit_key(|key| match key {
            ReadKey::Int(i) => visit_integer(i, visitor),
            ReadKey::Text(Key::Borrowed(s)) => visitor.visit_borrowed_str(s),
            ReadKey::Text(Key::Copied(s) | Key::Table(s)) => visitor.visit_str(s),
        })
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit_key(|key| match key {
            ReadKey::Int(i) => visitor.visit_string(alloc::format!("{i}")),
            ReadKey::Text(Key::Borrowed(s)) => visitor.visit_borrowed_str(s),
            ReadKey::Text(Key::Copied(s) | Key::Table(s)) => visitor.visit_str(s),
        })
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    parse_key!(deserialize_i8 visit_i8 i8 deserialize_i16 visit_i16 i16 deserialize_i32 visit_i32 i32
               deserialize_i64 visit_i64 i64 deserialize_i128 visit_i128 i128
               deserialize_u8 visit_u8 u8 deserialize_u16 visit_u16 u16 deserialize_u32 visit_u32 u32
               deserialize_u64 visit_u64 u64 deserialize_u128 visit_u128 u128);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.0.visit_key(|key| match key {
            ReadKey::Text(text) => visitor.visit_enum(text.as_str().into_deserializer()),
            ReadKey::Int(i) => Err(Error::Message(alloc::format!(
                "expected an enum variant name, found the integer key {i}"
            ))),
        })
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
