//! The snapshot frame: header, chunked body, optional compression, checksum trailer.
//!
//! ```text
//! magic (4) | version (1) | flags (1) | [metadata] | chunk* | 00 00 00 00 | xxh3-64 (8, LE)
//! metadata = length (varint) | fields (format 2, when flag 0x08 is set)
//! chunk = length (u32 LE, > 0) | that many body bytes
//! ```

use alloc::{borrow::Cow, vec::Vec};

use crate::options::{DecodeOptions, EncodeOptions};
use crate::wire::{Input, Reader, Writer};
use crate::{Error, Result};

mod compress;
pub(crate) use compress::*;

/// The four bytes every snapshot starts with.
pub const MAGIC: [u8; 4] = [0x89, b'S', b'N', b'P'];
/// The format version this build writes unless told otherwise; it reads this one and
/// every earlier one.
pub const FORMAT_VERSION: u8 = 2;
/// Header flag: the body is zstd-compressed.
pub const FLAG_ZSTD: u8 = 0x01;
/// Header flag (format 2): the body is LZ4-compressed (LZ4 frame format).
pub const FLAG_LZ4: u8 = 0x02;
/// Header flag (format 2): the body is encrypted (feature `encryption`; without it,
/// reading one is [`Error::Encrypted`]).
pub const FLAG_ENCRYPTED: u8 = 0x04;
/// Header flag (format 2): a metadata section follows the flags byte.
pub const FLAG_METADATA: u8 = 0x08;
const KNOWN_FLAGS_V1: u8 = FLAG_ZSTD;
const KNOWN_FLAGS_V2: u8 = FLAG_ZSTD | FLAG_LZ4 | FLAG_ENCRYPTED | FLAG_METADATA;
pub(crate) const HEADER_LEN: usize = 6;
pub(crate) const CHUNK_HEADER_LEN: usize = 4;
const TRAILER_LEN: usize = 8;
/// Bodies shorter than this are never compressed: measured on documents of user records
/// (BENCHMARKS.md, Python), zstd shrinks a 237-byte body by nothing and a 472-byte one by
/// 9%, for more time than the encode itself took.
pub(crate) const MIN_COMPRESS_LEN: usize = 512;
/// The largest chunk a frame may hold.
const MAX_CHUNK: usize = u32::MAX as usize;

/// The header (magic, version, flags, metadata section) as `opts` ask for it, then a
/// placeholder for the first chunk's length. The compression flag is set later.
pub(crate) fn prefix(opts: &EncodeOptions) -> Result<Vec<u8>> {
    let mut p = Vec::with_capacity(256);
    p.extend_from_slice(&MAGIC);
    p.push(opts.format_version);
    p.push(0);
    if let Some(bytes) = crate::meta::section_bytes(
        opts.metadata.as_ref(),
        opts.key.as_ref(),
        opts.clear_metadata,
    )? {
        if opts.format_version < 2 {
            return Err(Error::InvalidMetadata {
                reason: "format version 1 has no metadata section (nor encryption)".into(),
            });
        }
        p[5] = FLAG_METADATA;
        if opts.key.is_some() {
            p[5] |= FLAG_ENCRYPTED;
        }
        crate::meta::push_varint(&mut p, bytes.len() as u64);
        p.extend_from_slice(&bytes);
    }
    p.extend_from_slice(&[0; CHUNK_HEADER_LEN]);
    Ok(p)
}

/// Writes a body through `write` after the header: the buffer [`finish_frame`] completes,
/// and the header's length.
pub(crate) fn write_body(
    opts: &EncodeOptions,
    capacity: usize,
    write: impl FnOnce(&mut Writer<Vec<u8>>) -> Result<()>,
) -> Result<(Vec<u8>, usize)> {
    let mut out = prefix(opts)?;
    if capacity > 0 {
        // Room for the end chunk and the trailer too, so finishing never moves the body.
        out.reserve(capacity.saturating_add(CHUNK_HEADER_LEN + TRAILER_LEN));
    }
    let header_len = out.len() - CHUNK_HEADER_LEN;
    let mut writer = Writer::new(out, opts);
    write(&mut writer)?;
    Ok((writer.out, header_len))
}

/// Writes a body through `write` and returns the complete snapshot.
pub(crate) fn encode_to_vec(
    opts: &EncodeOptions,
    write: impl FnOnce(&mut Writer<Vec<u8>>) -> Result<()>,
) -> Result<Vec<u8>> {
    let (out, header_len) = write_body(opts, 0, write)?;
    finish_frame(out, header_len, opts)
}

