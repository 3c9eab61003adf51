//! [`SnapshotKey`]: a UTC timestamp with microsecond precision, and its text form.

use core::fmt;
use core::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};

/// Why a text or a time is not a valid snapshot key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not of the form `YYYY-MM-DD_HH-MM-SS-ffffff`.
    #[error("invalid snapshot key {input:?}: {reason}")]
    Malformed {
        /// The text given (cut to 64 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The time is outside the years 0000 to 9999 that the fixed-width form can hold.
    #[error("time {micros} µs from the Unix epoch is outside the years 0000-9999")]
    OutOfRange {
        /// Microseconds since 1970-01-01T00:00:00Z.
        micros: i64,
    },
}

/// The first and last instants a key can name: 0000-01-01 and 9999-12-31T23:59:59.999999.
const MIN_MICROS: i64 = -62_167_219_200_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// The length of the text form.
pub const KEY_LEN: usize = 26;

/// A snapshot's name: a UTC instant with microsecond precision.
///
/// Its text form is `YYYY-MM-DD_HH-MM-SS-ffffff` (the Python original's file names), of
/// fixed width, so that sorting the text sorts by time on every backend. Parsing accepts
/// exactly that form; keys can name any instant of the years 0000 to 9999.
///
/// ```
/// use snapshot_store::SnapshotKey;
/// use chrono::{TimeZone, Utc};
///
/// let key: SnapshotKey = "2024-01-15_10-30-00-000042".parse()?;
/// assert_eq!(key.to_string(), "2024-01-15_10-30-00-000042");
/// let t = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0).unwrap();
/// assert_eq!(key.to_datetime(), t + chrono::Duration::microseconds(42));
/// assert!(key < key.next());
///
/// assert!("../../etc/passwd".parse::<SnapshotKey>().is_err());
/// assert!("2024-02-30_00-00-00-000000".parse::<SnapshotKey>().is_err());
/// # Ok::<(), snapshot_store::KeyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotKey {
    micros: i64,
}

impl SnapshotKey {
    /// The smallest key: 0000-01-01T00:00:00Z.
    pub const MIN: SnapshotKey = SnapshotKey { micros: MIN_MICROS };
    /// The largest key: 9999-12-31T23:59:59.999999Z.
    pub const MAX: SnapshotKey = SnapshotKey { micros: MAX_MICROS };

    /// The key for the current time.
    pub fn now() -> Self {
        // The clock is within 0000-9999 on any machine this runs on.
        Self::from_datetime(Utc::now()).unwrap_or(Self::MAX)
    }

    /// The key for `time`, truncated to the microsecond.
    ///
    /// # Errors
    /// [`KeyError::OutOfRange`] outside the years 0000 to 9999.
    pub fn from_datetime(time: DateTime<Utc>) -> Result<Self, KeyError> {
        Self::from_micros(time.timestamp_micros())
    }

    /// The key `micros` microseconds after the Unix epoch.
    ///
    /// # Errors
    /// [`KeyError::OutOfRange`] outside the years 0000 to 9999.
    pub fn from_micros(micros: i64) -> Result<Self, KeyError> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Self { micros })
        } else {
            Err(KeyError::OutOfRange { micros })
        }
    }

    /// The key for a time written as text, in any of the forms people type: a key
    /// (`2024-01-15_10-30-00-000000`), RFC 3339 with its offset
    /// (`2024-01-15T10:30:00Z`, `2024-01-15T12:30:00.25+02:00`), or a date alone
    /// (`2024-01-15`: the start of that day in UTC, as the dates in keys are UTC). A
    /// time without an offset is refused: it could be any zone's. The CLI and the
    /// Python package take times through this.
    ///
    /// ```
    /// use snapshot_store::SnapshotKey;
    /// let key = SnapshotKey::parse_time("2024-01-15T12:30:00+02:00")?;
    /// assert_eq!(key.to_string(), "2024-01-15_10-30-00-000000");
    /// assert_eq!(SnapshotKey::parse_time("2024-01-15")?.to_string(), "2024-01-15_00-00-00-000000");
    /// assert!(SnapshotKey::parse_time("2024-01-15 10:30").is_err()); // which zone?
    /// # Ok::<(), snapshot_store::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::Malformed`] naming the accepted forms; a time finer than a
    /// microsecond is refused too (rounding it could move a bound across a snapshot).
    /// [`KeyError::OutOfRange`] outside the years 0000 to 9999.
    pub fn parse_time(text: &str) -> Result<Self, KeyError> {
        const FORMS: &str = "expected a snapshot key (2024-01-15_10-30-00-000000), RFC 3339 \
             with an offset (2024-01-15T10:30:00Z) or a date (2024-01-15, midnight UTC)";
        let fail = |reason| KeyError::Malformed {
            input: text.chars().take(64).collect(),
            reason,
        };
        if let Ok(key) = text.parse() {
            return Ok(key);
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            && text.len() == 10
        {
            let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(|| fail(FORMS))?;
            return Self::from_datetime(midnight.and_utc());
        }
        let time = DateTime::parse_from_rfc3339(text).map_err(|_| fail(FORMS))?;
        if time.timestamp_subsec_nanos() % 1000 != 0 {
            return Err(fail(
                "snapshot times are kept to the microsecond: give at most 6 digits after the seconds",
            ));
        }
        Self::from_datetime(time.to_utc())
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.micros
    }

    /// The instant this key names.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }

    /// The key one microsecond later (saturating at [`SnapshotKey::MAX`]).
    pub fn next(self) -> Self {
        Self {
            micros: (self.micros + 1).min(MAX_MICROS),
        }
    }

    /// The absolute distance between two keys.
    pub fn distance(self, other: SnapshotKey) -> TimeDelta {
        TimeDelta::microseconds(self.micros.abs_diff(other.micros) as i64)
    }

    /// Parses the text form, accepting nothing else (the body of [`FromStr`]).
    fn parse_text(text: &str) -> Result<Self, KeyError> {
        let fail = |reason| KeyError::Malformed {
            input: text.chars().take(64).collect(),
            reason,
        };
        let b = text.as_bytes();
        if b.len() != KEY_LEN {
            return Err(fail("expected 26 characters: YYYY-MM-DD_HH-MM-SS-ffffff"));
        }
        for (i, &c) in b.iter().enumerate() {
            let ok = match i {
                4 | 7 | 13 | 16 | 19 => c == b'-',
                10 => c == b'_',
                _ => c.is_ascii_digit(),
            };
            if !ok {
                return Err(fail("expected the form YYYY-MM-DD_HH-MM-SS-ffffff"));
            }
        }
        let num = |r: core::ops::Range<usize>| -> u32 {
            b[r].iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let date = NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
            .ok_or_else(|| fail("no such date"))?;
        let (h, m, s) = (num(11..13), num(14..16), num(17..19));
        if h > 23 || m > 59 || s > 59 {
            return Err(fail("hour, minute or second out of range"));
        }
        let time = date
            .and_hms_micro_opt(h, m, s, num(20..26))
            .ok_or_else(|| fail("time out of range"))?;
        Self::from_micros(time.and_utc().timestamp_micros())
    }
}

impl fmt::Display for SnapshotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}_{:02}-{:02}-{:02}-{:06}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_micros()
        )
    }
}

