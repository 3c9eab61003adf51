//! Reading files written by the Python original, py-snapshot 0.1 (feature `legacy`).
//!
//! That format has no header, version or checksum: a length, that many entries (a type
//! byte, a key, a value), and an end marker `0xC0`. Its types are integers, strings,
//! dicts and lists; text may be zlib-compressed (marked by `0xC3`); integers beyond 32
//! bits are written as decimal text. The original could not read back its own files
//! when a key or string compressed well, returned big integers as strings, and stopped
//! reading lists at the first "falsy" item. This reader does all three correctly.
//!
//! ```
//! use snapshot_codec::legacy::{decode_legacy, LegacyOptions};
//! use snapshot_codec::value;
//!
//! // {"a": 1} as the original writes it.
//! let file = [0x01, 0x01, 0x01, b'a', 0xC0, 0x01, 0xC0];
//! assert_eq!(decode_legacy(&file, &LegacyOptions::new())?, value!({"a": 1}));
//! # Ok::<(), snapshot_codec::legacy::LegacyError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::{Map, Value};

/// Type bytes of the original format.
const INT: u8 = 0x01;
const DICT: u8 = 0x02;
const STR: u8 = 0x03;
const LIST: u8 = 0x04;
/// The end marker after the top-level entries.
const END: u8 = 0xC0;
/// Marks zlib-compressed text.
const ZLIB: u8 = 0xC3;
/// Integer tags.
const I8: u8 = 0xC0;
const I16: u8 = 0xC1;
const I32: u8 = 0xC2;

/// Why a legacy file could not be read. Offsets count bytes from the file's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// The file ends in the middle of a value.
    #[error("truncated at byte {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// A length prefix starts with a byte the format does not define.
    #[error("invalid length prefix {byte:#04x} at byte {offset}")]
    InvalidLength {
        /// The offending byte.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// A length or count is larger than the rest of the file could hold.
    #[error("length {declared} at byte {offset} exceeds the {available} bytes left")]
    LengthExceedsInput {
        /// The length found.
        declared: u64,
        /// Bytes left after it.
        available: usize,
        /// Where it is.
        offset: usize,
    },
    /// A value has a type byte the format does not define.
    #[error("unknown type byte {byte:#04x} at byte {offset}")]
    UnknownType {
        /// The offending byte.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// The top-level entries are not followed by the end marker `0xC0`.
    #[error("missing end marker at byte {offset}")]
    MissingEndMarker {
        /// Where the marker should be.
        offset: usize,
    },
    /// Bytes follow the end marker.
    #[error("{count} unexpected bytes after the end marker")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// Text is not valid UTF-8.
    #[error("invalid UTF-8 in text at byte {offset}")]
    InvalidUtf8 {
        /// Where the text starts.
        offset: usize,
    },
    /// An integer written as text is not a decimal integer.
    #[error("integer text {text:?} at byte {offset} is not a decimal integer")]
    InvalidInteger {
        /// The text.
        text: String,
        /// Where it is.
        offset: usize,
    },
    /// An integer is outside `i64::MIN ..= u64::MAX` (Python integers have no limit).
    #[error("integer {text} at byte {offset} is outside i64::MIN..=u64::MAX")]
    IntegerOutOfRange {
        /// The integer, as written.
        text: String,
        /// Where it is.
        offset: usize,
    },
    /// Compressed text is not a valid zlib stream.
    #[error("invalid zlib data at byte {offset}")]
    Zlib {
        /// Where the compressed text starts.
        offset: usize,
    },
    /// Decompressing would exceed the configured limit.
    #[error("decompressed text exceeds the limit of {limit} bytes")]
    DecompressedSizeLimitExceeded {
        /// The limit, for the whole file.
        limit: usize,
    },
    /// Decoding would use more memory than the configured budget.
    #[error("decoding needs more than the memory budget of {limit} bytes")]
    MemoryLimitExceeded {
        /// The budget in bytes.
        limit: u64,
    },
    /// Dicts and lists are nested deeper than the configured limit (the root dict
    /// counts as one level, as in the snapshot format, whose limit is the default).
    #[error(
        "nesting deeper than the limit of {limit} levels (the root dict counts; snapshots hold at most 128)"
    )]
    DepthLimitExceeded {
        /// The limit.
        limit: usize,
    },
    /// Two keys of one dict are the same text (the original writes `str(key)`, so
    /// `1` and `"1"` collide).
    #[error("duplicate key {key:?} at byte {offset}")]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where the second one is.
        offset: usize,
    },
}

