//! Encoding and decoding settings.

use alloc::sync::Arc;

use crate::{Metadata, Registry};

/// The keys a decode may use (the keyring; nothing without the `encryption` feature).
#[cfg(feature = "encryption")]
pub(crate) type Keys = crate::crypt::Keyring;
#[cfg(not(feature = "encryption"))]
#[derive(Clone, Debug, Default)]
pub(crate) struct Keys {}
/// The key an encode encrypts with.
#[cfg(feature = "encryption")]
pub(crate) type KeyArc = Arc<crate::crypt::EncryptionKey>;
#[cfg(not(feature = "encryption"))]
#[derive(Clone, Debug)]
pub(crate) enum KeyArc {}

/// The default nesting-depth limit for encoding and decoding.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// The default cap on a decompressed body: 1 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: u64 = 1 << 30;

/// The memory a decode may use unless told otherwise: 2 GiB (see
/// [`DecodeOptions::with_max_memory`]).
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

/// The zstd level of the default compression: −1, one of zstd's fast levels. Measured
/// on this project's datasets (BENCHMARKS.md), it compresses faster than LZ4 and
/// smaller, where level 3 (the 0.1 default) made a dump take 12-28 times a raw write.
pub const DEFAULT_ZSTD_LEVEL: i32 = -1;

/// With fast compression (zstd levels up to 1, LZ4), a body is compressed only when a
/// sample shrinks to at most this fraction (9/10) of its size: less is not worth the
/// time. Stronger levels always compress (and keep the result when smaller).
pub(crate) const SAMPLE_PAYS: (usize, usize) = (9, 10);

impl Compression {
    /// Whether this compression is chosen for speed, so a sample decides whether it
    /// is used at all.
    pub(crate) fn is_fast(self) -> bool {
        match self {
            Compression::Zstd { level } => level <= 1,
            Compression::Lz4 => true,
            Compression::None => false,
        }
    }
}

/// How to compress a snapshot's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Store the body as it is.
    None,
    /// Compress the body with zstd at `level` (1 ..= 22; negative levels are faster),
    /// keeping the compressed form only when it is smaller. At the fast levels (1 and
    /// below), bodies of 256 KiB and more are first tried on a sample, and stored
    /// uncompressed when the sample does not shrink by a tenth.
    Zstd {
        /// The zstd compression level.
        level: i32,
    },
    /// Compress the body with LZ4 (the LZ4 frame format), keeping the compressed form
    /// only when it is smaller (and, from 256 KiB, when a sample shrinks by a tenth).
    /// Format 2 only (needs the `lz4` feature).
    Lz4,
}

impl Default for Compression {
    /// [`Compression::None`], whatever features are built: the codec never picks a
    /// compressor behind the caller's back, so enabling `zstd` or `lz4` somewhere in a
    /// build changes no output. Choose one with
    /// [`EncodeOptions::with_compression`]; `SnapshotManager` (snapshot-store) chooses
    /// LZ4 explicitly.
    ///
    /// ```
    /// use snapshot_codec::Compression;
    /// assert_eq!(Compression::default(), Compression::None);
    /// ```
    fn default() -> Self {
        Compression::None
    }
}

/// Whether numeric arrays are byte-shuffled before compression (format 2; see
/// FORMAT.md): byte 0 of every element, then byte 1, and so on, which helps smooth
/// series compress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shuffle {
    /// Per array, when the body is compressed: a sample is compressed both ways and
    /// the smaller wins (arrays under 1 KiB and 1-byte elements are never shuffled).
    #[default]
    Auto,
    /// Never.
    Never,
    /// Every array of elements wider than a byte, compressed or not (for an external
    /// compressor, or to measure).
    Always,
}

/// Settings for writing snapshots.
///
/// ```
/// use snapshot_codec::{Compression, EncodeOptions, value};
///
/// let opts = EncodeOptions::new().with_compression(Compression::None);
/// let bytes = opts.encode(&value!({"a": 1}))?;
/// assert_eq!(snapshot_codec::decode(&bytes)?, value!({"a": 1}));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EncodeOptions {
    pub(crate) compression: Compression,
    pub(crate) max_depth: usize,
    pub(crate) registry: Option<Arc<Registry>>,
    pub(crate) format_version: u8,
    pub(crate) metadata: Option<Metadata>,
    pub(crate) shuffle: Shuffle,
    pub(crate) key: Option<KeyArc>,
    pub(crate) clear_metadata: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            compression: Compression::default(),
            max_depth: DEFAULT_MAX_DEPTH,
            registry: None,
            format_version: crate::FORMAT_VERSION,
            metadata: None,
            shuffle: Shuffle::Auto,
            key: None,
            clear_metadata: false,
        }
    }
}

