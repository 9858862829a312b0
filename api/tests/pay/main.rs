//! Integration tests of the payment routes: the real server on port 0 over a fresh database
//! per test (SQLite, and PostgreSQL when configured).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod concurrency;
mod refunds;
mod sandbox;
