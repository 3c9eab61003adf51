//! Helpers shared by the tests of the snapshot crates; never a dependency of a library
//! crate. `bombs` knows the format only as bytes, so any crate's tests may use it;
//! `s3` (feature `s3`) starts real S3-compatible servers and makes stores on them;
//! `docker` finds a Docker engine the way testcontainers does.

pub mod bombs;
pub mod docker;
#[cfg(feature = "s3")]
pub mod s3;
