//! Integration tests of the API: the real server on port 0 over a fresh database per test, on
//! every backend `store::testing::backends()` offers (SQLite, and PostgreSQL when configured).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod auth;
mod control;
mod counter;
mod health;
mod imports;
mod isolation;
mod lifecycle;
mod openapi;
mod operations;
mod property;
mod self_service;
mod site_limits;
mod tenant_auth;
mod users;
mod work_orders;
