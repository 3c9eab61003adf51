//! serde deserialization from the snapshot body encoding.

use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec::Vec;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::ElementType;
use crate::array::unshuffle;
use crate::ser::EXT_NEWTYPE;
use crate::wire::{Bytes, Head, Input, Key, Num, ReadKey, Reader, RunItem, read_num};
use crate::{Error, Result};

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
    // The format 2 forms are visited out of line, so `visit_head` (which recurses once
    // per level of nesting) keeps a small frame.
    #[inline(never)]
    fn visit_array<V: Visitor<'de>>(
        &mut self,
        ty: ElementType,
        count: usize,
        shuffled: bool,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter()?;
        let len = elements_len(ty, count)?;
        // Elements cost their own size: a `Vec<f32>` holds just that.
        self.charge(len as u64)?;
        let value = {
            let bytes = self.input.read_bytes(len)?;
            let data = if shuffled && ty.width() > 1 {
                Cow::Owned(unshuffle(bytes.get(), ty.width()))
            } else {
                Cow::Borrowed(bytes.get())
            };
            // One loop per element type: no dispatch on the type per element.
            macro_rules! typed {
                ($t:ty) => {{
                    let mut seq = TypedSeq::<$t> {
                        chunks: data.chunks_exact(core::mem::size_of::<$t>()),
                        _t: core::marker::PhantomData,
                    };
                    let value = visitor.visit_seq(&mut seq)?;
                    if seq.chunks.len() != 0 {
                        return Err(de::Error::invalid_length(count, &"fewer items"));
                    }
                    value
                }};
            }
            match ty {
                ElementType::F32 => typed!(f32),
                ElementType::F64 => typed!(f64),
                ElementType::U8 => typed!(u8),
                ElementType::I8 => typed!(i8),
                ElementType::U16 => typed!(u16),
                ElementType::I16 => typed!(i16),
                ElementType::U32 => typed!(u32),
                ElementType::I32 => typed!(i32),
                ElementType::U64 => typed!(u64),
                ElementType::I64 => typed!(i64),
                _ => {
                    let mut seq = ArraySeq {
                        ty,
                        data: &data,
                        pos: 0,
                    };
                    let value = visitor.visit_seq(&mut seq)?;
                    if seq.pos < data.len() {
                        return Err(de::Error::invalid_length(count, &"fewer items"));
                    }
                    value
                }
            }
        };
        self.leave();
        Ok(value)
    }

    #[inline(never)]
    fn visit_shape_map<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let mut access = ShapeMapAccess {
            r: self,
            left: len,
            keys: Default::default(),
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
    fn visit_record<V: Visitor<'de>>(&mut self, index: usize, visitor: V) -> Result<V::Value> {
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

    #[inline(never)]
    fn visit_runs<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let mut access = RunsSeq {
            r: self,
            left: len,
            run: None,
        };
        let value = visitor.visit_seq(&mut access)?;
        if access.left != 0 || access.run.is_some_and(|run| run.pos < run.data.len()) {
            return Err(de::Error::invalid_length(len, &"fewer items"));
        }
        self.leave();
        Ok(value)
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

fn elements_len(ty: ElementType, count: usize) -> Result<usize> {
    count
        .checked_mul(ty.width())
        .ok_or_else(|| Error::LengthExceedsInput {
            declared: count as u64,
            available: (usize::MAX / ty.width()) as u64,
        })
}

/// A number read from little-endian bytes and handed to a visitor.
trait Elem: Copy {
    fn from_le(bytes: &[u8]) -> Self;
    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value>;
}

macro_rules! elem {
    ($($t:ty => $visit:ident),*) => {$(
        impl Elem for $t {
            #[inline(always)]
            fn from_le(bytes: &[u8]) -> Self {
                let mut raw = [0u8; core::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
            #[inline(always)]
            fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                visitor.$visit(self)
            }
        }
    )*};
}
elem!(f32 => visit_f32, f64 => visit_f64, u8 => visit_u8, i8 => visit_i8, u16 => visit_u16,
      i16 => visit_i16, u32 => visit_u32, i32 => visit_i32, u64 => visit_u64, i64 => visit_i64);

/// The elements of a typed array of one Rust type, one by one.
struct TypedSeq<'a, E> {
    chunks: core::slice::ChunksExact<'a, u8>,
    _t: core::marker::PhantomData<E>,
}

impl<'de, E: Elem> de::SeqAccess<'de> for TypedSeq<'_, E> {
    type Error = Error;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.chunks.next() {
            Some(chunk) => seed
                .deserialize(ElemDeserializer(E::from_le(chunk)))
                .map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.chunks.len())
    }
}

