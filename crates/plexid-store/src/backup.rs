//! Backups of a running plexid and their restoration.
//!
//! * SQLite: SQLite's online backup API copies every page in one step, inside one read
//!   transaction, so the copy is the database as of one moment, however busy the server is (WAL
//!   lets writers go on meanwhile). It is written beside the target and renamed into place, so a
//!   half-written backup never stands at the target's name, then checked with `integrity_check`.
//!   Restoring copies a checked backup into the database through the same API.
//! * PostgreSQL: `pg_dump --format=custom` (one consistent snapshot) and `pg_restore` in one
//!   transaction. The URL's password goes to them in `PGPASSWORD`, never on a command line that
//!   `ps` shows; a `search_path` set in the URL's `options` limits them to that schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{StoreError, StoreResult};
use crate::sqlite::sqlite_path;

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
}

fn config(message: impl Into<String>) -> StoreError {
    StoreError::Config(message.into())
}

/// Copies the database at `url` to `target` while plexid may be serving from it.
pub async fn backup(url: &str, target: &Path) -> StoreResult<Written> {
    let url = url.to_owned();
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || match sqlite_path(&url) {
        Some(source) => sqlite_backup(&source, &target),
        None => postgres_dump(&url, &target),
    })
    .await
    .map_err(|e| config(format!("the backup task failed: {e}")))?
}

/// Replaces the database at `url` with the backup at `source` (plexid should be stopped).
/// Without `replace`, an existing SQLite file or existing PostgreSQL tables are left alone and
/// the restore fails.
pub async fn restore(url: &str, source: &Path, replace: bool) -> StoreResult<()> {
    let url = url.to_owned();
    let source = source.to_owned();
    tokio::task::spawn_blocking(move || match sqlite_path(&url) {
        Some(target) => sqlite_restore(&source, &target, replace),
        None => postgres_restore(&url, &source, replace),
    })
    .await
    .map_err(|e| config(format!("the restore task failed: {e}")))?
}

/// `PATH.partial`, beside `path`.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    path.with_file_name(name)
}

/// Fails unless the SQLite file at `path` is intact and is a plexid database.
fn check_sqlite(conn: &rusqlite::Connection, path: &Path) -> StoreResult<()> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(config(format!("{} is damaged: {verdict}", path.display())));
    }
    let versions: i64 = conn
        .query_row("SELECT count(*) FROM plexid_migration", [], |r| r.get(0))
        .map_err(|_| config(format!("{} is not a plexid database", path.display())))?;
    if versions == 0 {
        return Err(config(format!("{} is not a plexid database", path.display())));
    }
    Ok(())
}

/// Copies every page of `from` into `to` in one step (one read transaction: one moment).
fn copy_pages(from: &rusqlite::Connection, to: &mut rusqlite::Connection) -> StoreResult<()> {
    let backup = rusqlite::backup::Backup::new(from, to)?;
    match backup.step(-1)? {
        rusqlite::backup::StepResult::Done => Ok(()),
        other => Err(config(format!("the copy did not finish ({other:?}): is the database locked?"))),
    }
}

