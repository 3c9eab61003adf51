//! The snapshot frame: header, chunked body, optional zstd, checksum trailer.
//!
//! ```text
//! magic (4) | version (1) | flags (1) | chunk* | 00 00 00 00 | xxh3-64 (8, LE)
//! chunk = length (u32 LE, > 0) | that many body bytes
//! ```

use alloc::{borrow::Cow, vec::Vec};

use crate::options::{Compression, DecodeOptions, EncodeOptions};
use crate::wire::{Input, Reader, SliceInput, Writer};
use crate::{Error, Result};

/// The four bytes every snapshot starts with.
pub const MAGIC: [u8; 4] = [0x89, b'S', b'N', b'P'];
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Header flag: the body is one zstd stream.
pub const FLAG_ZSTD: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_ZSTD;
pub(crate) const HEADER_LEN: usize = 6;
const CHUNK_HEADER_LEN: usize = 4;
const TRAILER_LEN: usize = 8;
/// Bodies shorter than this are never compressed: zstd's frame overhead would win.
pub(crate) const MIN_COMPRESS_LEN: usize = 64;
/// The largest chunk a frame may hold.
const MAX_CHUNK: usize = u32::MAX as usize;

/// The header followed by a placeholder for the first chunk's length.
pub(crate) fn prefix(flags: u8) -> [u8; HEADER_LEN + CHUNK_HEADER_LEN] {
    let mut p = [0u8; HEADER_LEN + CHUNK_HEADER_LEN];
    p[..4].copy_from_slice(&MAGIC);
    p[4] = FORMAT_VERSION;
    p[5] = flags;
    p
}

/// Writes a body through `write` and returns the complete snapshot.
pub(crate) fn encode_to_vec(
    opts: &EncodeOptions,
    write: impl FnOnce(&mut Writer<Vec<u8>>) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&prefix(0));
    let mut writer = Writer::new(out, opts.max_depth).with_registry(opts.registry.clone());
    write(&mut writer)?;
    finish_frame(writer.out, opts)
}

/// Completes a snapshot whose buffer holds `prefix(0)` and then the whole body.
pub(crate) fn finish_frame(mut out: Vec<u8>, opts: &EncodeOptions) -> Result<Vec<u8>> {
    let body_start = HEADER_LEN + CHUNK_HEADER_LEN;
    let body_len = out.len() - body_start;
    if let Some(compressed) = compress_if_smaller(&out[body_start..], opts.compression)? {
        out.truncate(HEADER_LEN);
        out[5] = FLAG_ZSTD;
        push_chunks(&mut out, &compressed);
    } else if body_len == 0 {
        out.truncate(HEADER_LEN);
    } else if body_len <= MAX_CHUNK {
        out[HEADER_LEN..body_start].copy_from_slice(&(body_len as u32).to_le_bytes());
    } else {
        let body = out.split_off(body_start);
        out.truncate(HEADER_LEN);
        push_chunks(&mut out, &body);
    }
    out.extend_from_slice(&[0; CHUNK_HEADER_LEN]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

fn push_chunks(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + CHUNK_HEADER_LEN * (1 + data.len() / MAX_CHUNK));
    for chunk in data.chunks(MAX_CHUNK) {
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Compresses `body` when asked to and when that makes it smaller.
#[allow(unused_variables)]
fn compress_if_smaller(body: &[u8], compression: Compression) -> Result<Option<Vec<u8>>> {
    match compression {
        Compression::None => Ok(None),
        Compression::Zstd { .. } if body.len() < MIN_COMPRESS_LEN => Ok(None),
        #[cfg(feature = "zstd")]
        Compression::Zstd { level } => {
            let compressed = zstd::bulk::compress(body, level)
                .map_err(|e| Error::Compression(alloc::string::ToString::to_string(&e)))?;
            Ok((compressed.len() < body.len()).then_some(compressed))
        }
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd { .. } => Err(Error::CompressionUnsupported),
    }
}

/// Checks the header's magic, version and flags; returns the flags.
pub(crate) fn check_header(bytes: &[u8]) -> Result<u8> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(Error::NotASnapshot);
    }
    let (Some(&version), Some(&flags)) = (bytes.get(4), bytes.get(5)) else {
        return Err(Error::Truncated);
    };
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::UnsupportedFlags { flags });
    }
    Ok(flags)
}

