//! serde support for [`Value`], [`Map`] and [`Ext`], so dynamic values can sit inside
//! typed structs and pass through any serde format.

use alloc::{string::String, vec::Vec};
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::ser::EXT_NEWTYPE;
use crate::{Ext, Integer, Key, Map, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => match i.split() {
                Ok(u) => s.serialize_u64(u),
                Err(n) => s.serialize_i64(n),
            },
            Value::Float(f) => s.serialize_f64(*f),
            Value::Float32(f) => s.serialize_f32(*f),
            Value::Array(a) => {
                macro_rules! elements {
                    ($v:expr) => {{
                        let mut seq = s.serialize_seq(Some($v.len()))?;
                        for x in $v {
                            seq.serialize_element(x)?;
                        }
                        seq.end()
                    }};
                }
                match a {
                    crate::Array::Bool(v) => elements!(v),
                    crate::Array::U8(v) => elements!(v),
                    crate::Array::I8(v) => elements!(v),
                    crate::Array::U16(v) => elements!(v),
                    crate::Array::I16(v) => elements!(v),
                    crate::Array::U32(v) => elements!(v),
                    crate::Array::I32(v) => elements!(v),
                    crate::Array::U64(v) => elements!(v),
                    crate::Array::I64(v) => elements!(v),
                    crate::Array::F32(v) => elements!(v),
                    crate::Array::F64(v) => elements!(v),
                }
            }
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(b) => s.serialize_bytes(b),
            // Through a marker this crate's serializer knows, so a list of numbers
            // stays a list (it would become an array); other formats see the list.
            Value::List(items) => s.serialize_newtype_struct(LIST_NEWTYPE, &ListItems(items)),
            Value::Map(m) => m.serialize(s),
            Value::Ext(e) => e.serialize(s),
        }
    }
}

/// Text keys as strings, integer keys as integers.
impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Str(text) => s.serialize_str(text),
            Key::Int(i) => match i.split() {
                Ok(u) => s.serialize_u64(u),
                Err(n) => s.serialize_i64(n),
            },
        }
    }
}

/// From a string or an integer.
impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map key: a string or an integer")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key::Str(v.into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key, E> {
                Ok(Key::Str(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key::Int(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Key, E> {
                Integer::try_from(v)
                    .map(Key::Int)
                    .map_err(de::Error::custom)
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Key, E> {
                self.visit_i128(i128::try_from(v).map_err(de::Error::custom)?)
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// The newtype-struct name through which a [`Value::List`] passes serde.
pub(crate) const LIST_NEWTYPE: &str = "$snapshot_codec::List";

struct ListItems<'a>(&'a [Value]);

impl Serialize for ListItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An extension value passes serde as a newtype struct around `(type_id, payload)`;
/// this crate's serializer writes it as an extension, other formats as that pair.
impl Serialize for Ext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(EXT_NEWTYPE, &(self.type_id(), Payload(self.data())))
    }
}

/// An [`ExtParts`](crate::ExtParts) passes serde as a newtype struct around
/// `(type_id, length, piece...)`, which this crate's serializer writes as one extension.
impl Serialize for crate::ExtParts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(crate::ser::EXT_PARTS_NEWTYPE, &PartsTuple(self))
    }
}

struct PartsTuple<'a, 'b>(&'a crate::ExtParts<'b>);

impl Serialize for PartsTuple<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let parts = self.0.parts();
        let mut t = s.serialize_tuple(2 + parts.len())?;
        t.serialize_element(&self.0.type_id())?;
        t.serialize_element(&(self.0.len() as u64))?;
        for part in parts {
            t.serialize_element(&Payload(part))?;
        }
        t.end()
    }
}

struct Payload<'a>(&'a [u8]);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
        match Value::deserialize(d)? {
            Value::Map(m) => Ok(m),
            other => Err(de::Error::invalid_type(
                de::Unexpected::Other(other.kind()),
                &"a map",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ext, D::Error> {
        d.deserialize_newtype_struct(EXT_NEWTYPE, ExtVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any snapshot value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        crate::Integer::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of the i64..=u64 range"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| E::custom("integer out of the i64..=u64 range"))
    }
    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::Float32(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = access.next_key::<Key>()? {
            let value = access.next_value()?;
            map.insert_new(key, value)
                .map_err(|key| de::Error::custom(alloc::format!("duplicate map key {key:?}")))?;
        }
        Ok(Value::Map(map))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        ExtVisitor.visit_newtype_struct(d).map(Value::from)
    }
}

struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = Ext;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an extension value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Ext, D::Error> {
        d.deserialize_tuple(2, self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ext, A::Error> {
        let type_id: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let data: ByteBuf = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok(Ext::new(type_id, data.0))
    }
}

struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        d.deserialize_byte_buf(V)
    }
}