/// One element of a typed array, handed to a `Deserialize` type.
struct ElemDeserializer<E>(E);

impl<'de, E: Elem> de::Deserializer<'de> for ElemDeserializer<E> {
    type Error = Error;

    #[inline(always)]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit(visitor)
    }

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

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The elements of a typed array, one by one.
struct ArraySeq<'a> {
    ty: ElementType,
    data: &'a [u8],
    pos: usize,
}

impl<'de> de::SeqAccess<'de> for ArraySeq<'_> {
    type Error = Error;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(rest) = self.data.get(self.pos..).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let num = read_num(self.ty, rest)?;
        self.pos += self.ty.width();
        seed.deserialize(NumDeserializer(num)).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some((self.data.len() - self.pos) / self.ty.width())
    }
}

/// A run's elements, borrowed from the input when they can be.
struct Run<'de> {
    ty: ElementType,
    data: Cow<'de, [u8]>,
    pos: usize,
}

/// The items of a list in runs: numbers from runs, other items from the reader.
struct RunsSeq<'a, 'de, I> {
    r: &'a mut Reader<I>,
    left: usize,
    run: Option<Run<'de>>,
}

impl<'de, I: Input<'de>> de::SeqAccess<'de> for RunsSeq<'_, 'de, I> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if let Some(run) = &mut self.run {
            if run.pos < run.data.len() {
                let at = run.pos;
                run.pos += run.ty.width();
                let bytes = &run.data[at..run.pos];
                // One match per element, straight to the visitor.
                macro_rules! elem {
                    ($t:ty) => {
                        seed.deserialize(ElemDeserializer(<$t as Elem>::from_le(bytes)))
                            .map(Some)
                    };
                }
                return match run.ty {
                    ElementType::F32 => elem!(f32),
                    ElementType::F64 => elem!(f64),
                    ElementType::U8 => elem!(u8),
                    ElementType::I8 => elem!(i8),
                    ElementType::U16 => elem!(u16),
                    ElementType::I16 => elem!(i16),
                    ElementType::U32 => elem!(u32),
                    ElementType::I32 => elem!(i32),
                    ElementType::U64 => elem!(u64),
                    ElementType::I64 => elem!(i64),
                    _ => {
                        let num = read_num(run.ty, bytes)?;
                        seed.deserialize(NumDeserializer(num)).map(Some)
                    }
                };
            }
            self.run = None;
        }
        if self.left == 0 {
            return Ok(None);
        }
        match self.r.read_run_head()? {
            RunItem::Run(ty, count, shuffled) => {
                if count > self.left {
                    return Err(Error::InvalidArray {
                        reason: "a run goes past its list's length",
                    });
                }
                self.left -= count;
                let len = elements_len(ty, count)?;
                self.r.charge(len as u64)?;
                let data: Cow<'de, [u8]> = match self.r.input.read_bytes(len)? {
                    Bytes::Borrowed(b) if !shuffled || ty.width() == 1 => Cow::Borrowed(b),
                    bytes if shuffled && ty.width() > 1 => {
                        Cow::Owned(unshuffle(bytes.get(), ty.width()))
                    }
                    bytes => Cow::Owned(Vec::from(bytes.get())),
                };
                let num = read_num(ty, &data)?;
                self.run = Some(Run {
                    ty,
                    data,
                    pos: ty.width(),
                });
                seed.deserialize(NumDeserializer(num)).map(Some)
            }
            RunItem::Item => {
                self.left -= 1;
                self.r.charge(crate::wire::ITEM_COST)?;
                seed.deserialize(&mut *self.r).map(Some)
            }
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.r.prealloc(self.left))
    }
}

/// One element of a typed array or run, handed to a `Deserialize` type.
struct NumDeserializer(Num);

