//! What plex.tv said with a source owner's token, made into the access rule's inputs, and the
//! health of each of those calls.
//!
//! Each owner fact (identity, servers, accepted shares, friends, Plex Home) succeeds or fails on
//! its own. A fact that changes state (works → fails, fails differently, fails → works) is
//! recorded once in `plex_fact_state` with one audit event: `configuration_error` when it stops
//! working, `system_task_execution` when it works again (like the token check, D21). The admin
//! overview and the source page show the facts that do not work, since when, and what that
//! stops. Each instance remembers what it last saw, so a sign-in writes only on a change.

use std::collections::HashMap;
use std::sync::Mutex;

use plexid_core::login::{Fact, OwnerSide, ServerEntry, ShareList};
use plexid_core::model::Source;
use plexid_core::modes::EventAction;
use plexid_core::SourceId;
use plexid_plex::{OwnerFacts, PlexError, Resource};
use plexid_store::jobs::FactState;
use serde_json::json;

use super::events::{self, NewEvent};
use super::{AppState, ServiceError, ServiceResult};

const APP: &str = "plexid.sources.plex";

/// The owner facts in the access rule's terms, owned.
#[derive(Clone, Debug, Default)]
pub struct Owner {
    pub id: Option<u64>,
    pub servers: Option<Vec<ServerEntry>>,
    pub shares: Option<ShareList>,
    pub friends: Option<Vec<u64>>,
    pub home: Option<Vec<u64>>,
}

impl Owner {
    pub fn of(facts: &OwnerFacts) -> Owner {
        Owner {
            id: facts.identity.as_ref().ok().map(|u| u.id),
            servers: facts.servers.as_ref().ok().map(|all| server_entries(all)),
            shares: facts
                .shares
                .as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|s| ShareList { accepted: s.accepted.clone(), covers: s.covers.clone() }),
            friends: facts.friends.as_ref().and_then(|r| r.as_ref().ok()).cloned(),
            home: facts.home.as_ref().ok().cloned(),
        }
    }

    pub fn side(&self) -> OwnerSide<'_> {
        OwnerSide {
            id: self.id,
            servers: self.servers.as_deref(),
            shares: self.shares.as_ref(),
            friends: self.friends.as_deref(),
            home: self.home.as_deref(),
        }
    }
}

/// The servers among `resources` (D16), as the access rule reads them.
pub fn server_entries(resources: &[Resource]) -> Vec<ServerEntry> {
    resources
        .iter()
        .filter(|r| r.is_server())
        .map(|r| ServerEntry { id: r.client_identifier.clone(), owned: r.owned, owner_id: r.owner_id })
        .collect()
}

/// A person's servers: what their token lists; a token plex.tv rejects lists nothing (it proves
/// no membership any more). `None`: plex.tv did not answer.
pub fn person_servers(resources: &Result<Vec<Resource>, PlexError>) -> Option<Vec<ServerEntry>> {
    match resources {
        Ok(all) => Some(server_entries(all)),
        Err(PlexError::Unauthorized) => Some(Vec::new()),
        Err(_) => None,
    }
}

/// The failure behind a missing fact.
pub fn error_of<'a>(
    fact: Fact,
    owner: Option<&'a OwnerFacts>,
    person: Option<&'a Result<Vec<Resource>, PlexError>>,
) -> Option<&'a PlexError> {
    let owner_error = |get: fn(&'a OwnerFacts) -> Option<&'a PlexError>| owner.and_then(get);
    match fact {
        Fact::OwnerIdentity => owner_error(|o| o.identity.as_ref().err()),
        Fact::OwnerServers => owner_error(|o| o.servers.as_ref().err()),
        Fact::Shares => owner_error(|o| o.shares.as_ref().and_then(|r| r.as_ref().err())),
        Fact::Friends => owner_error(|o| o.friends.as_ref().and_then(|r| r.as_ref().err())),
        Fact::Home => owner_error(|o| o.home.as_ref().err()),
        Fact::PersonServers => person.and_then(|r| r.as_ref().err()),
    }
}

/// The answer for a decision that missed facts (D9): 503 when plex.tv was rate limiting one of
/// those calls (with its `Retry-After`, if it sent one), else 502.
pub fn unavailable<'a>(errors: impl IntoIterator<Item = Option<&'a PlexError>>) -> ServiceError {
    let mut retry_after = None;
    let mut limited = false;
    for error in errors.into_iter().flatten() {
        if let PlexError::RateLimited { retry_after: wait } = error {
            limited = true;
            retry_after = retry_after.max(wait.map(|d| d.as_secs().max(1)));
        }
    }
    if limited {
        ServiceError::PlexRateLimited { retry_after }
    } else {
        ServiceError::PlexUnavailable
    }
}

/// The name of a fact in `plex_fact_state`, events and pages.
fn fact_name(fact: Fact) -> &'static str {
    match fact {
        Fact::OwnerIdentity => "identity",
        Fact::OwnerServers => "servers",
        Fact::Shares => "shares",
        Fact::Friends => "friends",
        Fact::Home => "home",
        Fact::PersonServers => "person_servers",
    }
}

