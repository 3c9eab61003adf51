//! Capturing an extension value (`Ext`) as it passes through serde.

use alloc::vec::Vec;

use super::*;

/// Writes the `(type_id, payload)` pair that an [`Ext`](crate::Ext) serializes as
/// straight to the output (the payload is not copied on the way: a numpy array's
/// payload can be most of a snapshot).
pub(super) struct ExtCapture<'a, O> {
    pub(super) w: &'a mut Writer<O>,
    pub(super) type_id: Option<u64>,
    pub(super) written: bool,
    /// For an [`ExtParts`](crate::ExtParts): the payload's announced length, then what
    /// is still to come; `joined` gathers the pieces when a registry must check them.
    pub(super) parts: Option<PartsState>,
}

pub(super) struct PartsState {
    total: Option<u64>,
    left: u64,
    joined: Option<Vec<u8>>,
}

impl PartsState {
    pub(super) fn new() -> Self {
        Self {
            total: None,
            left: 0,
            joined: None,
        }
    }
}

impl<O: Output> ExtCapture<'_, O> {
    /// Ends an `ExtParts`: every announced byte arrived (and, when a registry checks
    /// this type, the joined payload is checked and written now).
    pub(super) fn end_parts(&mut self) -> Result<()> {
        let Some(state) = self.parts.take() else {
            return Ok(());
        };
        let (Some(type_id), Some(_)) = (self.type_id, state.total) else {
            return Err(not_ext());
        };
        if state.left != 0 {
            return Err(Error::Message(
                "an extension's pieces are shorter than its announced length".into(),
            ));
        }
        if let Some(joined) = state.joined {
            self.w.write_ext(type_id, &joined)?;
        }
        self.written = true;
        Ok(())
    }
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
        if let Some(state) = &mut self.parts
            && self.type_id.is_some()
        {
            // The second number of an `ExtParts`: the payload's length. The header
            // goes out now unless a registry needs the whole payload first.
            let type_id = self.type_id.unwrap_or_default();
            if state.total.is_some() {
                return Err(not_ext());
            }
            state.total = Some(v);
            state.left = v;
            if self.w.registry_knows(type_id) {
                state.joined = Some(Vec::new());
            } else {
                self.w.write_ext_header(type_id, v)?;
            }
            return Ok(());
        }
        self.type_id = Some(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        if let Some(state) = &mut self.parts {
            if state.total.is_none() || v.len() as u64 > state.left {
                return Err(Error::Message(
                    "an extension's pieces are longer than its announced length".into(),
                ));
            }
            state.left -= v.len() as u64;
            return match &mut state.joined {
                Some(joined) => {
                    joined.extend_from_slice(v);
                    Ok(())
                }
                None => self.w.put(v),
            };
        }
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
