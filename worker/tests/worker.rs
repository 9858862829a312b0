//! The worker's integration tests: step functions against SQLite and PostgreSQL (when
//! configured), and the MQTT path against the embedded broker and Mosquitto (when configured).
#![allow(clippy::unwrap_used)]

mod worker {
    pub mod commands;
    pub mod control;
    pub mod fairness;
    pub mod gateway;
    pub mod helpers;
    pub mod live;
    pub mod mail;
    pub mod mqtt;
    pub mod notify;
    pub mod providers;
    pub mod rating;
    pub mod tls;
}
