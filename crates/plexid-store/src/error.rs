use thiserror::Error;

pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong in storage. Unique and foreign-key violations are told apart so the API
/// can turn them into field errors; everything else is an internal error.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint, by its PostgreSQL name (the same name is reported on SQLite).
    #[error("unique constraint {0} violated")]
    Unique(&'static str),
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

/// Unique constraints: PostgreSQL's name and SQLite's "table.column" text for each.
const UNIQUE_CONSTRAINTS: &[(&str, &str)] = &[
    ("plex_source_slug_key", "plex_source.slug"),
    ("plex_source_managed_key", "plex_source.managed"),
    ("flow_slug_key", "flow.slug"),
    ("property_mapping_name_key", "property_mapping.name"),
    ("property_mapping_managed_key", "property_mapping.managed"),
    ("app_user_username_key", "app_user.username"),
    ("app_user_uuid_key", "app_user.uuid"),
    ("app_group_name_parent_key", "app_group.name, app_group.parent"),
    ("user_source_connection_user_source_key", "user_source_connection.user_id, user_source_connection.source_uuid"),
    (
        "user_source_connection_source_identifier_key",
        "user_source_connection.source_uuid, user_source_connection.identifier",
    ),
    (
        "group_source_connection_group_source_key",
        "group_source_connection.group_uuid, group_source_connection.source_uuid",
    ),
    (
        "group_source_connection_source_identifier_key",
        "group_source_connection.source_uuid, group_source_connection.identifier",
    ),
    ("api_token_pkey", "api_token.identifier"),
    ("api_token_key_hash_key", "api_token.key_hash"),
];

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &error {
            match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    if let Some((name, _)) =
                        UNIQUE_CONSTRAINTS.iter().find(|(_, cols)| message.ends_with(&format!("failed: {cols}")))
                    {
                        return StoreError::Unique(name);
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
                    let found = UNIQUE_CONSTRAINTS.iter().find(|(pg, _)| db.constraint() == Some(*pg));
                    if let Some((name, _)) = found {
                        return StoreError::Unique(name);
                    }
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return StoreError::ForeignKey,
                _ => {}
            }
        }
        StoreError::Database(error)
    }
}
