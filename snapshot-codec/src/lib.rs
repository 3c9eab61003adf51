//! A compact, self-describing, versioned and checksummed binary format for snapshots of
//! application state.
//!
//! A snapshot is a header (magic bytes, format version, flags), a body holding one
//! value, and an xxh3-64 checksum of everything before it. The body is optionally
//! zstd-compressed (kept only when smaller). Map keys are written once per snapshot and
//! referred to by index afterwards, so a list of 20,000 records pays for its field names
//! once. The byte-level specification is `FORMAT.md` at the repository root.
//!
//! Values are either the dynamic [`Value`] or, with the `serde` feature, any
//! `Serialize` / `Deserialize` type; the two read each other's snapshots.
//!
//! ```
//! use snapshot_codec::{value, Value};
//!
//! let state = value!({
//!     "user_id": 12345,
//!     "settings": {"theme": "dark", "notifications": true},
//!     "tags": ["python", "compression"],
//!     "errors": [],
//!     "parent": null,
//! });
//! let bytes = snapshot_codec::encode(&state)?;
//! assert_eq!(snapshot_codec::decode(&bytes)?, state);
//!
//! // A flipped bit is caught by the checksum.
//! let mut corrupt = bytes.clone();
//! corrupt[12] ^= 0x01;
//! assert!(matches!(
//!     snapshot_codec::decode(&corrupt),
//!     Err(snapshot_codec::Error::ChecksumMismatch { .. })
//! ));
//! # Ok::<(), snapshot_codec::Error>(())
//! ```
//!
//! # Features
//! - `std` (default): streaming with [`encode_to_writer`] / [`decode_from_reader`].
//! - `zstd` (default, needs `std`): body compression. Without it, compressed snapshots
//!   fail to decode with [`Error::CompressionUnsupported`].
//! - `serde` (default): [`to_vec`], [`from_slice`], [`to_writer`], [`from_reader`].
//! - `chrono`: `chrono::DateTime<Utc>` as an extension type ([`ExtType`]).
//! - `legacy`: [`legacy::decode_legacy`] reads files of the Python original.
//! - `encryption` (default, needs `std`): XChaCha20-Poly1305 encryption of bodies and
//!   metadata ([`EncodeOptions::with_encryption`], [`Keyring`]).
//!
//! Without default features the crate is `#![no_std]` and needs only `alloc`.
//!
//! # Untrusted input
//! Decoding never panics. Lengths are checked against the bytes left before anything is
//! allocated, nesting is limited ([`DecodeOptions::with_max_depth`]), and so is the size
//! of a decompressed body ([`DecodeOptions::with_max_decompressed_size`]).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// `ok_or(Error::X)` builds the error and runs its drop glue even when nothing fails; on
// the decoder's per-byte paths that cost more than half the decode time (measured).
#![allow(clippy::unnecessary_lazy_evaluations)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod array;
#[cfg(feature = "encryption")]
mod crypt;
#[cfg(feature = "serde")]
mod de;
mod diff;
#[cfg(feature = "std")]
mod diff_stream;
mod error;
mod ext;
mod frame;
mod inspect;
#[cfg(feature = "legacy")]
#[cfg_attr(docsrs, doc(cfg(feature = "legacy")))]
pub mod legacy;
mod map;
mod meta;
mod ndarray;
mod options;
#[cfg(feature = "serde")]
mod ser;
#[cfg(feature = "serde")]
mod split;
#[cfg(feature = "std")]
mod stream;
#[cfg(feature = "std")]
mod summary;
mod value;
#[cfg(feature = "serde")]
mod value_serde;
mod wire;

use alloc::vec::Vec;

pub use array::{Array, ElementType};
#[cfg(feature = "encryption")]
#[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
pub use crypt::{EncryptionKey, Keyring, MAX_KEY_ID_LEN};
pub use diff::{Brief, Change, Diff, diff};
pub use error::{Error, Result};
pub use ext::{CHRONO_DATETIME_TYPE_ID, Ext, ExtParts, ExtType, FIRST_USER_TYPE_ID, Registry};
pub use frame::{FLAG_ENCRYPTED, FLAG_LZ4, FLAG_METADATA, FLAG_ZSTD, FORMAT_VERSION, MAGIC};
pub use inspect::{Inspection, ValueCounts, inspect};
pub use map::{IntoIter as MapIntoIter, Iter as MapIter, IterMut as MapIterMut, Key, KeyRef, Map};
pub use meta::{MAX_METADATA_LEN, Metadata, encryption_key_id, header_len, read_metadata};
pub use ndarray::{DType, MAX_NDIM, NDARRAY_TYPE_ID, NdArray};
pub use options::{
    Compression, DEFAULT_MAX_DECOMPRESSED_SIZE, DEFAULT_MAX_DEPTH, DEFAULT_MAX_MEMORY,
    DEFAULT_ZSTD_LEVEL, DecodeOptions, EncodeOptions, Shuffle,
};
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use split::{EncodedBody, OpenedSnapshot};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use summary::{Numbers, Summary, SummaryNode, SummaryOptions};
pub use value::{Integer, Value};
pub use wire::{KEY_TABLE_LIMIT, MAX_INTERNED_KEY_LEN};

