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

    /// Base URL of clients.plex.tv (the owner's server shares); default: `https://clients.plex.tv`,
    /// or the plex.tv API URL when that one was changed.
    #[arg(long, env = "PLEXID_PLEX_CLIENTS_URL")]
    pub plex_clients_url: Option<String>,

    /// Base URL of community.plex.tv (the owner's friends); default: `https://community.plex.tv`,
    /// or the plex.tv API URL when that one was changed.
    #[arg(long, env = "PLEXID_PLEX_COMMUNITY_URL")]
    pub plex_community_url: Option<String>,

    /// Base URL of the Plex web app (where users approve a PIN).
    #[arg(long, env = "PLEXID_PLEX_APP_URL", default_value = "https://app.plex.tv")]
    pub plex_app_url: String,

    /// Signs cookies and encrypts stored tokens; generated and kept in the database when unset.
    #[arg(long, env = "PLEXID_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// A file holding the secret key (its first line), so the key is neither in the database it
    /// protects nor in the environment.
    #[arg(long, env = "PLEXID_SECRET_KEY_FILE", conflicts_with = "secret_key")]
    pub secret_key_file: Option<std::path::PathBuf>,

    /// The address users reach plexid at (e.g. `https://id.example.com`). When it is HTTPS,
    /// cookies are marked `Secure`.
    #[arg(long, env = "PLEXID_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Sign-in attempts per minute per client address (`0` turns the limit off).
    #[arg(long, env = "PLEXID_LOGIN_RATE_LIMIT", default_value_t = 30)]
    pub login_rate_limit: u32,

    /// Sign-in attempts per minute per source, from all addresses together (`0`: off).
    #[arg(long, env = "PLEXID_LOGIN_SOURCE_RATE_LIMIT", default_value_t = 600)]
    pub login_source_rate_limit: u32,

    /// Trust `X-Forwarded-For` for the client address (only behind a reverse proxy that sets it).
    #[arg(long, env = "PLEXID_TRUST_PROXY_HEADERS", default_value_t = false)]
    pub trust_proxy_headers: bool,

    /// How many reverse proxies in front of plexid append to `X-Forwarded-For`: the client is
    /// the entry this many places from the right (entries further left are the client's own
    /// claims). Only with `PLEXID_TRUST_PROXY_HEADERS`.
    #[arg(long, env = "PLEXID_TRUSTED_PROXY_HOPS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub trusted_proxy_hops: u8,

    /// A session ends after this long without use (`30m`, `12h`, or seconds).
    #[arg(long, env = "PLEXID_SESSION_IDLE", default_value = "24h")]
    pub session_idle: Period,

    /// A session ends this long after sign-in, however busy.
    #[arg(long, env = "PLEXID_SESSION_LIFETIME", default_value = "336h")]
    pub session_lifetime: Period,

    /// How often the access sweep re-checks every connection against its source's rules.
    #[arg(long, env = "PLEXID_ACCESS_CHECK_INTERVAL", default_value = "15m")]
    pub access_check_interval: Period,

    /// How often each source's Plex token is checked.
    #[arg(long, env = "PLEXID_TOKEN_CHECK_INTERVAL", default_value = "3h")]
    pub token_check_interval: Period,

    /// Run the background jobs on this instance (with several instances, one runs each job at a
    /// time whatever this says).
    #[arg(long, env = "PLEXID_JOBS", default_value_t = true, action = clap::ArgAction::Set)]
    pub jobs: bool,

    /// How long a source owner's identity and friends list are reused between sign-ins.
    #[arg(long, env = "PLEXID_PLEX_CACHE_TTL", default_value = "60s")]
    pub plex_cache_ttl: Period,

    /// Time limit of one plex.tv request.
    #[arg(long, env = "PLEXID_PLEX_TIMEOUT", default_value = "5s")]
    pub plex_timeout: Period,

    /// A request's headers must arrive within this time; an idle keep-alive connection is closed
    /// after it too.
    #[arg(long, env = "PLEXID_HEADER_TIMEOUT", default_value = "10s")]
    pub header_timeout: Period,

    /// A request's body must arrive within this time (408 otherwise).
    #[arg(long, env = "PLEXID_BODY_TIMEOUT", default_value = "30s")]
    pub body_timeout: Period,

    /// Open connections at most; one more is answered 503 and closed.
    #[arg(long, env = "PLEXID_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// How many mapping expressions may be evaluated at once (each in its own worker process).
    #[arg(long, env = "PLEXID_MAPPING_WORKERS", default_value_t = 2)]
    pub mapping_workers: usize,

    /// The program that runs mapping workers (default: this plexid binary).
    #[arg(long, env = "PLEXID_MAPPING_WORKER", hide = true)]
    pub mapping_worker: Option<std::path::PathBuf>,

    /// How long a key signs OpenID Connect ID tokens before a new one replaces it (the old one
    /// stays published in the JWKS, so tokens it signed still verify).
    #[arg(long, env = "PLEXID_SIGNING_KEY_LIFETIME", default_value = "720h")]
    pub signing_key_lifetime: Period,

    /// Serve `/metrics` (Prometheus) to requests bearing this token (`Authorization: Bearer …`);
    /// without it `/metrics` is off.
    #[arg(long, env = "PLEXID_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Log format.
    #[arg(long, env = "PLEXID_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A positive length of time: seconds (`900`) or jiff's friendly form (`15m`, `1h 30m`, `PT15M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period(pub jiff::SignedDuration);

