//! `plexid check-config`: every setting in force and where it came from (a flag, the
//! environment, the default), then each feature and what it is missing. Secrets are never
//! printed, only whether they are set; a database URL's password is masked. The same feature
//! checks are logged as warnings when `plexid serve` starts.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use crate::config::Settings;

/// One setting as `check-config` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingRow {
    pub variable: String,
    pub flag: String,
    pub value: String,
    /// `flag`, `environment`, `default` or `not set`.
    pub origin: &'static str,
}

/// The settings of `command` (the `serve` arguments) as `matches` has them.
pub fn settings_rows(command: &Command, matches: &ArgMatches) -> Vec<SettingRow> {
    let mut rows = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(variable) = arg.get_env() else { continue };
        let raw: Option<Vec<String>> =
            matches.get_raw(id).map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect());
        let origin = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "default",
            _ => "not set",
        };
        let value = match raw {
            None => "–".to_owned(),
            Some(_) if arg.is_hide_env_values_set() => "(set, not shown)".to_owned(),
            Some(values) if id == "database" => values.iter().map(|v| plexid_store::redact_url(v)).collect(),
            Some(values) => values.join(","),
        };
        rows.push(SettingRow {
            variable: variable.to_string_lossy().into_owned(),
            flag: arg.get_long().map(|l| format!("--{l}")).unwrap_or_default(),
            value,
            origin,
        });
    }
    rows
}

/// What the database holds that a feature depends on (`None`: not known, e.g. the database
/// does not exist yet or could not be reached).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub forward_auth_providers: Option<usize>,
    pub sources: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Works as configured.
    Ready,
    /// Off or degraded by choice; says what would turn it on.
    Off,
    /// Configured in the database but refused by the settings: needs fixing.
    Broken,
}

/// A feature and what it is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub state: State,
    pub note: String,
}

fn feature(name: &'static str, state: State, note: impl Into<String>) -> Feature {
    Feature { name, state, note: note.into() }
}

/// What `store` holds that the features depend on (unknown where a read fails, e.g. before the
/// first migration).
pub async fn facts(store: &plexid_store::Store) -> Facts {
    let mut conn = store.read();
    Facts {
        forward_auth_providers: conn.proxy_providers().await.ok().map(|p| p.len()),
        sources: conn.source_ids().await.ok().map(|s| s.len()),
    }
}

/// Each feature's state under `settings`, given what the database holds.
pub fn features(settings: &Settings, facts: &Facts) -> Vec<Feature> {
    let public = settings.public_url.as_deref();
    let mut out = Vec::new();
    out.push(match (public, facts.forward_auth_providers) {
        (Some(url), _) => feature("forward-auth", State::Ready, format!("sign-in redirects go to {url}")),
        (None, Some(n)) if n > 0 => feature(
            "forward-auth",
            State::Broken,
            format!("{n} forward-auth provider(s) exist, but without PLEXID_PUBLIC_URL their sign-in is refused"),
        ),
        (None, _) => {
            feature("forward-auth", State::Off, "missing PLEXID_PUBLIC_URL (new forward-auth providers are refused)")
        }
    });
    out.push(match public {
        Some(url) => feature("openid-connect", State::Ready, format!("issuer and endpoints under {url}")),
        None => feature(
            "openid-connect",
            State::Off,
            "missing PLEXID_PUBLIC_URL: the issuer is taken from each request's Host",
        ),
    });
    out.push(if settings.is_https() {
        feature("secure-cookies", State::Ready, "cookies are Secure (the public URL is https)")
    } else {
        feature("secure-cookies", State::Off, "cookies are not Secure: set PLEXID_PUBLIC_URL to an https:// address")
    });
    out.push(match facts.sources {
        Some(0) => feature("plex-sign-in", State::Off, "no Plex source yet: create one at /if/admin/sources/"),
        Some(n) => {
            feature("plex-sign-in", State::Ready, format!("{n} Plex source(s), plex.tv at {}", settings.plex_api_url))
        }
        None => feature("plex-sign-in", State::Off, "the database could not be read"),
    });
    out.push(if settings.bootstrap_token.is_some() {
        feature("api-token", State::Ready, "PLEXID_BOOTSTRAP_TOKEN is akadmin's API token")
    } else {
        feature("api-token", State::Off, "missing PLEXID_BOOTSTRAP_TOKEN (or run `plexid create-token`)")
    });
    out.push(match (&settings.secret_key, &settings.secret_key_file) {
        (Some(_), _) => feature("secret-key", State::Ready, "PLEXID_SECRET_KEY encrypts stored Plex tokens"),
        (None, Some(file)) => feature("secret-key", State::Ready, format!("read from {}", file.display())),
        (None, None) => feature(
            "secret-key",
            State::Off,
            "generated and kept in the database it protects: `plexid move-secret-key --to FILE` moves it out",
        ),
    });
    out.push(match (public, settings.trust_proxy_headers) {
        (Some(_), false) => feature(
            "client-addresses",
            State::Off,
            "behind a reverse proxy every client has the proxy's address: set PLEXID_TRUST_PROXY_HEADERS=true",
        ),
        _ => feature("client-addresses", State::Ready, "taken as configured"),
    });
    out.push(if settings.metrics_token.as_deref().is_some_and(|t| !t.is_empty()) {
        feature("metrics", State::Ready, "/metrics answers requests bearing PLEXID_METRICS_TOKEN")
    } else {
        feature("metrics", State::Off, "missing PLEXID_METRICS_TOKEN (/metrics is off)")
    });
    out
}