#[doc(hidden)]
pub mod __private {
    pub use alloc::vec::Vec;
}

/// Encodes `value` as a snapshot with the default [`EncodeOptions`].
///
/// # Errors
/// [`Error::DepthLimitExceeded`] for values nested deeper than [`DEFAULT_MAX_DEPTH`].
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    EncodeOptions::default().encode(value)
}

/// Decodes a snapshot with the default [`DecodeOptions`].
///
/// # Errors
/// Any malformation of the input, each with its own [`Error`] variant.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    DecodeOptions::default().decode(bytes)
}

/// Encodes `value` to `writer` with the default [`EncodeOptions`], passing it on a chunk
/// at a time; returns the number of bytes written.
///
/// ```
/// use snapshot_codec::value;
///
/// let mut buffer = Vec::new();
/// let written = snapshot_codec::encode_to_writer(&mut buffer, &value!({"key": "value"}))?;
/// assert_eq!(written, buffer.len() as u64);
/// let back = snapshot_codec::decode_from_reader(&buffer[..])?;
/// assert_eq!(back, value!({"key": "value"}));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
///
/// # Errors
/// As [`encode`], plus [`Error::Io`] from the writer.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn encode_to_writer<W: std::io::Write>(writer: W, value: &Value) -> Result<u64> {
    EncodeOptions::default().encode_to_writer(writer, value)
}

/// Decodes one snapshot from `reader` with the default [`DecodeOptions`], reading it a
/// buffer at a time. The reader must end where the snapshot does.
///
/// # Errors
/// As [`decode`], plus [`Error::Io`] from the reader.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn decode_from_reader<R: std::io::Read>(reader: R) -> Result<Value> {
    DecodeOptions::default().decode_from_reader(reader)
}

/// Serializes any `T: Serialize` as a snapshot with the default [`EncodeOptions`].
///
/// Structs are written as maps with field names, so a snapshot written from a struct
/// reads back as a [`Value`], and fields added later with `#[serde(default)]` still read
/// old snapshots.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Session { user: String, visits: u32 }
///
/// let bytes = snapshot_codec::to_vec(&Session { user: "ada".into(), visits: 3 })?;
/// let dynamic = snapshot_codec::decode(&bytes)?;
/// assert_eq!(dynamic["visits"].as_u64(), Some(3));
/// let typed: Session = snapshot_codec::from_slice(&bytes)?;
/// assert_eq!(typed, Session { user: "ada".into(), visits: 3 });
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
///
/// # Errors
/// [`Error::DepthLimitExceeded`], [`Error::KeyMustBeString`] for maps with keys that
/// cannot be written as text, or an error raised by `T`'s `Serialize`.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    EncodeOptions::default().to_vec(value)
}

/// Deserializes a `T` from a snapshot with the default [`DecodeOptions`].
///
/// # Errors
/// As [`decode`], plus [`Error::Message`] when the data does not fit `T`.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    DecodeOptions::default().from_slice(bytes)
}

/// Serializes `value` to `writer` with the default [`EncodeOptions`]; returns the number
/// of bytes written.
///
/// # Errors
/// As [`to_vec`], plus [`Error::Io`].
#[cfg(all(feature = "serde", feature = "std"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "std"))))]
pub fn to_writer<W: std::io::Write, T: serde::Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> Result<u64> {
    EncodeOptions::default().to_writer(writer, value)
}

/// Deserializes a `T` from one snapshot read from `reader` with the default
/// [`DecodeOptions`].
///
/// # Errors
/// As [`from_slice`], plus [`Error::Io`].
#[cfg(all(feature = "serde", feature = "std"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "std"))))]
pub fn from_reader<R: std::io::Read, T: serde::de::DeserializeOwned>(reader: R) -> Result<T> {
    DecodeOptions::default().from_reader(reader)
}

