//! Python values to the format and back, without an intermediate tree: Python objects
//! are walked straight into the codec's serializer, and decoded straight into Python
//! objects.
//!
//! | Python | stored as | comes back as |
//! |---|---|---|
//! | `None`, `bool`, `str`, `bytes` | null, bool, string, bytes | the same |
//! | `bytearray` | bytes | `bytes` |
//! | `int` in `-2**63 ..= 2**64-1` | integer | `int` |
//! | `float` | 64-bit float, bit for bit | `float` |
//! | `dict` with `str` / `int` keys | map (integer keys kept as integers) | `dict` |
//! | `list`, `tuple` | list (numbers side by side as a typed array) | `list` |
//! | aware `datetime.datetime` | the UTC time extension (type 1) | `datetime` in UTC |
//! | `snapshot_state.Ext` | an extension value | `snapshot_state.Ext` |
//! | numpy array (bool, int, uint, float16/32/64, complex) | an `NdArray` extension (type 2): dtype, shape, one block | a numpy array of the same dtype and shape (nested lists without numpy) |
//! | numpy scalar | its number | a Python `int` / `float` / `bool` |

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

mod decode;
mod encode;
mod ndarray;

pub(crate) use decode::{Build, Builder};
pub(crate) use encode::Walker;
pub(crate) use ndarray::numpy_bytes;

/// `datetime.datetime`, `datetime.timedelta` and the aware epoch, looked up once.
struct DateTimes {
    datetime: Py<PyType>,
    timedelta: Py<PyAny>,
    epoch: Py<PyAny>,
}

static DATETIMES: PyOnceLock<DateTimes> = PyOnceLock::new();

fn datetimes(py: Python<'_>) -> PyResult<&DateTimes> {
    DATETIMES.get_or_try_init(py, || {
        let module = py.import("datetime")?;
        let utc = module.getattr("timezone")?.getattr("utc")?;
        let datetime = module.getattr("datetime")?;
        let epoch = datetime.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok(DateTimes {
            datetime: datetime.cast_into::<PyType>()?.unbind(),
            timedelta: module.getattr("timedelta")?.unbind(),
            epoch: epoch.unbind(),
        })
    })
}

/// Microseconds since the Unix epoch of an aware datetime; a naive one is local time
/// (as `datetime.timestamp` reads it) when `naive_is_local`, else a `TypeError`.
pub(crate) fn datetime_micros(value: &Bound<'_, PyAny>, naive_is_local: bool) -> PyResult<i64> {
    let py = value.py();
    let dt = datetimes(py)?;
    let mut value = value.clone();
    if value.getattr("tzinfo")?.is_none() || value.call_method0("utcoffset")?.is_none() {
        if !naive_is_local {
            return Err(PyTypeError::new_err(
                "a naive datetime (no tzinfo) is ambiguous: give it a timezone, such as \
                 datetime.timezone.utc",
            ));
        }
        value = value.call_method0("astimezone")?;
    }
    let delta = value.sub(dt.epoch.bind(py))?;
    let days: i64 = delta.getattr("days")?.extract()?;
    let seconds: i64 = delta.getattr("seconds")?.extract()?;
    let micros: i64 = delta.getattr("microseconds")?.extract()?;
    Ok((days * 86_400 + seconds) * 1_000_000 + micros)
}

/// The aware UTC datetime `micros` after the epoch.
pub(crate) fn datetime_from_micros(py: Python<'_>, micros: i64) -> PyResult<Bound<'_, PyAny>> {
    let dt = datetimes(py)?;
    let delta = dt.timedelta.bind(py).call1((
        0,
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000),
    ))?;
    dt.epoch.bind(py).add(delta)
}

fn is_datetime(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let dt = datetimes(value.py())?;
    value.is_instance(dt.datetime.bind(value.py()))
}
