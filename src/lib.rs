//! The `wattpay` CLI as a library, so the end-to-end tests start the demo exactly as the binary
//! does.

pub mod admin;
pub mod cli;
pub mod demo;
pub mod logging;
pub mod settings;
