//! [`diff`](crate::diff) of two snapshots read side by side as they stream (std only).
//!
//! Both bodies are walked in step: maps entry by entry while their keys come in the
//! same order, lists item by item. Where the two stop matching (keys in another order,
//! a different kind of value, a leaf), only that part is built as values and compared
//! in memory. Two checkpoints of one program keep their keys in one order, so what is
//! held at once is the largest single leaf (a string, an array) of each side, plus the
//! changes found.

use std::collections::HashSet;
use std::io::Read;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::diff::{Brief, Change, Diff, push_segment, walk, walk_maps};
use crate::wire::{BREAK, ENTRY_COST, Head, ITEM_COST, Input, Reader};
use crate::{DecodeOptions, Error, Key, Map, Result};

impl DecodeOptions {
    /// What changed from the snapshot in `old` to the one in `new`: the same answer as
    /// [`diff`](crate::diff) of the two decoded values, computed while both stream, so
    /// memory stays near the largest single string or array of either (see the module
    /// notes in the guide). Both snapshots are checked whole, as a load checks them.
    ///
    /// ```
    /// use snapshot_codec::{diff, value, DecodeOptions};
    ///
    /// let old = value!({"step": 1, "weights": [0.5, 0.25], "name": "run"});
    /// let new = value!({"step": 2, "weights": [0.5, 0.75], "name": "run"});
    /// let (a, b) = (snapshot_codec::encode(&old)?, snapshot_codec::encode(&new)?);
    /// let streamed = DecodeOptions::new().diff_from_readers(&a[..], &b[..])?;
    /// assert_eq!(streamed, diff(&old, &new));
    /// assert_eq!(streamed.changes.len(), 2);
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`check_from_reader`](Self::check_from_reader), for either snapshot.
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn diff_from_readers<A: Read, B: Read>(&self, old: A, new: B) -> Result<Diff> {
        crate::stream::decode_from_reader(old, self, |ra| {
            crate::stream::decode_from_reader(new, self, |rb| {
                let mut out = Diff::default();
                let mut path = String::new();
                // Each stream reader refuses bytes after its root value.
                pair(ra, rb, &mut path, &mut out)?;
                Ok(out)
            })
        })
    }
}

/// Compares the next value of each side.
fn pair<'a, 'b, A: Input<'a>, B: Input<'b>>(
    ra: &mut Reader<A>,
    rb: &mut Reader<B>,
    path: &mut String,
    out: &mut Diff,
) -> Result<()> {
    let (ha, hb) = (ra.read_head()?, rb.read_head()?);
    if let (Some(ca), Some(cb)) = (Cursor::of(ra, ha)?, Cursor::of(rb, hb)?) {
        return maps(ra, ca, rb, cb, path, out);
    }
    if let (Head::List(la), Head::List(lb)) = (ha, hb) {
        return lists(ra, la, rb, lb, path, out);
    }
    let a = ra.value_from_head(ha)?;
    let b = rb.value_from_head(hb)?;
    walk(&a, &b, path, out);
    Ok(())
}

fn lists<'a, 'b, A: Input<'a>, B: Input<'b>>(
    ra: &mut Reader<A>,
    la: usize,
    rb: &mut Reader<B>,
    lb: usize,
    path: &mut String,
    out: &mut Diff,
) -> Result<()> {
    ra.charge((la as u64).saturating_mul(ITEM_COST))?;
    rb.charge((lb as u64).saturating_mul(ITEM_COST))?;
    ra.enter()?;
    rb.enter()?;
    for i in 0..la.max(lb) {
        let at = path.len();
        push_segment(path, &i.to_string());
        if i < la && i < lb {
            pair(ra, rb, path, out)?;
        } else if i < la {
            let old = Brief::of(&ra.read_value()?);
            out.changes.push(Change::Removed {
                path: path.clone(),
                old,
            });
        } else {
            let new = Brief::of(&rb.read_value()?);
            out.changes.push(Change::Added {
                path: path.clone(),
                new,
            });
        }
        path.truncate(at);
    }
    ra.leave();
    rb.leave();
    Ok(())
}

