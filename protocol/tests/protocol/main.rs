//! The protocol crate's integration tests, one binary: golden files and what each side sees.
#![allow(clippy::unwrap_used)]

mod contract;
mod golden;
