//! Every setting of `plexid serve`; each flag also reads an environment variable.

use clap::{Args, ValueEnum};

#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://…`
    #[arg(long, env = "PLEXID_DATABASE", default_value = "sqlite://plexid.db")]
    pub database: String,
}

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "PLEXID_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: String,

    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Ensure the superuser `akadmin` has this exact, non-expiring API token.
    #[arg(long, env = "PLEXID_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,

    /// Set the password of `akadmin`.
    #[arg(long, env = "PLEXID_BOOTSTRAP_PASSWORD", hide_env_values = true)]
    pub bootstrap_password: Option<String>,

    /// Base URL of the plex.tv API.
    #[arg(long, env = "PLEXID_PLEX_API_URL", default_value = "https://plex.tv")]
    pub plex_api_url: String,

    /// Base URL of the Plex web app (where users approve a PIN).
    #[arg(long, env = "PLEXID_PLEX_APP_URL", default_value = "https://app.plex.tv")]
    pub plex_app_url: String,

    /// Signs cookies and encrypts stored tokens; generated and kept in the database when unset.
    #[arg(long, env = "PLEXID_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Log format.
    #[arg(long, env = "PLEXID_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Settings for tests: a database URL, everything else default.
    pub fn for_database(database: &str) -> Self {
        Settings {
            listen: "127.0.0.1:0".into(),
            db: DatabaseArgs { database: database.into() },
            bootstrap_token: None,
            bootstrap_password: None,
            plex_api_url: "https://plex.tv".into(),
            plex_app_url: "https://app.plex.tv".into(),
            secret_key: None,
            log_format: LogFormat::Text,
        }
    }
}
