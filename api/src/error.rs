//! The one error type of the API, rendered as RFC 7807 `application/problem+json` with a stable
//! machine-readable `code`.
//!
//! Codes are a contract: clients (the dashboard, the tenant pages, scripts) branch on them, so a
//! code is never renamed. Internal errors answer a generic 500 and log the whole cause chain, so
//! nothing about the database or the code leaks to a caller.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error the API can answer. The variant decides the HTTP status and the `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body or a parameter is not what the endpoint accepts.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// Missing, malformed, expired or forged credentials.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// Authenticated, but the role does not allow this.
    #[error("this action needs another role")]
    Forbidden,
    /// Unknown id, or an id of another organization (never distinguished).
    #[error("{what} not found")]
    NotFound {
        code: &'static str,
        what: &'static str,
    },
    /// The request conflicts with the current state.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Well-formed, but the values break a rule (a tariff with overlapping periods, ...).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// `422` naming every field (or CSV row and column) that is wrong, so a form or a
    /// spreadsheet can be fixed in one pass.
    #[error("{detail}")]
    InvalidFields {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Too many attempts from this address or for this account; retry later.
    #[error("{detail}")]
    TooManyRequests {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    /// A dependency (database, cache) cannot serve right now.
    #[error("{detail}")]
    Unavailable { code: &'static str, detail: String },
    /// Anything else: logged in full, answered as a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The RFC 7807 body. `code` is the stable machine code; `title` and `detail` are for humans.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; `about:blank` as the `code` carries the meaning.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Short human summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human explanation of this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine code, e.g. `invalid_credentials`.
    pub code: &'static str,
    /// Every field that is wrong (`422 invalid_fields`, `invalid_rows`); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One wrong field of a request body, or one wrong cell of an imported CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The CSV row (1-based, the header is row 1); absent for JSON bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The field or column name.
    pub field: String,
    /// Stable machine code, e.g. `invalid_amount`, `required`, `unknown_site`.
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            row: None,
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// `404` with a resource-specific code (`account_not_found`, ...).
    pub const fn not_found(code: &'static str, what: &'static str) -> Self {
        Self::NotFound { code, what }
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::InvalidFields { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Forbidden => "forbidden",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Bad request",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound { .. } => "Not found",
            Self::Conflict { .. } => "Conflict",
            Self::Unprocessable { .. } | Self::InvalidFields { .. } => "Unprocessable content",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        use sea_orm::SqlErr;
        match e {
            store::StoreError::NotFound => Self::NotFound {
                code: "not_found",
                what: "resource",
            },
            store::StoreError::Duplicate => Self::conflict(
                "already_exists",
                "a row with this unique value already exists",
            ),
            store::StoreError::Invalid(detail) => Self::unprocessable("invalid", detail),
            store::StoreError::Db(db)
                if matches!(db.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) =>
            {
                // Deleting a row that others still point at (a site with buildings, ...).
                Self::conflict("in_use", "other records still refer to this one")
            }
            other @ store::StoreError::Db(_) => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        store::StoreError::Db(e).into()
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}

impl ApiError {
    /// Maps a store error, naming the resource when it is "not found".
    pub fn from_store(e: store::StoreError, code: &'static str, what: &'static str) -> Self {
        match e {
            store::StoreError::NotFound => Self::NotFound { code, what },
            other => other.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } | Self::InvalidFields { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                None
            }
            other => Some(other.to_string()),
        };
        let body = Problem {
            type_: "about:blank",
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            errors: match self {
                Self::InvalidFields { errors, .. } => errors.clone(),
                _ => Vec::new(),
            },
        };
        let mut res = HttpResponse::build(status);
        res.content_type("application/problem+json");
        if matches!(self, Self::Unauthorized { .. }) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        res.json(body)
    }
}

/// Turns actix's JSON extractor failures into `malformed_json` / `invalid_body` problems instead
/// of its plain-text default, so every error a client sees has the same shape.
#[allow(clippy::needless_pass_by_value)] // actix fixes the signature
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::ContentType => ApiError::bad_request(
            "unsupported_media_type",
            "the body must be JSON with Content-Type: application/json",
        ),
        E::Deserialize(e) if e.is_data() => ApiError::bad_request("invalid_body", e.to_string()),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ApiError::bad_request("body_too_large", "the request body is too large")
        }
        other => ApiError::bad_request("malformed_json", other.to_string()),
    };
    api.into()
}

/// Same for query strings and path segments.
#[allow(clippy::needless_pass_by_value)] // actix fixes the signature
pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_query", err.to_string()).into()
}

#[allow(clippy::needless_pass_by_value)] // actix fixes the signature
pub fn path_error_handler(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_path", err.to_string()).into()
}