/// The layout of a complete snapshot in memory, before its checksum is judged.
pub(crate) struct Layout {
    pub(crate) flags: u8,
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
            many => Cow::Owned(
                many.iter()
                    .flat_map(|(s, e)| &bytes[*s..*e])
                    .copied()
                    .collect(),
            ),
        }
    }
}

/// Reads the header, the chunk lengths and the trailer of a snapshot in memory.
pub(crate) fn scan_frame(bytes: &[u8]) -> Result<Layout> {
    let flags = check_header(bytes)?;
    let mut pos = HEADER_LEN;
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
        flags,
        chunks,
        stored: u64::from_le_bytes(s),
        computed: xxhash_rust::xxh3::xxh3_64(&bytes[..pos]),
    })
}

/// Verifies a complete snapshot in memory and returns its (compressed) body and flags.
pub(crate) fn open_frame(bytes: &[u8]) -> Result<(u8, Cow<'_, [u8]>)> {
    let layout = scan_frame(bytes)?;
    if layout.stored != layout.computed {
        return Err(Error::ChecksumMismatch {
            stored: layout.stored,
            computed: layout.computed,
        });
    }
    Ok((layout.flags, layout.body(bytes)))
}

/// Verifies a snapshot in memory and reads its body through `read`.
pub(crate) fn decode_slice<T>(
    bytes: &[u8],
    opts: &DecodeOptions,
    read: impl for<'a> FnOnce(&mut Reader<SliceInput<'a>>) -> Result<T>,
) -> Result<T> {
    let (flags, body) = open_frame(bytes)?;
    let body = if flags & FLAG_ZSTD != 0 {
        Cow::Owned(decompress(&body, decompress_limit(opts)).map_err(|e| over_budget(e, opts))?)
    } else {
        body
    };
    // A body decompressed here (or gathered from chunks) is memory this decode holds.
    let spent = match &body {
        Cow::Owned(b) => b.len() as u64,
        Cow::Borrowed(_) => 0,
    };
    let mut reader = Reader::new(SliceInput::new(&body), opts.max_depth)
        .with_memory_budget(opts.max_memory, spent)
        .with_registry(opts.registry.clone());
    let value = read(&mut reader)?;
    if reader.input.remaining() != Some(0) {
        return Err(Error::TrailingBytes);
    }
    Ok(value)
}

/// The most a body may decompress to: the size limit, and never past the memory budget.
pub(crate) fn decompress_limit(opts: &DecodeOptions) -> u64 {
    opts.max_decompressed_size.min(opts.max_memory)
}

/// A decompression stopped by the memory budget is reported as such.
pub(crate) fn over_budget(e: Error, opts: &DecodeOptions) -> Error {
    match e {
        Error::DecompressedSizeLimitExceeded { limit }
            if limit == opts.max_memory && opts.max_memory < opts.max_decompressed_size =>
        {
            Error::MemoryLimitExceeded {
                limit: opts.max_memory,
            }
        }
        e => e,
    }
}

#[cfg(feature = "zstd")]
pub(crate) fn decompress(body: &[u8], limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    // A frame that declares its size lets a bomb be refused before any work.
    if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(body)
        && declared > limit
    {
        return Err(Error::DecompressedSizeLimitExceeded { limit });
    }
    let zstd_err = |e: std::io::Error| Error::Compression(alloc::string::ToString::to_string(&e));
    let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(zstd_err)?;
    // Grow by doubling, but never past the limit: a bomb costs at most about twice the
    // limit while the buffer moves, never more.
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    // `clamp` would panic for a limit under 4 KiB: at least 4 KiB, never past the cap.
    let mut out: Vec<u8> = alloc::vec![0; body.len().saturating_mul(4).max(4096).min(cap)];
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if filled >= cap {
                return Err(Error::DecompressedSizeLimitExceeded { limit });
            }
            let grow = out.len().min(cap - filled);
            // Exactly: amortized growth would double the buffer again for the last byte.
            out.reserve_exact(grow);
            out.resize(filled + grow, 0);
        }
        match decoder.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(zstd_err(e)),
        }
    }
    out.truncate(filled);
    if out.len() as u64 > limit {
        return Err(Error::DecompressedSizeLimitExceeded { limit });
    }
    Ok(out)
}

#[cfg(not(feature = "zstd"))]
pub(crate) fn decompress(_body: &[u8], _limit: u64) -> Result<Vec<u8>> {
    Err(Error::CompressionUnsupported)
}
