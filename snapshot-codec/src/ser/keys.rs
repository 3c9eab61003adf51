//! Map keys: text, integers (format 2; as decimal text in version 1), anything else
//! refused.

use super::*;

/// Writes map keys: strings as they are; chars, integers and unit variants as text.
pub(super) struct KeySerializer<'a, O> {
    pub(super) w: &'a mut Writer<O>,
}

fn key_error(found: &'static str) -> Error {
    Error::KeyMustBeString { found }
}

macro_rules! int_key {
    ($($f:ident $t:ty)*) => {$(
        fn $f(self, v: $t) -> Result<()> {
            self.w.write_unique_int_key(v.into())
        }
    )*};
}

impl<O: Output> ser::Serializer for KeySerializer<'_, O> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<()> {
        self.w.write_unique_key(v)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.w.write_unique_key(v.encode_utf8(&mut [0; 4]))
    }
    int_key!(serialize_i8 i8 serialize_i16 i16 serialize_i32 i32 serialize_i64 i64
             serialize_u8 u8 serialize_u16 u16 serialize_u32 u32 serialize_u64 u64);
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.w.write_unique_int_key(crate::Integer::try_from(v)?)
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        let v = i128::try_from(v).map_err(|_| Error::IntegerOutOfRange {
            value: v.to_string(),
            target: "a map key",
        })?;
        self.serialize_i128(v)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.w.write_unique_key(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(key_error("bool"))
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(key_error("float"))
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(key_error("float"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<()> {
        Err(key_error("bytes"))
    }
    fn serialize_none(self) -> Result<()> {
        Err(key_error("none"))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<()> {
        Err(key_error("option"))
    }
    fn serialize_unit(self) -> Result<()> {
        Err(key_error("unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Err(key_error("unit struct"))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(key_error("enum variant"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_error("list"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(key_error("tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_error("tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_error("enum variant"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_error("map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(key_error("struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_error("enum variant"))
    }
}
