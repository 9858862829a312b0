//! Refunds. Settlement of provider refund notifications.

use sea_orm::DatabaseConnection;
use store::merchant::Merchant;

use crate::error::PaymentError;

/// Settles a WeChat `REFUND.*` notification.
#[allow(clippy::unused_async)]
pub async fn settle_wechat(
    _db: &DatabaseConnection,
    _merchant: &Merchant,
    _resource: &serde_json::Value,
    _raw_body: &str,
    event_type: &str,
) -> Result<(), PaymentError> {
    Err(PaymentError::Provider(format!(
        "{event_type} is not handled yet"
    )))
}
