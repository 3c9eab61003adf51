//! Helpers shared by the tests of the snapshot crates; never a dependency of a library
//! crate. It knows the format only as bytes, so any crate's tests may use it.

pub mod bombs;