fn sqlite_backup(source: &Path, target: &Path) -> StoreResult<Written> {
    if !source.exists() {
        return Err(config(format!("{} does not exist", source.display())));
    }
    let from = rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    from.busy_timeout(std::time::Duration::from_secs(30))?;
    from.pragma_update(None, "query_only", true)?;
    let partial = partial(target);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut to = rusqlite::Connection::open(&partial)?;
        copy_pages(&from, &mut to)?;
        // One self-contained file: no WAL beside it.
        to.pragma_update(None, "journal_mode", "DELETE")?;
        check_sqlite(&to, target)?;
        drop(to);
        std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(|e| config(e.to_string()))?;
        std::fs::rename(&partial, target).map_err(|e| config(format!("cannot write {}: {e}", target.display())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(Written { path: target.to_owned(), bytes })
}

fn sqlite_restore(source: &Path, target: &Path, replace: bool) -> StoreResult<()> {
    let from = rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| config(format!("cannot open {}: {e}", source.display())))?;
    check_sqlite(&from, source)?;
    if target.exists() && !replace {
        return Err(config(format!(
            "{} exists: stop plexid and add --replace to overwrite it with the backup",
            target.display()
        )));
    }
    let mut to = rusqlite::Connection::open(target)?;
    to.busy_timeout(std::time::Duration::from_secs(5))?;
    copy_pages(&from, &mut to)
        .map_err(|e| config(format!("cannot write {} (is plexid still running?): {e}", target.display())))?;
    check_sqlite(&to, target)
}

/// How `pg_dump` and `pg_restore` reach the database of a plexid PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL without its password and without plexid's own options.
    pub url: String,
    pub password: Option<String>,
    /// The schema named by `options=-c search_path=…`, if any.
    pub schema: Option<String>,
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex =
            (bytes[i] == b'%').then(|| text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())).flatten();
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a plexid PostgreSQL URL for libpq's tools.
pub fn pg_target(url: &str) -> StoreResult<PgTarget> {
    let (url, _) = crate::engine::without_read_cache_option(url)?;
    let scheme_end = url.find("://").ok_or_else(|| config("not a postgres:// URL"))? + 3;
    let (mut url, mut password) = (url.clone(), None);
    let authority_end = url[scheme_end..].find(['/', '?']).map_or(url.len(), |i| scheme_end + i);
    if let Some(at) = url[scheme_end..authority_end].rfind('@').map(|i| scheme_end + i) {
        if let Some(colon) = url[scheme_end..at].find(':').map(|i| scheme_end + i) {
            password = Some(percent_decode(&url[colon + 1..at]));
            url.replace_range(colon..at, "");
        }
    }
    let schema = url.split_once('?').and_then(|(_, query)| {
        query.split('&').filter_map(|pair| pair.strip_prefix("options=")).find_map(|options| {
            let options = percent_decode(options);
            let value = options.split("search_path=").nth(1)?;
            let schema = value.split([' ', ',']).next()?.trim_matches('"');
            (!schema.is_empty()).then(|| schema.to_owned())
        })
    });
    Ok(PgTarget { url, password, schema })
}

fn run_tool(mut command: Command, target: &PgTarget, what: &str) -> StoreResult<()> {
    if let Some(password) = &target.password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| {
        config(format!("cannot run {what} ({e}): install PostgreSQL's client tools (Debian: postgresql-client)"))
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(config(format!("{what} failed: {}", String::from_utf8_lossy(&output.stderr).trim())))
    }
}

fn postgres_dump(url: &str, target: &Path) -> StoreResult<Written> {
    let pg = pg_target(url)?;
    let partial = partial(target);
    let mut command = Command::new("pg_dump");
    command
        .args(["--format=custom", "--no-owner", "--no-privileges", "--dbname"])
        .arg(&pg.url)
        .arg("--file")
        .arg(&partial);
    if let Some(schema) = &pg.schema {
        command.arg(format!("--schema={schema}"));
    }
    if let Err(error) = run_tool(command, &pg, "pg_dump") {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, target).map_err(|e| config(format!("cannot write {}: {e}", target.display())))?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(Written { path: target.to_owned(), bytes })
}

fn postgres_restore(url: &str, source: &Path, replace: bool) -> StoreResult<()> {
    let pg = pg_target(url)?;
    let mut command = Command::new("pg_restore");
    command.args(["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname"]).arg(&pg.url);
    if replace {
        command.args(["--clean", "--if-exists"]);
    }
    command.arg(source);
    run_tool(command, &pg, "pg_restore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url_and_the_schema_is_found() {
        let pg = pg_target("postgres://plexid:p%40ss@db:5432/plexid?read_cache=off&sslmode=require").unwrap();
        assert_eq!(pg.url, "postgres://plexid@db:5432/plexid?sslmode=require");
        assert_eq!(pg.password.as_deref(), Some("p@ss"));
        assert_eq!(pg.schema, None);
        let pg = pg_target("postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dt_abc").unwrap();
        assert_eq!((pg.password, pg.schema.as_deref()), (None, Some("t_abc")));
        assert_eq!(pg.url, "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dt_abc");
    }

    #[test]
    fn a_backup_never_stands_half_written_at_its_name() {
        assert_eq!(partial(Path::new("/b/plexid.db")), PathBuf::from("/b/plexid.db.partial"));
    }
}