/// Completes a snapshot whose buffer holds the header of `header_len` bytes, a chunk
/// length placeholder and then the whole body.
pub(crate) fn finish_frame(
    mut out: Vec<u8>,
    header_len: usize,
    opts: &EncodeOptions,
) -> Result<Vec<u8>> {
    let body_start = header_len + CHUNK_HEADER_LEN;
    let body_len = out.len() - body_start;
    let compressed = compress_if_smaller(&out[body_start..], opts)?;
    #[cfg(feature = "encryption")]
    if let Some(key) = &opts.key {
        return seal_frame(out, header_len, compressed, key).map(end_frame);
    }
    if let Some((flag, compressed)) = compressed {
        out.truncate(header_len);
        out[5] |= flag;
        push_chunks(&mut out, &compressed);
    } else if body_len == 0 {
        out.truncate(header_len);
    } else if body_len <= MAX_CHUNK {
        out[header_len..body_start].copy_from_slice(&(body_len as u32).to_le_bytes());
    } else {
        let body = out.split_off(body_start);
        out.truncate(header_len);
        push_chunks(&mut out, &body);
    }
    Ok(end_frame(out))
}

/// Appends the terminating chunk and the checksum trailer.
fn end_frame(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0; CHUNK_HEADER_LEN]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Compress, then encrypt: replaces the body after the header with its sealed form (the
/// header, flags included, is the first segment's additional data), in one chunk when
/// it fits.
#[cfg(feature = "encryption")]
fn seal_frame(
    mut out: Vec<u8>,
    header_len: usize,
    compressed: Option<(u8, Vec<u8>)>,
    key: &crate::crypt::EncryptionKey,
) -> Result<Vec<u8>> {
    let body_start = header_len + CHUNK_HEADER_LEN;
    if let Some((flag, _)) = &compressed {
        out[5] |= flag;
    }
    let header = out[..header_len].to_vec();
    let plain;
    let body = match &compressed {
        Some((_, c)) => &c[..],
        None => {
            plain = out.split_off(body_start);
            &plain[..]
        }
    };
    out.truncate(header_len);
    // One chunk, its length written once the sealed body is in place.
    out.extend_from_slice(&[0; CHUNK_HEADER_LEN]);
    crate::crypt::seal_body_into(key, &header, body, &mut out)?;
    let sealed_len = out.len() - body_start;
    if sealed_len <= MAX_CHUNK {
        out[header_len..body_start].copy_from_slice(&(sealed_len as u32).to_le_bytes());
    } else {
        let sealed = out.split_off(body_start);
        out.truncate(header_len);
        push_chunks(&mut out, &sealed);
    }
    Ok(out)
}

fn push_chunks(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + CHUNK_HEADER_LEN * (1 + data.len() / MAX_CHUNK));
    for chunk in data.chunks(MAX_CHUNK) {
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// What the start of a snapshot says.
pub(crate) struct Header {
    pub(crate) version: u8,
    pub(crate) flags: u8,
    /// Where the metadata section's fields lie, when there is one.
    pub(crate) metadata: Option<(usize, usize)>,
    /// Where the first chunk starts.
    pub(crate) len: usize,
}

/// Checks the header's magic, version and flags and finds the metadata section.
pub(crate) fn check_header(bytes: &[u8]) -> Result<Header> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(Error::NotASnapshot);
    }
    let (Some(&version), Some(&flags)) = (bytes.get(4), bytes.get(5)) else {
        return Err(Error::Truncated);
    };
    let known = match version {
        1 => KNOWN_FLAGS_V1,
        2 => KNOWN_FLAGS_V2,
        found => {
            return Err(Error::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
    };
    if flags & !known != 0 || flags & (FLAG_ZSTD | FLAG_LZ4) == FLAG_ZSTD | FLAG_LZ4 {
        return Err(Error::UnsupportedFlags { flags });
    }
    #[cfg(not(feature = "encryption"))]
    if flags & FLAG_ENCRYPTED != 0 {
        return Err(Error::Encrypted);
    }
    if flags & FLAG_ENCRYPTED != 0 && flags & FLAG_METADATA == 0 {
        return Err(Error::InvalidMetadata {
            reason: "an encrypted body needs the metadata section naming its key".into(),
        });
    }
    let mut header = Header {
        version,
        flags,
        metadata: None,
        len: HEADER_LEN,
    };
    if flags & FLAG_METADATA != 0 {
        let rest = &bytes[HEADER_LEN..];
        let (len, after) = match crate::meta::take_varint(rest) {
            Some(v) => v,
            None if rest.len() >= 10 => return Err(Error::InvalidVarint),
            None => return Err(Error::Truncated),
        };
        if len > crate::meta::MAX_METADATA_LEN as u64 {
            return Err(Error::InvalidMetadata {
                reason: alloc::format!(
                    "the section declares {len} bytes, more than {}",
                    crate::meta::MAX_METADATA_LEN
                ),
            });
        }
        let start = HEADER_LEN + (rest.len() - after.len());
        let end = start + len as usize;
        if end > bytes.len() {
            return Err(Error::Truncated);
        }
        header.metadata = Some((start, end));
        header.len = end;
    }
    // One rule for every reader (a decode, a streamed load, a header read): metadata
    // that breaks FORMAT.md makes the snapshot malformed. Clear fields are checked
    // here; sealed ones when they are opened (they are authenticated).
    let keyed = match header.metadata {
        Some((start, end)) => crate::meta::Section::parse(&bytes[start..end])?
            .key
            .is_some(),
        None => false,
    };
    if keyed != (flags & FLAG_ENCRYPTED != 0) {
        return Err(Error::InvalidMetadata {
            reason: "a key field goes with an encrypted body, and only with one".into(),
        });
    }
    Ok(header)
}

/// The layout of a complete snapshot in memory, before its checksum is judged.
pub(crate) struct Layout {
    pub(crate) version: u8,
    pub(crate) flags: u8,
    pub(crate) metadata: Option<(usize, usize)>,
    /// Where the first chunk starts (the header's length).
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    pub(crate) header_len: usize,
    pub(crate) chunks: Vec<(usize, usize)>,
    pub(crate) stored: u64,
    pub(crate) computed: u64,
}

impl Layout {
    /// The (possibly compressed) body: borrowed when it is one chunk.
    pub(crate) fn body<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match self.chunks.as_slice() {
            [] => Cow::Borrowed(&[][..]),
            [(start, end)] => Cow::Borrowed(&bytes[*start..*end]),
            many => Cow::Owned(gather(bytes, many)),
        }
    }
}

/// The `chunks` of `bytes`, joined.
fn gather(bytes: &[u8], chunks: &[(usize, usize)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(chunks.iter().map(|(s, e)| e - s).sum());
    for (start, end) in chunks {
        body.extend_from_slice(&bytes[*start..*end]);
    }
    body
}

/// Reads the header, the chunk lengths and the trailer of a snapshot in memory.
pub(crate) fn scan_frame(bytes: &[u8]) -> Result<Layout> {
    let header = check_header(bytes)?;
    let mut pos = header.len;
    let mut chunks: Vec<(usize, usize)> = Vec::new();
    loop {
        let len_bytes = bytes
            .get(pos..pos + CHUNK_HEADER_LEN)
            .ok_or_else(|| Error::Truncated)?;
        let mut len = [0u8; 4];
        len.copy_from_slice(len_bytes);
        let len = u32::from_le_bytes(len) as usize;
        pos += CHUNK_HEADER_LEN;
        if len == 0 {
            break;
        }
        let end = pos.checked_add(len).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| Error::Truncated)?;
        chunks.push((pos, end));
        pos = end;
    }
    let stored = bytes
        .get(pos..pos + TRAILER_LEN)
        .ok_or_else(|| Error::Truncated)?;
    if bytes.len() > pos + TRAILER_LEN {
        return Err(Error::TrailingBytes);
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(stored);
    Ok(Layout {
        version: header.version,
        flags: header.flags,
        metadata: header.metadata,
        header_len: header.len,
        chunks,
        stored: u64::from_le_bytes(s),
        computed: xxhash_rust::xxh3::xxh3_64(&bytes[..pos]),
    })
}

/// The key that decrypts the body of the snapshot whose header is `header` (the bytes
/// from the magic to the end of the metadata section).
#[cfg(feature = "encryption")]
pub(crate) fn body_key<'k>(
    header: &[u8],
    opts: &'k DecodeOptions,
) -> Result<&'k crate::crypt::EncryptionKey> {
    let section = crate::meta::read_section(header)?;
    let field = section
        .and_then(|s| s.key)
        .ok_or_else(|| Error::InvalidMetadata {
            reason: "an encrypted body needs a key field".into(),
        })?;
    opts.keys.resolve(&field.id, &field.check)
}

