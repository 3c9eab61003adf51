//! serde serialization into the snapshot body encoding.

use alloc::string::ToString;

use serde::ser::{self, Serialize};

use crate::wire::{FIXLIST, FIXLIST_MAX_LEN, KeyCheck, KeyId, LIST, Num, Output, Writer};
use crate::{Error, Result};

mod compound;
mod ext;
mod keys;
mod probe;

use ext::ExtCapture;
use probe::Probe;

/// The newtype-struct name through which [`Ext`](crate::Ext) values pass serde: our
/// serializer and deserializer turn it into the extension encoding.
pub(crate) const EXT_NEWTYPE: &str = "$snapshot_codec::Ext";
/// The newtype-struct name of an [`ExtParts`](crate::ExtParts): `(type_id, length,
/// piece, piece, ...)`, written as one extension value.
pub(crate) const EXT_PARTS_NEWTYPE: &str = "$snapshot_codec::ExtParts";

impl ser::Error for Error {
    fn custom<T: core::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

/// A list or map being written.
pub(crate) struct Compound<'a, O> {
    w: &'a mut Writer<O>,
    /// The length announced up front; `None` when the contents are deferred until the
    /// length is known.
    declared: Option<usize>,
    /// Items or entries written so far.
    written: usize,
    /// For maps: the keys written so far, to refuse a repeated one.
    keys: Option<KeyCheck>,
    /// For map entries: the key of the entry being written, for error paths.
    current: Option<KeyId>,
    /// For tuple and struct variants: the variant, a one-entry map around this one.
    variant: Option<&'static str>,
    /// How a list's items are being written (format 2 gathers numbers into arrays).
    mode: Mode,
    /// How a struct's fields are being written (format 2 record shapes).
    shape: Shape,
}

/// How a struct's fields are being written.
enum Shape {
    /// With their keys, as a plain map.
    None,
    /// With their keys, in a map that defines the struct's shape when it ends.
    Defining {
        name: &'static str,
        fields: alloc::vec::Vec<&'static str>,
    },
    /// As a record of a known shape: values only, while the fields follow the shape.
    Record { index: u32, slot: usize, len: usize },
}

/// How a list's items are being written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Each item with its own tag, after a list header already written (and maps).
    Plain,
    /// Nothing written yet: the first item decides.
    Probe,
    /// Numbers of one type gathered, nothing written yet: an array if it stays so.
    Gathering,
    /// A list in runs: its header written; runs of numbers and other items follow.
    Runs,
}

impl<'a, O: Output> Compound<'a, O> {
    #[inline(always)]
    fn start(
        w: &'a mut Writer<O>,
        len: Option<usize>,
        is_map: bool,
        variant: Option<&'static str>,
    ) -> Result<Self> {
        let mut mode = Mode::Plain;
        match len {
            Some(len) if is_map => w.begin_map(len)?,
            // Format 2: the header waits for the first item, which may start an array.
            Some(_)
                if w.version >= 2 && variant.is_none() && !core::mem::take(&mut w.plain_list) =>
            {
                w.enter()?;
                w.numbers.reset();
                mode = Mode::Probe;
            }
            Some(len) => w.begin_list(len)?,
            None => w.begin_deferred()?,
        }
        Ok(Compound {
            w,
            declared: len,
            written: 0,
            keys: is_map.then(KeyCheck::default),
            current: None,
            variant,
            mode,
            shape: Shape::None,
        })
    }

    /// Starts a struct: in format 2 a record of the shape its name and field count were
    /// last written with, or a map that defines that shape.
    fn start_struct(w: &'a mut Writer<O>, name: &'static str, len: usize) -> Result<Self> {
        if w.version < 2 || len == 0 {
            return Compound::start(w, Some(len), true, None);
        }
        w.enter()?;
        let shape = if let Some(index) = w.shapes.for_struct(name, len) {
            w.begin_record(index)?;
            Shape::Record {
                index,
                slot: 0,
                len,
            }
        } else if w.shapes.has_room(len) {
            w.begin_shape_map(len)?;
            Shape::Defining {
                name,
                fields: alloc::vec::Vec::with_capacity(len),
            }
        } else {
            w.write_tag_len(
                crate::wire::FIXMAP,
                crate::wire::FIXMAP_MAX_LEN,
                crate::wire::MAP,
                len,
            )?;
            Shape::None
        };
        Ok(Compound {
            w,
            declared: Some(len),
            written: 0,
            keys: Some(KeyCheck::default()),
            current: None,
            variant: None,
            mode: Mode::Plain,
            shape,
        })
    }

