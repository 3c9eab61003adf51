//! Compression of bodies (zstd, LZ4, and the sample that decides whether it pays) and
//! decompression within a limit.

use alloc::vec::Vec;

use super::*;
use crate::options::{Compression, DecodeOptions, EncodeOptions};
use crate::{Error, Result};

/// Compresses `body` when asked to and when that makes it smaller: the header flag and
/// the compressed body.
#[allow(unused_variables)]
pub(crate) fn compress_if_smaller(
    body: &[u8],
    opts: &EncodeOptions,
) -> Result<Option<(u8, Vec<u8>)>> {
    let compression = opts.compression;
    if matches!(compression, Compression::None)
        || body.len() < MIN_COMPRESS_LEN
        || !sample_pays(body, compression)
    {
        return Ok(None);
    }
    #[allow(unreachable_code)]
    let (flag, compressed): (u8, Vec<u8>) = match compression {
        Compression::None => return Ok(None),
        #[cfg(feature = "zstd")]
        Compression::Zstd { level } => (FLAG_ZSTD, zstd_compress(body, level)?),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => {
            if opts.format_version < 2 {
                return Err(Error::CompressionUnsupported);
            }
            (FLAG_LZ4, lz4_compress(body)?)
        }
        #[allow(unreachable_patterns)]
        _ => return Err(Error::CompressionUnsupported),
    };
    #[allow(unreachable_code)]
    Ok((compressed.len() < body.len()).then_some((flag, compressed)))
}

/// zstd of `body` at `level`, with a compression context kept per thread for bodies
/// under 1 MiB (making one costs about 9 µs, more than encoding a small document does;
/// large bodies get a context of their own, so no thread keeps large tables).
#[cfg(feature = "zstd")]
fn zstd_compress(body: &[u8], level: i32) -> Result<Vec<u8>> {
    let err = |e: std::io::Error| Error::Compression(alloc::string::ToString::to_string(&e));
    if body.len() >= 1 << 20 {
        return zstd::bulk::compress(body, level).map_err(err);
    }
    std::thread_local! {
        static CONTEXT: core::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { core::cell::RefCell::new(None) };
    }
    CONTEXT.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::compress(body, level).map_err(err);
        };
        if !matches!(&*slot, Some((l, _)) if *l == level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).map_err(err)?));
        }
        let Some((_, compressor)) = slot.as_mut() else {
            return zstd::bulk::compress(body, level).map_err(err);
        };
        compressor.compress(body).map_err(err)
    })
}

/// Bodies at least this long are tried on a sample before being compressed whole.
pub(crate) const SAMPLE_FROM: usize = 256 * 1024;
const SAMPLE_PIECE: usize = 16 * 1024;
const SAMPLE_PIECES: usize = 8;

/// Whether compressing `body` looks worth it: always for short bodies and strong
/// compression; for long ones under fast compression,
/// when eight 16 KiB pieces spread evenly over it shrink to at most nine tenths
/// together (spread, because a body's parts differ: a shuffled array's low-byte plane
/// does not compress, its high-byte planes do).
pub(crate) fn sample_pays(body: &[u8], compression: Compression) -> bool {
    if body.len() < SAMPLE_FROM || !compression.is_fast() {
        return true;
    }
    let step = (body.len() - SAMPLE_PIECE) / (SAMPLE_PIECES - 1);
    let pieces = (0..SAMPLE_PIECES).map(|i| &body[i * step..i * step + SAMPLE_PIECE]);
    let Some(packed) = pieces_compressed_len(pieces, compression) else {
        return true;
    };
    let (num, den) = crate::options::SAMPLE_PAYS;
    packed * den <= SAMPLE_PIECES * SAMPLE_PIECE * num
}

/// The compressed size of all `pieces` together, compressed one by one with one
/// compressor context (creating a zstd context per piece cost more than compressing).
#[allow(unused_variables, unused_mut)]
fn pieces_compressed_len<'a>(
    mut pieces: impl Iterator<Item = &'a [u8]>,
    compression: Compression,
) -> Option<usize> {
    match compression {
        #[cfg(feature = "zstd")]
        Compression::Zstd { level } => {
            let mut compressor = zstd::bulk::Compressor::new(level).ok()?;
            pieces.try_fold(0, |sum, piece| {
                compressor.compress(piece).ok().map(|c| sum + c.len())
            })
        }
        #[cfg(feature = "lz4")]
        Compression::Lz4 => Some(pieces.map(|p| lz4_flex::block::compress(p).len()).sum()),
        _ => None,
    }
}

/// Whether `data` (a streaming writer's first buffer) shrinks to at most nine tenths.
#[cfg(feature = "std")]
pub(crate) fn pays(data: &[u8], compression: Compression) -> bool {
    if !compression.is_fast() {
        return true;
    }
    let (num, den) = crate::options::SAMPLE_PAYS;
    pieces_compressed_len(core::iter::once(data), compression)
        .is_none_or(|len| len * den <= data.len() * num)
}

#[cfg(feature = "lz4")]
fn lz4_compress(body: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(body.len() / 2 + 64));
    enc.write_all(body)?;
    enc.finish()
        .map_err(|e| Error::Compression(alloc::string::ToString::to_string(&e)))
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
    // A frame that declares its size lets a bomb be refused before any work.
    if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(body)
        && declared > limit
    {
        return Err(Error::DecompressedSizeLimitExceeded { limit });
    }
    let zstd_err = |e: std::io::Error| Error::Compression(alloc::string::ToString::to_string(&e));
    let decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(zstd_err)?;
    read_limited(decoder, body.len(), limit)
}

#[cfg(not(feature = "zstd"))]
pub(crate) fn decompress(_body: &[u8], _limit: u64) -> Result<Vec<u8>> {
    Err(Error::CompressionUnsupported)
}

#[cfg(feature = "lz4")]
pub(crate) fn decompress_lz4(body: &[u8], limit: u64) -> Result<Vec<u8>> {
    read_limited(lz4_flex::frame::FrameDecoder::new(body), body.len(), limit)
}

#[cfg(not(feature = "lz4"))]
pub(crate) fn decompress_lz4(_body: &[u8], _limit: u64) -> Result<Vec<u8>> {
    Err(Error::CompressionUnsupported)
}

/// Reads a decompressor to its end, but never past `limit` bytes.
#[cfg(any(feature = "zstd", feature = "lz4"))]
fn read_limited(mut decoder: impl std::io::Read, input_len: usize, limit: u64) -> Result<Vec<u8>> {
    let err = |e: std::io::Error| Error::Compression(alloc::string::ToString::to_string(&e));
    // Grow by doubling, but never past the limit: a bomb costs at most about twice the
    // limit while the buffer moves, never more.
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    // `clamp` would panic for a limit under 4 KiB: at least 4 KiB, never past the cap.
    let mut out: Vec<u8> = alloc::vec![0; input_len.saturating_mul(4).max(4096).min(cap)];
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
            Err(e) => return Err(err(e)),
        }
    }
    out.truncate(filled);
    if out.len() as u64 > limit {
        return Err(Error::DecompressedSizeLimitExceeded { limit });
    }
    Ok(out)
}