impl Period {
    pub const fn secs(secs: i64) -> Self {
        Period(jiff::SignedDuration::from_secs(secs))
    }
    pub const fn minutes(minutes: i64) -> Self {
        Period(jiff::SignedDuration::from_mins(minutes))
    }
    pub const fn hours(hours: i64) -> Self {
        Period(jiff::SignedDuration::from_hours(hours))
    }
    /// As a standard duration (periods are positive).
    pub fn std(self) -> std::time::Duration {
        self.0.unsigned_abs()
    }
}

/// The largest value of each setting ([`Settings::check`], before anything starts: an error
/// naming the setting beyond it), so no setting can push a time past what the clock can
/// represent or ask for absurd resources.
pub mod bounds {
    use super::Period;

    /// Sessions (idle and total) and signing keys: ten years.
    pub const SESSION: Period = Period::hours(24 * 3650);
    /// How often a job runs: thirty days at most.
    pub const JOB_INTERVAL: Period = Period::hours(24 * 30);
    /// How long plex.tv's answers about an owner are reused: a day.
    pub const PLEX_CACHE: Period = Period::hours(24);
    /// A request's time limits (plex.tv, headers, body): an hour.
    pub const REQUEST: Period = Period::hours(1);
    pub const MAX_CONNECTIONS: usize = 1_000_000;
    pub const MAPPING_WORKERS: usize = 64;
}

