//! Operations tests of the API: broker credentials (Mosquitto export against a real mosquitto,
//! the EMQX hooks), `/metrics`, the docs page and the CSV exports. The real server on port 0
//! over a fresh database, as in the `api` test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod emqx_config;
mod exports;
mod metrics_docs;
mod mosquitto;
mod mqtt_hooks;
