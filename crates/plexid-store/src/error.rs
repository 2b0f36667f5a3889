use thiserror::Error;

pub use crate::constraint::Constraint;

pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong in storage. Unique and foreign-key violations are told apart so front ends
/// can turn them into field errors; everything else is an internal error.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unique constraint {} violated", .0.name())]
    Unique(Constraint),
    #[error("a referenced row does not exist")]
    ForeignKey,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &error {
            match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    if let Some(constraint) = Constraint::from_sqlite_message(message) {
                        return StoreError::Unique(constraint);
                    }
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::ForeignKey,
                _ => {}
            }
        }
        StoreError::Sqlite(error)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    if let Some(constraint) = db.constraint().and_then(Constraint::from_name) {
                        return StoreError::Unique(constraint);
                    }
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return StoreError::ForeignKey,
                _ => {}
            }
        }
        StoreError::Database(error)
    }
}