/// Decrypts a body when its header says it is encrypted (borrowed otherwise).
#[allow(unused_variables)]
pub(crate) fn decrypt_body<'a>(
    layout: &Layout,
    bytes: &[u8],
    body: Cow<'a, [u8]>,
    opts: &DecodeOptions,
) -> Result<Cow<'a, [u8]>> {
    if layout.flags & FLAG_ENCRYPTED == 0 {
        return Ok(body);
    }
    #[cfg(feature = "encryption")]
    {
        let header = &bytes[..layout.header_len];
        let key = body_key(header, opts)?;
        Ok(Cow::Owned(crate::crypt::open_body(key, header, &body)?))
    }
    #[cfg(not(feature = "encryption"))]
    Err(Error::Encrypted)
}

/// Decompresses a body as its header flags say (borrowed when it is not compressed).
pub(crate) fn decompress_body<'a>(
    flags: u8,
    body: Cow<'a, [u8]>,
    opts: &DecodeOptions,
) -> Result<Cow<'a, [u8]>> {
    let limit = decompress_limit(opts);
    Ok(if flags & FLAG_ZSTD != 0 {
        Cow::Owned(decompress(&body, limit).map_err(|e| over_budget(e, opts))?)
    } else if flags & FLAG_LZ4 != 0 {
        Cow::Owned(decompress_lz4(&body, limit).map_err(|e| over_budget(e, opts))?)
    } else {
        body
    })
}

