//! Format 2's numbers: 32-bit floats, typed arrays (`CC`) and lists in runs (`D0`,
//! `D1`), for the writer and the reader.

use super::*;
use crate::Array;
use crate::array::{self, ElementType};

/// Runs of gathered numbers are written once they reach this many bytes, so the
/// serde path never holds more than this beside the output.
pub(crate) const RUN_BYTES: usize = 64 * 1024;
/// Arrays shorter than this are never shuffled (the choice costs more than it gains).
const MIN_SHUFFLE_BYTES: usize = 1024;
/// How much of an array the shuffle choice compresses both ways.
const SHUFFLE_SAMPLE: usize = 64 * 1024;
/// The element byte's flag for byte-shuffled elements.
pub(crate) const SHUFFLED: u8 = 0x80;

/// One number of a sequence being written through serde.
#[derive(Clone, Copy)]
pub(crate) enum Num {
    Bool(bool),
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl Num {
    /// The number widened to `f64` (a bool as 0 or 1).
    #[cfg(feature = "std")]
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Bool(b) => f64::from(u8::from(b)),
            Num::U8(v) => v.into(),
            Num::I8(v) => v.into(),
            Num::U16(v) => v.into(),
            Num::I16(v) => v.into(),
            Num::U32(v) => v.into(),
            Num::I32(v) => v.into(),
            Num::U64(v) => v as f64,
            Num::I64(v) => v as f64,
            Num::F32(v) => v.into(),
            Num::F64(v) => v,
        }
    }

    #[inline(always)]
    fn ty(self) -> ElementType {
        match self {
            Num::Bool(_) => ElementType::Bool,
            Num::U8(_) => ElementType::U8,
            Num::I8(_) => ElementType::I8,
            Num::U16(_) => ElementType::U16,
            Num::I16(_) => ElementType::I16,
            Num::U32(_) => ElementType::U32,
            Num::I32(_) => ElementType::I32,
            Num::U64(_) => ElementType::U64,
            Num::I64(_) => ElementType::I64,
            Num::F32(_) => ElementType::F32,
            Num::F64(_) => ElementType::F64,
        }
    }

    /// The number as it would be written with its own tag (for integers: its size).
    #[inline]
    fn tagged_len(self) -> usize {
        let int = |i: i64| {
            if (0..=i64::from(FIXINT_MAX)).contains(&i) {
                1
            } else {
                let n = if i < 0 { !(i as u64) } else { i as u64 };
                1 + varint_len(n)
            }
        };
        match self {
            Num::Bool(_) => 1,
            Num::U8(v) => int(v.into()),
            Num::I8(v) => int(v.into()),
            Num::U16(v) => int(v.into()),
            Num::I16(v) => int(v.into()),
            Num::U32(v) => int(v.into()),
            Num::I32(v) => int(v.into()),
            Num::U64(v) if v > i64::MAX as u64 => 1 + varint_len(v),
            Num::U64(v) => int(v as i64),
            Num::I64(v) => int(v),
            Num::F32(_) => 5,
            Num::F64(_) => 9,
        }
    }

    #[inline(always)]
    fn push_le(self, buf: &mut Vec<u8>) {
        match self {
            Num::Bool(v) => buf.push(u8::from(v)),
            Num::U8(v) => buf.push(v),
            Num::I8(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::U16(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::I16(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::U32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::I32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::U64(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::I64(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::F32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            Num::F64(v) => buf.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// The element type a number is gathered as.
#[inline]
pub(crate) fn num_type(num: Num) -> ElementType {
    num.ty()
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Numbers of one type gathered from a sequence, not yet written.
#[derive(Default)]
pub(crate) struct Gather {
    ty: Option<ElementType>,
    buf: Vec<u8>,
    count: usize,
    /// What the gathered numbers would take written one by one with their tags.
    tagged_len: usize,
    /// The shuffle choice made for this sequence's first run, kept for the rest.
    shuffle: Option<bool>,
}

impl Gather {
    /// The type of the numbers gathered, if any are.
    #[inline(always)]
    pub(crate) fn ty(&self) -> Option<ElementType> {
        self.ty.filter(|_| self.count > 0)
    }

    /// Starts a new sequence.
    pub(crate) fn reset(&mut self) {
        self.ty = None;
        self.buf.clear();
        self.count = 0;
        self.tagged_len = 0;
        self.shuffle = None;
    }

    #[inline(always)]
    pub(crate) fn full(&self) -> bool {
        self.buf.len() >= RUN_BYTES
    }
}

impl<O: Output> Writer<O> {
    #[inline]
    pub(crate) fn write_f32(&mut self, v: f32) -> Result<()> {
        if self.version < 2 {
            return self.write_f64(v.into());
        }
        let mut buf = [0u8; 5];
        buf[0] = FLOAT32;
        buf[1..].copy_from_slice(&v.to_le_bytes());
        self.put(&buf)
    }

    /// Gathers `num` (of the type gathered so far: the caller flushes on a change).
    #[inline(always)]
    pub(crate) fn gather(&mut self, num: Num) {
        let g = &mut self.numbers;
        // One match: the element's bytes and what it would take with its own tag.
        let tagged = match num {
            Num::F32(v) => {
                g.buf.extend_from_slice(&v.to_le_bytes());
                5
            }
            Num::F64(v) => {
                g.buf.extend_from_slice(&v.to_le_bytes());
                9
            }
            Num::Bool(v) => {
                g.buf.push(u8::from(v));
                1
            }
            int => {
                int.push_le(&mut g.buf);
                int.tagged_len()
            }
        };
        g.ty = Some(num.ty());
        g.count += 1;
        g.tagged_len += tagged;
    }

    /// Whether gathered numbers, written one by one, would be smaller than as an array.
    fn tagged_is_smaller(&self) -> bool {
        self.numbers.tagged_len < self.numbers.buf.len() + 2
    }

    /// Writes the gathered numbers as items of a list in runs (a `D1` run, or one by
    /// one when that is smaller) and empties the gather.
    pub(crate) fn flush_run(&mut self) -> Result<()> {
        let Some(ty) = self.numbers.ty() else {
            return Ok(());
        };
        let tagged = self.tagged_is_smaller();
        let buf = core::mem::take(&mut self.numbers.buf);
        let result = if tagged {
            self.write_tagged(ty, &buf)
        } else {
            let shuffle = match self.numbers.shuffle {
                Some(choice) => choice,
                None => {
                    let choice = self.pick_shuffle(&buf, ty.width());
                    self.numbers.shuffle = Some(choice);
                    choice
                }
            };
            self.put_u8(RUN)
                .and_then(|()| self.write_elements(ty, self.numbers.count, &buf, shuffle))
        };
        self.numbers.buf = buf;
        self.numbers.buf.clear();
        self.numbers.count = 0;
        self.numbers.tagged_len = 0;
        result
    }

    /// Writes the gathered numbers as a whole value: an array, or a plain list when
    /// that is smaller. The caller has entered the list's depth.
    pub(crate) fn finish_gathered(&mut self) -> Result<()> {
        let Some(ty) = self.numbers.ty() else {
            return self.put_u8(FIXLIST);
        };
        let tagged = self.tagged_is_smaller();
        let buf = core::mem::take(&mut self.numbers.buf);
        let count = self.numbers.count;
        let result = if tagged {
            self.write_tag_len(FIXLIST, FIXLIST_MAX_LEN, LIST, count)
                .and_then(|()| self.write_tagged(ty, &buf))
        } else {
            let shuffle = self.pick_shuffle(&buf, ty.width());
            self.put_u8(ARRAY)
                .and_then(|()| self.write_elements(ty, count, &buf, shuffle))
        };
        self.numbers.buf = buf;
        self.numbers.reset();
        result
    }

    /// The header of a list in runs of `len` items.
    pub(crate) fn begin_runs(&mut self, len: usize) -> Result<()> {
        self.put_u8(RUNS)?;
        self.write_varint(len as u64)
    }

    /// Writes little-endian elements one by one, each with its tag.
    fn write_tagged(&mut self, ty: ElementType, le: &[u8]) -> Result<()> {
        let array = Array::from_le_bytes(ty, le, false)?;
        for i in 0..array.len() {
            match array.get(i) {
                Some(v) => self.write_value(&v)?,
                None => break,
            }
        }
        Ok(())
    }

    /// The element byte, the count and the elements (shuffled when asked).
    fn write_elements(
        &mut self,
        ty: ElementType,
        count: usize,
        le: &[u8],
        shuffle: bool,
    ) -> Result<()> {
        let shuffle = shuffle && ty.width() > 1;
        self.put_u8(ty.code() | if shuffle { SHUFFLED } else { 0 })?;
        self.write_varint(count as u64)?;
        if shuffle {
            self.put(&array::shuffle(le, ty.width()))
        } else {
            self.put(le)
        }
    }

    /// Writes a whole array (the `Value` path): `CC` in format 2, a list in version 1.
    pub(crate) fn write_array(&mut self, a: &Array) -> Result<()> {
        self.enter()?;
        if self.version < 2 {
            self.write_tag_len(FIXLIST, FIXLIST_MAX_LEN, LIST, a.len())?;
            for v in a.to_values() {
                self.write_value(&v)?;
            }
        } else {
            let le = a.le_bytes();
            let shuffle = self.pick_shuffle(&le, a.element_type().width());
            self.put_u8(ARRAY)?;
            self.write_elements(a.element_type(), a.len(), &le, shuffle)?;
        }
        self.leave();
        Ok(())
    }

    /// Whether shuffling `le` makes it compress smaller: tried on a sample, both ways,
    /// with a fast compressor. Only when the body will be compressed.
    fn pick_shuffle(&self, le: &[u8], width: usize) -> bool {
        match self.shuffle {
            None | Some(crate::Shuffle::Never) => return false,
            Some(crate::Shuffle::Always) => return width > 1,
            Some(_) => {}
        }
        if width < 2 || le.len() < MIN_SHUFFLE_BYTES {
            return false;
        }
        let n = SHUFFLE_SAMPLE.min(le.len()) / width * width;
        let sample = &le[..n];
        // Shuffled when that is smaller; under fast compression, only when compression
        // pays at all (shuffling data that will be stored uncompressed is time lost).
        let (num, den) = crate::options::SAMPLE_PAYS;
        match (
            compressed_len(&array::shuffle(sample, width)),
            compressed_len(sample),
        ) {
            (Some(shuffled), Some(plain)) => {
                shuffled < plain && (!self.fast_compression || shuffled * den <= n * num)
            }
            _ => false,
        }
    }
}

/// The size of `data` compressed by a fast compressor, when one is built in.
#[allow(unused_variables)]
fn compressed_len(data: &[u8]) -> Option<usize> {
    #[cfg(feature = "lz4")]
    {
        return Some(lz4_flex::block::compress(data).len());
    }
    #[allow(unreachable_code)]
    {
        #[cfg(feature = "zstd")]
        {
            return zstd::bulk::compress(data, 1).ok().map(|c| c.len());
        }
        #[allow(unreachable_code)]
        None
    }
}

/// What the reader found where a list item was expected in a list in runs.
pub(crate) enum RunItem {
    /// A run of numbers: their type, count, and whether they are shuffled.
    Run(ElementType, usize, bool),
    /// An ordinary item; its tag is not consumed.
    Item,
}

impl<'de, I: Input<'de>> Reader<I> {
    /// Reads an element byte and a count, checking that the elements fit the input.
    pub(crate) fn read_elements_head(&mut self) -> Result<(ElementType, usize, bool)> {
        let byte = self.input.next_u8()?;
        let ty = ElementType::from_code(byte & !SHUFFLED).ok_or_else(|| Error::InvalidArray {
            reason: "unknown element type",
        })?;
        let count = self.read_len(ty.width())?;
        Ok((ty, count, byte & SHUFFLED != 0))
    }

    /// Reads `count` elements of `ty` into an array, charging the memory budget.
    pub(crate) fn read_elements(
        &mut self,
        ty: ElementType,
        count: usize,
        shuffled: bool,
    ) -> Result<Array> {
        let len = count
            .checked_mul(ty.width())
            .ok_or_else(|| Error::LengthExceedsInput {
                declared: count as u64,
                available: (usize::MAX / ty.width()) as u64,
            })?;
        self.charge(len as u64)?;
        let bytes = self.input.read_bytes(len)?;
        Array::from_le_bytes(ty, bytes.get(), shuffled)
    }

    /// In a list in runs: a run's head, or an ordinary item (not consumed).
    pub(crate) fn read_run_head(&mut self) -> Result<RunItem> {
        if self.input.peek_u8()? == Some(RUN) {
            self.input.next_u8()?;
            let (ty, count, shuffled) = self.read_elements_head()?;
            if count == 0 {
                return Err(Error::InvalidArray {
                    reason: "a run of no elements",
                });
            }
            return Ok(RunItem::Run(ty, count, shuffled));
        }
        Ok(RunItem::Item)
    }

    /// Reads the items of a list in runs of `len` items as a `Value`: an array when
    /// every item came in runs of one type, else a list.
    pub(crate) fn read_runs_value(&mut self, len: usize) -> Result<Value> {
        self.enter()?;
        let mut array: Option<Array> = None;
        let mut items: Option<Vec<Value>> = None;
        let mut done = 0usize;
        while done < len {
            match self.read_run_head()? {
                RunItem::Run(ty, count, shuffled) => {
                    if count > len - done {
                        return Err(Error::InvalidArray {
                            reason: "a run goes past its list's length",
                        });
                    }
                    let run = self.read_elements(ty, count, shuffled)?;
                    done += count;
                    match (&mut items, &mut array) {
                        (Some(items), _) => {
                            self.charge((count as u64).saturating_mul(ITEM_COST))?;
                            items.extend(run.to_values());
                        }
                        (None, None) => array = Some(run),
                        (None, Some(a)) => {
                            if let Err(run) = a.append(run) {
                                let mut list = self.list_of(array.take())?;
                                self.charge((count as u64).saturating_mul(ITEM_COST))?;
                                list.extend(run.to_values());
                                items = Some(list);
                            }
                        }
                    }
                }
                RunItem::Item => {
                    let value = self.read_value().map_err(|e| e.in_item(done))?;
                    done += 1;
                    if items.is_none() {
                        items = Some(self.list_of(array.take())?);
                    }
                    if let Some(items) = &mut items {
                        self.charge(ITEM_COST)?;
                        items.push(value);
                    }
                }
            }
        }
        self.leave();
        Ok(match (items, array) {
            (Some(items), _) => Value::List(items),
            (None, Some(array)) => Value::Array(array),
            (None, None) => Value::List(Vec::new()),
        })
    }

    /// The elements of `array` (if any) as a list, charged to the budget.
    fn list_of(&mut self, array: Option<Array>) -> Result<Vec<Value>> {
        let Some(array) = array else {
            return Ok(Vec::new());
        };
        self.charge((array.len() as u64).saturating_mul(ITEM_COST))?;
        Ok(array.to_values())
    }
}

impl<'de, I: Input<'de>> Reader<I> {
    /// Skips `count` elements of `ty` (checking bools, which have two valid bytes).
    pub(crate) fn skip_elements(
        &mut self,
        ty: ElementType,
        count: usize,
        shuffled: bool,
    ) -> Result<()> {
        let len = count.saturating_mul(ty.width());
        let bytes = self.input.read_bytes(len)?;
        if ty == ElementType::Bool && bytes.get().iter().any(|&b| b > 1) {
            return Err(Error::InvalidArray {
                reason: "a bool element is neither 0 nor 1",
            });
        }
        let _ = shuffled;
        Ok(())
    }
}

/// The element of type `ty` at the start of `le` (which holds at least one).
#[inline]
pub(crate) fn read_num(ty: ElementType, le: &[u8]) -> Result<Num> {
    macro_rules! get {
        ($t:ty) => {{
            let mut raw = [0u8; core::mem::size_of::<$t>()];
            raw.copy_from_slice(&le[..core::mem::size_of::<$t>()]);
            <$t>::from_le_bytes(raw)
        }};
    }
    Ok(match ty {
        ElementType::Bool => match le[0] {
            0 => Num::Bool(false),
            1 => Num::Bool(true),
            _ => {
                return Err(Error::InvalidArray {
                    reason: "a bool element is neither 0 nor 1",
                });
            }
        },
        ElementType::U8 => Num::U8(le[0]),
        ElementType::I8 => Num::I8(get!(i8)),
        ElementType::U16 => Num::U16(get!(u16)),
        ElementType::I16 => Num::I16(get!(i16)),
        ElementType::U32 => Num::U32(get!(u32)),
        ElementType::I32 => Num::I32(get!(i32)),
        ElementType::U64 => Num::U64(get!(u64)),
        ElementType::I64 => Num::I64(get!(i64)),
        ElementType::F32 => Num::F32(get!(f32)),
        ElementType::F64 => Num::F64(get!(f64)),
    })
}
