//! [`Metadata`]: the header section of a format 2 snapshot, readable without the body.

use alloc::{collections::BTreeMap, string::String, vec::Vec};

use crate::{Error, Result};

/// The largest metadata section a snapshot may carry, in bytes (64 KiB).
pub const MAX_METADATA_LEN: usize = 64 * 1024;

const FIELD_CREATED: u8 = 1;
const FIELD_STEP: u8 = 2;
const FIELD_LABEL: u8 = 3;
const FIELD_KEY: u8 = 4;
const FIELD_SEALED: u8 = 5;

/// What a snapshot says about itself in its header: when it was made, an application
/// step number, and labels. It sits before the body, uncompressed, so it can be read
/// from the first bytes of a snapshot ([`read_metadata`]) without reading, decompressing
/// or decoding the body; the checksum covers it like every other byte.
///
/// Its encoded size is at most [`MAX_METADATA_LEN`]; writing more is
/// [`Error::InvalidMetadata`].
///
/// ```
/// use snapshot_codec::{EncodeOptions, Metadata, value};
///
/// let meta = Metadata::new()
///     .with_step(1200)
///     .with_label("run", "42")
///     .with_label("tag", "nightly");
/// let bytes = EncodeOptions::new().with_metadata(meta.clone()).encode(&value!({"w": 1}))?;
/// assert_eq!(snapshot_codec::read_metadata(&bytes[..40])?, Some(meta)); // the first 40 bytes hold it
/// assert_eq!(snapshot_codec::decode(&bytes)?, value!({"w": 1}));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// When the snapshot was made, in microseconds since the Unix epoch (UTC).
    pub created_micros: Option<i64>,
    /// A step or sequence number of the application (a training step, a batch number).
    pub step: Option<u64>,
    /// Labels: text keys to text values, ordered by key.
    pub labels: BTreeMap<String, String>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the creation time, in microseconds since the Unix epoch.
    pub fn with_created_micros(mut self, micros: i64) -> Self {
        self.created_micros = Some(micros);
        self
    }

    /// Sets the step number.
    pub fn with_step(mut self, step: u64) -> Self {
        self.step = Some(step);
        self
    }

    /// Adds (or replaces) a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.created_micros.is_none() && self.step.is_none() && self.labels.is_empty()
    }

    /// The section's fields (without its length prefix).
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(micros) = self.created_micros {
            field(&mut out, FIELD_CREATED, &micros.to_le_bytes());
        }
        if let Some(step) = self.step {
            field(&mut out, FIELD_STEP, &step.to_le_bytes());
        }
        for (key, value) in &self.labels {
            if key.is_empty() {
                return Err(Error::InvalidMetadata {
                    reason: "a label key is empty".into(),
                });
            }
            let mut payload = Vec::with_capacity(key.len() + value.len() + 2);
            push_varint(&mut payload, key.len() as u64);
            payload.extend_from_slice(key.as_bytes());
            payload.extend_from_slice(value.as_bytes());
            field(&mut out, FIELD_LABEL, &payload);
        }
        if out.len() > MAX_METADATA_LEN {
            return Err(Error::InvalidMetadata {
                reason: alloc::format!(
                    "{} bytes, more than the {MAX_METADATA_LEN} a header holds",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// Parses plain fields (no key, nothing sealed); fields of unknown ids are skipped.
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let section = Section::parse(bytes)?;
        if section.key.is_some() || section.sealed.is_some() {
            return Err(Error::InvalidMetadata {
                reason: "sealed fields hold another key or sealed section".into(),
            });
        }
        Ok(section.meta)
    }
}

/// The key field of an encrypted snapshot's metadata: the key check, then its id.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "encryption"), allow(dead_code))]
pub(crate) struct KeyField {
    pub(crate) id: String,
    pub(crate) check: [u8; 8],
    /// The field's payload, the additional data of the sealed fields.
    pub(crate) raw: Vec<u8>,
}

/// A parsed metadata section: its fields in the clear, the key field and the sealed
/// fields of an encrypted snapshot.
#[derive(Clone, Debug, Default)]
pub(crate) struct Section {
    pub(crate) meta: Metadata,
    pub(crate) key: Option<KeyField>,
    pub(crate) sealed: Option<Vec<u8>>,
}

impl Section {
    /// Parses a section's fields; fields of unknown ids are skipped.
    pub(crate) fn parse(mut bytes: &[u8]) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidMetadata {
            reason: reason.into(),
        };
        let mut section = Section::default();
        let meta = &mut section.meta;
        while let Some((&id, rest)) = bytes.split_first() {
            let (len, rest) =
                take_varint(rest).ok_or_else(|| bad("a field length is cut short"))?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= rest.len())
                .ok_or_else(|| bad("a field runs past the section"))?;
            let (payload, rest) = rest.split_at(len);
            bytes = rest;
            match id {
                FIELD_CREATED => {
                    let raw: [u8; 8] = payload
                        .try_into()
                        .map_err(|_| bad("the creation time is not 8 bytes"))?;
                    if meta
                        .created_micros
                        .replace(i64::from_le_bytes(raw))
                        .is_some()
                    {
                        return Err(bad("the creation time is given twice"));
                    }
                }
                FIELD_STEP => {
                    let raw: [u8; 8] = payload
                        .try_into()
                        .map_err(|_| bad("the step is not 8 bytes"))?;
                    if meta.step.replace(u64::from_le_bytes(raw)).is_some() {
                        return Err(bad("the step is given twice"));
                    }
                }
                FIELD_LABEL => {
                    let (klen, rest) =
                        take_varint(payload).ok_or_else(|| bad("a label is cut short"))?;
                    let klen = usize::try_from(klen)
                        .ok()
                        .filter(|&l| l > 0 && l <= rest.len())
                        .ok_or_else(|| bad("a label key is empty or runs past its field"))?;
                    let (key, value) = rest.split_at(klen);
                    let key = core::str::from_utf8(key).map_err(|_| Error::InvalidUtf8)?;
                    let value = core::str::from_utf8(value).map_err(|_| Error::InvalidUtf8)?;
                    if meta.labels.insert(key.into(), value.into()).is_some() {
                        return Err(Error::InvalidMetadata {
                            reason: alloc::format!("the label {key:?} is given twice"),
                        });
                    }
                }
                FIELD_KEY => {
                    if payload.len() <= 8 {
                        return Err(bad("the key field is shorter than its check and id"));
                    }
                    let (check, id) = payload.split_at(8);
                    let id = core::str::from_utf8(id).map_err(|_| Error::InvalidUtf8)?;
                    let mut c = [0u8; 8];
                    c.copy_from_slice(check);
                    let field = KeyField {
                        id: id.into(),
                        check: c,
                        raw: payload.to_vec(),
                    };
                    if section.key.replace(field).is_some() {
                        return Err(bad("the key field is given twice"));
                    }
                }
                FIELD_SEALED => {
                    if section.sealed.is_some() {
                        return Err(bad("the sealed fields are given twice"));
                    }
                    section.sealed = Some(payload.to_vec());
                }
                _ => {}
            }
        }
        if section.sealed.is_some() && section.key.is_none() {
            return Err(bad("sealed fields without a key field"));
        }
        Ok(section)
    }

    /// The metadata, its sealed fields decrypted with a key from `keys`.
    #[allow(unused_variables)]
    pub(crate) fn open(self, keys: &crate::options::Keys) -> Result<Metadata> {
        let Some(sealed) = self.sealed else {
            return Ok(self.meta);
        };
        #[cfg(feature = "encryption")]
        {
            let field = self.key.as_ref().ok_or(Error::Encrypted)?;
            let key = keys.resolve(&field.id, &field.check)?;
            let fields = crate::crypt::open_fields(key, &field.raw, &sealed)?;
            let inner = Metadata::from_bytes(&fields)?;
            if !self.meta.is_empty() {
                return Err(Error::InvalidMetadata {
                    reason: "fields both sealed and in the clear".into(),
                });
            }
            Ok(inner)
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = sealed;
            Err(Error::Encrypted)
        }
    }
}

