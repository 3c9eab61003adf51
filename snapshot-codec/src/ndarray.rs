//! [`NdArray`]: an n-dimensional array of numbers in one block (the extension type numpy
//! arrays are stored as).

use alloc::{string::String, vec::Vec};
use core::fmt;

use crate::{Array, ElementType, Error, ExtType, Result};

/// The type identifier of [`NdArray`] values.
pub const NDARRAY_TYPE_ID: u64 = 2;

/// The most dimensions an [`NdArray`] may have (numpy's own limit).
pub const MAX_NDIM: usize = 64;

/// The element type of an [`NdArray`]: every numeric and boolean type numpy has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// `bool`, one byte each (0 or 1).
    Bool,
    /// `u8`.
    U8,
    /// `i8`.
    I8,
    /// `u16`.
    U16,
    /// `i16`.
    I16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `u64`.
    U64,
    /// `i64`.
    I64,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// IEEE 754 binary16 (numpy's `float16`), kept as its bits.
    F16,
    /// Two binary32 numbers, real then imaginary (numpy's `complex64`).
    Complex64,
    /// Two binary64 numbers, real then imaginary (numpy's `complex128`).
    Complex128,
}

const DTYPES: [DType; 14] = [
    DType::Bool,
    DType::U8,
    DType::I8,
    DType::U16,
    DType::I16,
    DType::U32,
    DType::I32,
    DType::U64,
    DType::I64,
    DType::F32,
    DType::F64,
    DType::F16,
    DType::Complex64,
    DType::Complex128,
];

impl DType {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 | DType::F16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
        }
    }

    /// numpy's name for it: `"bool"`, `"uint8"`, ..., `"float16"`, `"complex128"`.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::U64 => "uint64",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
        }
    }

    /// Its code in the payload (FORMAT.md): the typed arrays' codes `00`-`0A`, then
    /// `0B` float16, `0C` complex64, `0D` complex128.
    pub fn code(self) -> u8 {
        DTYPES.iter().position(|d| *d == self).unwrap_or(0) as u8
    }

    /// The type of a code, if it names one.
    pub fn from_code(code: u8) -> Option<DType> {
        DTYPES.get(usize::from(code)).copied()
    }
}

/// An n-dimensional array of numbers stored as one block: its element type, its shape
/// (C order: the last index varies fastest) and its elements as little-endian bytes.
///
/// It is an extension value ([`NDARRAY_TYPE_ID`]): the Python package stores numpy
/// arrays as this, and a Rust program reads them back through it, as a field of a serde
/// type or from a [`Value`](crate::Value), and converts to a typed [`Array`] (a
/// `Vec<f32>`, ...) with [`to_array`](Self::to_array).
///
/// ```
/// use snapshot_codec::{Array, DType, NdArray};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Checkpoint { step: u64, weights: NdArray }
///
/// let weights = NdArray::from_array(vec![2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0].into())?;
/// let bytes = snapshot_codec::to_vec(&Checkpoint { step: 7, weights })?;
/// let back: Checkpoint = snapshot_codec::from_slice(&bytes)?;
/// assert_eq!((back.weights.dtype(), back.weights.shape()), (DType::F32, &[2, 3][..]));
/// let Some(Array::F32(values)) = back.weights.to_array() else { panic!("f32") };
/// assert_eq!(values[3..], [4.0, 5.0, 6.0]); // the second row
/// # Ok::<(), snapshot_codec::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NdArray {
    dtype: DType,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn invalid(reason: String) -> Error {
    Error::InvalidExtension {
        type_id: NDARRAY_TYPE_ID,
        name: NdArray::NAME,
        reason,
    }
}

/// How many elements `shape` holds, if that fits in `usize` and `ndim` is allowed.
fn element_count(shape: &[usize], width: usize) -> core::result::Result<usize, String> {
    if shape.len() > MAX_NDIM {
        return Err(alloc::format!(
            "{} dimensions (at most {MAX_NDIM})",
            shape.len()
        ));
    }
    shape
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d))
        .filter(|n| n.checked_mul(width).is_some())
        .ok_or_else(|| alloc::format!("shape {shape:?} holds too many elements"))
}

