//! Integration tests of the payments crate over real databases (SQLite, and PostgreSQL when
//! `WATTPAY_TEST_DATABASE_URL` is set): crediting, verification vectors from independent
//! implementations, provider clients against local fakes, polling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod crediting;
mod fake;
mod providers;
mod reconciliation;
mod refunds;
mod vectors;