/// The metadata section's fields for `meta`, encrypted with `key` unless `clear`.
#[allow(unused_variables)]
pub(crate) fn section_bytes(
    meta: Option<&Metadata>,
    key: Option<&crate::options::KeyArc>,
    clear: bool,
) -> Result<Option<Vec<u8>>> {
    let fields = match meta.filter(|m| !m.is_empty()) {
        Some(m) => m.to_bytes()?,
        None => Vec::new(),
    };
    #[cfg(feature = "encryption")]
    if let Some(key) = key {
        let mut key_field = Vec::with_capacity(8 + key.id().len());
        key_field.extend_from_slice(&key.check());
        key_field.extend_from_slice(key.id().as_bytes());
        let mut out = Vec::new();
        field(&mut out, FIELD_KEY, &key_field);
        if clear {
            out.extend_from_slice(&fields);
        } else if !fields.is_empty() {
            let sealed = crate::crypt::seal_fields(key, &key_field, &fields)?;
            field(&mut out, FIELD_SEALED, &sealed);
        }
        if out.len() > MAX_METADATA_LEN {
            return Err(Error::InvalidMetadata {
                reason: alloc::format!(
                    "{} bytes, more than the {MAX_METADATA_LEN} a header holds",
                    out.len()
                ),
            });
        }
        return Ok(Some(out));
    }
    Ok((!fields.is_empty()).then_some(fields))
}

