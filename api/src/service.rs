//! Services: the operations that own a transaction, called by the REST handlers and by the web
//! pages alike, so both paths keep the same rules.

pub mod counter;
pub mod devices;
pub mod identity;
pub mod import;
pub mod live_view;
pub mod power;
pub mod replacement;
pub mod settlement;
pub mod tariff;
