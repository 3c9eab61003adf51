//! Streaming decode: chunks read from an `io::Read`, checked, decrypted and decompressed
//! on the way into the decoder, within the memory budget.

use std::io::{self, BufRead, BufReader, Read};
#[cfg(any(feature = "zstd", feature = "lz4"))]
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use xxhash_rust::xxh3::Xxh3;

#[cfg(any(feature = "zstd", feature = "lz4"))]
use crate::error::CodecIoError;
use crate::error::{from_io, to_io};
use crate::frame::{self, FLAG_LZ4, FLAG_ZSTD, HEADER_LEN};
use crate::options::DecodeOptions;
use crate::wire::{Bytes, Input, Reader};
use crate::{Error, Result};

/// Yields the body bytes of a chunked frame, hashing everything it consumes, and ends
/// at the terminating empty chunk.
struct ChunkReader<'a, R> {
    inner: &'a mut R,
    hasher: &'a mut Xxh3,
    left_in_chunk: usize,
    done: bool,
}

impl<R: BufRead> ChunkReader<'_, R> {
    fn read_hashed(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf).map_err(|e| to_io(from_io(e)))?;
        self.hasher.update(buf);
        Ok(())
    }
}

impl<R: BufRead> Read for ChunkReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left_in_chunk == 0 {
            let mut len = [0u8; 4];
            self.read_hashed(&mut len)?;
            self.left_in_chunk = u32::from_le_bytes(len) as usize;
            if self.left_in_chunk == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left_in_chunk);
        let n = match self.inner.read(&mut buf[..n]) {
            Ok(0) => return Err(to_io(Error::Truncated)),
            Ok(n) => n,
            Err(e) => return Err(to_io(from_io(e))),
        };
        self.hasher.update(&buf[..n]);
        self.left_in_chunk -= n;
        Ok(n)
    }
}

/// Refuses to yield more than `limit` bytes; maps the decompressor's own errors.
#[cfg(any(feature = "zstd", feature = "lz4"))]
struct LimitReader<R> {
    inner: R,
    left: u64,
    limit: u64,
}

#[cfg(any(feature = "zstd", feature = "lz4"))]
impl<R: Read> Read for LimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want]).map_err(|e| {
            if e.get_ref().is_some_and(|i| i.is::<CodecIoError>()) {
                e
            } else {
                to_io(Error::Compression(e.to_string()))
            }
        })?;
        if n as u64 > self.left {
            return Err(to_io(Error::DecompressedSizeLimitExceeded {
                limit: self.limit,
            }));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A buffered [`Input`] over any reader.
pub(crate) struct StreamInput<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes of earlier buffers, for [`Input::position`].
    consumed: u64,
    scratch: Vec<u8>,
}

impl<R: Read> StreamInput<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 64 * 1024],
            pos: 0,
            end: 0,
            consumed: 0,
            scratch: Vec::new(),
        }
    }

    /// Refills the buffer if it is empty; returns whether any byte is available.
    #[inline]
    fn fill(&mut self) -> Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.consumed += self.end as u64;
        self.end = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(from_io(e)),
            }
        }
    }
}

