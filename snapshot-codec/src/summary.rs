//! A snapshot's structure in brief, gathered while it streams (std only): one node per
//! path, with the kinds of value found there, how many, their encoded size, and the
//! range of the numbers they hold.
//!
//! The walk reads the body as [`DecodeOptions::check_from_reader`] does (everything is
//! checked, nothing is built), so its memory is a few buffers, the largest single
//! string, byte string or array of the snapshot (read whole, as a check reads it), and
//! the summary itself, which [`SummaryOptions`] bounds.

use std::collections::BTreeMap;
use std::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::wire::{BREAK, Head, Input, RUN, Reader, read_num};
use crate::{DType, DecodeOptions, ElementType, Error, NDARRAY_TYPE_ID, NdArray, Result};

/// How much a [`Summary`] keeps.
///
/// ```
/// use snapshot_codec::SummaryOptions;
///
/// let options = SummaryOptions::new().max_depth(2).max_children(8);
/// assert_eq!(options.get_max_depth(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct SummaryOptions {
    max_depth: usize,
    max_children: usize,
    max_nodes: usize,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self {
            max_depth: 6,
            max_children: 24,
            max_nodes: 4096,
        }
    }
}

impl SummaryOptions {
    /// Six levels below the root, 24 named children per node, 4096 nodes in all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Paths deeper than `depth` levels below the root are counted in their ancestor at
    /// that depth (marked [`truncated`](SummaryNode::truncated)) instead of listed.
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// A map with more entries than this is summarised as one merged child `*` (a map
    /// keyed by ids); a node keeps at most this many named children, the rest merged
    /// into `*` too.
    #[must_use]
    pub fn max_children(mut self, children: usize) -> Self {
        self.max_children = children.max(1);
        self
    }

    /// The most nodes a summary holds; once reached, new paths are merged into an
    /// existing `*` or counted in their parent ([`truncated`](SummaryNode::truncated)).
    #[must_use]
    pub fn max_nodes(mut self, nodes: usize) -> Self {
        self.max_nodes = nodes.max(1);
        self
    }

    /// The depth limit set.
    pub fn get_max_depth(&self) -> usize {
        self.max_depth
    }
}

/// What a snapshot holds, path by path ([`DecodeOptions::summarize_from_reader`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// The root value's node (named `$`).
    pub root: SummaryNode,
    /// The size of the decoded body in bytes (after decryption and decompression).
    pub body_len: u64,
}

/// The values found at one path.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SummaryNode {
    /// The path segment: a map key; `[]` for a list's items (all merged); `*` for a
    /// map's entries merged (see [`SummaryOptions::max_children`]).
    pub name: String,
    /// How many values sit at this path (more than one below a list or a merge).
    pub count: u64,
    /// The kinds seen here and how often: `map`, `list`, `string`, `bytes`, `int`,
    /// `float`, `bool`, `null`, `array` (a typed numeric array), `ndarray`, `ext`.
    pub kinds: BTreeMap<&'static str, u64>,
    /// Summed over the values here: entries of maps, items of lists, elements of
    /// arrays, bytes of strings, byte strings and other extensions.
    pub len: u64,
    /// The encoded size of the values here, in body bytes.
    pub encoded_len: u64,
    /// The numbers here: integers, floats and the elements of numeric arrays.
    pub numbers: Option<Numbers>,
    /// The element types of the arrays here, by numpy's names (`float32`, `int64`, ...).
    pub element_types: Vec<&'static str>,
    /// The shape of the n-dimensional array here, when there is exactly one.
    pub shape: Option<Vec<usize>>,
    /// Whether some values below were counted here rather than listed (the depth or
    /// node limit).
    pub truncated: bool,
    /// The paths below, in the order first seen.
    pub children: Vec<SummaryNode>,
}

/// The range of numbers at one path. NaN is counted apart and left out of the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Numbers {
    /// How many numbers (NaN excluded).
    pub count: u64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// Their sum (as `f64`).
    pub sum: f64,
    /// How many were NaN.
    pub nan: u64,
}

impl Numbers {
    /// The mean, or `None` when there are no numbers.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    fn add(slot: &mut Option<Numbers>, x: f64) {
        let n = slot.get_or_insert(Numbers {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            nan: 0,
        });
        if x.is_nan() {
            n.nan += 1;
            return;
        }
        n.count += 1;
        n.sum += x;
        n.min = n.min.min(x);
        n.max = n.max.max(x);
    }
}

impl SummaryNode {
    fn named(name: String) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    fn kind(&mut self, kind: &'static str) {
        *self.kinds.entry(kind).or_insert(0) += 1;
    }

