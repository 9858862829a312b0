//! Integration tests of the web pages: the real server on port 0 over a fresh database per
//! test, on every backend `store::testing::backends()` offers, asserting on the HTML a person
//! sees; and one run in a real headless Chromium (`browser`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod browser;
mod control;
mod dashboard;
mod desk;
mod door;
mod editors;
mod tenant;
mod tenant_browser;
mod tenant_wechat;
