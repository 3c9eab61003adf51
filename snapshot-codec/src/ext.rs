//! Extension values: custom types carried as a type identifier plus an opaque payload.
//!
//! A type becomes storable by implementing [`ExtType`]. A [`Registry`] lists the types
//! a program knows, so that decoding can check their payloads and tools can show them.
//! Readers that do not know a type keep its values as [`Ext`] and write them back
//! byte for byte.

use alloc::{collections::BTreeMap, string::String, vec::Vec};
use core::fmt;

use crate::{Error, Result, Value};

/// Identifiers below this are reserved for types the project ships (such as the chrono
/// date-time, [`CHRONO_DATETIME_TYPE_ID`]); pick identifiers from here up for your own.
pub const FIRST_USER_TYPE_ID: u64 = 64;

/// The type identifier of `chrono::DateTime<Utc>` values.
pub const CHRONO_DATETIME_TYPE_ID: u64 = 1;

/// An extension value: a type identifier and the payload that type wrote.
///
/// ```
/// use snapshot_codec::{Ext, Value};
///
/// let v = Value::from(Ext::new(200, vec![1, 2, 3]));
/// assert_eq!(v.as_ext().map(|e| e.type_id()), Some(200));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ext {
    type_id: u64,
    data: Vec<u8>,
}

impl Ext {
    /// Creates an extension value from a type identifier and a payload.
    pub fn new(type_id: u64, data: Vec<u8>) -> Self {
        Self { type_id, data }
    }

    /// The type identifier.
    pub fn type_id(&self) -> u64 {
        self.type_id
    }

    /// The payload bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the value, returning the payload.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Decodes the payload as `T`, if the identifier is `T`'s.
    ///
    /// # Errors
    /// `None` when the identifier is another type's; `Some(Err(_))` when the payload is
    /// not a valid `T`.
    pub fn decode<T: ExtType>(&self) -> Option<Result<T>> {
        (self.type_id == T::TYPE_ID).then(|| {
            T::from_payload(&self.data).map_err(|reason| Error::InvalidExtension {
                type_id: T::TYPE_ID,
                name: T::NAME,
                reason,
            })
        })
    }
}

impl fmt::Debug for Ext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ext({}, {} bytes)", self.type_id, self.data.len())
    }
}

/// An extension value whose payload is written from borrowed pieces, one after the
/// other, without joining them first: for payloads too large to copy twice, such as an
/// array's elements after a small header of its own. This crate's serializer writes
/// exactly the [`Ext`] of the joined payload; other serde formats see the tuple
/// `(type_id, length, piece, piece, ...)`.
///
/// ```
/// use snapshot_codec::{Ext, ExtParts, Value, from_slice, to_vec};
///
/// let header = [7u8, 1];
/// let elements = vec![0u8; 1000];
/// let written = to_vec(&ExtParts::new(200, &[&header, &elements]))?;
/// let value: Value = from_slice(&written)?;
/// let mut joined = header.to_vec();
/// joined.extend_from_slice(&elements);
/// assert_eq!(value, Value::from(Ext::new(200, joined)));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ExtParts<'a> {
    type_id: u64,
    parts: &'a [&'a [u8]],
}

impl<'a> ExtParts<'a> {
    /// An extension value of type `type_id` whose payload is `parts`, in order.
    pub fn new(type_id: u64, parts: &'a [&'a [u8]]) -> Self {
        Self { type_id, parts }
    }

    /// The type identifier.
    pub fn type_id(&self) -> u64 {
        self.type_id
    }

    /// The payload's length: the pieces' lengths together.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(feature = "serde")]
    pub(crate) fn parts(&self) -> &'a [&'a [u8]] {
        self.parts
    }
}