impl EncodeOptions {
    /// Encodes `value` as a snapshot.
    ///
    /// # Errors
    /// [`Error::DepthLimitExceeded`]; [`Error::CompressionUnsupported`] when zstd is
    /// asked for in a build without it.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>> {
        frame::encode_to_vec(self, |w| w.write_value(value))
    }

    /// Encodes `value` to `writer` a chunk at a time; returns the bytes written.
    ///
    /// Small bodies are compressed only when that makes them smaller, as with
    /// [`encode`](Self::encode); a body larger than one chunk (128 KiB) is compressed as
    /// it streams whenever compression is on.
    ///
    /// # Errors
    /// As [`encode`](Self::encode), plus [`Error::Io`].
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn encode_to_writer<W: std::io::Write>(&self, writer: W, value: &Value) -> Result<u64> {
        stream::encode_to_writer(writer, self, |w| w.write_value(value))
    }

    /// Serializes any `T: Serialize` as a snapshot.
    ///
    /// # Errors
    /// As [`to_vec`](crate::to_vec).
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn to_vec<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        frame::encode_to_vec(self, |w| value.serialize(w))
    }

    /// Serializes any `T: Serialize` to `writer`; returns the bytes written.
    ///
    /// # Errors
    /// As [`to_vec`](crate::to_vec), plus [`Error::Io`].
    #[cfg(all(feature = "serde", feature = "std"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "std"))))]
    pub fn to_writer<W: std::io::Write, T: serde::Serialize + ?Sized>(
        &self,
        writer: W,
        value: &T,
    ) -> Result<u64> {
        stream::encode_to_writer(writer, self, |w| value.serialize(w))
    }
}

impl DecodeOptions {
    /// Decodes a snapshot held in memory.
    ///
    /// The checksum is verified before the body is read, so a corrupt snapshot reports
    /// [`Error::ChecksumMismatch`] rather than whatever its damaged bytes would suggest.
    ///
    /// # Errors
    /// Each malformation has its own [`Error`] variant.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let (body, version) = frame::open_slice(bytes, self)?;
        frame::read_opened!(&body, version, self, |r| r.read_value())
    }

    /// Decodes one snapshot from `reader`; the value is returned only after the
    /// checksum over everything read has matched.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), plus [`Error::Io`].
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn decode_from_reader<R: std::io::Read>(&self, reader: R) -> Result<Value> {
        stream::decode_from_reader(reader, self, |r| r.read_value())
    }

    /// Reads a snapshot from `reader` and checks all of it (frame, checksum,
    /// decryption, decompression, the encoding of every value, registered custom types)
    /// without building its values: the memory it takes is a few buffers, whatever the
    /// snapshot holds, so a small hostile file (a compression bomb) is refused at the
    /// decompression limit without that much memory ever being taken.
    ///
    /// ```
    /// use snapshot_codec::{value, DecodeOptions};
    ///
    /// let bytes = snapshot_codec::encode(&value!({"a": [1, 2, 3]}))?;
    /// DecodeOptions::new().check_from_reader(&bytes[..])?;
    /// let mut torn = bytes.clone();
    /// torn.truncate(bytes.len() - 3);
    /// assert!(DecodeOptions::new().check_from_reader(&torn[..]).is_err());
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`decode_from_reader`](Self::decode_from_reader).
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn check_from_reader<R: std::io::Read>(&self, reader: R) -> Result<()> {
        stream::decode_from_reader(reader, self, |r| r.skip_value())
    }

    /// Deserializes a `T` from a snapshot held in memory.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), plus [`Error::Message`] when the data does not fit.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn from_slice<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        let (body, version) = frame::open_slice(bytes, self)?;
        frame::read_opened!(&body, version, self, |r| T::deserialize(r))
    }

    /// Deserializes a `T` from one snapshot read from `reader`.
    ///
    /// # Errors
    /// As [`from_slice`](Self::from_slice), plus [`Error::Io`].
    #[cfg(all(feature = "serde", feature = "std"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "std"))))]
    pub fn from_reader<R: std::io::Read, T: serde::de::DeserializeOwned>(
        &self,
        reader: R,
    ) -> Result<T> {
        stream::decode_from_reader(reader, self, |r| T::deserialize(r))
    }
}

// The crate README's code block (the page crates.io shows) is compiled and run.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
