//! Helpers shared by the fuzz targets.

/// Wraps arbitrary bytes as the body of a snapshot with a correct checksum, so the
/// fuzzer reaches the body decoder (random bytes rarely pass the checksum).
pub fn frame(body: &[u8], flags: u8) -> Vec<u8> {
    let mut out = snapshot_codec::MAGIC.to_vec();
    out.push(snapshot_codec::FORMAT_VERSION);
    out.push(flags);
    if !body.is_empty() {
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&[0; 4]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}
