//! Looking inside a snapshot without handing out its data: header fields, sizes,
//! checksum status and what kinds of values it holds.

use alloc::{string::String, vec};

use crate::frame::{self, FLAG_LZ4, FLAG_ZSTD};
use crate::wire::{Reader, SliceInput};
use crate::{DecodeOptions, Error, Metadata, Result, Value};

/// What [`inspect`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Inspection {
    /// The format version in the header.
    pub version: u8,
    /// The header flags.
    pub flags: u8,
    /// The whole snapshot's size in bytes.
    pub total_len: usize,
    /// How many chunks the body was stored in.
    pub chunks: usize,
    /// The body's size as stored (compressed, if it is).
    pub stored_body_len: usize,
    /// The body's size once decompressed; `None` if the checksum failed or the body
    /// could not be decompressed.
    pub body_len: Option<usize>,
    /// The checksum in the trailer.
    pub checksum_stored: u64,
    /// The checksum of the bytes before the trailer.
    pub checksum_computed: u64,
    /// The metadata section (format 2), if the snapshot has one (and, when it is
    /// sealed, the key to open it was given).
    pub metadata: Option<Metadata>,
    /// The id of the key the snapshot is encrypted under, if it is. Without that key
    /// the frame and checksum are still checked; the body is not decrypted, and
    /// `error` says so ([`Error::KeyMissing`]).
    pub key_id: Option<String>,
    /// Counts by kind of value; `None` if the body did not decode.
    pub counts: Option<ValueCounts>,
    /// Why the body did not decode, if it did not.
    pub error: Option<Error>,
}

impl Inspection {
    /// Whether the body is compressed.
    pub fn compressed(&self) -> bool {
        self.flags & (FLAG_ZSTD | FLAG_LZ4) != 0
    }

    /// Whether the body is encrypted.
    pub fn encrypted(&self) -> bool {
        self.flags & frame::FLAG_ENCRYPTED != 0
    }

    /// The body's compression: `"zstd"`, `"lz4"` or `"none"`.
    pub fn compression(&self) -> &'static str {
        if self.flags & FLAG_ZSTD != 0 {
            "zstd"
        } else if self.flags & FLAG_LZ4 != 0 {
            "lz4"
        } else {
            "none"
        }
    }

    /// Whether the stored checksum matches.
    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_computed
    }
}

/// How many values of each kind a snapshot holds (nested ones included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValueCounts {
    /// Nulls.
    pub null: u64,
    /// Booleans.
    pub bool: u64,
    /// Integers.
    pub int: u64,
    /// Floats (64- and 32-bit).
    pub float: u64,
    /// Numeric arrays.
    pub array: u64,
    /// Elements of numeric arrays, over all arrays.
    pub array_elements: u64,
    /// Strings (map keys not counted).
    pub string: u64,
    /// Byte strings.
    pub bytes: u64,
    /// Lists.
    pub list: u64,
    /// Maps.
    pub map: u64,
    /// Extension values.
    pub ext: u64,
    /// Map entries, over all maps.
    pub map_entries: u64,
    /// The deepest nesting of lists and maps.
    pub max_depth: usize,
}

impl ValueCounts {
    /// Counts the values in `value`.
    pub fn of(value: &Value) -> Self {
        let mut c = ValueCounts::default();
        let mut stack = vec![(value, 0usize)];
        while let Some((v, depth)) = stack.pop() {
            match v {
                Value::Null => c.null += 1,
                Value::Bool(_) => c.bool += 1,
                Value::Int(_) => c.int += 1,
                Value::Float(_) | Value::Float32(_) => c.float += 1,
                Value::Array(a) => {
                    c.array += 1;
                    c.array_elements += a.len() as u64;
                }
                Value::String(_) => c.string += 1,
                Value::Bytes(_) => c.bytes += 1,
                Value::Ext(_) => c.ext += 1,
                Value::List(items) => {
                    c.list += 1;
                    c.max_depth = c.max_depth.max(depth + 1);
                    stack.extend(items.iter().map(|i| (i, depth + 1)));
                }
                Value::Map(m) => {
                    c.map += 1;
                    c.map_entries += m.len() as u64;
                    c.max_depth = c.max_depth.max(depth + 1);
                    stack.extend(m.values().map(|i| (i, depth + 1)));
                }
            }
        }
        c
    }
}

/// Reports a snapshot's header, sizes, checksum status and contents by kind.
///
/// ```
/// use snapshot_codec::{inspect, value, DecodeOptions};
///
/// let bytes = snapshot_codec::encode(&value!({"a": [1, 2.5, "x"]}))?;
/// let report = inspect(&bytes, &DecodeOptions::new())?;
/// assert!(report.checksum_ok());
/// let counts = report.counts.unwrap();
/// assert_eq!((counts.map, counts.list, counts.int, counts.float, counts.string), (1, 1, 1, 1, 1));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
///
/// # Errors
/// Only when the header or the frame cannot be read at all ([`Error::NotASnapshot`],
/// [`Error::UnsupportedVersion`], [`Error::Truncated`], ...). A bad checksum or an
/// undecodable body is reported inside the [`Inspection`].
pub fn inspect(bytes: &[u8], opts: &DecodeOptions) -> Result<Inspection> {
    let layout = frame::scan_frame(bytes)?;
    let body = layout.body(bytes);
    let section = match layout.metadata {
        Some((start, end)) => Some(crate::meta::Section::parse(&bytes[start..end])?),
        None => None,
    };
    let key_id = section
        .as_ref()
        .and_then(|s| s.key.as_ref())
        .map(|k| k.id.clone());
    // Sealed metadata without its key is reported as absent; the body's error says why.
    let metadata = section.and_then(|s| s.open(&opts.keys).ok());
    let mut report = Inspection {
        version: layout.version,
        flags: layout.flags,
        metadata,
        key_id,
        total_len: bytes.len(),
        chunks: layout.chunks.len(),
        stored_body_len: body.len(),
        body_len: None,
        checksum_stored: layout.stored,
        checksum_computed: layout.computed,
        counts: None,
        error: None,
    };
    if !report.checksum_ok() {
        report.error = Some(Error::ChecksumMismatch {
            stored: layout.stored,
            computed: layout.computed,
        });
        return Ok(report);
    }
    // Checked as a stream first (a few buffers of memory): a compression bomb or any
    // other bad body is reported without decompressing it whole.
    #[cfg(feature = "std")]
    if let Err(e) = opts.check_from_reader(bytes) {
        report.error = Some(e);
        return Ok(report);
    }
    let plain = match frame::decrypt_body(&layout, bytes, body, opts)
        .and_then(|body| frame::decompress_body(layout.flags, body, opts))
    {
        Ok(plain) => plain,
        Err(e) => {
            report.error = Some(e);
            return Ok(report);
        }
    };
    report.body_len = Some(plain.len());
    let spent = match &plain {
        alloc::borrow::Cow::Owned(b) => b.len() as u64,
        alloc::borrow::Cow::Borrowed(_) => 0,
    };
    let mut reader = Reader::new(SliceInput::new(&plain), opts.max_depth, layout.version)
        .with_memory_budget(opts.max_memory, spent);
    match reader.read_value() {
        Ok(value) if crate::wire::Input::remaining(&reader.input) == Some(0) => {
            report.counts = Some(ValueCounts::of(&value));
        }
        Ok(_) => report.error = Some(Error::TrailingBytes),
        Err(e) => report.error = Some(e),
    }
    Ok(report)
}