impl<'de, R: Read> Input<'de> for StreamInput<R> {
    #[inline]
    fn next_u8(&mut self) -> Result<u8> {
        if !self.fill()? {
            return Err(Error::Truncated);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<Option<u8>> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    fn read_bytes(&mut self, len: usize) -> Result<Bytes<'de, '_>> {
        self.scratch.clear();
        // Grow with the data actually read, so a hostile length costs nothing up front.
        while self.scratch.len() < len {
            if !self.fill()? {
                return Err(Error::Truncated);
            }
            let take = (len - self.scratch.len()).min(self.end - self.pos);
            self.scratch
                .extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
        }
        Ok(Bytes::Copied(&self.scratch))
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.next_u8()?;
        }
        Ok(out)
    }

    #[inline]
    fn remaining(&self) -> Option<usize> {
        None
    }

    #[inline]
    fn position(&self) -> u64 {
        self.consumed + self.pos as u64
    }
}

/// Reads one snapshot from `reader` through `read`, verifying it as it goes; the value
/// is returned only once the checksum has matched.
pub(crate) fn decode_from_reader<R: Read, T>(
    reader: R,
    opts: &DecodeOptions,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    let mut raw = BufReader::with_capacity(64 * 1024, reader);
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match raw.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    let mut header = header[..got].to_vec();
    if got == HEADER_LEN
        && header[..4] == frame::MAGIC
        && header[4] >= 2
        && header[5] & frame::FLAG_METADATA != 0
    {
        // The metadata section: its length (a varint), then that many bytes; it is read
        // whole (at most 64 KiB) and checked by the same code as in memory.
        loop {
            let mut byte = [0u8; 1];
            if raw.read(&mut byte)? == 0 {
                break;
            }
            header.push(byte[0]);
            if byte[0] < 0x80 || header.len() >= HEADER_LEN + 10 {
                break;
            }
        }
        if let Some((len, _)) = crate::meta::take_varint(&header[HEADER_LEN..])
            && len <= crate::meta::MAX_METADATA_LEN as u64
        {
            let start = header.len();
            header.resize(start + len as usize, 0);
            raw.read_exact(&mut header[start..]).map_err(from_io)?;
        }
    }
    let parsed = frame::check_header(&header)?;
    let flags = parsed.flags;
    let version = parsed.version;
    let mut hasher = Xxh3::new();
    hasher.update(&header);
    let mut chunks = ChunkReader {
        inner: &mut raw,
        hasher: &mut hasher,
        left_in_chunk: 0,
        done: false,
    };
    let result = if flags & frame::FLAG_ENCRYPTED != 0 {
        decode_encrypted(&mut chunks, &header, flags, opts, version, read)
    } else {
        decode_body(&mut chunks, flags, opts, version, read)
    };
    if result.is_err() {
        // The body did not decode. If the rest of the frame can be read, let the
        // checksum say whether the cause is corruption.
        let mut sink = [0u8; 8192];
        while !chunks.done {
            if chunks.read(&mut sink).is_err() {
                return result;
            }
        }
    }
    let mut stored = [0u8; 8];
    if let Err(e) = raw.read_exact(&mut stored) {
        return result.and(Err(from_io(e)));
    }
    let stored = u64::from_le_bytes(stored);
    let computed = hasher.digest();
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }
    let value = result?;
    if !raw.fill_buf()?.is_empty() {
        return Err(Error::TrailingBytes);
    }
    Ok(value)
}

/// Decodes a (decompressed, decrypted) body as the header's flags say.
fn decode_body<T>(
    body: &mut dyn Read,
    flags: u8,
    opts: &DecodeOptions,
    version: u8,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    if flags & FLAG_ZSTD != 0 {
        decode_compressed(body, opts, version, read)
    } else if flags & FLAG_LZ4 != 0 {
        decode_lz4(body, opts, version, read)
    } else {
        read_body(body, opts, version, read)
    }
}

#[cfg(feature = "encryption")]
fn decode_encrypted<T>(
    chunks: &mut dyn Read,
    header: &[u8],
    flags: u8,
    opts: &DecodeOptions,
    version: u8,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    let key = frame::body_key(header, opts)?;
    let mut body = OpenReader::new(chunks, key, header)?;
    decode_body(&mut body, flags, opts, version, read)
}

#[cfg(not(feature = "encryption"))]
fn decode_encrypted<T>(
    _chunks: &mut dyn Read,
    _header: &[u8],
    _flags: u8,
    _opts: &DecodeOptions,
    _version: u8,
    _read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    Err(Error::Encrypted)
}

/// Decrypts an encrypted body a segment at a time: a segment's plaintext is handed on
/// only once its tag has been checked.
#[cfg(feature = "encryption")]
struct OpenReader<'a> {
    inner: &'a mut dyn Read,
    opener: crate::crypt::Opener,
    /// The segment being gathered (ciphertext), then handed out (plaintext).
    segment: Vec<u8>,
    pos: usize,
    /// The byte read past a full segment, which showed that it was not the last.
    carry: Option<u8>,
    ended: bool,
}

