//! Filtered, searched, ordered, paginated `SELECT`s, shared by every list endpoint.

use plexid_core::listing::{contains_pattern, OrderTerm};

use crate::db::{Conn, Param, Row};
use crate::error::StoreResult;

/// A `WHERE` clause built from safe SQL fragments and bound parameters.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Filter {
    /// Binds a parameter and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Binds each value and returns `$a, $b, …` for an `IN (…)` list.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = Param>) -> String {
        bind_list(&mut self.params, values)
    }

    /// `column = value` when a value is given.
    pub fn eq(&mut self, column: &str, value: Option<impl Into<Param>>) {
        if let Some(value) = value {
            let p = self.bind(value);
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    /// A raw clause (must contain no user input other than placeholders from [`Filter::bind`]).
    pub fn clause(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// Every term must appear (case-insensitively) in at least one of `columns`.
    pub fn search(&mut self, terms: &[String], columns: &[&str]) {
        for term in terms {
            let p = self.bind(contains_pattern(term));
            let any: Vec<String> = columns.iter().map(|c| format!("LOWER({c}) LIKE {p} ESCAPE '\\'")).collect();
            self.clauses.push(format!("({})", any.join(" OR ")));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// Appends `values` to `params` and returns their placeholders, `$a, $b, …`.
pub fn bind_list(params: &mut Vec<Param>, values: impl IntoIterator<Item = Param>) -> String {
    let placeholders: Vec<String> = values
        .into_iter()
        .map(|v| {
            params.push(v);
            format!("${}", params.len())
        })
        .collect();
    placeholders.join(", ")
}

/// Which rows of the ordered result to return.
#[derive(Clone, Copy, Debug)]
pub enum Window {
    Offset {
        limit: u64,
        offset: u64,
    },
    /// The last page of this size (needs the count first).
    Last {
        size: u64,
    },
}

/// One page of rows and the total number of matching rows.
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub total: u64,
}

/// A list query: `select` is `SELECT … FROM …` (no WHERE); ordering terms (already checked
/// against the endpoint's whitelist) name output columns, except those renamed in `columns`;
/// `tiebreak` keeps pages stable.
pub struct ListQuery<'a> {
    pub select: &'a str,
    pub columns: &'static [(&'static str, &'static str)],
    pub tiebreak: &'static str,
}

impl ListQuery<'_> {
    /// Counts the matching rows, then reads the requested page (skipped when it is empty). Two
    /// statements rather than `COUNT(*) OVER ()`: the window forces every matching row to be
    /// built and sorted, where a plain `ORDER BY … LIMIT` lets the database keep only the page.
    pub async fn run<T>(
        &self,
        conn: &mut Conn<'_>,
        filter: Filter,
        ordering: &[OrderTerm],
        window: Window,
        map: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>> {
        let where_sql = filter.sql();
        let total = self.count(conn, &filter, &where_sql).await?;
        let (limit, offset) = match window {
            Window::Offset { limit, offset } => (limit, offset),
            Window::Last { size } => (size, total.saturating_sub(1) / size * size),
        };
        if offset >= total {
            return Ok(Listed { rows: Vec::new(), total });
        }
        let mut order: Vec<String> = ordering
            .iter()
            .map(|t| {
                let column = self.columns.iter().find(|(term, _)| *term == t.term).map_or(t.term, |(_, column)| column);
                format!("{column} {}", if t.descending { "DESC" } else { "ASC" })
            })
            .collect();
        order.push(self.tiebreak.to_owned());
        // LIMIT and OFFSET are written as literals (numbers we computed, below the row count):
        // SQLite re-prepares a statement on every run when they are bound parameters.
        let sql = format!(
            "SELECT * FROM ({}{}) q ORDER BY {} LIMIT {limit} OFFSET {offset}",
            self.select,
            where_sql,
            order.join(", "),
        );
        let rows = conn.fetch_all(&sql, filter.params.clone()).await?;
        let rows = rows.iter().map(map).collect::<StoreResult<Vec<T>>>()?;
        Ok(Listed { rows, total })
    }

    async fn count(&self, conn: &mut Conn<'_>, filter: &Filter, where_sql: &str) -> StoreResult<u64> {
        let sql = format!("SELECT COUNT(*) AS n FROM ({}{}) q", self.select, where_sql);
        Ok(conn.fetch_one(&sql, filter.params.clone()).await?.int("n")? as u64)
    }
}
