//! Streaming snapshots to `io::Write` and from `io::Read`, holding at most a chunk of
//! the encoded form in memory (std only).

use std::io::{self, Write};
#[cfg(any(feature = "zstd", feature = "lz4"))]
use std::string::ToString;
use std::vec::Vec;

use xxhash_rust::xxh3::Xxh3;

#[cfg(feature = "encryption")]
use crate::error::to_io;
use crate::frame::{self, FLAG_LZ4, FLAG_ZSTD};
use crate::options::{Compression, EncodeOptions};
use crate::wire::{Output, Writer};
use crate::{Error, Result};

mod read;
pub(crate) use read::*;

/// Body bytes gathered before they are passed on as one chunk.
const CHUNK_SIZE: usize = 128 * 1024;

/// Hashes and counts everything written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Frames every write as one or more chunks; with a sealer, encrypts the body a
/// batch of segments at a time first (each sealed batch is one chunk).
struct ChunkWriter<W> {
    out: W,
    #[cfg(feature = "encryption")]
    seal: Option<(crate::crypt::Sealer, Vec<u8>)>,
}

impl<W: Write> ChunkWriter<W> {
    fn plain(out: W) -> Self {
        Self {
            out,
            #[cfg(feature = "encryption")]
            seal: None,
        }
    }

    /// A writer for the body after `header`, encrypted when `opts` say so: the body's
    /// nonce is written at once, and segments are sealed on a helper thread.
    #[allow(unused_variables)]
    fn for_body(out: W, header: &[u8], opts: &EncodeOptions) -> Result<Self> {
        #[allow(unused_mut)]
        let mut w = Self::plain(out);
        #[cfg(feature = "encryption")]
        if let Some(key) = &opts.key {
            let (sealer, nonce) = crate::crypt::Sealer::new(key, header)?;
            write_chunk(&mut w.out, &nonce)?;
            w.seal = Some((
                sealer.threaded(),
                Vec::with_capacity(crate::crypt::SEAL_BATCH),
            ));
        }
        Ok(w)
    }

    /// Ends the body: seals the last segment. Returns the writer below.
    #[allow(unused_mut)]
    fn finish(mut self) -> Result<W> {
        #[cfg(feature = "encryption")]
        if let Some((mut sealer, segment)) = self.seal.take() {
            let out = &mut self.out;
            sealer.seal(segment, true, |sealed| Ok(write_chunk(out, sealed)?))?;
        }
        Ok(self.out)
    }
}

impl<W: Write> ChunkWriter<W> {
    /// Writes what `buf` holds, then `bytes` copied through `buf` a [`CHUNK_SIZE`]
    /// piece at a time (`buf` is left empty): unencrypted, as one chunk when it fits
    /// one (4 GiB).
    fn write_through(&mut self, buf: &mut Vec<u8>, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "encryption")]
        let sealed = self.seal.is_some();
        #[cfg(not(feature = "encryption"))]
        let sealed = false;
        let total = buf.len() + bytes.len();
        if sealed || total > u32::MAX as usize {
            if !buf.is_empty() {
                self.write_all(buf)?;
            }
            for chunk in bytes.chunks(u32::MAX as usize) {
                if !sealed {
                    self.out.write_all(&(chunk.len() as u32).to_le_bytes())?;
                }
                for piece in chunk.chunks(CHUNK_SIZE) {
                    buf.clear();
                    buf.extend_from_slice(piece);
                    if sealed {
                        self.write_all(buf)?;
                    } else {
                        self.out.write_all(buf)?;
                    }
                }
            }
        } else {
            self.out.write_all(&(total as u32).to_le_bytes())?;
            self.out.write_all(buf)?;
            for piece in bytes.chunks(CHUNK_SIZE) {
                buf.clear();
                buf.extend_from_slice(piece);
                self.out.write_all(buf)?;
            }
        }
        buf.clear();
        Ok(())
    }
}

fn write_chunk(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)
}