impl EncodeOptions {
    /// The defaults: no compression ([`Compression::default()`]), depth limit
    /// [`DEFAULT_MAX_DEPTH`], format [`FORMAT_VERSION`](crate::FORMAT_VERSION).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how the body is compressed.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the deepest nesting the encoder writes; deeper values fail with
    /// [`Error::DepthLimitExceeded`](crate::Error::DepthLimitExceeded). The limit can
    /// be lowered but not raised past [`DEFAULT_MAX_DEPTH`] (larger values are clamped),
    /// so nothing is written that a default reader would refuse.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth.min(DEFAULT_MAX_DEPTH);
        self
    }

    /// Checks the payload of every extension value whose type is in `registry` as it
    /// is written, so a snapshot that a reader with the same registry would refuse is
    /// never written.
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Sets when numeric arrays are byte-shuffled ([`Shuffle::Auto`] unless set).
    pub fn with_shuffle(mut self, shuffle: Shuffle) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Writes the metadata section of format 2 ([`Metadata`]): labels, a step number
    /// and a creation time, readable without the body ([`read_metadata`](crate::read_metadata)).
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Encrypts the body (after compressing it) and the metadata with `key`
    /// (XChaCha20-Poly1305, a fresh random nonce per snapshot; feature `encryption`).
    /// The key's id is written in the clear so readers know which key to use; the key
    /// never is. Readers need a [`Keyring`](crate::Keyring) holding it
    /// ([`DecodeOptions::with_keyring`]). Format 2 only.
    ///
    /// ```
    /// use snapshot_codec::{DecodeOptions, EncodeOptions, EncryptionKey, Error, Keyring, value};
    ///
    /// let key = EncryptionKey::generate("config")?;
    /// let bytes = EncodeOptions::new().with_encryption(key.clone()).encode(&value!({"api_key": "s3cret"}))?;
    /// assert!(!bytes.windows(6).any(|w| w == b"s3cret"));
    /// let reader = DecodeOptions::new().with_keyring(Keyring::new(key));
    /// assert_eq!(reader.decode(&bytes)?, value!({"api_key": "s3cret"}));
    /// let stranger = DecodeOptions::new().with_keyring(Keyring::new(EncryptionKey::generate("config")?));
    /// assert!(matches!(stranger.decode(&bytes), Err(Error::WrongKey { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn with_encryption(mut self, key: impl Into<Arc<crate::crypt::EncryptionKey>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Turns encryption off again: snapshots are written in the clear.
    ///
    /// ```
    /// use snapshot_codec::{EncodeOptions, EncryptionKey, encryption_key_id};
    ///
    /// let key = EncryptionKey::generate("config")?;
    /// let options = EncodeOptions::new().with_encryption(key).without_encryption();
    /// assert_eq!(encryption_key_id(&options.to_vec(&1u8)?)?, None);
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn without_encryption(mut self) -> Self {
        self.key = None;
        self
    }

    /// With encryption, keeps the metadata (time, step, labels) readable without the
    /// key, so anyone who can read the store can list and filter by label; by default
    /// it is sealed with the body's key. The key id is always readable.
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn with_clear_metadata(mut self, clear: bool) -> Self {
        self.clear_metadata = clear;
        self
    }

    /// The id of the key snapshots are encrypted with, if any.
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn encryption_key_id(&self) -> Option<&str> {
        self.key.as_deref().map(crate::crypt::EncryptionKey::id)
    }

    /// Writes snapshots in format `version`: [`FORMAT_VERSION`](crate::FORMAT_VERSION)
    /// (2, the default) or 1, which readers of 0.1 understand. Version 1 has no numeric
    /// arrays, no 32-bit floats (they are widened to 64 bits), no LZ4 and no metadata:
    /// asking it for LZ4 or metadata fails with
    /// [`Error::CompressionUnsupported`](crate::Error::CompressionUnsupported) or
    /// [`Error::InvalidMetadata`](crate::Error::InvalidMetadata). Other versions are
    /// [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion).
    ///
    /// ```
    /// use snapshot_codec::{EncodeOptions, value};
    ///
    /// let v1 = EncodeOptions::new().with_format_version(1)?.encode(&value!([1.5]))?;
    /// assert_eq!(v1[4], 1);
    /// assert_eq!(snapshot_codec::decode(&v1)?, value!([1.5]));
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    pub fn with_format_version(mut self, version: u8) -> Result<Self, crate::Error> {
        if !(1..=crate::FORMAT_VERSION).contains(&version) {
            return Err(crate::Error::UnsupportedVersion {
                found: version,
                supported: crate::FORMAT_VERSION,
            });
        }
        self.format_version = version;
        Ok(self)
    }

    /// The compression setting.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The format version written.
    pub fn format_version(&self) -> u8 {
        self.format_version
    }
}