/// The whole report, as printed.
pub fn report(rows: &[SettingRow], database: &str, features: &[Feature]) -> String {
    let width = |f: fn(&SettingRow) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let (v, fl, val) = (width(|r| r.variable.len()), width(|r| r.flag.len()), width(|r| r.value.chars().count()));
    let mut out = String::from("Settings in force:\n");
    for r in rows {
        out.push_str(&format!("  {:v$}  {:fl$}  {:val$}  ({})\n", r.variable, r.flag, r.value, r.origin));
    }
    out.push_str(&format!("\nDatabase: {database}\n\nFeatures:\n"));
    for f in features {
        let state = match f.state {
            State::Ready => "ok",
            State::Off => "off",
            State::Broken => "BROKEN",
        };
        out.push_str(&format!("  {:16} {:6} {}\n", f.name, state, f.note));
    }
    out
}

/// Logs the features that need attention (at start-up).
pub fn warn_about(features: &[Feature]) {
    for f in features.iter().filter(|f| f.state == State::Broken) {
        tracing::warn!(feature = f.name, "{}", f.note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_of(settings: &Settings, facts: &Facts, name: &str) -> State {
        features(settings, facts).into_iter().find(|f| f.name == name).unwrap().state
    }

    #[test]
    fn forward_auth_without_a_public_url_is_broken_only_when_it_is_used() {
        let mut settings = Settings::for_database("sqlite://x.db");
        let unused = Facts { forward_auth_providers: Some(0), sources: Some(1) };
        let used = Facts { forward_auth_providers: Some(2), ..unused.clone() };
        assert_eq!(state_of(&settings, &unused, "forward-auth"), State::Off);
        assert_eq!(state_of(&settings, &used, "forward-auth"), State::Broken);
        settings.public_url = Some("https://id.example.com".into());
        assert_eq!(state_of(&settings, &used, "forward-auth"), State::Ready);
        assert_eq!(state_of(&settings, &used, "secure-cookies"), State::Ready);
        assert_eq!(state_of(&settings, &used, "client-addresses"), State::Off);
    }

    #[test]
    fn the_report_never_shows_a_secret() {
        let mut settings = Settings::for_database("sqlite://x.db");
        settings.metrics_token = Some("very-secret-metrics".into());
        let rows = vec![SettingRow {
            variable: "PLEXID_METRICS_TOKEN".into(),
            flag: "--metrics-token".into(),
            value: "(set, not shown)".into(),
            origin: "environment",
        }];
        let text = report(&rows, "sqlite://x.db", &features(&settings, &Facts::default()));
        assert!(!text.contains("very-secret-metrics") && text.contains("(set, not shown)"), "{text}");
    }
}
