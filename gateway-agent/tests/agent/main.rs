//! Integration tests of the gateway agent over real TCP: against the meter simulator, a fake
//! DTU, pymodbus (an independent Modbus implementation), the `wattpay-agent` tools as a
//! technician runs them, and with a private Mosquitto broker per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::format_push_string)]

mod broker;
mod dtu;
mod fake_dtu;
mod polling;
mod pymodbus;
mod support;
mod tls;
mod tools;