fn field(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    push_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

pub(crate) fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint at the start of `bytes` and what follows it; `None` when cut short or
/// invalid.
pub(crate) fn take_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut result = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return None;
        }
        result |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            return Some((result, &bytes[i + 1..]));
        }
    }
    None
}

/// Reads the metadata of a snapshot from its first bytes, without its body or checksum:
/// `None` for a snapshot without metadata (every version 1 snapshot).
///
/// The section ends at most `6 + 3 +` [`MAX_METADATA_LEN`] bytes into the snapshot, so
/// a caller fetching a prefix of that size (or the whole snapshot) always has it; a
/// shorter prefix that cuts the section is [`Error::Truncated`]. The checksum is not
/// verified here (it covers the whole snapshot): a full decode does that. An encrypted
/// snapshot whose metadata is sealed needs its key:
/// [`DecodeOptions::read_metadata`](crate::DecodeOptions::read_metadata).
///
/// # Errors
/// [`Error::NotASnapshot`], [`Error::UnsupportedVersion`], [`Error::UnsupportedFlags`],
/// [`Error::Truncated`], [`Error::InvalidMetadata`]; [`Error::KeyMissing`] for sealed
/// metadata.
pub fn read_metadata(prefix: &[u8]) -> Result<Option<Metadata>> {
    crate::DecodeOptions::default().read_metadata(prefix)
}

/// How many bytes a snapshot's header takes (magic, version, flags and metadata
/// section), read from its first bytes: a header reader fetches this prefix (at most
/// `6 + 3 +` [`MAX_METADATA_LEN`] bytes) and no more.
///
/// ```
/// use snapshot_codec::{EncodeOptions, Metadata, value};
///
/// let bytes = EncodeOptions::new()
///     .with_metadata(Metadata::new().with_label("tag", "nightly"))
///     .encode(&value!([1, 2, 3]))?;
/// let len = snapshot_codec::header_len(&bytes[..64.min(bytes.len())])?;
/// assert!(snapshot_codec::read_metadata(&bytes[..len])?.is_some());
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
///
/// # Errors
/// [`Error::Truncated`] when `prefix` ends inside the header (fetch more); as
/// [`read_metadata`] otherwise.
pub fn header_len(prefix: &[u8]) -> Result<usize> {
    Ok(crate::frame::check_header(prefix)?.len)
}

/// The parsed metadata section of a snapshot's first bytes, if it has one.
pub(crate) fn read_section(prefix: &[u8]) -> Result<Option<Section>> {
    let header = crate::frame::check_header(prefix)?;
    let section = match header.metadata {
        None => None,
        Some((start, end)) => Some(Section::parse(&prefix[start..end])?),
    };
    // check_header has checked the section's fields and its key field against the flags.
    Ok(section)
}

/// The id of the key a snapshot is encrypted under, from its first bytes (as
/// [`read_metadata`] reads them): `None` for a snapshot that is not encrypted.
///
/// ```
/// # #[cfg(feature = "encryption")] {
/// use snapshot_codec::{EncodeOptions, EncryptionKey, value};
///
/// let key = EncryptionKey::generate("config")?;
/// let bytes = EncodeOptions::new().with_encryption(key).encode(&value!({"api_key": "s3cret"}))?;
/// assert_eq!(snapshot_codec::encryption_key_id(&bytes)?.as_deref(), Some("config"));
/// assert_eq!(snapshot_codec::encryption_key_id(&snapshot_codec::encode(&value!(1))?)?, None);
/// # }
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
///
/// # Errors
/// As [`read_metadata`].
pub fn encryption_key_id(prefix: &[u8]) -> Result<Option<String>> {
    Ok(read_section(prefix)?.and_then(|s| s.key).map(|k| k.id))
}
