//! The one error type of the store. "Not found" covers rows of another organization too: callers
//! answer 404 and never learn that the row exists elsewhere.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("not found")]
    NotFound,
    /// A unique key already holds this value (email, account number, gateway id, ...).
    #[error("already exists")]
    Duplicate,
    #[error("invalid: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether this is a unique-key violation.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, StoreError::Duplicate)
    }
}

/// Whether a database error is a unique-key violation (PostgreSQL 23505, SQLite 2067/1555).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Turns a unique-key violation into [`StoreError::Duplicate`], anything else into `Db`.
pub fn map_unique(err: DbErr) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Duplicate
    } else {
        StoreError::Db(err)
    }
}

/// The outcome of an `INSERT ... ON CONFLICT DO NOTHING RETURNING`: `None` when the row
/// conflicted. sea-orm reports "nothing returned" as `RecordNotFound` when the backend uses
/// RETURNING and as `RecordNotInserted` otherwise; both mean the conflict happened.
pub(crate) fn inserted_or_conflict<T>(res: Result<T, DbErr>) -> Result<Option<T>, DbErr> {
    match res {
        Ok(row) => Ok(Some(row)),
        Err(DbErr::RecordNotInserted | DbErr::RecordNotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}