fn check_data(dtype: DType, count: usize, data: &[u8]) -> core::result::Result<(), String> {
    if data.len() != count * dtype.width() {
        return Err(alloc::format!(
            "{count} elements of {} take {} bytes, not {}",
            dtype.numpy_name(),
            count * dtype.width(),
            data.len()
        ));
    }
    if dtype == DType::Bool && data.iter().any(|b| *b > 1) {
        return Err("a bool element is neither 0 nor 1".into());
    }
    Ok(())
}

impl NdArray {
    /// An array of `dtype` and `shape` whose elements are `data`, little-endian, C order.
    ///
    /// # Errors
    /// [`Error::InvalidExtension`] when `data` is not `shape`'s element count times the
    /// width, a bool byte is neither 0 nor 1, or there are more than [`MAX_NDIM`]
    /// dimensions.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let count = element_count(&shape, dtype.width()).map_err(invalid)?;
        check_data(dtype, count, &data).map_err(invalid)?;
        Ok(Self { dtype, shape, data })
    }

    /// A typed array given a shape (`vec![array.len()]` for one dimension).
    ///
    /// # Errors
    /// [`Error::InvalidExtension`] when the shape does not hold `array.len()` elements.
    pub fn from_array(shape: Vec<usize>, array: Array) -> Result<Self> {
        let dtype = DType::from_code(array.element_type().code()).unwrap_or(DType::U8);
        Self::new(dtype, shape, array.le_bytes().into_owned())
    }

    /// The elements as a typed array, flat in C order; `None` for float16 and complex
    /// elements, which [`Array`] has no type for (read them from [`data`](Self::data)).
    pub fn to_array(&self) -> Option<Array> {
        let ty = ElementType::from_code(self.dtype.code()).filter(|_| self.dtype.code() <= 10)?;
        Array::from_le_bytes(ty, &self.data, false).ok()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The length of each dimension; empty for a single number (a 0-d array).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// How many elements it holds (the product of the shape).
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.width()
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements' bytes, little-endian, C order.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes it, returning the elements' bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Writes the payload header (element code, dimensions) for `dtype` and `shape`; the
    /// elements follow it. For writers that copy elements straight from their own buffer.
    pub fn write_header(dtype: DType, shape: &[usize], out: &mut Vec<u8>) {
        out.push(dtype.code());
        push_varint(out, shape.len() as u64);
        for d in shape {
            push_varint(out, *d as u64);
        }
    }

    /// Reads a payload's header: the element type, the shape, and where the elements
    /// start; checks the elements' length (and bool bytes) without copying them.
    ///
    /// # Errors
    /// A message saying what is wrong with the payload.
    pub fn parse_header(data: &[u8]) -> core::result::Result<(DType, Vec<usize>, usize), String> {
        let mut at = 0;
        let code = *data.first().ok_or("an empty payload")?;
        at += 1;
        let dtype =
            DType::from_code(code).ok_or_else(|| alloc::format!("unknown element code {code}"))?;
        let ndim = read_varint(data, &mut at)?;
        if ndim > MAX_NDIM as u64 {
            return Err(alloc::format!("{ndim} dimensions (at most {MAX_NDIM})"));
        }
        let mut shape = Vec::with_capacity(ndim as usize);
        for _ in 0..ndim {
            let d = read_varint(data, &mut at)?;
            shape.push(
                usize::try_from(d).map_err(|_| alloc::format!("dimension {d} is too large"))?,
            );
        }
        let count = element_count(&shape, dtype.width())?;
        check_data(dtype, count, &data[at..])?;
        Ok((dtype, shape, at))
    }
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(data: &[u8], at: &mut usize) -> core::result::Result<u64, String> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *data.get(*at).ok_or("the header ends early")?;
        *at += 1;
        if i == 9 && b > 1 {
            return Err("a dimension overflows 64 bits".into());
        }
        v |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err("a dimension overflows 64 bits".into())
}