/// A custom type that can live inside a snapshot as an extension value.
///
/// The identifier must be unique within a program (a [`Registry`] checks that) and must
/// never change once snapshots with it exist. The payload format is the type's own
/// business; keep it stable too.
///
/// ```
/// use snapshot_codec::{ExtType, Value};
///
/// #[derive(Debug, PartialEq)]
/// struct Rgb(u8, u8, u8);
///
/// impl ExtType for Rgb {
///     const TYPE_ID: u64 = 100;
///     const NAME: &'static str = "rgb";
///     fn to_payload(&self, out: &mut Vec<u8>) {
///         out.extend_from_slice(&[self.0, self.1, self.2]);
///     }
///     fn from_payload(data: &[u8]) -> Result<Self, String> {
///         match data {
///             [r, g, b] => Ok(Rgb(*r, *g, *b)),
///             _ => Err(format!("expected 3 bytes, got {}", data.len())),
///         }
///     }
/// }
///
/// let v = Value::from_ext(&Rgb(255, 128, 0));
/// let bytes = snapshot_codec::encode(&v)?;
/// let back = snapshot_codec::decode(&bytes)?;
/// assert_eq!(back.to_ext::<Rgb>().transpose()?, Some(Rgb(255, 128, 0)));
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
pub trait ExtType: Sized {
    /// The unique identifier written with every value of this type.
    const TYPE_ID: u64;
    /// A short human-readable name, used in errors and by tools.
    const NAME: &'static str;
    /// Appends this value's payload to `out`.
    fn to_payload(&self, out: &mut Vec<u8>);
    /// Reads a value back from its payload.
    ///
    /// # Errors
    /// A message saying why the payload is not a valid value of this type.
    fn from_payload(data: &[u8]) -> core::result::Result<Self, String>;
    /// Checks a payload without keeping the value: what readers and writers run on every
    /// payload of a registered type. The default reads the value with
    /// [`from_payload`](Self::from_payload); types with large payloads check in place.
    ///
    /// # Errors
    /// A message saying why the payload is not a valid value of this type.
    fn check_payload(data: &[u8]) -> core::result::Result<(), String> {
        Self::from_payload(data).map(drop)
    }
    /// A human-readable rendering of the value, for tools that show snapshots.
    fn describe(&self) -> Option<String> {
        None
    }
}

impl Value {
    /// Wraps a custom type as an extension value.
    pub fn from_ext<T: ExtType>(value: &T) -> Value {
        let mut data = Vec::new();
        value.to_payload(&mut data);
        Value::from(Ext::new(T::TYPE_ID, data))
    }

    /// Reads this value as the custom type `T`.
    ///
    /// Returns `None` if this is not an extension value with `T`'s identifier.
    pub fn to_ext<T: ExtType>(&self) -> Option<Result<T>> {
        self.as_ext().and_then(Ext::decode::<T>)
    }
}

/// What a registry keeps for each type: its name and how to check and show a payload.
#[derive(Clone, Copy)]
struct Handler {
    name: &'static str,
    describe: fn(&[u8]) -> core::result::Result<Option<String>, String>,
    check: fn(&[u8]) -> core::result::Result<(), String>,
}

fn describe_as<T: ExtType>(data: &[u8]) -> core::result::Result<Option<String>, String> {
    T::from_payload(data).map(|v| v.describe())
}

