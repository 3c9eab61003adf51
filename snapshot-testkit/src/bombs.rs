//! Crafted hostile snapshots: a few kilobytes that claim gigabytes. Used by the tests
//! and by the codec's `examples/hostile_files.rs`, which writes them out for the fuzz
//! corpus.

/// The snapshot frame around a body: magic, version 1, flags, one chunk, checksum.
pub fn frame(body: &[u8], flags: u8) -> Vec<u8> {
    frame_versioned(body, flags, 1)
}

/// [`frame`] with another format version byte (the body is taken as it is).
pub fn frame_versioned(body: &[u8], flags: u8, version: u8) -> Vec<u8> {
    let mut out = vec![0x89, b'S', b'N', b'P', version, flags];
    if !body.is_empty() {
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&[0; 4]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// [`frame_versioned`] with the body in several chunks, one per piece (empty pieces
/// are left out: a zero length ends the body).
pub fn frame_chunked(pieces: &[&[u8]], flags: u8, version: u8) -> Vec<u8> {
    let mut out = vec![0x89, b'S', b'N', b'P', version, flags];
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(&(piece.len() as u32).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(&[0; 4]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A zstd-compressed snapshot whose body is a list of `count` nulls: one raw block for
/// the list header, then RLE blocks of `C0`. 10^9 nulls take about 31 KB, 10^8 about
/// 3 KB; each null is 1 byte of body and a 32-byte `Value` once built.
pub fn null_list_bomb(count: u64, declare_size: bool) -> Vec<u8> {
    let mut header = vec![0xC8];
    varint(count, &mut header);
    let total = header.len() as u64 + count;
    let mut zstd = vec![0x28, 0xB5, 0x2F, 0xFD];
    if declare_size {
        zstd.push(0xC0); // 8-byte content size
        zstd.push(0x38); // 128 KiB window
        zstd.extend_from_slice(&total.to_le_bytes());
    } else {
        zstd.push(0x00);
        zstd.push(0x38);
    }
    let block = |out: &mut Vec<u8>, kind: u32, size: u32, last: bool| {
        let h = (size << 3) | (kind << 1) | u32::from(last);
        out.extend_from_slice(&h.to_le_bytes()[..3]);
    };
    block(&mut zstd, 0, header.len() as u32, false);
    zstd.extend_from_slice(&header);
    let mut left = count;
    while left > 0 {
        let size = left.min(128 * 1024) as u32;
        left -= u64::from(size);
        block(&mut zstd, 1, size, left == 0);
        zstd.push(0xC0);
    }
    frame(&zstd, 0x01)
}

/// A file of the Python original whose one key holds a list of `count` empty lists
/// (2 bytes each in the file, 32 bytes each once built).
pub fn legacy_list_bomb(count: u32) -> Vec<u8> {
    let mut file = vec![0x01, 0x04, 0x01, b'k', 0x80];
    file.extend_from_slice(&count.to_le_bytes());
    for _ in 0..count {
        file.extend_from_slice(&[0x04, 0x00]);
    }
    file.push(0xC0);
    file
}