#[cfg(feature = "encryption")]
impl<'a> OpenReader<'a> {
    fn new(
        inner: &'a mut dyn Read,
        key: &crate::crypt::EncryptionKey,
        header: &[u8],
    ) -> Result<Self> {
        let mut nonce = [0u8; crate::crypt::NONCE_LEN];
        match inner.read_exact(&mut nonce) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(Error::AuthenticationFailed {
                    key_id: key.id().into(),
                });
            }
            Err(e) => return Err(from_io(e)),
        }
        Ok(Self {
            inner,
            opener: crate::crypt::Opener::new(key, header, nonce),
            segment: Vec::with_capacity(crate::crypt::SEGMENT + crate::crypt::TAG_LEN + 1),
            pos: 0,
            carry: None,
            ended: false,
        })
    }
}

#[cfg(feature = "encryption")]
impl Read for OpenReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.segment.len() {
                let n = buf.len().min(self.segment.len() - self.pos);
                buf[..n].copy_from_slice(&self.segment[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            self.segment.clear();
            self.pos = 0;
            self.segment.extend(self.carry.take());
            let want = crate::crypt::SEGMENT + crate::crypt::TAG_LEN + 1;
            while self.segment.len() < want {
                let filled = self.segment.len();
                self.segment.resize(want, 0);
                let n = match self.inner.read(&mut self.segment[filled..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => {
                        self.segment.clear();
                        return Err(e);
                    }
                };
                self.segment.truncate(filled + n);
                if n == 0 && self.segment.len() == filled {
                    break;
                }
            }
            let last = self.segment.len() < want;
            if !last {
                self.carry = self.segment.pop();
            }
            if let Err(e) = self.opener.open(&mut self.segment, last) {
                self.segment.clear();
                return Err(to_io(e));
            }
            self.ended = last;
        }
    }
}

#[cfg(feature = "zstd")]
fn decode_compressed<T>(
    chunks: &mut dyn Read,
    opts: &DecodeOptions,
    version: u8,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    let decoder =
        zstd::stream::read::Decoder::new(chunks).map_err(|e| Error::Compression(e.to_string()))?;
    let mut limited = LimitReader {
        inner: decoder,
        left: opts.max_decompressed_size,
        limit: opts.max_decompressed_size,
    };
    // The decompressed stream is never held whole: only the values built count.
    read_body(&mut limited, opts, version, read)
}

#[cfg(not(feature = "zstd"))]
fn decode_compressed<T>(
    _chunks: &mut dyn Read,
    _opts: &DecodeOptions,
    _version: u8,
    _read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    Err(Error::CompressionUnsupported)
}

#[cfg(feature = "lz4")]
fn decode_lz4<T>(
    chunks: &mut dyn Read,
    opts: &DecodeOptions,
    version: u8,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    let value = {
        let mut limited = LimitReader {
            inner: lz4_flex::frame::FrameDecoder::new(&mut *chunks),
            left: opts.max_decompressed_size,
            limit: opts.max_decompressed_size,
        };
        read_body(&mut limited, opts, version, read)?
    };
    // The decoder stops at the end of its frame: the rest of the body (the terminating
    // chunk, at least) is read and hashed here; compressed bytes past the frame are
    // trailing.
    let mut rest = [0u8; 64];
    if chunks.read(&mut rest).map_err(from_io)? != 0 {
        return Err(Error::TrailingBytes);
    }
    Ok(value)
}

#[cfg(not(feature = "lz4"))]
fn decode_lz4<T>(
    _chunks: &mut dyn Read,
    _opts: &DecodeOptions,
    _version: u8,
    _read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    Err(Error::CompressionUnsupported)
}

fn read_body<T>(
    body: &mut dyn Read,
    opts: &DecodeOptions,
    version: u8,
    read: impl FnOnce(&mut Reader<StreamInput<&mut dyn Read>>) -> Result<T>,
) -> Result<T> {
    let mut reader = Reader::new(StreamInput::new(body), opts.max_depth, version)
        .with_memory_budget(opts.max_memory, 0)
        .with_registry(opts.registry.clone());
    let value = read(&mut reader)?;
    // Reaching the body's end also consumes (and hashes) the terminating chunk.
    if reader.input.peek_u8()?.is_some() {
        return Err(Error::TrailingBytes);
    }
    Ok(value)
}