/// Settings for [`decode_legacy`].
#[derive(Debug, Clone)]
pub struct LegacyOptions {
    max_depth: usize,
    max_decompressed: usize,
    max_memory: u64,
    big_integers_as_text: bool,
}

impl Default for LegacyOptions {
    fn default() -> Self {
        Self {
            max_depth: crate::DEFAULT_MAX_DEPTH,
            max_decompressed: 64 << 20,
            max_memory: crate::DEFAULT_MAX_MEMORY,
            big_integers_as_text: false,
        }
    }
}

impl LegacyOptions {
    /// The defaults: depth 128, 64 MiB of decompressed text per file, integers outside
    /// `i64::MIN ..= u64::MAX` refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deepest nesting of dicts and lists accepted.
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the most bytes all compressed text in one file may decompress to.
    pub fn with_max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }

    /// Sets the memory budget of one decode, counted as for snapshots
    /// ([`DecodeOptions::with_max_memory`](crate::DecodeOptions::with_max_memory)):
    /// 32 bytes per list item, 56 per dict entry, and the bytes of every text.
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Reads integers outside `i64::MIN ..= u64::MAX` as their decimal text instead of
    /// failing with [`LegacyError::IntegerOutOfRange`] (a documented, visible fallback:
    /// the value becomes a string).
    pub fn with_big_integers_as_text(mut self, as_text: bool) -> Self {
        self.big_integers_as_text = as_text;
        self
    }
}

/// Reads one file written by py-snapshot 0.1 as a [`Value`] (always a map).
///
/// # Errors
/// A [`LegacyError`] saying what is wrong and where. Never panics; allocations are
/// bounded by the input size plus the decompression limit.
pub fn decode_legacy(bytes: &[u8], opts: &LegacyOptions) -> Result<Value, LegacyError> {
    let mut r = LegacyReader {
        bytes,
        pos: 0,
        depth: 0,
        inflated: 0,
        budget: opts.max_memory,
        opts,
    };
    // The root map counts as a level, as in the snapshot format, so that every file
    // this reader accepts can be written again as a snapshot.
    r.enter()?;
    let count = r.len(3)?;
    let map = r.entries(count)?;
    let at = r.pos;
    if r.byte()? != END {
        return Err(LegacyError::MissingEndMarker { offset: at });
    }
    if r.pos != bytes.len() {
        return Err(LegacyError::TrailingBytes {
            count: bytes.len() - r.pos,
        });
    }
    Ok(Value::Map(map))
}

struct LegacyReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    inflated: usize,
    budget: u64,
    opts: &'a LegacyOptions,
}

