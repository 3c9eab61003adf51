//! Encryption at rest (feature `encryption`): keys, keyrings, and the sealing of bodies
//! and metadata with XChaCha20-Poly1305.
//!
//! ```text
//! encrypted body = nonce (24) | segment 0 | segment 1 | ... | segment n (last)
//! segment        = XChaCha20-Poly1305(plaintext of 64 KiB, or 0..=64 KiB for the last) | tag (16)
//! nonce of segment i = nonce with its last 8 bytes XORed with (i << 1 | last) as u64 LE
//! additional data    = the header (magic to the end of the metadata section) for segment 0
//! ```
//!
//! The counter stops segments from being reordered or dropped, the last-segment bit
//! from being cut off, and the header in segment 0's additional data from being moved
//! to another body.

use alloc::{borrow::ToOwned, string::String, sync::Arc, vec::Vec};
use core::fmt;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::{Error, Result};

mod seal;
pub(crate) use seal::*;

/// Plaintext bytes per encrypted segment.
pub(crate) const SEGMENT: usize = 64 * 1024;
/// The Poly1305 tag that ends each segment.
pub(crate) const TAG_LEN: usize = 16;
/// The random nonce that starts an encrypted body or sealed metadata.
pub(crate) const NONCE_LEN: usize = 24;
/// The key check stored in the header: enough to tell a wrong key from a tampered body.
pub(crate) const CHECK_LEN: usize = 8;
const KEY_TEXT_PREFIX: &str = "snapshot-key:";
/// The longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 64;
const CHECK_NONCE: &[u8; NONCE_LEN] = b"snapshot key check v1\0\0\0";

/// A 256-bit key for encrypting snapshots, with the id that names it in every snapshot
/// it encrypts (the id is stored in the clear; the key never is).
///
/// The key bytes are zeroized when the key is dropped and never shown by `Debug`. Its
/// text form (`snapshot-key:<id>:<64 hex digits>`, see [`to_text`](Self::to_text) and
/// `FromStr`) is what key files and the `SNAPSHOT_KEY` variable hold.
///
/// ```
/// use snapshot_codec::EncryptionKey;
///
/// let key = EncryptionKey::generate("backup-2026")?;
/// assert_eq!(key.id(), "backup-2026");
/// let text = key.to_text();
/// assert!(text.starts_with("snapshot-key:backup-2026:"));
/// let again: EncryptionKey = text.parse()?;
/// assert_eq!(again.id(), key.id());
/// assert!(!format!("{key:?}").contains(&text[25..])); // Debug shows the id only
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    secret: Zeroizing<[u8; 32]>,
    check: [u8; CHECK_LEN],
}

impl EncryptionKey {
    /// A key from its 32 bytes and its id (1 to 64 bytes of ASCII letters, digits,
    /// `.`, `_` and `-`).
    ///
    /// # Errors
    /// [`Error::InvalidEncryptionKey`] for an invalid id.
    pub fn new(id: impl Into<String>, secret: [u8; 32]) -> Result<Self> {
        let secret = Zeroizing::new(secret);
        let id = id.into();
        check_key_id(&id)?;
        let cipher = XChaCha20Poly1305::new((&*secret).into());
        let mut empty = [0u8; 0];
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(CHECK_NONCE), id.as_bytes(), &mut empty)
            .map_err(|_| invalid("the key check could not be computed"))?;
        let mut check = [0u8; CHECK_LEN];
        check.copy_from_slice(&tag[..CHECK_LEN]);
        Ok(Self { id, secret, check })
    }

    /// A new random key (from the operating system's generator) named `id`.
    ///
    /// # Errors
    /// [`Error::InvalidEncryptionKey`] for an invalid id or when the operating system
    /// gives no random numbers.
    pub fn generate(id: impl Into<String>) -> Result<Self> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *secret)
            .map_err(|e| invalid(&alloc::format!("no random numbers: {e}")))?;
        Self::new(id, *secret)
    }

    /// The key's id, as stored in the snapshots it encrypts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's text form, `snapshot-key:<id>:<64 hex digits>` (zeroized on drop).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(KEY_TEXT_PREFIX.len() + 66 + 64));
        text.push_str(KEY_TEXT_PREFIX);
        text.push_str(&self.id);
        text.push(':');
        for b in self.secret.iter() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
        text
    }

    pub(crate) fn check(&self) -> [u8; CHECK_LEN] {
        self.check
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.secret).into())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl core::str::FromStr for EncryptionKey {
    type Err = Error;

    /// Parses `snapshot-key:<id>:<64 hex digits>` (surrounding whitespace ignored).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let rest = text
            .strip_prefix(KEY_TEXT_PREFIX)
            .ok_or_else(|| invalid("a key is written `snapshot-key:<id>:<64 hex digits>`"))?;
        let (id, hex) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("a key is written `snapshot-key:<id>:<64 hex digits>`"))?;
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return Err(invalid(&alloc::format!(
                "key {id:?} has {} hex digits, not 64",
                hex.len()
            )));
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => secret[i] = hi << 4 | lo,
                _ => return Err(invalid(&alloc::format!("key {id:?} is not hex"))),
            }
        }
        Self::new(id, *secret)
    }
}