    fn element_type(&mut self, name: &'static str) {
        if !self.element_types.contains(&name) {
            self.element_types.push(name);
        }
    }

    /// The child at `name`, made if there is room; else the merged child `*`; `None`
    /// when the summary holds all the nodes it may.
    fn child(&mut self, name: &str, walk: &mut Walk) -> Option<usize> {
        if let Some(i) = self.children.iter().position(|c| c.name == name) {
            return Some(i);
        }
        let named = self.children.iter().filter(|c| c.name != "*").count();
        if name != "*" && named >= walk.max_children {
            return self.child("*", walk);
        }
        if walk.nodes >= walk.max_nodes {
            return match name {
                "*" => None,
                _ => self.child("*", walk),
            };
        }
        walk.nodes += 1;
        self.children.push(SummaryNode::named(name.to_string()));
        Some(self.children.len() - 1)
    }

    /// The child at `path` (segments separated by `/`), if there is one.
    ///
    /// ```
    /// use snapshot_codec::{value, DecodeOptions, SummaryOptions};
    ///
    /// let bytes = snapshot_codec::encode(&value!({"users": [{"age": 30}, {"age": 40}]}))?;
    /// let summary = DecodeOptions::new().summarize_from_reader(&bytes[..], &SummaryOptions::new())?;
    /// let ages = summary.root.find("users/[]/age").expect("a path");
    /// assert_eq!(ages.count, 2);
    /// assert_eq!(ages.numbers.unwrap().mean(), Some(35.0));
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    pub fn find(&self, path: &str) -> Option<&SummaryNode> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |node, segment| {
                node.children.iter().find(|c| c.name == segment)
            })
    }
}

struct Walk {
    max_depth: usize,
    max_children: usize,
    max_nodes: usize,
    nodes: usize,
}

impl DecodeOptions {
    /// Reads a snapshot from `reader` and summarises its structure (see
    /// [`Summary`]), checking all of it as [`check_from_reader`](Self::check_from_reader)
    /// does: the summary is returned only when the whole snapshot is intact.
    ///
    /// ```
    /// use snapshot_codec::{value, DecodeOptions, SummaryOptions};
    ///
    /// let state = value!({"step": 7, "losses": [0.5, 0.25, 0.125], "name": "run-1"});
    /// let bytes = snapshot_codec::encode(&state)?;
    /// let summary = DecodeOptions::new().summarize_from_reader(&bytes[..], &SummaryOptions::new())?;
    /// assert_eq!(summary.root.len, 3); // three entries
    /// assert_eq!(summary.root.find("losses").unwrap().len, 3); // three items
    /// let loss = summary.root.find("losses/[]").unwrap(); // the items, merged
    /// assert_eq!(loss.count, 3);
    /// assert_eq!(loss.numbers.unwrap().max, 0.5);
    /// println!("{summary}"); // an indented tree, one line per path
    /// # Ok::<(), snapshot_codec::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`check_from_reader`](Self::check_from_reader).
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn summarize_from_reader<R: std::io::Read>(
        &self,
        reader: R,
        options: &SummaryOptions,
    ) -> Result<Summary> {
        crate::stream::decode_from_reader(reader, self, |r| {
            let mut walk = Walk {
                max_depth: options.max_depth,
                max_children: options.max_children,
                max_nodes: options.max_nodes,
                nodes: 1,
            };
            let mut root = SummaryNode::named("$".to_string());
            value(r, &mut root, 0, &mut walk)?;
            // (The stream reader refuses bytes after the root value.)
            let body_len = r.input.position();
            Ok(Summary { root, body_len })
        })
    }
}

