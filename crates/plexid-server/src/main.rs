//! The `plexid` command.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use plexid_server::clock::Clock;
use plexid_server::config::{DatabaseArgs, LogFormat, Settings};
use plexid_server::service::tokens::{self, NewToken};
use plexid_server::startup::{self, ADMIN_USERNAME};
use plexid_server::{announce, check, crypto, shutdown_signal, Server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "plexid", version, about = "Sign in with Plex: an authentik-compatible identity service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies migrations first).
    Serve(Settings),
    /// Try the whole sign-in on this machine: plexid with a local stand-in for plex.tv and demo
    /// accounts (owner, friend, server member, stranger).
    Demo {
        #[command(flatten)]
        settings: Settings,
        /// Where the stand-in for plex.tv listens.
        #[arg(long, env = "PLEXID_DEMO_PLEX_LISTEN", default_value = "127.0.0.1:9100")]
        plex_listen: std::net::SocketAddr,
    },
    /// Write a consistent copy of the database to PATH while plexid serves (SQLite: its online
    /// backup API; PostgreSQL: pg_dump's custom format).
    Backup {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Where the backup goes (replaced if it exists, only once the new copy is complete).
        path: std::path::PathBuf,
    },
    /// Put a backup made by `plexid backup` back (stop plexid first).
    Restore {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The backup file.
        path: std::path::PathBuf,
        /// Overwrite an existing database (SQLite file, or PostgreSQL tables).
        #[arg(long)]
        replace: bool,
    },
    /// Bring a running authentik 2024.x's Plex set-up over through its API (or another plexid's):
    /// Plex sources, property mappings, users and groups with Plex connections, the connections,
    /// and applications with OAuth2/OpenID and proxy providers. Safe to run again.
    #[command(name = "import-authentik")]
    ImportAuthentik {
        #[command(flatten)]
        db: DatabaseArgs,
        /// authentik's address, e.g. https://authentik.example.com
        #[arg(long)]
        url: String,
        /// A superuser's API token in authentik.
        #[arg(long, env = "AUTHENTIK_TOKEN", hide_env_values = true)]
        token: String,
        /// Plex tokens and client secrets are stored encrypted with the server's secret key.
        #[command(flatten)]
        key: KeyArgs,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Ask the server on this machine whether it is alive: exit 0 when `/-/health/live/` (or
    /// with `--ready`, `/-/health/ready/`) answers 200 (a container's health check: no curl needed).
    Healthcheck {
        /// The server's listen address (0.0.0.0 and [::] are asked on the loopback address).
        #[arg(long, env = "PLEXID_LISTEN", default_value = "127.0.0.1:9000")]
        listen: String,
        #[arg(long)]
        ready: bool,
    },
    /// Print every setting in force, where it came from (flag, environment, default), and what
    /// each feature is missing; exits 1 when something configured cannot work.
    #[command(name = "check-config")]
    CheckConfig(Settings),
    /// Run a mapping worker (started by the server itself; reads requests on stdin).
    #[command(name = "mapping-worker", hide = true)]
    MappingWorker,
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Move the secret key plexid generated into the database out of it, into a new file
    /// (mode 0600); then start plexid with PLEXID_SECRET_KEY_FILE pointing at it.
    MoveSecretKey {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The file to create.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Create a non-expiring API token for a user and print its key once.
    CreateToken {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// Whose token it is.
        #[arg(long, default_value = ADMIN_USERNAME)]
        user: String,
        #[arg(long, default_value = "Created with plexid create-token")]
        description: String,
    },
}

/// The server's secret key, for commands that write encrypted values without the server.
#[derive(clap::Args)]
struct KeyArgs {
    /// Must match the server's PLEXID_SECRET_KEY when that is set.
    #[arg(long, env = "PLEXID_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Must match the server's PLEXID_SECRET_KEY_FILE when that is set.
    #[arg(long, env = "PLEXID_SECRET_KEY_FILE", conflicts_with = "secret_key")]
    secret_key_file: Option<std::path::PathBuf>,
}

impl KeyArgs {
    /// Settings for `database` with this key.
    fn settings(self, database: &str) -> Settings {
        let mut settings = Settings::for_database(database);
        settings.secret_key = self.secret_key;
        settings.secret_key_file = self.secret_key_file;
        settings
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PLEXID_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());

    if let Command::MappingWorker = cli.command {
        // No async runtime here: a worker is one thread reading stdin.
        return match plexid_mapping::worker::serve(&plexid_mapping::Limits::default()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("plexid: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, matches))
}

async fn run(cli: Cli, matches: clap::ArgMatches) -> ExitCode {
    let result = match cli.command {
        Command::Serve(settings) => {
            init_logging(settings.log_format);
            serve(settings).await
        }
        Command::Demo { settings, plex_listen } => {
            init_logging(settings.log_format);
            plexid_server::demo::run(settings, plex_listen).await
        }
        Command::MoveSecretKey { db, to } => {
            init_logging(LogFormat::Text);
            move_secret_key(db, &to).await
        }
        Command::Migrate(db) => {
            init_logging(LogFormat::Text);
            migrate(db).await
        }
        Command::CreateToken { db, key, user, description } => {
            init_logging(LogFormat::Text);
            create_token(key.settings(&db.database), &user, description).await
        }
        Command::Backup { db, path } => {
            init_logging(LogFormat::Text);
            backup(db, path).await
        }
        Command::Restore { db, path, replace } => {
            init_logging(LogFormat::Text);
            restore(db, path, replace).await
        }
        Command::ImportAuthentik { db, url, token, key, dry_run } => {
            init_logging(LogFormat::Text);
            import_authentik(key.settings(&db.database), &url, &token, dry_run).await
        }
        Command::Healthcheck { listen, ready } => healthcheck(&listen, ready).await,
        Command::CheckConfig(settings) => {
            init_logging(LogFormat::Text);
            check_config(settings, &matches).await
        }
        Command::MappingWorker => unreachable!("handled before the runtime starts"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("plexid: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let has_token = settings.bootstrap_token.is_some();
    let database = plexid_store::redact_url(&settings.db.database);
    let server = Server::bind(settings).await.map_err(|e| e.to_string())?;
    check::warn_about(&check::features(&server.state.settings, &check::facts(&server.state.store).await));
    announce(&format!("plexid listening on http://{} (database {database})", server.address));
    if has_token {
        announce(&format!("API token: the value of PLEXID_BOOTSTRAP_TOKEN (superuser {ADMIN_USERNAME})"));
    } else {
        announce(
            "API token: set PLEXID_BOOTSTRAP_TOKEN=<a long random string> to make it akadmin's token, \
             or run `plexid create-token` (same --database) to create one",
        );
    }
    announce(&format!(
        "admin pages: http://{}/if/admin/ (sign in there with an API token the first time)",
        server.address
    ));
    server.run(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn move_secret_key(db: DatabaseArgs, to: &std::path::Path) -> Result<(), String> {
    let store = plexid_store::Store::connect(&db.database).await.map_err(|e| e.to_string())?;
    let mut tx = store.begin().await.map_err(|e| e.to_string())?;
    let mut conn = tx.conn();
    let key = conn
        .setting(plexid_server::config::STORED_SECRET_KEY)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no secret key is stored in this database (it is already kept elsewhere)")?;
    crypto::write_secret_file(to, &key).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    conn.delete_setting(plexid_server::config::STORED_SECRET_KEY).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    store.close().await;
    println!(
        "the secret key is now in {} only; start plexid with PLEXID_SECRET_KEY_FILE={}",
        to.display(),
        to.display()
    );
    Ok(())
}

async fn backup(db: DatabaseArgs, path: std::path::PathBuf) -> Result<(), String> {
    let written = plexid_store::backup::backup(&db.database, &path).await.map_err(|e| e.to_string())?;
    let database = plexid_store::redact_url(&db.database);
    println!("backed up {database} to {} ({} bytes)", written.path.display(), written.bytes);
    Ok(())
}

async fn restore(db: DatabaseArgs, path: std::path::PathBuf, replace: bool) -> Result<(), String> {
    plexid_store::backup::restore(&db.database, &path, replace).await.map_err(|e| e.to_string())?;
    println!("restored {} into {}", path.display(), plexid_store::redact_url(&db.database));
    Ok(())
}

async fn import_authentik(settings: Settings, url: &str, token: &str, dry_run: bool) -> Result<(), String> {
    let clock = Clock::system();
    let (store, secrets) = startup::prepare(&settings, &clock).await.map_err(|e| e.to_string())?;
    let api = plexid_server::import::Authentik::new(url, token).map_err(|e| e.to_string())?;
    let result = plexid_server::import::run(&store, &secrets, &clock, &api, dry_run).await;
    store.close().await;
    let report = result.map_err(|e| format!("import-authentik: {e} (nothing was written)"))?;
    print!("{}", report.render(dry_run));
    Ok(())
}

async fn healthcheck(listen: &str, ready: bool) -> Result<(), String> {
    let address = listen.replacen("0.0.0.0:", "127.0.0.1:", 1).replacen("[::]:", "[::1]:", 1);
    let path = if ready { "/-/health/ready/" } else { "/-/health/live/" };
    let client =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    let response = client.get(format!("http://{address}{path}")).send().await.map_err(|e| format!("{address}: {e}"))?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("{path} answered {status}")),
    }
}

async fn check_config(settings: Settings, matches: &clap::ArgMatches) -> Result<(), String> {
    let command = Cli::command();
    let (Some(command), Some(matches)) =
        (command.find_subcommand("check-config"), matches.subcommand_matches("check-config"))
    else {
        return Err("check-config: no arguments".into());
    };
    let rows = check::settings_rows(command, matches);
    let url = &settings.db.database;
    let sqlite_missing = plexid_store::sqlite_path(url).is_some_and(|path| !path.exists());
    let (database, facts) = if sqlite_missing {
        ("does not exist yet (created at the first start)".to_owned(), check::Facts::default())
    } else {
        match plexid_store::Store::connect(url).await {
            Ok(store) => {
                let facts = check::facts(&store).await;
                let answering = if store.ping().await { "answers" } else { "does not answer" };
                store.close().await;
                (format!("{} {answering}", plexid_store::redact_url(url)), facts)
            }
            Err(error) => (format!("cannot be opened: {error}"), check::Facts::default()),
        }
    };
    let features = check::features(&settings, &facts);
    print!("{}", check::report(&rows, &database, &features));
    // A setting beyond its bound would stop `serve`: say so here too.
    settings.check()?;
    if features.iter().any(|f| f.state == check::State::Broken) {
        return Err("a configured feature cannot work with these settings (see BROKEN above)".into());
    }
    Ok(())
}

async fn migrate(db: DatabaseArgs) -> Result<(), String> {
    let store = plexid_store::Store::connect(&db.database).await.map_err(|e| e.to_string())?;
    let applied = store.migrate().await.map_err(|e| e.to_string())?;
    println!("applied {applied} migration(s)");
    store.close().await;
    Ok(())
}

async fn create_token(settings: Settings, username: &str, description: String) -> Result<(), String> {
    let (store, secrets) = startup::prepare(&settings, &Clock::system()).await.map_err(|e| e.to_string())?;
    let mut tx = store.begin().await.map_err(|e| e.to_string())?;
    let mut conn = tx.conn();
    let user = conn
        .user_by_username(username)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user named {username:?}"))?;
    let identifier = format!("cli-{}", &crypto::generate_key()[..12]);
    let (_, key) = tokens::issue(&mut conn, &secrets, NewToken::api(identifier, user.id, description), false)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    store.close().await;
    println!("{key}");
    Ok(())
}