fn check_key_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(&alloc::format!(
            "key id {id:?}: 1 to {MAX_KEY_ID_LEN} ASCII letters, digits, '.', '_' or '-'"
        )))
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidEncryptionKey {
        reason: reason.to_owned(),
    }
}

/// The keys a reader may decrypt with, and the one a writer encrypts with (the first,
/// the *current* key). Rotating keys: make the new key current and keep the old ones
/// for reading what they encrypted ([`with_old_key`](Self::with_old_key)).
///
/// Cloning is cheap (the keys are shared, and zeroized when the last clone drops).
///
/// ```
/// use snapshot_codec::{DecodeOptions, EncodeOptions, EncryptionKey, Keyring, value};
///
/// let old = EncryptionKey::generate("2025")?;
/// let new = EncryptionKey::generate("2026")?;
/// let before = EncodeOptions::new().with_encryption(old.clone()).encode(&value!("old"))?;
/// let after = EncodeOptions::new().with_encryption(new.clone()).encode(&value!("new"))?;
///
/// let keys = Keyring::new(new).with_old_key(old);
/// let reader = DecodeOptions::new().with_keyring(keys);
/// assert_eq!(reader.decode(&before)?, value!("old"));
/// assert_eq!(reader.decode(&after)?, value!("new"));
/// assert!(matches!(
///     snapshot_codec::decode(&after),
///     Err(snapshot_codec::Error::KeyMissing { key_id }) if key_id == "2026"
/// ));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<Arc<EncryptionKey>>,
}

impl Keyring {
    /// A keyring whose current key is `key`.
    pub fn new(key: EncryptionKey) -> Self {
        Self {
            keys: alloc::vec![Arc::new(key)],
        }
    }

    /// An empty keyring: encrypts nothing, decrypts nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds a key for reading only (an earlier key, after a rotation). A key with the
    /// id of one already held replaces it.
    pub fn with_old_key(mut self, key: EncryptionKey) -> Self {
        match self.keys.iter_mut().find(|k| k.id == key.id) {
            Some(held) => *held = Arc::new(key),
            None => self.keys.push(Arc::new(key)),
        }
        self
    }

    /// Parses keys in their text form, one per line (blank lines and lines starting
    /// with `#` are skipped); the first is the current key.
    ///
    /// # Errors
    /// [`Error::InvalidEncryptionKey`] for a malformed key, two keys with one id, or
    /// text holding no key.
    pub fn parse(text: &str) -> Result<Self> {
        let mut ring = Keyring::empty();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key: EncryptionKey = line.parse()?;
            if ring.get(key.id()).is_some() {
                return Err(invalid(&alloc::format!(
                    "the key id {:?} is given twice",
                    key.id()
                )));
            }
            ring.keys.push(Arc::new(key));
        }
        if ring.is_empty() {
            return Err(invalid("no key found (expected `snapshot-key:<id>:<hex>`)"));
        }
        Ok(ring)
    }

    /// Reads keys from a key file (the format of [`parse`](Self::parse)).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; as [`parse`](Self::parse).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path)?);
        Self::parse(&text)
    }

    /// Reads keys from the environment variable `name` (keys in their text form,
    /// separated by newlines or commas); `None` when it is unset or empty.
    ///
    /// # Errors
    /// As [`parse`](Self::parse); [`Error::InvalidEncryptionKey`] when the variable is
    /// not Unicode.
    pub fn from_env(name: &str) -> Result<Option<Self>> {
        match std::env::var(name) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let text = Zeroizing::new(text.replace(',', "\n"));
                if text.trim().is_empty() {
                    return Ok(None);
                }
                Self::parse(&text).map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(invalid(&alloc::format!("{name} is not valid Unicode")))
            }
        }
    }

    /// The current key: the one new snapshots are encrypted with.
    pub fn current(&self) -> Option<&EncryptionKey> {
        self.keys.first().map(|k| &**k)
    }

    /// The key named `id`, if held.
    pub fn get(&self, id: &str) -> Option<&EncryptionKey> {
        self.keys.iter().find(|k| k.id == id).map(|k| &**k)
    }

    /// The ids of the keys held, the current key first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a snapshot names, checked against the header's key check.
    pub(crate) fn resolve(&self, id: &str, check: &[u8; CHECK_LEN]) -> Result<&EncryptionKey> {
        let key = self
            .get(id)
            .ok_or_else(|| Error::KeyMissing { key_id: id.into() })?;
        if key.check != *check {
            return Err(Error::WrongKey { key_id: id.into() });
        }
        Ok(key)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}