/// Walks one value into `node`.
fn value<'de, I: Input<'de>>(
    r: &mut Reader<I>,
    node: &mut SummaryNode,
    depth: usize,
    walk: &mut Walk,
) -> Result<()> {
    let start = r.input.position();
    node.count += 1;
    match r.read_head()? {
        Head::Null => node.kind("null"),
        Head::Bool(_) => node.kind("bool"),
        Head::UInt(u) => {
            node.kind("int");
            Numbers::add(&mut node.numbers, u as f64);
        }
        Head::NegInt(i) => {
            node.kind("int");
            Numbers::add(&mut node.numbers, i as f64);
        }
        Head::Float(f) => {
            node.kind("float");
            Numbers::add(&mut node.numbers, f);
        }
        Head::Float32(f) => {
            node.kind("float");
            Numbers::add(&mut node.numbers, f64::from(f));
        }
        Head::Str(len) => {
            node.kind("string");
            r.charge(len as u64)?;
            r.read_str(len)?;
            node.len += len as u64;
        }
        Head::Bytes(len) => {
            node.kind("bytes");
            r.charge(len as u64)?;
            r.input.read_bytes(len)?;
            node.len += len as u64;
        }
        Head::Ext(type_id, len) => {
            r.charge(len as u64)?;
            let registry = r.registry.clone();
            let data = r.input.read_bytes(len)?;
            let data = data.get();
            if let Some(registry) = &registry {
                registry.check(type_id, data)?;
            }
            if type_id == NDARRAY_TYPE_ID
                && let Ok((dtype, shape, at)) = NdArray::parse_header(data)
            {
                node.kind("ndarray");
                node.element_type(dtype.numpy_name());
                let elements = &data[at..];
                node.len += (elements.len() / dtype.width()) as u64;
                ndarray_numbers(&mut node.numbers, dtype, elements);
                node.shape = (node.count == 1).then_some(shape);
            } else {
                node.kind("ext");
                node.len += len as u64;
            }
        }
        Head::Array(ty, count, shuffled) => {
            node.kind("array");
            r.enter()?;
            elements(r, node, ty, count, shuffled)?;
            r.leave();
        }
        Head::List(len) => {
            node.kind("list");
            node.len += len as u64;
            r.charge((len as u64).saturating_mul(crate::wire::ITEM_COST))?;
            r.enter()?;
            for _ in 0..len {
                item(r, node, "[]", depth, walk)?;
            }
            r.leave();
        }
        Head::Runs(len) => {
            node.len += len as u64;
            r.enter()?;
            let mut done = 0;
            let mut items = false;
            while done < len {
                if r.input.peek_u8()? == Some(RUN) {
                    r.input.next_u8()?;
                    let (ty, count, shuffled) = r.read_elements_head()?;
                    if count == 0 || count > len - done {
                        return Err(Error::InvalidArray {
                            reason: "a run is empty or goes past its list's length",
                        });
                    }
                    elements(r, node, ty, count, shuffled)?;
                    done += count;
                } else {
                    items = true;
                    item(r, node, "[]", depth, walk)?;
                    done += 1;
                }
            }
            r.leave();
            // Read back as an array when every item came in runs (as a decode does).
            node.kind(if items || len == 0 { "list" } else { "array" });
        }
        Head::Map(len) => {
            node.kind("map");
            node.len += len as u64;
            r.charge((len as u64).saturating_mul(crate::wire::ENTRY_COST))?;
            r.enter()?;
            let merge = len > walk.max_children;
            let mut seen = crate::Map::with_capacity(r.prealloc(len));
            for _ in 0..len {
                let read = r.read_key()?;
                let (cost, key) = (read.cost(), read.to_key());
                r.charge(cost)?;
                let name = if merge {
                    "*".to_string()
                } else {
                    key.to_string()
                };
                seen.insert_new(key, crate::Value::Null)
                    .map_err(|k| Error::duplicate_key(k.to_string()))?;
                item(r, node, &name, depth, walk)?;
            }
            r.leave();
        }
        Head::ShapeMap(len) => {
            node.kind("map");
            node.len += len as u64;
            r.enter()?;
            let merge = len > walk.max_children;
            let mut keys: Vec<crate::Key> = Vec::with_capacity(r.prealloc(len));
            for _ in 0..len {
                let read = r.read_key()?;
                let key = Reader::<I>::shape_key(&read)?;
                if keys.contains(&key) {
                    return Err(Error::duplicate_key(key.to_string()));
                }
                let name = if merge {
                    "*".to_string()
                } else {
                    key.to_string()
                };
                keys.push(key);
                item(r, node, &name, depth, walk)?;
            }
            r.leave();
            r.define_shape(keys)?;
        }
        Head::Record(index) => {
            node.kind("map");
            let len = r.shapes[index].len();
            let merge = len > walk.max_children;
            r.enter()?;
            let mut entries = 0u64;
            for slot in 0..len {
                if r.input.peek_u8()? == Some(BREAK) {
                    r.input.next_u8()?;
                    let rest = r.read_len(2)?;
                    for _ in 0..rest {
                        let key = r.read_key()?.to_key();
                        let name = if merge {
                            "*".to_string()
                        } else {
                            key.to_string()
                        };
                        item(r, node, &name, depth, walk)?;
                        entries += 1;
                    }
                    break;
                }
                let name = if merge {
                    "*".to_string()
                } else {
                    r.shapes[index][slot].to_string()
                };
                item(r, node, &name, depth, walk)?;
                entries += 1;
            }
            node.len += entries;
            r.leave();
        }
    }
    node.encoded_len += r.input.position() - start;
    Ok(())
}

