//! The one place where [`Money`] becomes integer fen for the database.

use domain::Money;

use crate::StoreError;

/// Integer fen of an amount, half-up; out of range is [`StoreError::Invalid`].
pub fn to_fen(amount: Money) -> Result<i64, StoreError> {
    amount
        .to_fen()
        .map_err(|e| StoreError::Invalid(format!("amount {amount}: {e}")))
}