    /// A struct field: its value alone while the record follows its shape; else a
    /// break (once), then key and value.
    #[inline]
    fn struct_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        if let Shape::Record { index, slot, .. } = &mut self.shape {
            let (index, at) = (*index, *slot);
            if self.w.shapes.field_follows(index, at, key) {
                *slot += 1;
                self.written += 1;
                return value
                    .serialize(&mut *self.w)
                    .map_err(|e| self.locate(e.in_key(key)));
            }
            self.break_record(index, at)?;
        }
        if let Shape::Defining { fields, .. } = &mut self.shape {
            fields.push(key);
        }
        self.field(key, value)
    }

    /// The fields stopped following the shape at `slot`: the rest of the record comes
    /// as keys and values, checked against the keys the shape already gave.
    #[cold]
    fn break_record(&mut self, index: u32, slot: usize) -> Result<()> {
        let rest = self.declared_len().saturating_sub(self.written);
        self.w.write_break(rest)?;
        self.shape = Shape::None;
        let given: alloc::vec::Vec<alloc::boxed::Box<str>> =
            self.w.shapes.keys[index as usize][..slot].to_vec();
        if let Some(keys) = &mut self.keys {
            for k in given {
                let id = self.w.key_id_of(&k);
                self.w.check_key(keys, id)?;
            }
        }
        Ok(())
    }

    /// The list's length as announced (only lists with one reach the gathering modes).
    fn declared_len(&self) -> usize {
        self.declared.unwrap_or(0)
    }

    /// Gathers a number item.
    #[inline(always)]
    fn push_number(&mut self, num: Num) -> Result<()> {
        self.written += 1;
        if self.mode == Mode::Probe {
            self.mode = Mode::Gathering;
        } else if self
            .w
            .numbers
            .ty()
            .is_some_and(|ty| ty != crate::wire::num_type(num))
        {
            self.end_run()?;
        }
        self.w.gather(num);
        if self.w.numbers.full() {
            self.end_run()?;
        }
        Ok(())
    }

    /// Writes the numbers gathered so far as a run (the type changed, or the run is
    /// full).
    #[cold]
    fn end_run(&mut self) -> Result<()> {
        self.begin_runs()?;
        self.w.flush_run()
    }

    /// Writes the header of a list in runs, if it is not written yet.
    fn begin_runs(&mut self) -> Result<()> {
        if self.mode == Mode::Gathering {
            self.w.begin_runs(self.declared_len())?;
            self.mode = Mode::Runs;
        }
        Ok(())
    }

    /// Before an item that is not a number: writes what the list holds so far.
    fn before_other_item(&mut self) -> Result<()> {
        match self.mode {
            Mode::Plain => Ok(()),
            Mode::Probe => {
                let len = self.declared_len();
                self.mode = Mode::Plain;
                self.w.write_tag_len(FIXLIST, FIXLIST_MAX_LEN, LIST, len)
            }
            Mode::Gathering | Mode::Runs => {
                self.begin_runs()?;
                self.w.flush_run()
            }
        }
    }

    /// Adds where this compound sits to an error raised inside it.
    #[cold]
    fn locate(&self, e: Error) -> Error {
        match self.variant {
            Some(variant) => e.in_key(variant),
            None => e,
        }
    }

    #[cold]
    fn locate_item(&self, e: Error, index: usize) -> Error {
        self.locate(e.in_item(index))
    }

    #[cold]
    fn locate_entry(&self, e: Error) -> Error {
        let e = match &self.current {
            Some(id) => e.in_key(&self.w.key_text(id)),
            None => e,
        };
        self.locate(e)
    }

    /// Checks the key just written against the map's other keys.
    #[inline]
    fn check(&mut self, id: KeyId) -> Result<()> {
        match &mut self.keys {
            Some(keys) => self.w.check_key(keys, id),
            None => Ok(()),
        }
    }

    #[inline]
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        if self.mode != Mode::Plain {
            match value.serialize(Probe) {
                Ok(num) => {
                    let index = self.written;
                    return self
                        .push_number(num)
                        .map_err(|e| self.locate_item(e, index));
                }
                Err(_) => self.before_other_item()?,
            }
        }
        let index = self.written;
        self.written += 1;
        value
            .serialize(&mut *self.w)
            .map_err(|e| self.locate_item(e, index))
    }

    #[inline]
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.written += 1;
        match self.w.write_static_key(key) {
            // The common case, checked in place: a field name early in the key table.
            Ok(Some(index)) if index < 64 => {
                if let Some(keys) = &mut self.keys {
                    let bit = 1u64 << index;
                    if keys.low & bit != 0 {
                        return Err(self.repeated_field(KeyId::Table(index)));
                    }
                    keys.low |= bit;
                }
            }
            Ok(Some(index)) => self
                .check(KeyId::Table(index))
                .map_err(|e| self.locate(e))?,
            Ok(None) => self
                .check(KeyId::Literal(key.into()))
                .map_err(|e| self.locate(e))?,
            Err(e) => return Err(self.locate(e)),
        }
        value
            .serialize(&mut *self.w)
            .map_err(|e| self.locate(e.in_key(key)))
    }

    #[cold]
    fn repeated_field(&self, id: KeyId) -> Error {
        self.locate(self.w.repeated(&id))
    }

    #[inline(always)]
    fn end(self) -> Result<()> {
        let is_map = self.keys.is_some();
        if let Some(declared) = self.declared
            && declared != self.written
        {
            let e = Error::LengthMismatch {
                kind: if is_map { "map" } else { "list" },
                declared,
                written: self.written,
            };
            return Err(self.locate(e));
        }
        if let Some(keys) = &self.keys {
            self.w.end_key_check(keys);
        }
        match &self.shape {
            Shape::Record { slot, len, .. } if slot < len => {
                // Fewer fields than the shape: an empty break ends the record.
                self.w.write_break(0)?;
            }
            Shape::Defining { name, fields } => self.w.shapes.define_struct(name, fields),
            _ => {}
        }
        match self.mode {
            Mode::Probe | Mode::Gathering => self.w.finish_gathered()?,
            Mode::Runs => self.w.flush_run()?,
            Mode::Plain => {}
        }
        match self.declared {
            None => self.w.end_deferred(is_map, self.written)?,
            Some(_) => self.w.leave(),
        }
        if self.variant.is_some() {
            self.w.leave();
        }
        Ok(())
    }
}

