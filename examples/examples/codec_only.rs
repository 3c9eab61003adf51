//! The codec alone: encode and decode without a store or a runtime.

use snapshot_state::codec::{self, Compression, DecodeOptions, EncodeOptions};
use snapshot_state::value;

/// Runs the example.
pub fn main() -> Result<(), codec::Error> {
    let state = value!({"name": "Alice", "age": 30, "scores": [9.5, 7.25], "note": ("lorem ipsum ".repeat(100))});

    // Defaults: zstd level 3, kept only when it makes the snapshot smaller.
    let bytes = codec::encode(&state)?;
    let plain = EncodeOptions::new()
        .with_compression(Compression::None)
        .encode(&state)?;
    println!(
        "{} bytes compressed, {} bytes without compression",
        bytes.len(),
        plain.len()
    );

    // Decoding checks the header, the checksum and the limits.
    let back = DecodeOptions::new().with_max_depth(32).decode(&bytes)?;
    assert_eq!(back, state);

    // A damaged snapshot is reported, never decoded into something else.
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    match codec::decode(&damaged) {
        Err(e) => println!("damaged copy refused: {e}"),
        Ok(_) => unreachable!("a flipped bit must not decode"),
    }
    Ok(())
}