/// What a failing fact stops, for the admin.
fn consequence(fact: &str) -> &'static str {
    match fact {
        "identity" => "the owner's Plex account cannot be read: sign-ins of anyone but friends and members answer 502, the sweep revokes nobody",
        "servers" => "the owner's servers cannot be listed: members cannot sign in, the sweep cannot revoke members",
        "shares" => "who the owner shares servers with is unknown: members cannot sign in, the sweep cannot revoke members",
        "friends" => "friends list unavailable: friends cannot sign in, the sweep cannot revoke friends",
        "home" => "Plex Home unavailable: Home members are not recognised for application rules",
        _ => "",
    }
}

/// A fact's state: `ok`, or how it fails.
fn state_of<T>(result: &Result<T, PlexError>) -> (&'static str, String) {
    match result {
        Ok(_) => ("ok", String::new()),
        Err(PlexError::Unauthorized) => ("rejected", "plex.tv rejected the source's token".into()),
        Err(PlexError::RateLimited { .. }) => ("rate_limited", "plex.tv is rate limiting plexid".into()),
        Err(error @ PlexError::Gone(_)) => ("gone", error.to_string()),
        Err(error) => ("unavailable", error.to_string()),
    }
}

/// The facts of `facts` that were asked, with their state.
fn states(facts: &OwnerFacts) -> Vec<(Fact, &'static str, String)> {
    let mut states = Vec::new();
    let mut push = |fact, (state, detail)| states.push((fact, state, detail));
    push(Fact::OwnerIdentity, state_of(&facts.identity));
    push(Fact::OwnerServers, state_of(&facts.servers));
    if let Some(shares) = &facts.shares {
        push(Fact::Shares, state_of(shares));
    }
    if let Some(friends) = &facts.friends {
        push(Fact::Friends, state_of(friends));
    }
    push(Fact::Home, state_of(&facts.home));
    states
}

/// What each instance last saw of each source's facts.
#[derive(Default)]
pub struct Seen(Mutex<HashMap<(SourceId, Fact), &'static str>>);

/// Records the facts' states that changed since this instance last saw them: the stored state
/// and one event per change (across instances: the stored row decides). Failures to record are
/// logged, never answered.
pub async fn observe(app: &AppState, source: &Source, facts: &OwnerFacts) {
    let changed: Vec<(Fact, &'static str, String)> = {
        let seen = app.plex_seen.0.lock().unwrap_or_else(|p| p.into_inner());
        states(facts).into_iter().filter(|(fact, state, _)| seen.get(&(source.id, *fact)) != Some(state)).collect()
    };
    if changed.is_empty() {
        return;
    }
    match record(app, source, &changed).await {
        Ok(()) => {
            let mut seen = app.plex_seen.0.lock().unwrap_or_else(|p| p.into_inner());
            for (fact, state, _) in changed {
                seen.insert((source.id, fact), state);
            }
        }
        Err(error) => tracing::warn!(source = %source.slug, %error, "cannot record the state of plex.tv calls"),
    }
}

async fn record(app: &AppState, source: &Source, changed: &[(Fact, &'static str, String)]) -> ServiceResult<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    for (fact, state, detail) in changed {
        let name = fact_name(*fact);
        let new = FactState { fact: name.to_owned(), state: (*state).to_owned(), since: now, detail: detail.clone() };
        let Some(before) = conn.change_fact_state(source.id, &new).await? else { continue };
        // A first look that finds the call working is not news.
        if before.is_none() && *state == "ok" {
            continue;
        }
        let (action, message) = if *state == "ok" {
            (EventAction::SystemTaskExecution, format!("plex.tv answers the {name} call again."))
        } else {
            (
                EventAction::ConfigurationError,
                format!("plex.tv {name} call: {}; {}", state.replace('_', " "), consequence(name)),
            )
        };
        let event = NewEvent::new(action, APP)
            .context("message", message)
            .context("plex_call", name)
            .context("state", *state)
            .context("error", detail.as_str())
            .context("source", json!({"pk": source.id.0.to_string(), "slug": source.slug, "name": source.name}))
            .model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
        events::record(&mut conn, event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The source's failing plex.tv calls as sentences for the admin ("friends list unavailable
/// since …: friends cannot sign in, …"); empty when every call works.
pub fn health_lines(states: &[FactState]) -> Vec<String> {
    states
        .iter()
        .filter(|s| s.state != "ok")
        .map(|s| {
            let what = consequence(&s.fact);
            let (head, tail) = what.split_once(':').unwrap_or((what, ""));
            let how = match s.state.as_str() {
                "gone" => "gone from plex.tv (410)",
                "rejected" => "rejected (401): re-authorise with Plex",
                "rate_limited" => "rate limited by plex.tv",
                _ => "failing",
            };
            format!("{head} since {} ({how}):{tail}", crate::clock::readable(s.since))
        })
        .collect()
}
