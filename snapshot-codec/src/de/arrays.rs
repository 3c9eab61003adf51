//! Typed arrays and runs of numbers (format 2), element by element.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use serde::de::{self, DeserializeSeed, Visitor};

use crate::ElementType;
use crate::array::unshuffle;
use crate::wire::{Bytes, Input, Num, Reader, RunItem, read_num};
use crate::{Error, Result};

impl<'de, I: Input<'de>> Reader<I> {
    // The format 2 forms are visited out of line, so `visit_head` (which recurses once
    // per level of nesting) keeps a small frame.
    #[inline(never)]
    pub(super) fn visit_array<V: Visitor<'de>>(
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
    pub(super) fn visit_runs<V: Visitor<'de>>(
        &mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
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