impl<'de> de::Deserializer<'de> for NumDeserializer {
    type Error = Error;

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Num::Bool(v) => visitor.visit_bool(v),
            Num::U8(v) => visitor.visit_u8(v),
            Num::I8(v) => visitor.visit_i8(v),
            Num::U16(v) => visitor.visit_u16(v),
            Num::I16(v) => visitor.visit_i16(v),
            Num::U32(v) => visitor.visit_u32(v),
            Num::I32(v) => visitor.visit_i32(v),
            Num::U64(v) => visitor.visit_u64(v),
            Num::I64(v) => visitor.visit_i64(v),
            Num::F32(v) => visitor.visit_f32(v),
            Num::F64(v) => visitor.visit_f64(v),
        }
    }

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

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
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
        let value = seed.deserialize(KnownKey(&key)).map(Some);
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
                return seed.deserialize(KnownKey(key)).map(Some);
            }
        }
        match &mut self.rest {
            Some(0) | None => Ok(None),
            Some(left) => {
                *left -= 1;
                self.r.charge(crate::wire::ENTRY_COST)?;
                seed.deserialize(KeyDeserializer { r: &mut *self.r })
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

/// A map key already read (a shape's key), handed to a `Deserialize` type the way
/// [`KeyDeserializer`] hands a key from the input.
struct KnownKey<'a>(&'a crate::Key);

macro_rules! parse_known_key {
    ($($f:ident $visit:ident $t:ty)*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.0 {
                crate::Key::Int(i) => visit_integer(*i, visitor),
                crate::Key::Str(text) => {
                    let parsed: $t = text.parse().map_err(|_| {
                        Error::Message(alloc::format!("map key {text:?} is not a {}", stringify!($t)))
                    })?;
                    visitor.$visit(parsed)
                }
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KnownKey<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            crate::Key::Int(i) => visit_integer(*i, visitor),
            crate::Key::Str(s) => visitor.visit_str(s),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            crate::Key::Int(i) => visitor.visit_string(alloc::format!("{i}")),
            crate::Key::Str(s) => visitor.visit_str(s),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    parse_known_key!(deserialize_i8 visit_i8 i8 deserialize_i16 visit_i16 i16 deserialize_i32 visit_i32 i32
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
        match self.0 {
            crate::Key::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            crate::Key::Int(i) => Err(Error::Message(alloc::format!(
                "expected an enum variant name, found the integer key {i}"
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
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
        seed.deserialize(KeyDeserializer { r: &mut *self.r })
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
        let variant = seed.deserialize(KeyDeserializer { r: &mut *self.r })?;
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

/// Reads a map key; numeric targets parse it from text, the way the serializer wrote it.
struct KeyDeserializer<'a, I> {
    r: &'a mut Reader<I>,
}

macro_rules! parse_key {
    ($($f:ident $visit:ident $t:ty)*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let key = self.r.read_key()?;
            let text = match key {
                ReadKey::Int(i) => return visit_integer(i, visitor),
                ReadKey::Text(text) => text,
            };
            let parsed: $t = text.as_str().parse().map_err(|_| {
                Error::Message(alloc::format!("map key {:?} is not a {}", text.as_str(), stringify!($t)))
            })?;
            visitor.$visit(parsed)
        }
    )*};
}

fn visit_integer<'de, V: Visitor<'de>>(i: crate::Integer, visitor: V) -> Result<V::Value> {
    match i.as_u64() {
        Some(u) => visitor.visit_u64(u),
        None => visitor.visit_i64(i.as_i64().unwrap_or(i64::MIN)),
    }
}

impl<'de, I: Input<'de>> de::Deserializer<'de> for KeyDeserializer<'_, I> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let key = self.r.read_key()?;
        let cost = key.cost();
        let visited = match key {
            ReadKey::Int(i) => visit_integer(i, visitor),
            ReadKey::Text(Key::Borrowed(s)) => visitor.visit_borrowed_str(s),
            ReadKey::Text(Key::Copied(s) | Key::Table(s)) => visitor.visit_str(s),
        };
        self.r.charge(cost)?;
        visited
    }

    /// Text keys as they are; integer keys (format 2) as their decimal text, so a
    /// `HashMap<String, _>` reads a map written with integer keys.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let key = self.r.read_key()?;
        let cost = key.cost();
        let visited = match key {
            ReadKey::Int(i) => visitor.visit_string(alloc::format!("{i}")),
            ReadKey::Text(Key::Borrowed(s)) => visitor.visit_borrowed_str(s),
            ReadKey::Text(Key::Copied(s) | Key::Table(s)) => visitor.visit_str(s),
        };
        self.r.charge(cost)?;
        visited
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
        match self.r.read_key()? {
            ReadKey::Text(key) => visitor.visit_enum(key.as_str().into_deserializer()),
            ReadKey::Int(i) => Err(Error::Message(alloc::format!(
                "expected an enum variant name, found the integer key {i}"
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
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
