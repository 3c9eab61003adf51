//! Capturing an extension value (`Ext`) as it passes through serde.

use super::*;

/// Writes the `(type_id, payload)` pair that an [`Ext`](crate::Ext) serializes as
/// straight to the output (the payload is not copied on the way: a numpy array's
/// payload can be most of a snapshot).
pub(super) struct ExtCapture<'a, O> {
    pub(super) w: &'a mut Writer<O>,
    pub(super) type_id: Option<u64>,
    pub(super) written: bool,
}

fn not_ext() -> Error {
    Error::Message("malformed extension value".into())
}

impl<O: Output> ser::Serializer for &mut ExtCapture<'_, O> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_u64(self, v: u64) -> Result<()> {
        self.type_id = Some(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        match self.type_id {
            Some(type_id) if !self.written => {
                self.written = true;
                self.w.write_ext(type_id, v)
            }
            _ => Err(not_ext()),
        }
    }
    fn serialize_tuple(self, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_i8(self, _: i8) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_i16(self, _: i16) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_i32(self, _: i32) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_i64(self, _: i64) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_u8(self, _: u8) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_u16(self, _: u16) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_u32(self, _: u32) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_char(self, _: char) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_str(self, _: &str) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_none(self) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_unit(self) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(not_ext())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_ext())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(not_ext())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_ext())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(not_ext())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(not_ext())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_ext())
    }
}

impl<O: Output> ser::SerializeTuple for &mut ExtCapture<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}
