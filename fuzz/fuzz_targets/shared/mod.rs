//! Helpers shared by the fuzz targets.

/// Wraps arbitrary bytes as the body of a snapshot with a correct checksum, so the
/// fuzzer reaches the body decoder (random bytes rarely pass the checksum).
pub use snapshot_testkit::bombs::frame;
