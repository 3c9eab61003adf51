//! The codec's one error type.

use alloc::string::String;

/// Everything that can go wrong while encoding or decoding a snapshot.
///
/// Each way a snapshot can be malformed has its own variant, so callers (and tests) can
/// tell a truncated file from a corrupted one from one written by a newer version.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input does not start with the snapshot magic bytes.
    #[error("not a snapshot: the magic bytes are missing")]
    NotASnapshot,
    /// The header names a format version this build cannot read.
    #[error(
        "unsupported snapshot format version {found} (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// The version byte found in the header.
        found: u8,
        /// The version this build reads and writes.
        supported: u8,
    },
    /// The header sets flag bits this build does not know.
    #[error("unsupported header flags {flags:#04x}")]
    UnsupportedFlags {
        /// The flags byte found in the header.
        flags: u8,
    },
    /// The snapshot's body is encrypted (format 2, header flag `0x04`), and this build
    /// cannot decrypt it (the `encryption` feature is off).
    #[error("the snapshot's body is encrypted; this build cannot decrypt it")]
    Encrypted,
    /// The snapshot is encrypted under a key that was not given. Its frame and checksum
    /// were checked (they are fine); its body was not decrypted.
    #[error("the snapshot is encrypted under key {key_id:?}, which was not given")]
    KeyMissing {
        /// The id of the key the snapshot needs.
        key_id: String,
    },
    /// A key with the snapshot's key id was given, but it is not the key the snapshot
    /// was written with (the header's key check does not match).
    #[error("the key given as {key_id:?} is not the key this snapshot was encrypted with")]
    WrongKey {
        /// The key id named by the snapshot (and by the wrong key).
        key_id: String,
    },
    /// The encrypted body or metadata does not authenticate under the right key: the
    /// bytes were altered (and the checksum recomputed) or the snapshot was spliced from
    /// pieces of others. Nothing of it is returned.
    #[error("the encrypted snapshot fails authentication under key {key_id:?}: it was altered")]
    AuthenticationFailed {
        /// The key the snapshot names.
        key_id: String,
    },
    /// An encryption key (or its text form, or a key file) is malformed.
    #[error("invalid encryption key: {reason}")]
    InvalidEncryptionKey {
        /// What is wrong with it.
        reason: String,
    },
    /// The metadata section is malformed, too large, or not allowed here.
    #[error("invalid snapshot metadata: {reason}")]
    InvalidMetadata {
        /// What is wrong with it.
        reason: String,
    },
    /// The input ended before the snapshot did.
    #[error("snapshot is truncated")]
    Truncated,
    /// Bytes follow the end of the snapshot (or the end of its body).
    #[error("unexpected bytes after the end of the snapshot")]
    TrailingBytes,
    /// The checksum trailer does not match the bytes before it: the snapshot is corrupt.
    #[error("checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// The checksum stored in the trailer.
        stored: u64,
        /// The checksum computed over the bytes read.
        computed: u64,
    },
    /// A value starts with a tag byte that the format does not define.
    #[error("invalid value tag {tag:#04x}")]
    InvalidTag {
        /// The offending byte.
        tag: u8,
    },
    /// A numeric array (format 2) is malformed: an unknown element type, a bool that
    /// is neither 0 nor 1, a run of no elements or past its list's length.
    #[error("invalid numeric array: {reason}")]
    InvalidArray {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record shape (format 2) is malformed: a record of a shape not defined, a shape
    /// key longer than 64 bytes, more shapes than a snapshot may hold.
    #[error("invalid record shape: {reason}")]
    InvalidShape {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A map key starts with a byte that the format does not define for keys.
    #[error("invalid map key tag {tag:#04x}")]
    InvalidKeyTag {
        /// The offending byte.
        tag: u8,
    },
    /// A map key refers to an entry of the key table that was never defined.
    #[error("map key refers to undefined key table entry {index}")]
    UndefinedKeyRef {
        /// The index referred to.
        index: u64,
    },
    /// A new key was added to a key table that is already full.
    #[error("key table overflow: more than {limit} interned keys")]
    KeyTableOverflow {
        /// The largest number of interned keys allowed.
        limit: usize,
    },
    /// A string or map key is not valid UTF-8.
    #[error("invalid UTF-8 in a string")]
    InvalidUtf8,
    /// A map holds the same key twice. Encoding refuses such a map too (two struct
    /// fields flattened onto one name, say), so nothing is written that cannot be read.
    #[error("duplicate map key {key:?} at {path}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Where the second occurrence is, from the root of the snapshot: `.name` for
        /// a key that is an identifier, `["key"]` for any other key, `[3]` for a list
        /// index; for example `.users[3]["e-mail"]`.
        path: String,
    },
    /// A serde type announced one number of elements or fields and wrote another.
    #[error("a {kind} announced {declared} entries but wrote {written}")]
    LengthMismatch {
        /// `"list"` or `"map"`.
        kind: &'static str,
        /// The count the type announced.
        declared: usize,
        /// The count it wrote.
        written: usize,
    },
    /// A length or count is larger than the input that could still hold it.
    #[error("declared length {declared} exceeds the {available} bytes available")]
    LengthExceedsInput {
        /// The length or count found.
        declared: u64,
        /// How many bytes (or items) could still follow.
        available: u64,
    },
    /// A variable-length integer is longer than 10 bytes or overflows 64 bits.
    #[error("malformed variable-length integer")]
    InvalidVarint,
    /// Values are nested deeper than the configured limit.
    #[error("nesting deeper than the limit of {limit}")]
    DepthLimitExceeded {
        /// The configured depth limit.
        limit: usize,
    },
    /// Decompression would produce more bytes than the configured limit.
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    DecompressedSizeLimitExceeded {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// Decoding would use more memory than the configured budget
    /// ([`DecodeOptions::with_max_memory`](crate::DecodeOptions::with_max_memory)).
    #[error("decoding needs more than the memory budget of {limit} bytes")]
    MemoryLimitExceeded {
        /// The budget in bytes.
        limit: u64,
    },
    /// The snapshot is compressed with a codec this build lacks (the `zstd` or `lz4`
    /// feature is off), or the compression asked for is not in the format version
    /// written.
    #[error("snapshot compression not supported by this build or format version")]
    CompressionUnsupported,
    /// The compressed body could not be decompressed (or compression failed).
    #[error("compression: {0}")]
    Compression(String),
    /// An extension value's payload was rejected by its registered type.
    #[error("invalid payload for extension type {type_id} ({name}): {reason}")]
    InvalidExtension {
        /// The extension type identifier.
        type_id: u64,
        /// The registered name of the type.
        name: &'static str,
        /// Why the payload was rejected.
        reason: String,
    },
    /// A type handler was registered under an identifier that is already taken.
    #[error("extension type id {type_id} is already registered to {existing}")]
    ExtensionIdTaken {
        /// The contested identifier.
        type_id: u64,
        /// The name of the type that holds it.
        existing: &'static str,
    },
    /// A number does not fit the type asked for.
    #[error("integer {value} out of range for {target}")]
    IntegerOutOfRange {
        /// The value, as text.
        value: String,
        /// The type it was to fit in.
        target: &'static str,
    },
    /// A map key was not a string (or a type that can be written as one).
    #[error("map keys must be strings, found {found}")]
    KeyMustBeString {
        /// What was found instead.
        found: &'static str,
    },
    /// A serde error: a type mismatch, a missing field, or a custom message.
    #[error("{0}")]
    Message(String),
    /// An I/O error from the underlying reader or writer.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[error("I/O error")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A duplicate key found directly in a map: the path is the key itself.
    pub(crate) fn duplicate_key(key: String) -> Self {
        let mut path = String::new();
        push_key_component(&mut path, &key);
        Error::DuplicateKey { key, path }
    }

    /// Places a duplicate-key error inside the map entry `key` of the enclosing map.
    #[cold]
    pub(crate) fn in_key(mut self, key: &str) -> Self {
        if let Error::DuplicateKey { path, .. } = &mut self {
            let mut outer = String::new();
            push_key_component(&mut outer, key);
            outer.push_str(path);
            *path = outer;
        }
        self
    }

    /// Places a duplicate-key error inside item `index` of the enclosing list.
    #[cold]
    pub(crate) fn in_item(mut self, index: usize) -> Self {
        if let Error::DuplicateKey { path, .. } = &mut self {
            *path = alloc::format!("[{index}]{path}");
        }
        self
    }
}

/// `.key` for identifiers, `["key"]` (escaped) for anything else.
fn push_key_component(out: &mut String, key: &str) {
    use core::fmt::Write;
    let mut chars = key.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        out.push('.');
        out.push_str(key);
    } else {
        let _ = write!(out, "[{key:?}]");
    }
}

/// The codec's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(feature = "std")]
pub(crate) fn from_io(err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::Truncated
    } else {
        // Errors raised inside our own io::Read adapters travel wrapped in an io::Error;
        // unwrap them so callers see the real variant.
        match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<CodecIoError>())
        {
            Some(_) => match err.into_inner().map(|b| b.downcast::<CodecIoError>()) {
                Some(Ok(wrapped)) => wrapped.0,
                _ => Error::Truncated,
            },
            None => Error::Io(err),
        }
    }
}

/// A codec error carried through an `io::Error` by the crate's reader adapters.
#[cfg(feature = "std")]
#[derive(Debug)]
pub(crate) struct CodecIoError(pub(crate) Error);

#[cfg(feature = "std")]
impl core::fmt::Display for CodecIoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CodecIoError {}

#[cfg(feature = "std")]
pub(crate) fn to_io(err: Error) -> std::io::Error {
    std::io::Error::other(CodecIoError(err))
}