/// Settings for reading snapshots.
///
/// ```
/// use snapshot_codec::{DecodeOptions, Error, EncodeOptions, value};
///
/// let deep = value!([[[["bottom"]]]]);
/// let bytes = snapshot_codec::encode(&deep)?;
/// let strict = DecodeOptions::new().with_max_depth(3);
/// assert!(matches!(strict.decode(&bytes), Err(Error::DepthLimitExceeded { limit: 3 })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    pub(crate) max_depth: usize,
    pub(crate) max_decompressed_size: u64,
    pub(crate) max_memory: u64,
    pub(crate) registry: Option<Arc<Registry>>,
    pub(crate) keys: Keys,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            max_memory: DEFAULT_MAX_MEMORY,
            registry: None,
            keys: Keys::default(),
        }
    }
}

impl DecodeOptions {
    /// The defaults: depth limit [`DEFAULT_MAX_DEPTH`], decompressed-size limit
    /// [`DEFAULT_MAX_DECOMPRESSED_SIZE`], no registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deepest nesting of lists and maps accepted.
    ///
    /// Decoding recurses once per level; limits in the thousands need a thread with a
    /// larger stack than the default.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the largest decompressed body accepted, in bytes.
    pub fn with_max_decompressed_size(mut self, bytes: u64) -> Self {
        self.max_decompressed_size = bytes;
        self
    }

    /// Sets the memory budget of one decode, in bytes ([`DEFAULT_MAX_MEMORY`] unless
    /// set). It is counted as the decode goes, before anything is allocated, so a
    /// hostile snapshot gets [`Error::MemoryLimitExceeded`](crate::Error) instead of
    /// claiming memory: a decompressed body costs its length; a [`Value`](crate::Value)
    /// costs 32 bytes per list item, 56 per map entry, and the bytes of every string,
    /// byte string, key and extension payload; the serde path charges the same per value
    /// it hands to a `Deserialize` type (it cannot see the type's own layout).
    ///
    /// ```
    /// use snapshot_codec::{DecodeOptions, Error, value};
    ///
    /// let bytes = snapshot_codec::encode(&value!({"list": [1, 2, 3, 4, 5, 6, 7, 8]}))?;
    /// let tight = DecodeOptions::new().with_max_memory(100);
    /// assert!(matches!(tight.decode(&bytes), Err(Error::MemoryLimitExceeded { limit: 100 })));
    /// assert!(DecodeOptions::new().with_max_memory(1000).decode(&bytes).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The memory budget of one decode.
    pub fn max_memory(&self) -> u64 {
        self.max_memory
    }

    /// Checks every extension value of a registered type while decoding.
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The depth limit.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Decrypts encrypted snapshots with the keys of `keyring` (feature `encryption`).
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn with_keyring(mut self, keyring: crate::crypt::Keyring) -> Self {
        self.keys = keyring;
        self
    }

    /// The keys encrypted snapshots are decrypted with.
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn keyring(&self) -> &crate::crypt::Keyring {
        &self.keys
    }

    /// Reads the metadata of a snapshot from its first bytes, as
    /// [`read_metadata`](crate::read_metadata) does, decrypting sealed metadata with
    /// this keyring.
    ///
    /// # Errors
    /// As [`read_metadata`](crate::read_metadata); [`Error::KeyMissing`](crate::Error),
    /// `WrongKey` or `AuthenticationFailed` for sealed metadata.
    pub fn read_metadata(&self, prefix: &[u8]) -> crate::Result<Option<Metadata>> {
        match crate::meta::read_section(prefix)? {
            None => Ok(None),
            Some(section) => section.open(&self.keys).map(Some),
        }
    }

    /// The decompressed-size limit.
    pub fn max_decompressed_size(&self) -> u64 {
        self.max_decompressed_size
    }
}