fn maps<'a, 'b, A: Input<'a>, B: Input<'b>>(
    ra: &mut Reader<A>,
    mut ca: Cursor,
    rb: &mut Reader<B>,
    mut cb: Cursor,
    path: &mut String,
    out: &mut Diff,
) -> Result<()> {
    ra.enter()?;
    rb.enter()?;
    loop {
        let (ka, kb) = (ca.next_key(ra)?, cb.next_key(rb)?);
        match (ka, kb) {
            (None, None) => break,
            (Some(x), Some(y)) if x == y => {
                let at = path.len();
                push_segment(path, &x.to_string());
                pair(ra, rb, path, out)?;
                path.truncate(at);
            }
            (ka, kb) => {
                // The keys part ways: the rest of each map is compared in memory.
                let rest_a = ca.rest(ra, ka)?;
                let rest_b = cb.rest(rb, kb)?;
                walk_maps(&rest_a, &rest_b, path, out);
                break;
            }
        }
    }
    ca.finish(ra)?;
    cb.finish(rb)?;
    ra.leave();
    rb.leave();
    Ok(())
}

/// Where a map being read is: its form (plain, shape-defining, record) and position.
struct Cursor {
    form: Form,
    /// Entries (plain, shape-defining) or slots (record) read so far.
    at: usize,
    /// After a record's break: the entries written out that are left.
    after_break: Option<usize>,
    /// The keys met, to refuse repeats.
    seen: HashSet<Key>,
    /// A shape-defining map's keys in order, to define its shape.
    keys: Vec<Key>,
}

#[derive(Clone, Copy)]
enum Form {
    Plain(usize),
    Shape(usize),
    Record(usize),
}

impl Cursor {
    /// A cursor when `head` starts a map.
    fn of<'d, I: Input<'d>>(r: &mut Reader<I>, head: Head) -> Result<Option<Cursor>> {
        let form = match head {
            Head::Map(len) => Form::Plain(len),
            Head::ShapeMap(len) => Form::Shape(len),
            Head::Record(index) => Form::Record(index),
            _ => return Ok(None),
        };
        let len = match form {
            Form::Plain(len) | Form::Shape(len) => len,
            Form::Record(index) => r.shapes[index].len(),
        };
        r.charge((len as u64).saturating_mul(ENTRY_COST))?;
        Ok(Some(Cursor {
            form,
            at: 0,
            after_break: None,
            seen: HashSet::new(),
            keys: Vec::new(),
        }))
    }

    /// The next entry's key (its value is next in the input), or `None` at the end.
    fn next_key<'d, I: Input<'d>>(&mut self, r: &mut Reader<I>) -> Result<Option<Key>> {
        let key = match self.form {
            Form::Plain(len) | Form::Shape(len) if self.at == len => return Ok(None),
            Form::Plain(_) => {
                let read = r.read_key()?;
                let (cost, key) = (read.cost(), read.to_key());
                r.charge(cost)?;
                key
            }
            Form::Shape(_) => {
                let read = r.read_key()?;
                Reader::<I>::shape_key(&read)?
            }
            Form::Record(index) => match self.after_break {
                Some(0) => return Ok(None),
                Some(left) => {
                    self.after_break = Some(left - 1);
                    r.read_key()?.to_key()
                }
                None if self.at == r.shapes[index].len() => return Ok(None),
                None if r.input.peek_u8()? == Some(BREAK) => {
                    r.input.next_u8()?;
                    self.after_break = Some(r.read_len(2)?);
                    return self.next_key(r);
                }
                None => r.shapes[index][self.at].clone(),
            },
        };
        self.at += 1;
        if !self.seen.insert(key.clone()) {
            return Err(Error::duplicate_key(key.to_string()));
        }
        if let Form::Shape(_) = self.form {
            self.keys.push(key.clone());
        }
        Ok(Some(key))
    }

    /// The entries left, from `first` (a key already read) on, as a map.
    fn rest<'d, I: Input<'d>>(&mut self, r: &mut Reader<I>, first: Option<Key>) -> Result<Map> {
        let mut map = Map::new();
        let mut next = first;
        while let Some(key) = next {
            let value = r.read_value()?;
            map.insert_new(key, value)
                .map_err(|k| Error::duplicate_key(k.to_string()))?;
            next = self.next_key(r)?;
        }
        Ok(map)
    }

    /// Ends the map: a shape-defining one defines its shape.
    fn finish<'d, I: Input<'d>>(self, r: &mut Reader<I>) -> Result<()> {
        match self.form {
            Form::Shape(_) => r.define_shape(self.keys),
            _ => Ok(()),
        }
    }
}