impl Period {
    fn check(self, max: Period) -> Result<(), String> {
        if !self.0.is_positive() {
            Err("must be longer than zero".into())
        } else if self.0 > max.0 {
            Err(format!("must be at most {max}"))
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.as_secs();
        match secs {
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let duration = match text.parse::<i64>() {
            Ok(secs) => jiff::SignedDuration::from_secs(secs),
            Err(_) => text.parse::<jiff::SignedDuration>().map_err(|e| format!("not a length of time: {e}"))?,
        };
        if duration.is_positive() {
            Ok(Period(duration))
        } else {
            Err("must be longer than zero".into())
        }
    }
}

/// plex.tv's API base, whose other hosts follow it unless set.
const PLEX_API_DEFAULT: &str = "https://plex.tv";

/// The database setting that holds a generated secret key.
pub const STORED_SECRET_KEY: &str = "secret_key";

impl Settings {
    /// The secret key given from outside the database: `PLEXID_SECRET_KEY`, or the first line
    /// of `PLEXID_SECRET_KEY_FILE`. `Err` names the setting that cannot be read.
    pub fn external_secret_key(&self) -> Result<Option<String>, String> {
        if let Some(key) = &self.secret_key {
            return Ok(Some(key.clone()));
        }
        let Some(path) = &self.secret_key_file else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("PLEXID_SECRET_KEY_FILE: cannot read {}: {e}", path.display()))?;
        let key = text.lines().next().unwrap_or_default().trim().to_owned();
        if key.len() < 16 {
            return Err(format!("PLEXID_SECRET_KEY_FILE: {} holds no key of at least 16 characters", path.display()));
        }
        Ok(Some(key))
    }

    /// The base of `host` (`clients` or `community`): as set, else plex.tv's own host when the API
    /// URL is plex.tv's, else the API URL (one stand-in serves all three).
    fn plex_host(&self, set: Option<&String>, host: &str) -> String {
        match set {
            Some(url) => url.clone(),
            None if self.plex_api_url.trim_end_matches('/') == PLEX_API_DEFAULT => format!("https://{host}.plex.tv"),
            None => self.plex_api_url.clone(),
        }
    }

    /// clients.plex.tv's base.
    pub fn plex_clients(&self) -> String {
        self.plex_host(self.plex_clients_url.as_ref(), "clients")
    }

    /// community.plex.tv's base.
    pub fn plex_community(&self) -> String {
        self.plex_host(self.plex_community_url.as_ref(), "community")
    }

    /// Checks every bounded setting (as the command line does when it reads them; settings
    /// built in code pass here too): the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        let periods = [
            ("PLEXID_SESSION_IDLE", self.session_idle, bounds::SESSION),
            ("PLEXID_SESSION_LIFETIME", self.session_lifetime, bounds::SESSION),
            ("PLEXID_ACCESS_CHECK_INTERVAL", self.access_check_interval, bounds::JOB_INTERVAL),
            ("PLEXID_TOKEN_CHECK_INTERVAL", self.token_check_interval, bounds::JOB_INTERVAL),
            ("PLEXID_PLEX_CACHE_TTL", self.plex_cache_ttl, bounds::PLEX_CACHE),
            ("PLEXID_PLEX_TIMEOUT", self.plex_timeout, bounds::REQUEST),
            ("PLEXID_HEADER_TIMEOUT", self.header_timeout, bounds::REQUEST),
            ("PLEXID_BODY_TIMEOUT", self.body_timeout, bounds::REQUEST),
            ("PLEXID_SIGNING_KEY_LIFETIME", self.signing_key_lifetime, bounds::SESSION),
        ];
        for (name, value, max) in periods {
            value.check(max).map_err(|message| format!("{name} {message}"))?;
        }
        let counts = [
            ("PLEXID_MAX_CONNECTIONS", self.max_connections, bounds::MAX_CONNECTIONS),
            ("PLEXID_MAPPING_WORKERS", self.mapping_workers, bounds::MAPPING_WORKERS),
        ];
        for (name, value, max) in counts {
            if !(1..=max).contains(&value) {
                return Err(format!("{name} must be between 1 and {max}"));
            }
        }
        Ok(())
    }

    /// Whether plexid is served over HTTPS (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.to_ascii_lowercase().starts_with("https://"))
    }

    /// Settings for tests: a database URL, everything else default.
    pub fn for_database(database: &str) -> Self {
        Settings {
            listen: "127.0.0.1:0".into(),
            db: DatabaseArgs { database: database.into() },
            bootstrap_token: None,
            bootstrap_password: None,
            plex_api_url: "https://plex.tv".into(),
            plex_clients_url: None,
            plex_community_url: None,
            plex_app_url: "https://app.plex.tv".into(),
            secret_key: None,
            secret_key_file: None,
            public_url: None,
            login_rate_limit: 30,
            login_source_rate_limit: 600,
            trust_proxy_headers: false,
            trusted_proxy_hops: 1,
            session_idle: Period::hours(24),
            session_lifetime: Period::hours(336),
            access_check_interval: Period::minutes(15),
            token_check_interval: Period::hours(3),
            jobs: true,
            plex_cache_ttl: Period::secs(60),
            plex_timeout: Period::secs(5),
            header_timeout: Period::secs(10),
            body_timeout: Period::secs(30),
            max_connections: 4096,
            mapping_workers: 2,
            mapping_worker: None,
            signing_key_lifetime: Period::hours(720),
            metrics_token: None,
            log_format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Period;

    #[test]
    fn plex_hosts_follow_the_api_url() {
        let mut settings = super::Settings::for_database("sqlite://x.db");
        assert_eq!(
            (settings.plex_clients(), settings.plex_community()),
            ("https://clients.plex.tv".into(), "https://community.plex.tv".into())
        );
        settings.plex_api_url = "http://127.0.0.1:9100".into();
        assert_eq!(settings.plex_clients(), "http://127.0.0.1:9100");
        assert_eq!(settings.plex_community(), "http://127.0.0.1:9100");
        settings.plex_community_url = Some("http://c.test".into());
        assert_eq!(settings.plex_community(), "http://c.test");
    }

    #[test]
    fn periods() {
        assert_eq!("900".parse::<Period>(), Ok(Period::minutes(15)));
        assert_eq!("15m".parse::<Period>(), Ok(Period::minutes(15)));
        assert_eq!("1h 30m".parse::<Period>(), Ok(Period::minutes(90)));
        assert_eq!("PT2H".parse::<Period>(), Ok(Period::hours(2)));
        assert_eq!("336h".parse::<Period>(), Ok(Period::hours(336)));
        assert!("0".parse::<Period>().is_err());
        assert!("soon".parse::<Period>().is_err());
    }

    #[test]
    fn periods_beyond_their_bound_are_refused_by_name() {
        let mut settings = super::Settings::for_database("sqlite://x.db");
        assert_eq!(settings.check(), Ok(()));
        settings.session_idle = Period::secs(999_999_999_999);
        assert_eq!(settings.check(), Err("PLEXID_SESSION_IDLE must be at most 87600h".into()));
        settings.session_idle = Period::hours(1);
        settings.mapping_workers = 0;
        assert_eq!(settings.check(), Err("PLEXID_MAPPING_WORKERS must be between 1 and 64".into()));
    }
}
