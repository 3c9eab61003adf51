//! Encoding and decoding in two steps, for callers that must hold a lock while they walk
//! their values but not while bytes are compressed, checksummed or encrypted (a Python
//! binding holding the GIL, say).

use alloc::vec::Vec;

use crate::frame;
use crate::{DecodeOptions, EncodeOptions, Result, Value};

/// A body serialized by [`EncodeOptions::to_body`], not yet a snapshot: compression,
/// encryption and the checksum are still to come, in [`finish`](Self::finish).
///
/// ```
/// use snapshot_codec::{EncodeOptions, Value};
///
/// let body = EncodeOptions::new().to_body(&vec!["walked", "now"])?;
/// let bytes = body.finish()?; // may run on another thread
/// assert_eq!(snapshot_codec::decode(&bytes)?, Value::from(vec!["walked", "now"]));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Debug)]
pub struct EncodedBody {
    out: Vec<u8>,
    header_len: usize,
    opts: EncodeOptions,
}

impl EncodedBody {
    /// The body's length before compression.
    pub fn len(&self) -> usize {
        self.out.len() - self.header_len - frame::CHUNK_HEADER_LEN
    }

    /// Whether the body is empty (it never is: every value takes a byte).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compresses, encrypts and checksums the body as the options ask: the complete
    /// snapshot, the bytes [`EncodeOptions::to_vec`] would have returned.
    ///
    /// # Errors
    /// [`Error::CompressionUnsupported`](crate::Error::CompressionUnsupported) when the
    /// options ask for a compression this build lacks; an encryption failure.
    pub fn finish(self) -> Result<Vec<u8>> {
        frame::finish_frame(self.out, self.header_len, &self.opts)
    }
}

impl EncodeOptions {
    /// Serializes `value` into a body and stops there: [`EncodedBody::finish`] makes the
    /// snapshot. `to_body(v)?.finish()` is [`to_vec(v)`](Self::to_vec).
    ///
    /// # Errors
    /// As [`to_vec`](Self::to_vec), but for compression and encryption.
    pub fn to_body<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<EncodedBody> {
        self.to_body_with_capacity(value, 0)
    }

    /// [`to_body`](Self::to_body) into a buffer that starts with room for `capacity`
    /// bytes of body: a caller that knows a value holds large blocks (the Python package
    /// sums its numpy arrays) saves the buffer's growing by doubling, which copies what
    /// was written so far each time. A wrong estimate costs nothing but memory or growth.
    ///
    /// ```
    /// use snapshot_codec::{EncodeOptions, Value};
    ///
    /// let weights = vec![0.5f32; 100_000];
    /// let body = EncodeOptions::new().to_body_with_capacity(&weights, 400_016)?;
    /// let back: Vec<f32> = snapshot_codec::from_slice(&body.finish()?)?;
    /// assert_eq!(back, weights);
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`to_body`](Self::to_body).
    pub fn to_body_with_capacity<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        capacity: usize,
    ) -> Result<EncodedBody> {
        let (out, header_len) = frame::write_body(self, capacity, |w| value.serialize(w))?;
        Ok(EncodedBody {
            out,
            header_len,
            opts: self.clone(),
        })
    }
}

/// A snapshot whose frame and checksum were checked and whose body was decrypted and
/// decompressed by [`DecodeOptions::open`]; reading its value is the second step.
///
/// ```
/// use snapshot_codec::{DecodeOptions, Value};
///
/// let bytes = snapshot_codec::to_vec(&("text", 42))?;
/// let opened = DecodeOptions::new().open(&bytes)?; // may run on another thread
/// assert_eq!(opened.decode()?, Value::from(vec![Value::from("text"), Value::from(42)]));
/// let pair: (String, u32) = opened.deserialize_seed(std::marker::PhantomData)?;
/// assert_eq!(pair, ("text".to_string(), 42));
/// assert!(DecodeOptions::new().open(&bytes[..bytes.len() - 1]).is_err()); // truncated
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Debug)]
pub struct OpenedSnapshot<'a> {
    body: frame::Body<'a>,
    version: u8,
    opts: DecodeOptions,
}

impl DecodeOptions {
    /// Checks the frame and checksum of a snapshot held in memory, decrypts and
    /// decompresses its body, and stops before reading it.
    ///
    /// # Errors
    /// As [`decode`](Self::decode) for everything but the body's content.
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<OpenedSnapshot<'a>> {
        let (body, version) = frame::open_slice(bytes, self)?;
        Ok(OpenedSnapshot {
            body,
            version,
            opts: self.clone(),
        })
    }
}

impl OpenedSnapshot<'_> {
    /// Owns its body (copying it only when it was read in place, uncompressed and
    /// unencrypted), so it outlives the bytes it was opened from.
    pub fn into_owned(self) -> OpenedSnapshot<'static> {
        OpenedSnapshot {
            body: self.body.into_owned(),
            version: self.version,
            opts: self.opts,
        }
    }

    /// The body's length after decompression.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// Reads the value as a dynamic [`Value`].
    ///
    /// # Errors
    /// As [`DecodeOptions::decode`].
    pub fn decode(&self) -> Result<Value> {
        frame::read_opened!(&self.body, self.version, &self.opts, |r| r.read_value())
    }

    /// Reads the value through a serde seed: a [`DeserializeSeed`](serde::de::DeserializeSeed)
    /// carries state into deserialization (a `PhantomData<T>` reads a plain `T`).
    ///
    /// # Errors
    /// As [`DecodeOptions::from_slice`].
    pub fn deserialize_seed<'s, S: serde::de::DeserializeSeed<'s>>(
        &'s self,
        seed: S,
    ) -> Result<S::Value> {
        frame::read_opened!(&self.body, self.version, &self.opts, |r| seed
            .deserialize(r))
    }
}
