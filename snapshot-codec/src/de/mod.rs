//! serde deserialization from the snapshot body encoding: the reader as a serde
//! `Deserializer` (here), typed arrays and runs (`arrays`), shapes, records and map keys
//! (`maps`).

mod arrays;
mod maps;

use alloc::string::ToString;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::ser::EXT_NEWTYPE;
use crate::wire::{Bytes, Head, Input, Key, Reader};
use crate::{Error, Result};
use maps::{FromInput, KeyDeserializer};

impl de::Error for Error {
    fn custom<T: core::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl<'de, I: Input<'de>> Reader<I> {
    fn visit_head<V: Visitor<'de>>(&mut self, head: Head, visitor: V) -> Result<V::Value> {
        match head {
            Head::Null => visitor.visit_unit(),
            Head::Bool(b) => visitor.visit_bool(b),
            Head::UInt(u) => visitor.visit_u64(u),
            Head::NegInt(i) => visitor.visit_i64(i),
            Head::Float(f) => visitor.visit_f64(f),
            Head::Float32(f) => visitor.visit_f32(f),
            Head::Array(ty, count, shuffled) => self.visit_array(ty, count, shuffled, visitor),
            Head::ShapeMap(len) => self.visit_shape_map(len, visitor),
            Head::Record(index) => self.visit_record(index, visitor),
            Head::Runs(len) => self.visit_runs(len, visitor),
            Head::Str(len) => {
                self.charge(len as u64)?;
                match self.read_str(len)? {
                    Key::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Key::Copied(s) | Key::Table(s) => visitor.visit_str(s),
                }
            }
            Head::Bytes(len) => match self
                .charge(len as u64)
                .and_then(|()| self.input.read_bytes(len))?
            {
                Bytes::Borrowed(b) => visitor.visit_borrowed_bytes(b),
                Bytes::Copied(b) => visitor.visit_bytes(b),
            },
            Head::List(len) => {
                self.enter()?;
                let mut access = SeqAccess { r: self, left: len };
                let value = visitor.visit_seq(&mut access)?;
                let left = access.left;
                if left != 0 {
                    return Err(de::Error::invalid_length(len, &"fewer items"));
                }
                self.leave();
                Ok(value)
            }
            Head::Map(len) => {
                self.enter()?;
                let mut access = MapAccess { r: self, left: len };
                let value = visitor.visit_map(&mut access)?;
                let left = access.left;
                if left != 0 {
                    return Err(de::Error::invalid_length(len, &"fewer entries"));
                }
                self.leave();
                Ok(value)
            }
            Head::Ext(type_id, len) => {
                self.charge(len as u64)?;
                let data = self.input.read_bytes(len)?;
                if let Some(registry) = &self.registry {
                    registry.check(type_id, data.get())?;
                }
                visitor.visit_newtype_struct(ExtDeserializer {
                    type_id,
                    data: data.get(),
                })
            }
        }
    }
}

impl<'de, I: Input<'de>> de::Deserializer<'de> for &mut Reader<I> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let head = self.read_head()?;
        self.visit_head(head, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.input.peek_u8()? == Some(crate::wire::NULL) {
            self.input.next_u8()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == EXT_NEWTYPE {
            return self.deserialize_any(visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.read_head()? {
            Head::Str(len) => {
                let variant = self.read_str(len)?;
                visitor.visit_enum(variant.as_str().into_deserializer())
            }
            Head::Map(1) => {
                self.enter()?;
                let value = visitor.visit_enum(VariantAccess { r: self })?;
                self.leave();
                Ok(value)
            }
            _ => Err(de::Error::custom(
                "expected an enum variant: a string or a map with one entry",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    // Fast paths for the common types: one peek at the tag instead of the general
    // dispatch; anything unexpected goes through `deserialize_any` (and its errors).
    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.input.peek_u8()? == Some(crate::wire::FLOAT64) {
            self.input.next_u8()?;
            return visitor.visit_f64(f64::from_le_bytes(self.input.read_array()?));
        }
        self.deserialize_any(visitor)
    }

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.input.peek_u8()? == Some(crate::wire::FLOAT32) && self.version >= 2 {
            self.input.next_u8()?;
            return visitor.visit_f32(f32::from_le_bytes(self.input.read_array()?));
        }
        self.deserialize_f64(visitor)
    }

    #[inline]
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.input.peek_u8()? {
            Some(tag @ 0..=crate::wire::FIXINT_MAX) => {
                self.input.next_u8()?;
                visitor.visit_u64(u64::from(tag))
            }
            Some(crate::wire::UINT) => {
                self.input.next_u8()?;
                let v = self.read_varint()?;
                visitor.visit_u64(v)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    #[inline]
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    #[inline]
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.input.peek_u8()? {
            Some(crate::wire::TRUE) => {
                self.input.next_u8()?;
                visitor.visit_bool(true)
            }
            Some(crate::wire::FALSE) => {
                self.input.next_u8()?;
                visitor.visit_bool(false)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.input.peek_u8()? {
            Some(tag @ 0x80..=0x9F) => {
                self.input.next_u8()?;
                let len = usize::from(tag - crate::wire::FIXSTR);
                self.charge(len as u64)?;
                match self.read_str(len)? {
                    Key::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Key::Copied(s) | Key::Table(s) => visitor.visit_str(s),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u128 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct SeqAccess<'a, I> {
    r: &'a mut Reader<I>,
    left: usize,
}

impl<'de, I: Input<'de>> de::SeqAccess<'de> for SeqAccess<'_, I> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.r.charge(crate::wire::ITEM_COST)?;
        seed.deserialize(&mut *self.r).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.r.prealloc(self.left))
    }
}

struct MapAccess<'a, I> {
    r: &'a mut Reader<I>,
    left: usize,
}

impl<'de, I: Input<'de>> de::MapAccess<'de> for MapAccess<'_, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.r.charge(crate::wire::ENTRY_COST)?;
        seed.deserialize(KeyDeserializer(FromInput(&mut *self.r)))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.r)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.r.prealloc(self.left))
    }
}

struct VariantAccess<'a, I> {
    r: &'a mut Reader<I>,
}

impl<'de, I: Input<'de>> de::EnumAccess<'de> for VariantAccess<'_, I> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(KeyDeserializer(FromInput(&mut *self.r)))?;
        Ok((variant, self))
    }
}

impl<'de, I: Input<'de>> de::VariantAccess<'de> for VariantAccess<'_, I> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(&mut *self.r)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.r)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.r, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.r, visitor)
    }
}

/// Presents an extension value as the `(type_id, payload)` pair it serializes as.
struct ExtDeserializer<'a> {
    type_id: u64,
    data: &'a [u8],
}

impl<'de> de::Deserializer<'de> for ExtDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(ExtSeq {
            ext: self,
            field: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct ExtSeq<'a> {
    ext: ExtDeserializer<'a>,
    field: u8,
}

impl<'de> de::SeqAccess<'de> for ExtSeq<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.field += 1;
        match self.field {
            1 => seed
                .deserialize(self.ext.type_id.into_deserializer())
                .map(Some),
            2 => seed
                .deserialize(de::value::BytesDeserializer::new(self.ext.data))
                .map(Some),
            _ => Ok(None),
        }
    }
}