impl fmt::Debug for NdArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NdArray({}, {:?})", self.dtype.numpy_name(), self.shape)
    }
}

/// The payload: the element code (one byte), the number of dimensions and each
/// dimension (varints), then the elements, little-endian, C order.
impl ExtType for NdArray {
    const TYPE_ID: u64 = NDARRAY_TYPE_ID;
    const NAME: &'static str = "ndarray";

    fn to_payload(&self, out: &mut Vec<u8>) {
        Self::write_header(self.dtype, &self.shape, out);
        out.extend_from_slice(&self.data);
    }

    fn from_payload(data: &[u8]) -> core::result::Result<Self, String> {
        let (dtype, shape, at) = Self::parse_header(data)?;
        Ok(Self {
            dtype,
            shape,
            data: data[at..].to_vec(),
        })
    }

    fn check_payload(data: &[u8]) -> core::result::Result<(), String> {
        Self::parse_header(data).map(drop)
    }

    fn describe(&self) -> Option<String> {
        Some(alloc::format!(
            "{} array of shape {:?}",
            self.dtype.numpy_name(),
            self.shape
        ))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for NdArray {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        let mut payload = Vec::with_capacity(self.data.len() + 12);
        self.to_payload(&mut payload);
        crate::Ext::new(NDARRAY_TYPE_ID, payload).serialize(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for NdArray {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let ext = crate::Ext::deserialize(d)?;
        match ext.decode::<NdArray>() {
            Some(Ok(array)) => Ok(array),
            Some(Err(e)) => Err(serde::de::Error::custom(e)),
            None => Err(serde::de::Error::custom(alloc::format!(
                "expected an ndarray (extension type {NDARRAY_TYPE_ID}), found extension type {}",
                ext.type_id()
            ))),
        }
    }
}

/// Calls `f` with each element of `data` (little-endian elements of `dtype`) widened to
/// `f64`; booleans and complex numbers have no such value and are passed over.
#[cfg(feature = "std")]
pub(crate) fn each_f64(dtype: DType, data: &[u8], mut f: impl FnMut(f64)) {
    for chunk in data.chunks_exact(dtype.width()) {
        match to_f64(dtype, chunk) {
            Some(x) => f(x),
            None => return,
        }
    }
}

/// One little-endian element of `dtype` widened to `f64` (`None` for booleans and
/// complex numbers).
#[inline]
pub(crate) fn to_f64(dtype: DType, le: &[u8]) -> Option<f64> {
    macro_rules! get {
        ($t:ty) => {{
            let mut raw = [0u8; core::mem::size_of::<$t>()];
            raw.copy_from_slice(le.get(..core::mem::size_of::<$t>())?);
            <$t>::from_le_bytes(raw)
        }};
    }
    Some(match dtype {
        DType::U8 => f64::from(get!(u8)),
        DType::I8 => f64::from(get!(i8)),
        DType::U16 => f64::from(get!(u16)),
        DType::I16 => f64::from(get!(i16)),
        DType::U32 => f64::from(get!(u32)),
        DType::I32 => f64::from(get!(i32)),
        DType::U64 => get!(u64) as f64,
        DType::I64 => get!(i64) as f64,
        DType::F16 => f16_to_f64(get!(u16)),
        DType::F32 => f64::from(get!(f32)),
        DType::F64 => get!(f64),
        DType::Bool | DType::Complex64 | DType::Complex128 => return None,
    })
}

/// An IEEE 754 half-precision value, widened.
pub(crate) fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1F);
    let fraction = f64::from(bits & 0x3FF);
    let magnitude = match exponent {
        0 => fraction * pow2(-24),
        0x1F if fraction == 0.0 => f64::INFINITY,
        0x1F => f64::NAN,
        e => (1.0 + fraction / 1024.0) * pow2(e - 15),
    };
    sign * magnitude
}

/// 2 to the power `e` (no_std has no `powi`); exact for the exponents of half floats.
fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}
