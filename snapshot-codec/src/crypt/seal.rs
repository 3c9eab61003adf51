//! Sealing and opening bodies and metadata: segments of 64 KiB, each authenticated, with
//! the counter and the last-segment bit in its nonce.

use alloc::{string::String, vec::Vec};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::*;
use crate::{Error, Result};

fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| invalid(&alloc::format!("no random numbers: {e}")))?;
    Ok(nonce)
}

fn segment_nonce(base: &[u8; NONCE_LEN], index: u64, last: bool) -> XNonce {
    let mut nonce = *base;
    let counter = (index << 1 | u64::from(last)).to_le_bytes();
    for (n, c) in nonce[NONCE_LEN - 8..].iter_mut().zip(counter) {
        *n ^= c;
    }
    XNonce::from(nonce)
}

/// Encrypts one segment in place and returns its tag.
fn seal_segment(
    cipher: &XChaCha20Poly1305,
    base: &[u8; NONCE_LEN],
    index: u64,
    last: bool,
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let nonce = segment_nonce(base, index, last);
    let tag = cipher
        .encrypt_in_place_detached(&nonce, aad, data)
        .map_err(|_| Error::Message("encryption failed".into()))?;
    Ok(tag.into())
}

/// Encrypts a body a batch of segments at a time, on a helper thread when one can be
/// started, so that a streaming writer's encoding and compression go on while
/// segments are sealed.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    base: [u8; NONCE_LEN],
    /// The next segment's index (inline sealing only).
    index: u64,
    header: Vec<u8>,
    worker: Option<SealWorker>,
}

/// The helper thread: batches of plaintext go in, sealed batches come back in order.
struct SealWorker {
    to: Option<std::sync::mpsc::SyncSender<(Vec<u8>, bool)>>,
    from: std::sync::mpsc::Receiver<Result<Vec<u8>>>,
    in_flight: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Plaintext handed over at a time: four segments (one wake-up of the helper per
/// 256 KiB rather than per 64 KiB).
pub(crate) const SEAL_BATCH: usize = 4 * SEGMENT;
/// Batches handed to the helper thread before the writer waits for one back.
const SEALS_IN_FLIGHT: usize = 4;

/// Seals `plain` (whole segments, but for a shorter last one when `last`) as the
/// segments from `index` on; returns them with their tags, and the next index.
fn seal_batch(
    cipher: &XChaCha20Poly1305,
    base: &[u8; NONCE_LEN],
    header: &[u8],
    mut index: u64,
    plain: &[u8],
    last: bool,
) -> Result<(Vec<u8>, u64)> {
    let pieces = plain.len().div_ceil(SEGMENT).max(1);
    let mut out = Vec::with_capacity(plain.len() + pieces * TAG_LEN);
    let mut rest = plain;
    for i in 0..pieces {
        let take = rest.len().min(SEGMENT);
        let start = out.len();
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        let aad = if index == 0 { header } else { &[] };
        let is_last = last && i + 1 == pieces;
        let tag = seal_segment(cipher, base, index, is_last, aad, &mut out[start..])?;
        out.extend_from_slice(&tag);
        index += 1;
    }
    Ok((out, index))
}

impl Sealer {
    /// A sealer for the body after `header`, and the nonce that starts that body.
    pub(crate) fn new(key: &EncryptionKey, header: &[u8]) -> Result<(Self, [u8; NONCE_LEN])> {
        let base = random_nonce()?;
        let sealer = Self {
            cipher: key.cipher(),
            base,
            index: 0,
            header: header.to_vec(),
            worker: None,
        };
        Ok((sealer, base))
    }

    /// Starts the helper thread (batches are sealed inline if it cannot start).
    pub(crate) fn threaded(mut self) -> Self {
        let (to, inbox) = std::sync::mpsc::sync_channel::<(Vec<u8>, bool)>(SEALS_IN_FLIGHT);
        let (outbox, from) = std::sync::mpsc::sync_channel(SEALS_IN_FLIGHT + 1);
        let (cipher, base, header) = (self.cipher.clone(), self.base, self.header.clone());
        let spawned = std::thread::Builder::new()
            .name("snapshot-seal".into())
            .spawn(move || {
                let mut index = 0;
                for (plain, last) in inbox {
                    let sealed = seal_batch(&cipher, &base, &header, index, &plain, last).map(
                        |(sealed, next)| {
                            index = next;
                            sealed
                        },
                    );
                    if outbox.send(sealed).is_err() {
                        return;
                    }
                }
            });
        if let Ok(thread) = spawned {
            self.worker = Some(SealWorker {
                to: Some(to),
                from,
                in_flight: 0,
                thread: Some(thread),
            });
        }
        self
    }

    /// Seals `plain` (a multiple of [`SEGMENT`] bytes, [`SEAL_BATCH`] at most, unless
    /// it is the `last` batch): inline, the sealed batch is handed to `emit` at once;
    /// threaded, it is sent to the helper, and `emit` gets the sealed batches that are
    /// ready, in order (`last` waits for all of them). Returns a cleared buffer to
    /// fill next.
    pub(crate) fn seal(
        &mut self,
        plain: Vec<u8>,
        last: bool,
        mut emit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let Some(worker) = &mut self.worker else {
            let (sealed, next) = seal_batch(
                &self.cipher,
                &self.base,
                &self.header,
                self.index,
                &plain,
                last,
            )?;
            self.index = next;
            emit(&sealed)?;
            let mut plain = plain;
            plain.clear();
            return Ok(plain);
        };
        let gone = || Error::Message("the encryption thread stopped".into());
        worker
            .to
            .as_ref()
            .ok_or_else(gone)?
            .send((plain, last))
            .map_err(|_| gone())?;
        worker.in_flight += 1;
        while worker.in_flight > 0 {
            let must_wait = last || worker.in_flight >= SEALS_IN_FLIGHT;
            let sealed = if must_wait {
                worker.from.recv().map_err(|_| gone())?
            } else {
                match worker.from.try_recv() {
                    Ok(sealed) => sealed,
                    Err(_) => break,
                }
            };
            worker.in_flight -= 1;
            emit(&sealed?)?;
        }
        Ok(Vec::with_capacity(SEAL_BATCH))
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        if let Some(worker) = &mut self.worker {
            // Closing the inbox ends the helper once it has sealed what it holds.
            worker.to = None;
            while worker.from.recv().is_ok() {}
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Encrypts a whole body into `out` (the nonce, then its segments), the segments
/// sealed in place, on several threads for a large body.
pub(crate) fn seal_body_into(
    key: &EncryptionKey,
    header: &[u8],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let base = random_nonce()?;
    let segments = body.len().div_ceil(SEGMENT).max(1);
    out.reserve(NONCE_LEN + body.len() + segments * TAG_LEN);
    out.extend_from_slice(&base);
    let start = out.len();
    if body.is_empty() {
        out.extend_from_slice(&[0; TAG_LEN]);
    }
    for piece in body.chunks(SEGMENT) {
        out.extend_from_slice(piece);
        out.extend_from_slice(&[0; TAG_LEN]);
    }
    let cipher = key.cipher();
    let sealed = &mut out[start..];
    let seal_range = |first: usize, region: &mut [u8]| -> Result<()> {
        for (i, segment) in region.chunks_mut(SEGMENT + TAG_LEN).enumerate() {
            let index = first + i;
            let split = segment.len() - TAG_LEN;
            let (data, tag) = segment.split_at_mut(split);
            let aad = if index == 0 { header } else { &[] };
            let last = index + 1 == segments;
            tag.copy_from_slice(&seal_segment(
                &cipher,
                &base,
                index as u64,
                last,
                aad,
                data,
            )?);
        }
        Ok(())
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4)
        .min(segments / 16)
        .max(1);
    if threads == 1 {
        return seal_range(0, sealed);
    }
    let per = segments.div_ceil(threads);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (t, region) in sealed.chunks_mut(per * (SEGMENT + TAG_LEN)).enumerate() {
            let seal_range = &seal_range;
            handles.push(scope.spawn(move || seal_range(t * per, region)));
        }
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Message("encryption failed".into())))
        })
    })
}

