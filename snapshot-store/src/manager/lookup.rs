//! [`Lookup`]: which snapshot to load, and [`IntoKey`]: what names a time.

use chrono::{DateTime, Utc};

use crate::{KeyError, SnapshotKey};

/// Anything that names a point in time for a lookup: a [`SnapshotKey`], a
/// `DateTime<Utc>`, or the key's text form.
pub trait IntoKey {
    /// Converts to a key.
    ///
    /// # Errors
    /// [`KeyError`] for malformed text or times outside the years 0000 to 9999.
    fn into_key(self) -> Result<SnapshotKey, KeyError>;

    /// The first key at or after this time: the same as [`into_key`](Self::into_key)
    /// except for a time finer than a microsecond, which rounds up (so "at or after T"
    /// never selects a snapshot before T).
    ///
    /// # Errors
    /// As [`into_key`](Self::into_key).
    fn into_key_rounding_up(self) -> Result<SnapshotKey, KeyError>
    where
        Self: Sized,
    {
        self.into_key()
    }
}

impl IntoKey for SnapshotKey {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        Ok(self)
    }
}
impl IntoKey for DateTime<Utc> {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        SnapshotKey::from_datetime(self)
    }

    fn into_key_rounding_up(self) -> Result<SnapshotKey, KeyError> {
        let key = SnapshotKey::from_datetime(self)?;
        if self.timestamp_subsec_nanos().is_multiple_of(1000) {
            return Ok(key);
        }
        SnapshotKey::from_micros(key.as_micros() + 1)
    }
}
impl IntoKey for &str {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        self.parse()
    }
}
impl IntoKey for &String {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        self.parse()
    }
}
impl IntoKey for String {
    fn into_key(self) -> Result<SnapshotKey, KeyError> {
        self.parse()
    }
}

/// Which snapshot to load.
///
/// ```
/// use snapshot_store::Lookup;
///
/// let restore_point = Lookup::at_or_before("2024-01-15_09-00-00-000000")?;
/// assert!(matches!(restore_point, Lookup::AtOrBefore(_)));
/// assert!(Lookup::nearest("yesterday").is_err());
/// # Ok::<(), snapshot_store::KeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The newest snapshot.
    Latest,
    /// The snapshot with exactly this key.
    Exact(SnapshotKey),
    /// The snapshot closest in time to this one; on a tie, the earlier.
    Nearest(SnapshotKey),
    /// The newest snapshot at or before this time (point-in-time restore).
    AtOrBefore(SnapshotKey),
    /// The oldest snapshot at or after this time.
    AtOrAfter(SnapshotKey),
}

impl Lookup {
    /// [`Lookup::Exact`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn exact(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::Exact(at.into_key()?))
    }

    /// [`Lookup::Nearest`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn nearest(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::Nearest(at.into_key()?))
    }

    /// [`Lookup::AtOrBefore`] from a key, a time or the key's text.
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn at_or_before(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::AtOrBefore(at.into_key()?))
    }

    /// [`Lookup::AtOrAfter`] from a key, a time or the key's text. Keys are kept to the
    /// microsecond: a time finer than that rounds up, so nothing before it is selected
    /// (for [`at_or_before`](Self::at_or_before) it rounds down, for the same reason).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use snapshot_store::Lookup;
    ///
    /// let t = Utc.timestamp_opt(1_700_000_000, 500).unwrap(); // 500 ns past a microsecond
    /// let (Lookup::AtOrAfter(after), Lookup::AtOrBefore(before)) =
    ///     (Lookup::at_or_after(t)?, Lookup::at_or_before(t)?) else { unreachable!() };
    /// assert_eq!(after.as_micros() - before.as_micros(), 1);
    /// # Ok::<(), snapshot_store::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError`] when `at` is not a valid key.
    pub fn at_or_after(at: impl IntoKey) -> Result<Self, KeyError> {
        Ok(Lookup::AtOrAfter(at.into_key_rounding_up()?))
    }
}
