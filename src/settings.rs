//! Layered configuration for the binaries: an optional TOML file, then `WATTPAY_*` environment
//! variables (`WATTPAY_HTTP_ADDR` sets `http_addr`), then command-line flags. Each binary has its
//! own `Settings` type; this module only knows how to fill one.

use std::path::Path;

use anyhow::Context as _;
use serde::de::DeserializeOwned;

/// Loads `T` from `file` (when given) and the `WATTPAY_*` environment. Fields missing in both
/// keep `T`'s defaults (`#[serde(default)]` on the type).
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> anyhow::Result<T> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    builder
        .add_source(config::Environment::with_prefix("WATTPAY"))
        .build()
        .and_then(config::Config::try_deserialize)
        .with_context(|| match file {
            Some(path) => format!("reading settings from {} and WATTPAY_*", path.display()),
            None => "reading settings from WATTPAY_* environment variables".to_owned(),
        })
}
