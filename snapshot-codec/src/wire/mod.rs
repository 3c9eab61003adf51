//! The body encoding: tag bytes, variable-length integers and the key table.
//!
//! [`Writer`] (`writer.rs`) and [`Reader`] (`reader.rs`) hold the primitives; the `Value` encoder and decoder (here)
//! and the serde serializer and deserializer (`ser.rs`, `de.rs`) are built on them, so
//! both paths write exactly the same bytes. FORMAT.md is the specification.

// Skipping, deferred lengths and copied input serve the serde and std paths only.
#![cfg_attr(not(all(feature = "serde", feature = "std")), allow(dead_code))]

use alloc::{boxed::Box, string::String, vec::Vec};

use crate::{Error, Ext, Integer, Map, Result, Value};

mod numbers;
mod reader;
mod shapes;
mod writer;

pub(crate) use numbers::*;
pub(crate) use reader::*;
pub(crate) use shapes::*;
pub(crate) use writer::*;

// Value tags.
pub(crate) const FIXINT_MAX: u8 = 0x7F;
pub(crate) const FIXSTR: u8 = 0x80;
pub(crate) const FIXSTR_MAX_LEN: usize = 31;
pub(crate) const FIXLIST: u8 = 0xA0;
pub(crate) const FIXLIST_MAX_LEN: usize = 15;
pub(crate) const FIXMAP: u8 = 0xB0;
pub(crate) const FIXMAP_MAX_LEN: usize = 15;
pub(crate) const NULL: u8 = 0xC0;
pub(crate) const FALSE: u8 = 0xC1;
pub(crate) const TRUE: u8 = 0xC2;
pub(crate) const UINT: u8 = 0xC3;
pub(crate) const NEGINT: u8 = 0xC4;
pub(crate) const FLOAT64: u8 = 0xC5;
pub(crate) const STR: u8 = 0xC6;
pub(crate) const BYTES: u8 = 0xC7;
pub(crate) const LIST: u8 = 0xC8;
pub(crate) const MAP: u8 = 0xC9;
pub(crate) const EXT: u8 = 0xCA;
// Format 2.
pub(crate) const FLOAT32: u8 = 0xCB;
pub(crate) const ARRAY: u8 = 0xCC;
pub(crate) const SHAPE_MAP: u8 = 0xCD;
pub(crate) const RECORD: u8 = 0xCE;
pub(crate) const BREAK: u8 = 0xCF;
pub(crate) const RUNS: u8 = 0xD0;
pub(crate) const RUN: u8 = 0xD1;

// Key tags (the byte that starts every map key).
const KEY_REF_INLINE_MAX: u8 = 0xBF;
const KEY_NEW_INLINE: u8 = 0xC0;
const KEY_NEW_INLINE_MAX_LEN: usize = 31;
const KEY_NEW: u8 = 0xE0;
const KEY_REF: u8 = 0xE1;
const KEY_LITERAL: u8 = 0xE2;
// Format 2: integer keys (never in the key table).
pub(crate) const KEY_INT: u8 = 0xE3;
pub(crate) const KEY_NEGINT: u8 = 0xE4;

/// The most keys one snapshot's key table holds; later new keys are written literally.
pub const KEY_TABLE_LIMIT: usize = 4096;
/// Keys longer than this are written literally instead of entering the key table.
pub const MAX_INTERNED_KEY_LEN: usize = 64;

/// Where encoded bytes go.
pub(crate) trait Output {
    fn put(&mut self, bytes: &[u8]) -> Result<()>;
    fn put_u8(&mut self, byte: u8) -> Result<()>;
}

impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        self.push(byte);
        Ok(())
    }
}

/// The most entries a shape-defining map's key set is sized for before it is read.
pub(crate) const MAX_SHAPE_KEYS_HINT: usize = 64;

type KeySet = indexmap::IndexSet<Box<str>, foldhash::fast::RandomState>;
