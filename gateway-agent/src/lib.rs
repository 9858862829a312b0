//! The Wattpay gateway agent: polls Modbus meters on a building's buses, keeps every reading on
//! disk until the MQTT broker acknowledged it, and executes relay commands at most once per seq.
//!
//! A library plus a thin `wattpay-agent` binary, so the demo and the tests run the agent
//! ([`Agent::run`]) and the meter simulator ([`simulator::Simulator::start`]) in-process. It
//! speaks the MQTT contract v1 of the `protocol` crate and nothing else: no database, no web.
//! Module map: [`modbus_link`] (transport, timeouts, retries, gaps), [`dtu_server`] (DTUs that dial us), [`meter_read`] (block reads
//! and decoding), [`bus`] (one task per bus), [`queue`] (store-and-forward), [`command_log`]
//! (seq memory), [`mqtt`] and [`downlink`] (the broker side), [`simulator`], [`cli`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod agent;
pub mod bus;
pub mod cli;
pub mod command_log;
pub mod downlink;
pub mod dtu_server;
pub mod durable_file;
pub mod meter_read;
pub mod modbus_link;
pub mod mqtt;
pub mod queue;
pub mod shared;
pub mod simulator;

pub use agent::Agent;
