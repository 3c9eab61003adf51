//! One module per command.

pub mod copy;
pub mod diff;
pub mod doctor;
pub mod import;
pub mod inspect;
pub mod list;
pub mod prune;
pub mod put;
pub mod show;
pub mod stats;
pub mod ui;
pub mod verify;