impl fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotKey({self})")
    }
}

/// The one way to read a key's text form: `"2024-01-15_09-30-00-000000".parse()`.
///
/// # Errors
/// [`KeyError::Malformed`] naming what is wrong; nothing but the exact form is accepted.
impl FromStr for SnapshotKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse_text(s)
    }
}

impl From<SnapshotKey> for DateTime<Utc> {
    fn from(k: SnapshotKey) -> Self {
        k.to_datetime()
    }
}

impl serde::Serialize for SnapshotKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SnapshotKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        str::parse::<Self>(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_at_the_edges() {
        for k in [
            SnapshotKey::MIN,
            SnapshotKey::MAX,
            SnapshotKey::from_micros(0).unwrap(),
        ] {
            let text = k.to_string();
            assert_eq!(text.len(), KEY_LEN);
            assert_eq!(str::parse::<SnapshotKey>(&text).unwrap(), k);
        }
        assert_eq!(SnapshotKey::MIN.to_string(), "0000-01-01_00-00-00-000000");
        assert_eq!(SnapshotKey::MAX.to_string(), "9999-12-31_23-59-59-999999");
        assert_eq!(
            SnapshotKey::from_micros(-1).unwrap().to_string(),
            "1969-12-31_23-59-59-999999"
        );
    }

    #[test]
    fn text_order_is_time_order() {
        let mut keys: Vec<SnapshotKey> = [
            -62_000_000_000_000_000i64,
            -1,
            0,
            1,
            999_999,
            1_000_000,
            1_700_000_000_123_456,
        ]
        .iter()
        .map(|&m| SnapshotKey::from_micros(m).unwrap())
        .collect();
        keys.reverse();
        let mut by_text: Vec<String> = keys.iter().map(ToString::to_string).collect();
        by_text.sort();
        keys.sort();
        assert_eq!(
            by_text,
            keys.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }

    #[test]
    fn anything_but_the_exact_form_is_rejected() {
        for bad in [
            "",
            "../../etc/passwd",
            "/2024-01-15_10-30-00-000000",
            "2024-01-15_10-30-00-000000/",
            "2024-01-15_10-30-00-00000",
            "2024-01-15_10-30-00-0000000",
            "2024-01-15 10-30-00-000000",
            "2024-01-15_10:30:00-000000",
            "2024-13-15_10-30-00-000000",
            "2024-02-30_10-30-00-000000",
            "2024-01-15_24-00-00-000000",
            "2024-01-15_10-60-00-000000",
            "2024-01-15_10-30-60-000000",
            "2024-01-15_10-30-00-00000\0",
            "+024-01-15_10-30-00-000000",
            "2024-01-15_10-30-00-00000a",
            "２024-01-15_10-30-00-00000",
        ] {
            assert!(
                matches!(
                    str::parse::<SnapshotKey>(bad),
                    Err(KeyError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn times_outside_four_digit_years_are_out_of_range() {
        let t = DateTime::from_timestamp(MAX_MICROS / 1_000_000 + 1, 0).unwrap();
        assert!(matches!(
            SnapshotKey::from_datetime(t),
            Err(KeyError::OutOfRange { .. })
        ));
        assert!(SnapshotKey::from_micros(MIN_MICROS - 1).is_err());
        assert_eq!(SnapshotKey::MAX.next(), SnapshotKey::MAX);
    }
}