/// Verifies a snapshot in memory and reads its body through `read`, a closure that is
/// given a `&mut Reader<_>` over the body (a slice or chunks of one).
macro_rules! read_opened {
    ($body:expr, $version:expr, $opts:expr, |$r:ident| $read:expr) => {
        match $body {
            $crate::frame::Body::Whole(whole) => $crate::frame::read_body(
                $crate::wire::SliceInput::new(whole),
                $crate::frame::held(whole),
                $version,
                $opts,
                |$r| $read,
            ),
            $crate::frame::Body::Chunks { bytes, chunks } => $crate::frame::read_body(
                $crate::wire::ChunksInput::new(bytes, chunks),
                0,
                $version,
                $opts,
                |$r| $read,
            ),
        }
    };
}
pub(crate) use read_opened;

/// A body as [`open_slice`] returns it.
#[derive(Debug)]
pub(crate) enum Body<'a> {
    /// In one piece: read in place, or decrypted, decompressed or gathered.
    Whole(Cow<'a, [u8]>),
    /// Uncompressed and unencrypted in several chunks of the snapshot (as a streaming
    /// writer leaves it), read where it lies.
    Chunks {
        bytes: &'a [u8],
        chunks: Vec<(usize, usize)>,
    },
}

#[cfg_attr(not(feature = "serde"), allow(dead_code))]
impl Body<'_> {
    /// The body's length.
    pub(crate) fn len(&self) -> usize {
        match self {
            Body::Whole(b) => b.len(),
            Body::Chunks { chunks, .. } => chunks.iter().map(|(s, e)| e - s).sum(),
        }
    }

    /// The body in one owned piece.
    pub(crate) fn into_owned(self) -> Body<'static> {
        match self {
            Body::Whole(b) => Body::Whole(Cow::Owned(b.into_owned())),
            Body::Chunks { bytes, chunks } => Body::Whole(Cow::Owned(gather(bytes, &chunks))),
        }
    }
}

/// What a body [`open_slice`] returned holds in memory: nothing when it is read in place,
/// its length when it was decompressed or gathered from chunks.
#[allow(clippy::ptr_arg)] // the variant is what it reads, not the bytes
pub(crate) fn held(body: &Cow<'_, [u8]>) -> u64 {
    match body {
        Cow::Owned(b) => b.len() as u64,
        Cow::Borrowed(_) => 0,
    }
}

/// Checks a snapshot in memory (frame, checksum), decrypts and decompresses its body;
/// returns the body and the format version.
pub(crate) fn open_slice<'a>(bytes: &'a [u8], opts: &DecodeOptions) -> Result<(Body<'a>, u8)> {
    let layout = scan_frame(bytes)?;
    if layout.stored != layout.computed {
        return Err(Error::ChecksumMismatch {
            stored: layout.stored,
            computed: layout.computed,
        });
    }
    if layout.flags & (FLAG_ZSTD | FLAG_LZ4 | FLAG_ENCRYPTED) == 0 && layout.chunks.len() > 1 {
        return Ok((
            Body::Chunks {
                bytes,
                chunks: layout.chunks,
            },
            layout.version,
        ));
    }
    let body = layout.body(bytes);
    let body = decrypt_body(&layout, bytes, body, opts)?;
    let body = decompress_body(layout.flags, body, opts)?;
    Ok((Body::Whole(body), layout.version))
}

/// Reads a body [`open_slice`] returned through `read`, which must consume all of it.
/// `spent` is the memory the body itself holds ([`held`]).
pub(crate) fn read_body<'b, I: Input<'b>, T>(
    input: I,
    spent: u64,
    version: u8,
    opts: &DecodeOptions,
    read: impl FnOnce(&mut Reader<I>) -> Result<T>,
) -> Result<T> {
    let mut reader = Reader::new(input, opts.max_depth, version)
        .with_memory_budget(opts.max_memory, spent)
        .with_registry(opts.registry.clone());
    let value = read(&mut reader)?;
    if reader.input.remaining() != Some(0) {
        return Err(Error::TrailingBytes);
    }
    Ok(value)
}
