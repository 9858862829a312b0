//! Money at the HTTP boundary: request amounts are strings `^\d+(\.\d{1,2})?$` (thresholds may
//! carry a leading `-`, for an overdraft allowance); responses use `Money`'s two-decimal
//! `Display`. Anything else is a `400 invalid_amount` naming the field.

use domain::Money;

use crate::error::ApiError;

/// A non-negative amount as the API accepts it.
pub fn parse_amount(field: &str, input: &str) -> Result<Money, ApiError> {
    Money::parse_amount(input)
        .map_err(|e| ApiError::bad_request("invalid_amount", format!("{field}: {e}")))
}

/// A strictly positive amount (payments, adjustments), at most ¥1,000,000.
pub fn parse_positive_amount(field: &str, input: &str) -> Result<Money, ApiError> {
    let amount = parse_amount(field, input)?;
    if amount <= Money::ZERO {
        return Err(ApiError::bad_request(
            "invalid_amount",
            format!("{field}: must be more than 0.00"),
        ));
    }
    if amount > Money::from_fen(100_000_000) {
        return Err(ApiError::bad_request(
            "invalid_amount",
            format!("{field}: must be at most 1000000.00"),
        ));
    }
    Ok(amount)
}

/// A threshold: an amount with an optional leading `-`.
pub fn parse_threshold(field: &str, input: &str) -> Result<Money, ApiError> {
    match input.strip_prefix('-') {
        Some(rest) => parse_amount(field, rest).map(|m| -m),
        None => parse_amount(field, input),
    }
}

/// An optional threshold where JSON `null` clears it: `None` = unchanged.
pub fn parse_optional_threshold(
    field: &str,
    input: Option<&Option<String>>,
) -> Result<Option<Option<Money>>, ApiError> {
    input
        .map(|v| v.as_deref().map(|s| parse_threshold(field, s)).transpose())
        .transpose()
}

/// `Money` as the API answers it: two decimals.
pub fn show(amount: Money) -> String {
    amount.to_string()
}