/// Decrypts a body a segment at a time.
pub(crate) struct Opener {
    cipher: XChaCha20Poly1305,
    base: [u8; NONCE_LEN],
    index: u64,
    header: Option<Vec<u8>>,
    key_id: String,
}

impl Opener {
    pub(crate) fn new(key: &EncryptionKey, header: &[u8], nonce: [u8; NONCE_LEN]) -> Self {
        Self {
            cipher: key.cipher(),
            base: nonce,
            index: 0,
            header: Some(header.to_vec()),
            key_id: key.id.clone(),
        }
    }

    fn failed(&self) -> Error {
        Error::AuthenticationFailed {
            key_id: self.key_id.clone(),
        }
    }

    /// Decrypts `segment` (ciphertext and tag) in place, leaving the plaintext.
    pub(crate) fn open(&mut self, segment: &mut Vec<u8>, last: bool) -> Result<()> {
        if segment.len() < TAG_LEN {
            return Err(self.failed());
        }
        let split = segment.len() - TAG_LEN;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&segment[split..]);
        segment.truncate(split);
        let nonce = segment_nonce(&self.base, self.index, last);
        let aad = self.header.take().unwrap_or_default();
        self.cipher
            .decrypt_in_place_detached(&nonce, &aad, segment, (&tag).into())
            .map_err(|_| self.failed())?;
        self.index += 1;
        Ok(())
    }
}

/// Decrypts a whole body (the nonce, then its segments).
pub(crate) fn open_body(key: &EncryptionKey, header: &[u8], body: &[u8]) -> Result<Vec<u8>> {
    let failed = || Error::AuthenticationFailed {
        key_id: key.id.clone(),
    };
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(failed());
    }
    let (nonce, mut rest) = body.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    let mut opener = Opener::new(key, header, n);
    let mut out = Vec::with_capacity(rest.len());
    let mut segment = Vec::with_capacity(SEGMENT + TAG_LEN);
    loop {
        let last = rest.len() <= SEGMENT + TAG_LEN;
        let take = if last { rest.len() } else { SEGMENT + TAG_LEN };
        segment.clear();
        segment.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        opener.open(&mut segment, last)?;
        out.extend_from_slice(&segment);
        if last {
            return Ok(out);
        }
    }
}

/// Encrypts metadata fields: nonce, then ciphertext and tag; `aad` is the key field.
pub(crate) fn seal_fields(key: &EncryptionKey, aad: &[u8], fields: &[u8]) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut out = Vec::with_capacity(NONCE_LEN + fields.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let mut buf = fields.to_vec();
    let tag = key
        .cipher()
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, &mut buf)
        .map_err(|_| Error::Message("encryption failed".into()))?;
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Decrypts what [`seal_fields`] wrote.
pub(crate) fn open_fields(key: &EncryptionKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let failed = || Error::AuthenticationFailed {
        key_id: key.id.clone(),
    };
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(failed());
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut buf = ct.to_vec();
    key.cipher()
        .decrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut buf, tag.into())
        .map_err(|_| failed())?;
    Ok(buf)
}