/// Walks one item of a container at `node` into its child `name`, or counts it in
/// `node` past the depth limit.
fn item<'de, I: Input<'de>>(
    r: &mut Reader<I>,
    node: &mut SummaryNode,
    name: &str,
    depth: usize,
    walk: &mut Walk,
) -> Result<()> {
    let child = match depth < walk.max_depth {
        true => node.child(name, walk),
        false => None,
    };
    match child {
        Some(i) => value(r, &mut node.children[i], depth + 1, walk),
        None => {
            node.truncated = true;
            r.skip_value()
        }
    }
}

/// Reads `count` elements of `ty` into `node`'s numbers.
fn elements<'de, I: Input<'de>>(
    r: &mut Reader<I>,
    node: &mut SummaryNode,
    ty: ElementType,
    count: usize,
    shuffled: bool,
) -> Result<()> {
    let width = ty.width();
    let len = count.saturating_mul(width);
    let bytes = r.input.read_bytes(len)?;
    let bytes = bytes.get();
    node.element_type(DType::from_code(ty.code()).map_or(ty.name(), DType::numpy_name));
    node.len += count as u64;
    if ty == ElementType::Bool {
        if bytes.iter().any(|&b| b > 1) {
            return Err(Error::InvalidArray {
                reason: "a bool element is neither 0 nor 1",
            });
        }
        return Ok(());
    }
    let mut element = [0u8; 8];
    for i in 0..count {
        if shuffled {
            // Byte j of element i is at j * count + i.
            for (j, b) in element[..width].iter_mut().enumerate() {
                *b = bytes[j * count + i];
            }
        } else {
            element[..width].copy_from_slice(&bytes[i * width..(i + 1) * width]);
        }
        Numbers::add(&mut node.numbers, read_num(ty, &element[..width])?.as_f64());
    }
    Ok(())
}

/// The numbers of an n-dimensional array's little-endian elements.
fn ndarray_numbers(slot: &mut Option<Numbers>, dtype: DType, data: &[u8]) {
    crate::ndarray::each_f64(dtype, data, |x| Numbers::add(slot, x));
}

impl fmt::Display for Summary {
    /// One line per path, indented by depth: kinds (with `×count` where a path holds
    /// several values), length, encoded size, and the numbers' range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.root, 0)
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &SummaryNode, indent: usize) -> fmt::Result {
    let mut kinds: Vec<(&&str, &u64)> = node.kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    let kinds: Vec<&str> = kinds.iter().map(|(k, _)| **k).collect();
    write!(f, "{:indent$}{}: {}", "", node.name, kinds.join("|"))?;
    if !node.element_types.is_empty() {
        write!(f, " {}", node.element_types.join("|"))?;
    }
    if let Some(shape) = &node.shape {
        write!(f, " {shape:?}")?;
    }
    if node.count > 1 {
        write!(f, " ×{}", node.count)?;
    }
    let unit = match kinds.first().copied() {
        Some("map") => Some("entries"),
        Some("list") => Some("items"),
        Some("array" | "ndarray") => Some("elements"),
        Some("string" | "bytes" | "ext") => Some("bytes"),
        _ => None,
    };
    if let Some(unit) = unit {
        if node.count > 1 {
            let each = node.len as f64 / node.count as f64;
            match node.len % node.count {
                0 => write!(f, ", {each:.0} {unit} each")?,
                _ => write!(f, ", {each:.1} {unit} each")?,
            }
        } else if node.len == 1 {
            write!(
                f,
                ", 1 {}",
                unit.trim_end_matches('s').replace("entrie", "entry")
            )?;
        } else {
            write!(f, ", {} {unit}", node.len)?;
        }
    }
    write!(f, ", {}", human(node.encoded_len))?;
    if let Some(n) = &node.numbers {
        if n.count == 1 {
            write!(f, "; {}", short(n.min))?;
        } else if n.count > 0 {
            write!(f, "; min {}, max {}", short(n.min), short(n.max))?;
            if let Some(mean) = n.mean() {
                write!(f, ", mean {}", short(mean))?;
            }
        }
        if n.nan > 0 {
            write!(f, "; {} NaN", n.nan)?;
        }
    }
    if node.truncated {
        f.write_str(" (deeper paths not listed)")?;
    }
    f.write_str("\n")?;
    for child in &node.children {
        write_node(f, child, indent + 2)?;
    }
    Ok(())
}

/// A number in at most about six significant digits.
fn short(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return std::format!("{x:.0}");
    }
    let text = std::format!("{x:.6}");
    if x.abs() >= 1e-3 && x.abs() < 1e9 {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        return trimmed.to_string();
    }
    std::format!("{x:.4e}")
}

/// A byte count for people (B, KiB, MiB, GiB).
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return std::format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    std::format!("{size:.1} {}", UNITS[unit])
}