impl<W: Write> Write for ChunkWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "encryption")]
        if let Some((sealer, segment)) = &mut self.seal {
            let mut rest = buf;
            while !rest.is_empty() {
                if segment.len() == crate::crypt::SEAL_BATCH {
                    // More follows, so this batch does not hold the last segment.
                    let full = std::mem::take(segment);
                    let out = &mut self.out;
                    *segment = sealer
                        .seal(full, false, |sealed| Ok(write_chunk(out, sealed)?))
                        .map_err(to_io)?;
                }
                let take = rest.len().min(crate::crypt::SEAL_BATCH - segment.len());
                segment.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
            }
            return Ok(buf.len());
        }
        let n = buf.len().min(u32::MAX as usize);
        if n > 0 {
            write_chunk(&mut self.out, &buf[..n])?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// One per streaming writer, moved between states in place: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum Sink<W: Write> {
    /// Nothing written yet: the body so far sits in the buffer after the prefix, so a
    /// small snapshot can still choose compression by size.
    Pending(W),
    Plain(ChunkWriter<HashingWriter<W>>),
    #[cfg(feature = "zstd")]
    Zstd(zstd::stream::write::Encoder<'static, ChunkWriter<HashingWriter<W>>>),
    #[cfg(feature = "lz4")]
    Lz4(lz4_flex::frame::FrameEncoder<ChunkWriter<HashingWriter<W>>>),
    Poisoned,
}

/// An [`Output`] that passes the body downstream a chunk at a time.
pub(crate) struct StreamOutput<W: Write> {
    buf: Vec<u8>,
    sink: Sink<W>,
    compression: Compression,
    /// The header's length (magic to metadata); a chunk-length placeholder follows it
    /// in `buf` while the sink is pending.
    header_len: usize,
    opts: EncodeOptions,
}

impl<W: Write> StreamOutput<W> {
    pub(crate) fn new(writer: W, opts: &EncodeOptions) -> Result<Self> {
        let prefix = frame::prefix(opts)?;
        if matches!(opts.compression, Compression::Lz4) && opts.format_version < 2 {
            return Err(Error::CompressionUnsupported);
        }
        let header_len = prefix.len() - 4;
        let mut buf = Vec::with_capacity(CHUNK_SIZE + prefix.len() + 64);
        buf.extend_from_slice(&prefix);
        Ok(Self {
            buf,
            sink: Sink::Pending(writer),
            compression: opts.compression,
            header_len,
            opts: opts.clone(),
        })
    }

    fn downstream(&mut self) -> Result<&mut dyn Write> {
        self.downstream_before(&[])
    }

    /// The sink, started if it is pending; `upcoming` is what will be written next, a
    /// sample when the buffer holds too little body to judge compression by.
    fn downstream_before(&mut self, upcoming: &[u8]) -> Result<&mut dyn Write> {
        if let Sink::Pending(_) = self.sink {
            let Sink::Pending(w) = std::mem::replace(&mut self.sink, Sink::Poisoned) else {
                unreachable!("checked above")
            };
            let mut hashing = HashingWriter {
                inner: w,
                hasher: Xxh3::new(),
                written: 0,
            };
            // A body that outgrew the buffer: the buffered part is the sample that says
            // whether compressing is worth it, unless the body so far is a few bytes in
            // front of a large string or array (a state of one big array): then pieces
            // spread over that say it.
            let buffered = &self.buf[self.header_len + 4..];
            let pays = if buffered.len() < 16 * 1024 && upcoming.len() >= frame::SAMPLE_FROM {
                frame::sample_pays(upcoming, self.compression)
            } else {
                frame::pays(buffered, self.compression)
            };
            if !pays {
                self.compression = Compression::None;
            }
            self.buf[5] |= match self.compression {
                Compression::None => 0,
                Compression::Zstd { .. } => FLAG_ZSTD,
                Compression::Lz4 => FLAG_LZ4,
            };
            hashing.write_all(&self.buf[..self.header_len])?;
            let chunks = ChunkWriter::for_body(hashing, &self.buf[..self.header_len], &self.opts)?;
            // Drop the header and the placeholder; what remains is body.
            self.buf.drain(..self.header_len + 4);
            self.sink = match self.compression {
                Compression::None => Sink::Plain(chunks),
                #[cfg(feature = "zstd")]
                Compression::Zstd { level } => Sink::Zstd(
                    zstd::stream::write::Encoder::new(chunks, level)
                        .map_err(|e| Error::Compression(e.to_string()))?,
                ),
                #[cfg(feature = "lz4")]
                Compression::Lz4 => Sink::Lz4(lz4_flex::frame::FrameEncoder::new(chunks)),
                #[allow(unreachable_patterns)]
                _ => return Err(Error::CompressionUnsupported),
            };
        }
        match &mut self.sink {
            Sink::Plain(w) => Ok(w),
            #[cfg(feature = "zstd")]
            Sink::Zstd(w) => Ok(w),
            #[cfg(feature = "lz4")]
            Sink::Lz4(w) => Ok(w),
            _ => Err(Error::Io(io::Error::other(
                "snapshot writer failed earlier",
            ))),
        }
    }

    fn spill(&mut self, upcoming: &[u8]) -> Result<()> {
        // Start the stream first: that writes the header and drops the prefix.
        self.downstream_before(upcoming)?;
        let buf = std::mem::take(&mut self.buf);
        let result = self.downstream().and_then(|w| Ok(w.write_all(&buf)?));
        self.buf = buf;
        self.buf.clear();
        result
    }

    /// Writes the rest of the snapshot and returns its total size in bytes.
    pub(crate) fn finish(mut self, opts: &EncodeOptions) -> Result<u64> {
        match std::mem::replace(&mut self.sink, Sink::Poisoned) {
            Sink::Pending(mut w) => {
                let bytes =
                    frame::finish_frame(std::mem::take(&mut self.buf), self.header_len, opts)?;
                w.write_all(&bytes)?;
                w.flush()?;
                Ok(bytes.len() as u64)
            }
            sink => {
                self.sink = sink;
                if !self.buf.is_empty() {
                    self.spill(&[])?;
                }
                let chunked = match std::mem::replace(&mut self.sink, Sink::Poisoned) {
                    Sink::Plain(w) => w,
                    #[cfg(feature = "zstd")]
                    Sink::Zstd(enc) => enc.finish()?,
                    #[cfg(feature = "lz4")]
                    Sink::Lz4(enc) => enc
                        .finish()
                        .map_err(|e| Error::Compression(e.to_string()))?,
                    _ => {
                        return Err(Error::Io(io::Error::other(
                            "snapshot writer failed earlier",
                        )));
                    }
                };
                let mut hashing = chunked.finish()?;
                hashing.write_all(&[0; 4])?;
                let checksum = hashing.hasher.digest();
                hashing.inner.write_all(&checksum.to_le_bytes())?;
                hashing.inner.flush()?;
                Ok(hashing.written + 8)
            }
        }
    }
}

impl<W: Write> Output for StreamOutput<W> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if self.buf.len() + bytes.len() > CHUNK_SIZE {
            if bytes.len() >= CHUNK_SIZE {
                // Starts the sink if it is pending, judging compression by `bytes` when
                // too little body came before them.
                self.downstream_before(bytes)?;
                if let Sink::Plain(chunks) = &mut self.sink {
                    // Uncompressed, what is written is hashed as it passes: it goes
                    // through the buffer a piece at a time, so the bytes hashed are the
                    // bytes written even if the caller's memory changes meanwhile (a
                    // Python array that another thread writes to with the GIL released).
                    // Unencrypted, the buffered bytes and these are one chunk, so a
                    // reader finds a large value, its tag and length in one piece.
                    return Ok(chunks.write_through(&mut self.buf, bytes)?);
                }
                // A compressor reads them once and writes what it made of them.
                self.spill(&[])?;
                return Ok(self.downstream()?.write_all(bytes)?);
            }
            self.spill(&[])?;
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn put_u8(&mut self, byte: u8) -> Result<()> {
        if self.buf.len() >= CHUNK_SIZE {
            self.spill(&[])?;
        }
        self.buf.push(byte);
        Ok(())
    }
}

/// Encodes a body through `write` to `writer`; returns the snapshot's size.
pub(crate) fn encode_to_writer<W: Write>(
    writer: W,
    opts: &EncodeOptions,
    write: impl FnOnce(&mut Writer<StreamOutput<W>>) -> Result<()>,
) -> Result<u64> {
    let mut w = Writer::new(StreamOutput::new(writer, opts)?, opts);
    write(&mut w)?;
    w.out.finish(opts)
}