impl<'a, O: Output> ser::Serializer for &'a mut Writer<O> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, O>;
    type SerializeTuple = Compound<'a, O>;
    type SerializeTupleStruct = Compound<'a, O>;
    type SerializeTupleVariant = Compound<'a, O>;
    type SerializeMap = Compound<'a, O>;
    type SerializeStruct = Compound<'a, O>;
    type SerializeStructVariant = Compound<'a, O>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.write_bool(v)
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.write_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.write_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.write_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.write_i64(v)
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        match crate::Integer::try_from(v)?.split() {
            Ok(u) => self.write_u64(u),
            Err(i) => self.write_i64(i),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.write_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.write_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.write_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.write_u64(v)
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        let v = u64::try_from(v).map_err(|_| Error::IntegerOutOfRange {
            value: v.to_string(),
            target: "u64",
        })?;
        self.write_u64(v)
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.write_f32(v)
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.write_f64(v)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.write_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.write_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.write_bytes(v)
    }
    fn serialize_none(self) -> Result<()> {
        self.write_null()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.write_null()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.write_null()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.write_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == EXT_NEWTYPE {
            let mut ext = ExtCapture {
                w: self,
                type_id: None,
                written: false,
                parts: None,
            };
            value.serialize(&mut ext)?;
            if !ext.written {
                return Err(Error::Message("malformed extension value".into()));
            }
            return Ok(());
        }
        if name == EXT_PARTS_NEWTYPE {
            let mut ext = ExtCapture {
                w: self,
                type_id: None,
                written: false,
                parts: Some(ext::PartsState::new()),
            };
            value.serialize(&mut ext)?;
            ext.end_parts()?;
            if !ext.written {
                return Err(Error::Message("malformed extension value".into()));
            }
            return Ok(());
        }
        if name == crate::value_serde::LIST_NEWTYPE {
            self.plain_list = true;
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.begin_map(1)?;
        self.write_key(variant)?;
        value.serialize(&mut *self).map_err(|e| e.in_key(variant))?;
        self.leave();
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        Compound::start(self, len, false, None)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        Compound::start(self, Some(len), false, None)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Compound::start(self, Some(len), false, None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.begin_map(1)?;
        self.write_key(variant)?;
        Compound::start(self, Some(len), false, Some(variant))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap> {
        Compound::start(self, len, true, None)
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct> {
        Compound::start_struct(self, name, len)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.begin_map(1)?;
        self.write_key(variant)?;
        Compound::start(self, Some(len), true, Some(variant))
    }
}