impl<'a> LegacyReader<'a> {
    /// Spends `bytes` of the memory budget before they are allocated.
    fn charge(&mut self, bytes: u64) -> Result<(), LegacyError> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(LegacyError::MemoryLimitExceeded {
                limit: self.opts.max_memory,
            })?;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, LegacyError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| LegacyError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn peek(&self) -> Result<u8, LegacyError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| LegacyError::Truncated { offset: self.pos })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LegacyError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| LegacyError::Truncated {
                offset: self.bytes.len(),
            })?;
        let bytes: &'a [u8] = self.bytes;
        let out = &bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Reads a `LEN` and checks that `n` items of at least `min_item` bytes still fit.
    fn len(&mut self, min_item: usize) -> Result<usize, LegacyError> {
        let offset = self.pos;
        let b0 = self.byte()?;
        let n = match b0 {
            0x00..=0x3F => u64::from(b0),
            0x40..=0x7F => (u64::from(b0 & 0x3F) << 8) | u64::from(self.byte()?),
            0x80 => {
                let raw = self.take(4)?;
                u64::from(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            _ => return Err(LegacyError::InvalidLength { byte: b0, offset }),
        };
        let available = self.bytes.len() - self.pos;
        if n.saturating_mul(min_item as u64) > available as u64 {
            return Err(LegacyError::LengthExceedsInput {
                declared: n,
                available,
                offset,
            });
        }
        Ok(n as usize)
    }

    /// Reads a `TEXT`: raw, or zlib-compressed after `0xC3`.
    fn text(&mut self) -> Result<String, LegacyError> {
        let offset = self.pos;
        let raw: Vec<u8> = if self.peek()? == ZLIB {
            self.pos += 1;
            let n = self.len(1)?;
            let compressed = self.take(n)?;
            let left = self.opts.max_decompressed.saturating_sub(self.inflated);
            let out = inflate(compressed, left).map_err(|e| match e {
                Inflate::Limit => LegacyError::DecompressedSizeLimitExceeded {
                    limit: self.opts.max_decompressed,
                },
                Inflate::Invalid => LegacyError::Zlib { offset },
            })?;
            self.inflated += out.len();
            out
        } else {
            let n = self.len(1)?;
            self.take(n)?.to_vec()
        };
        self.charge(raw.len() as u64)?;
        String::from_utf8(raw).map_err(|_| LegacyError::InvalidUtf8 { offset })
    }

    fn int(&mut self) -> Result<Value, LegacyError> {
        let offset = self.pos;
        match self.peek()? {
            I8 => {
                self.pos += 1;
                Ok(Value::from(self.byte()? as i8))
            }
            I16 => {
                self.pos += 1;
                let raw = self.take(2)?;
                Ok(Value::from(i16::from_le_bytes([raw[0], raw[1]])))
            }
            I32 => {
                self.pos += 1;
                let raw = self.take(4)?;
                Ok(Value::from(i32::from_le_bytes([
                    raw[0], raw[1], raw[2], raw[3],
                ])))
            }
            _ => {
                let text = self.text()?;
                parse_integer(&text, offset, self.opts.big_integers_as_text)
            }
        }
    }

    fn value(&mut self, type_byte: u8, offset: usize) -> Result<Value, LegacyError> {
        match type_byte {
            INT => self.int(),
            STR => Ok(Value::String(self.text()?)),
            DICT => {
                self.enter()?;
                let n = self.len(3)?;
                let map = self.entries(n)?;
                self.depth -= 1;
                Ok(Value::Map(map))
            }
            LIST => {
                self.enter()?;
                let n = self.len(2)?;
                self.charge((n as u64).saturating_mul(crate::wire::ITEM_COST))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let at = self.pos;
                    let t = self.byte()?;
                    items.push(self.value(t, at)?);
                }
                self.depth -= 1;
                Ok(Value::List(items))
            }
            byte => Err(LegacyError::UnknownType { byte, offset }),
        }
    }

    fn enter(&mut self) -> Result<(), LegacyError> {
        if self.depth >= self.opts.max_depth {
            return Err(LegacyError::DepthLimitExceeded {
                limit: self.opts.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn entries(&mut self, n: usize) -> Result<Map, LegacyError> {
        self.charge((n as u64).saturating_mul(crate::wire::ENTRY_COST))?;
        let mut map = Map::with_capacity(n);
        for _ in 0..n {
            let at = self.pos;
            let t = self.byte()?;
            let key_at = self.pos;
            let key = self.text()?;
            let value = self.value(t, at)?;
            map.insert_new(key.into(), value)
                .map_err(|key| LegacyError::DuplicateKey {
                    key: alloc::format!("{key}"),
                    offset: key_at,
                })?;
        }
        Ok(map)
    }
}

fn parse_integer(text: &str, offset: usize, as_text: bool) -> Result<Value, LegacyError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LegacyError::InvalidInteger {
            text: text.into(),
            offset,
        });
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Value::from(u));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if as_text {
        return Ok(Value::String(text.into()));
    }
    Err(LegacyError::IntegerOutOfRange {
        text: text.into(),
        offset,
    })
}

enum Inflate {
    Limit,
    Invalid,
}

fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, Inflate> {
    use miniz_oxide::inflate::TINFLStatus;
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, limit).map_err(|e| {
        match e.status {
            TINFLStatus::HasMoreOutput => Inflate::Limit,
            _ => Inflate::Invalid,
        }
    })
}
