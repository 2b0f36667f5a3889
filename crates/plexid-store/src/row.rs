//! Values bound to statements ([`Param`]) and rows read back ([`Row`]), for both engines.

use std::sync::Arc;

use plexid_core::ids::*;
use plexid_core::Timestamp;
use rusqlite::types::Value as LiteValue;
use sqlx::postgres::PgRow;
use sqlx::Row as _;

use crate::error::{StoreError, StoreResult};

/// A value bound to a `$n` placeholder. Nulls carry their type so PostgreSQL can infer it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::OptText(v)
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::OptInt(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<uuid::Uuid> for Param {
    fn from(v: uuid::Uuid) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<Option<uuid::Uuid>> for Param {
    fn from(v: Option<uuid::Uuid>) -> Self {
        Param::OptText(v.map(|u| u.to_string()))
    }
}

impl From<Timestamp> for Param {
    fn from(v: Timestamp) -> Self {
        Param::Int(v.as_microsecond())
    }
}
impl From<Option<Timestamp>> for Param {
    fn from(v: Option<Timestamp>) -> Self {
        Param::OptInt(v.map(|t| t.as_microsecond()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(v.clone())
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::OptText(v.clone())
    }
}

/// Ids bind as their value.
macro_rules! id_params {
    ($($id:ident),*) => {$(
        impl From<$id> for Param {
            fn from(v: $id) -> Self {
                Param::from(v.0)
            }
        }
        impl From<Option<$id>> for Param {
            fn from(v: Option<$id>) -> Self {
                Param::from(v.map(|id| id.0))
            }
        }
    )*};
}
id_params!(
    UserId,
    GroupId,
    SourceId,
    MappingId,
    FlowId,
    TokenId,
    UserConnectionId,
    GroupConnectionId,
    ProviderId,
    ApplicationId
);

/// `params![a, b]` builds a `Vec<Param>`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => { vec![$($crate::row::Param::from($value)),*] };
}

/// A SQLite result row, copied out of the statement (cheap to clone).
#[derive(Clone)]
pub struct LiteRow {
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Arc<[rusqlite::types::Value]>,
}

/// A result row of either engine, read by column name (cheap to clone, for the read cache).
#[derive(Clone)]
pub enum Row {
    Lite(LiteRow),
    Pg(Arc<PgRow>),
}

fn mismatch(col: &str, expected: &str, got: &LiteValue) -> StoreError {
    StoreError::Corrupt(format!("column {col}: expected {expected}, found {got:?}"))
}

impl LiteRow {
    fn get(&self, col: &str) -> StoreResult<&LiteValue> {
        self.columns
            .iter()
            .position(|c| c == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {col}")))
    }

    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        match self.get(col)? {
            LiteValue::Null => Ok(None),
            LiteValue::Text(t) => Ok(Some(t.clone())),
            other => Err(mismatch(col, "text", other)),
        }
    }

    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        match self.get(col)? {
            LiteValue::Null => Ok(None),
            LiteValue::Integer(i) => Ok(Some(*i)),
            other => Err(mismatch(col, "integer", other)),
        }
    }
}

macro_rules! column {
    ($self:expr, $col:expr, $ty:ty) => {
        match $self {
            Row::Lite(_) => unreachable!(),
            Row::Pg(r) => r.try_get::<$ty, _>($col).map_err(StoreError::from),
        }
    };
}

fn required<T>(col: &str, value: Option<T>) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("column {col} is null")))
}

impl Row {
    pub fn text(&self, col: &str) -> StoreResult<String> {
        match self {
            Row::Lite(r) => required(col, r.opt_text(col)?),
            _ => column!(self, col, String),
        }
    }
    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        match self {
            Row::Lite(r) => r.opt_text(col),
            _ => column!(self, col, Option<String>),
        }
    }
    pub fn int(&self, col: &str) -> StoreResult<i64> {
        match self {
            Row::Lite(r) => required(col, r.opt_int(col)?),
            _ => column!(self, col, i64),
        }
    }
    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        match self {
            Row::Lite(r) => r.opt_int(col),
            _ => column!(self, col, Option<i64>),
        }
    }
    pub fn boolean(&self, col: &str) -> StoreResult<bool> {
        match self {
            Row::Lite(r) => Ok(required(col, r.opt_int(col)?)? != 0),
            _ => column!(self, col, bool),
        }
    }
    pub fn uuid(&self, col: &str) -> StoreResult<uuid::Uuid> {
        parse_uuid(&self.text(col)?)
    }
    pub fn opt_uuid(&self, col: &str) -> StoreResult<Option<uuid::Uuid>> {
        self.opt_text(col)?.as_deref().map(parse_uuid).transpose()
    }
    /// A timestamp column (BIGINT microseconds since the epoch).
    pub fn timestamp(&self, col: &str) -> StoreResult<Timestamp> {
        micros(col, self.int(col)?)
    }
    pub fn opt_timestamp(&self, col: &str) -> StoreResult<Option<Timestamp>> {
        self.opt_int(col)?.map(|m| micros(col, m)).transpose()
    }
    /// A text column holding one of an enum's values.
    pub fn choice<T>(&self, col: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
        let text = self.text(col)?;
        parse(&text).ok_or_else(|| StoreError::Corrupt(format!("column {col}: unknown value {text:?}")))
    }
    /// A column holding JSON text.
    pub fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let text = self.text(col)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
    /// A comma-joined list of UUIDs produced by [`Dialect::string_agg`].
    pub fn uuid_list(&self, col: &str) -> StoreResult<Vec<uuid::Uuid>> {
        match self.opt_text(col)? {
            None => Ok(Vec::new()),
            Some(text) => text.split(',').filter(|s| !s.is_empty()).map(parse_uuid).collect(),
        }
    }
}

fn parse_uuid(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("uuid {text:?}: {e}")))
}

fn micros(col: &str, value: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(value).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}
