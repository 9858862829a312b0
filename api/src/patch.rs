//! `PATCH` bodies: a field left out changes nothing, `null` clears it. serde folds both into
//! `None` for an `Option`, so nullable fields are `Option<Option<T>>` read through
//! [`double_option`].

use serde::{Deserialize, Deserializer};

/// Reads a present field (value or `null`) as `Some(...)`; with `#[serde(default)]` an absent
/// field stays `None`.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