/// The set of custom types a program knows, by identifier.
///
/// Registering a second type under a taken identifier fails with
/// [`Error::ExtensionIdTaken`] unless [`Registry::register_replacing`] is used.
///
/// ```
/// use snapshot_codec::{Error, ExtType, Registry};
/// # struct A; struct B;
/// # impl ExtType for A { const TYPE_ID: u64 = 70; const NAME: &'static str = "a";
/// #   fn to_payload(&self, _: &mut Vec<u8>) {} fn from_payload(_: &[u8]) -> Result<Self, String> { Ok(A) } }
/// # impl ExtType for B { const TYPE_ID: u64 = 70; const NAME: &'static str = "b";
/// #   fn to_payload(&self, _: &mut Vec<u8>) {} fn from_payload(_: &[u8]) -> Result<Self, String> { Ok(B) } }
///
/// let mut registry = Registry::new();
/// registry.register::<A>()?;
/// assert!(matches!(
///     registry.register::<B>(),
///     Err(Error::ExtensionIdTaken { type_id: 70, existing: "a" })
/// ));
/// registry.register_replacing::<B>();
/// assert_eq!(registry.name(70), Some("b"));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<u64, Handler>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the types this build ships: [`NdArray`](crate::NdArray), and
    /// the chrono date-time with the `chrono` feature.
    pub fn with_builtin_types() -> Self {
        let mut registry = Self::new();
        registry.register_replacing::<crate::NdArray>();
        #[cfg(feature = "chrono")]
        registry.register_replacing::<chrono::DateTime<chrono::Utc>>();
        registry
    }

    /// Registers `T` under its identifier.
    ///
    /// # Errors
    /// [`Error::ExtensionIdTaken`] if another type already holds the identifier.
    pub fn register<T: ExtType>(&mut self) -> Result<()> {
        if let Some(existing) = self.handlers.get(&T::TYPE_ID) {
            return Err(Error::ExtensionIdTaken {
                type_id: T::TYPE_ID,
                existing: existing.name,
            });
        }
        self.register_replacing::<T>();
        Ok(())
    }

    /// Registers `T`, replacing any type that held its identifier.
    pub fn register_replacing<T: ExtType>(&mut self) {
        self.handlers.insert(
            T::TYPE_ID,
            Handler {
                name: T::NAME,
                describe: describe_as::<T>,
                check: T::check_payload,
            },
        );
    }

    /// The name of the type registered under `type_id`.
    pub fn name(&self, type_id: u64) -> Option<&'static str> {
        self.handlers.get(&type_id).map(|h| h.name)
    }

    /// Whether a type is registered under `type_id`.
    pub fn contains(&self, type_id: u64) -> bool {
        self.handlers.contains_key(&type_id)
    }

    /// Checks an extension value against its registered type and renders it.
    ///
    /// Returns `Ok(None)` for unknown types (they stay opaque) and for types that have
    /// no rendering.
    ///
    /// # Errors
    /// [`Error::InvalidExtension`] if the payload is not valid for its registered type.
    pub fn describe(&self, ext: &Ext) -> Result<Option<String>> {
        match self.handlers.get(&ext.type_id) {
            None => Ok(None),
            Some(h) => (h.describe)(&ext.data).map_err(|reason| Error::InvalidExtension {
                type_id: ext.type_id,
                name: h.name,
                reason,
            }),
        }
    }

    /// Whether `type_id` is registered.
    pub(crate) fn knows(&self, type_id: u64) -> bool {
        self.handlers.contains_key(&type_id)
    }

    /// Checks one extension payload against its registered type; unknown types pass.
    ///
    /// # Errors
    /// [`Error::InvalidExtension`] if the payload is not valid for its registered type.
    pub fn check(&self, type_id: u64, data: &[u8]) -> Result<()> {
        match self.handlers.get(&type_id) {
            None => Ok(()),
            Some(h) => (h.check)(data).map_err(|reason| Error::InvalidExtension {
                type_id,
                name: h.name,
                reason,
            }),
        }
    }

    /// Checks every extension value inside `value` whose type is registered.
    ///
    /// # Errors
    /// The first [`Error::InvalidExtension`] found.
    pub fn validate(&self, value: &Value) -> Result<()> {
        if self.handlers.is_empty() {
            return Ok(());
        }
        // An explicit stack: values may be nested as deep as the decoder allows.
        let mut stack = alloc::vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::Ext(e) => {
                    self.describe(e)?;
                }
                Value::List(items) => stack.extend(items.iter()),
                Value::Map(m) => stack.extend(m.values()),
                _ => {}
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.handlers.iter().map(|(id, h)| (id, h.name)))
            .finish()
    }
}

/// `chrono::DateTime<Utc>` as an extension value: 12 bytes, the seconds since the Unix
/// epoch as `i64` little-endian, then the nanoseconds as `u32` little-endian
/// (`0 ..= 1_999_999_999`, above a billion only for a leap second).
#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl ExtType for chrono::DateTime<chrono::Utc> {
    const TYPE_ID: u64 = CHRONO_DATETIME_TYPE_ID;
    const NAME: &'static str = "chrono::DateTime<Utc>";

    fn to_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp().to_le_bytes());
        out.extend_from_slice(&self.timestamp_subsec_nanos().to_le_bytes());
    }

    fn from_payload(data: &[u8]) -> core::result::Result<Self, String> {
        let (secs, nanos) = match data {
            [s @ .., n0, n1, n2, n3] if s.len() == 8 => {
                let mut secs = [0u8; 8];
                secs.copy_from_slice(s);
                (
                    i64::from_le_bytes(secs),
                    u32::from_le_bytes([*n0, *n1, *n2, *n3]),
                )
            }
            _ => return Err(alloc::format!("expected 12 bytes, got {}", data.len())),
        };
        chrono::DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| alloc::format!("timestamp {secs}s {nanos}ns is out of range"))
    }

    fn describe(&self) -> Option<String> {
        Some(self.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}
