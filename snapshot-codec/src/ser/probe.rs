//! [`Probe`]: finds out whether a sequence element is a plain number, without writing
//! anything, so sequences of numbers become format 2 arrays.

use core::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::wire::Num;

/// The element was not a number.
#[derive(Debug)]
pub(crate) struct NotNumber;

impl fmt::Display for NotNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a number")
    }
}

impl ser::StdError for NotNumber {}

impl ser::Error for NotNumber {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotNumber
    }
}

/// A serializer that accepts one number (through `Some` and newtype structs) and
/// refuses everything else at its first call.
pub(crate) struct Probe;

type No = Impossible<Num, NotNumber>;
type R = Result<Num, NotNumber>;

impl ser::Serializer for Probe {
    type Ok = Num;
    type Error = NotNumber;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    fn serialize_bool(self, v: bool) -> R {
        Ok(Num::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> R {
        Ok(Num::I8(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        Ok(Num::I16(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        Ok(Num::I32(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        Ok(Num::I64(v))
    }
    fn serialize_u8(self, v: u8) -> R {
        Ok(Num::U8(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        Ok(Num::U16(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        Ok(Num::U32(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        Ok(Num::U64(v))
    }
    fn serialize_f32(self, v: f32) -> R {
        Ok(Num::F32(v))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(Num::F64(v))
    }
    fn serialize_char(self, _: char) -> R {
        Err(NotNumber)
    }
    fn serialize_str(self, _: &str) -> R {
        Err(NotNumber)
    }
    fn serialize_bytes(self, _: &[u8]) -> R {
        Err(NotNumber)
    }
    fn serialize_none(self) -> R {
        Err(NotNumber)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Err(NotNumber)
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Err(NotNumber)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> R {
        Err(NotNumber)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, name: &'static str, value: &T) -> R {
        if name == super::EXT_NEWTYPE || name == super::EXT_PARTS_NEWTYPE {
            return Err(NotNumber);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> R {
        Err(NotNumber)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_tuple(self, _: usize) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<No, NotNumber> {
        Err(NotNumber)
    }
    fn serialize_i128(self, _: i128) -> R {
        Err(NotNumber)
    }
    fn serialize_u128(self, _: u128) -> R {
        Err(NotNumber)
    }
}
