//! serde's compound serializers (sequences, tuples, maps, structs, variants) on
//! [`Compound`](super::Compound).

use serde::ser::{self, Serialize};

use super::Compound;
use super::keys::KeySerializer;
use crate::wire::{KeyId, Output};
use crate::{Error, Result};

impl<O: Output> ser::SerializeSeq for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeTuple for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeTupleStruct for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeTupleVariant for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeMap for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.written += 1;
        if let Some(keys) = &self.keys {
            self.w.admission = keys.admission;
        }
        let written = key.serialize(KeySerializer { w: &mut *self.w });
        if let Some(keys) = &mut self.keys {
            keys.admission = core::mem::take(&mut self.w.admission);
        }
        written.map_err(|e| self.locate(e))?;
        if let Some(id) = self.w.last_key.take() {
            let pending = matches!(id, KeyId::Pending);
            self.current = if pending { None } else { Some(id.clone()) };
            self.check(id).map_err(|e| self.locate(e))?;
            if pending {
                self.current = self.w.stored.take();
            }
        }
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value
            .serialize(&mut *self.w)
            .map_err(|e| self.locate_entry(e))
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeStruct for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.struct_field(key, value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl<O: Output> ser::SerializeStructVariant for Compound<'_, O> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}
