//! The examples of the `snapshot-state` crate, one program per real use case, in
//! `examples/examples/`: run one with `cargo run -p snapshot-examples --example NAME`.
//! The tests of this crate run every one of them.
