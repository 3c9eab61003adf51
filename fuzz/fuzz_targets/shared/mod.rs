//! Helpers shared by the fuzz targets.

/// Wraps arbitrary bytes as the body of a snapshot with a correct checksum, so the
/// fuzzer reaches the body decoder (random bytes rarely pass the checksum).
pub use snapshot_testkit::bombs::frame_versioned;

/// [`frame_versioned`] in the current format version (whose bodies include every
/// version 1 body).
pub fn frame(body: &[u8], flags: u8) -> Vec<u8> {
    frame_versioned(body, flags, snapshot_codec::FORMAT_VERSION)
}
