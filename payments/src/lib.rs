//! Payments: tenants' top-ups through WeChat Pay (API v3), Alipay and the embedded sandbox
//! provider, credited exactly once.
//!
//! Rules it keeps (PAYMENTS.md):
//! - a notification is verified over its raw bytes before anything in it is believed; an
//!   unverified one changes nothing and is only logged and counted;
//! - every paid result (notification, poll, reconciliation) credits through
//!   [`credit::credit_payment`]: one transaction, the order row locked, the ledger's unique
//!   idempotency key `{provider}:{transaction id}`, so duplicates and races credit once;
//! - money crosses as integer fen or [`domain::Money`], never floats;
//! - merchant secrets are sealed at rest ([`seal`]) and never returned.
//!
//! The api mounts the HTTP side; the worker calls [`poll_due_orders`] on its schedule.

pub mod alipay;
pub mod clients;
pub mod credit;
pub mod error;
pub mod key;
pub mod merchant;
pub mod metrics;
pub mod notify;
pub mod order;
pub mod poll;
pub mod reconcile;
pub mod refund;
pub mod sandbox;
pub mod seal;
pub mod wechat;

pub use clients::{Clients, ProviderConfig};
pub use error::PaymentError;
pub use poll::{poll_due_orders, PollReport};
pub use seal::SecretBox;
