//! The Wattpay API: REST for property managers and tenants, payment callbacks, probes and the
//! OpenAPI document, served by actix-web.
//!
//! Rules it keeps: every query is scoped to the caller's organization, taken from the access
//! token and never from a request; a row of another organization answers 404; every error is an
//! RFC 7807 problem with a stable `code` (see [`error`]).

pub mod auth;
pub mod config;
pub mod error;
pub mod list;
pub mod metrics;
pub mod money;
pub mod mqtt_password;
pub mod openapi;
pub mod patch;
pub mod pay;
pub mod rate_limit;
pub mod routes;
pub mod service;
pub mod startup;
pub mod web;

pub use config::Settings;
pub use startup::Application;
