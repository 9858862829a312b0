//! The one error type of the payments crate.

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A key or certificate could not be read.
    #[error("key: {0}")]
    Key(String),
    /// A notification or response failed verification (signature, timestamp, decryption).
    #[error("verification failed: {0}")]
    Verification(String),
    /// The request is not acceptable (amount, limits, provider, channel, ...).
    #[error("{detail}")]
    Rejected { code: &'static str, detail: String },
    /// The provider answered with an error or not at all.
    #[error("provider: {0}")]
    Provider(String),
    /// Sealing or unsealing merchant secrets failed (wrong `WATTPAY_SECRET_KEY`?).
    #[error("merchant secrets: {0}")]
    Seal(String),
}

impl PaymentError {
    pub fn rejected(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Rejected {
            code,
            detail: detail.into(),
        }
    }
}
