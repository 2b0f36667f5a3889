//! The access sweep (D3): every connection is checked again against its source's rules with the
//! owner's token (identity, friends) and the user's stored token (their servers). Access that is
//! *definitely* gone (plex.tv answered every check that could have granted it) ends the user's
//! sessions through that source and is recorded; a plex.tv error or outage changes nothing.
//! What each connection was found to be (owner, friend, member of which servers) is stored with
//! it for per-application rules.

use plexid_core::login::{decide_access, Access, PlexAnswers};
use plexid_core::model::Source;
use plexid_core::modes::EventAction;
use plexid_store::connections::ConnectionAccess;
use serde_json::json;

use super::Lease;
use crate::service::events::{self, NewEvent};
use crate::service::login::owner_token;
use crate::service::ServiceResult;
use crate::state::AppState;

const APP: &str = "plexid.jobs.access_sweep";

/// What one sweep of a source did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepSummary {
    pub checked: usize,
    pub revoked: usize,
    pub restored: usize,
    /// Connections left as they were because plex.tv did not answer.
    pub unknown: usize,
    pub sessions_ended: u64,
}

/// Sweeps every source; returns the summaries added up.
pub async fn sweep(state: &AppState) -> ServiceResult<SweepSummary> {
    sweep_with(state, &Lease::none()).await
}

/// [`sweep`] as a run of the job holding `lease` (every write checks it first).
pub async fn sweep_with(state: &AppState, lease: &Lease) -> ServiceResult<SweepSummary> {
    let ids = state.store.read().source_ids().await?;
    let mut total = SweepSummary::default();
    for id in ids {
        let Some(source) = state.store.read().source_by_id(id).await? else { continue };
        let s = sweep_source(state, &source, lease).await?;
        total.checked += s.checked;
        total.revoked += s.revoked;
        total.restored += s.restored;
        total.unknown += s.unknown;
        total.sessions_ended += s.sessions_ended;
    }
    Ok(total)
}

pub async fn sweep_source(state: &AppState, source: &Source, lease: &Lease) -> ServiceResult<SweepSummary> {
    let connections = state.store.read().connections_of_source(source.id).await?;
    let mut summary = SweepSummary::default();
    if connections.is_empty() {
        return Ok(summary);
    }
    let owner = match owner_token(state, source) {
        Some(token) => state.plex.owner(&source.client_id, &token, true).await.ok(),
        None => None,
    };
    let friends: Option<Vec<u64>> = owner.as_ref().and_then(|o| o.friends.clone().ok());
    let home: Option<Vec<u64>> = owner.as_ref().and_then(|o| o.home.clone().ok());
    for (connection, before) in connections {
        summary.checked += 1;
        let Ok(plex_id) = connection.identifier.parse::<u64>() else {
            summary.unknown += 1;
            continue;
        };
        let servers: Option<Vec<String>> = match state.secrets.decrypt(&connection.plex_token) {
            Ok(token) if !token.is_empty() => state
                .plex
                .resources(&source.client_id, &token)
                .await
                .ok()
                .map(|all| all.into_iter().filter(|r| r.is_server()).map(|r| r.client_identifier).collect()),
            _ => None,
        };
        let answers = PlexAnswers {
            plex_id,
            owner_id: owner.as_ref().map(|o| o.user.id),
            friend_ids: friends.as_deref(),
            home_ids: home.as_deref(),
            server_ids: servers.as_deref(),
        };
        let now = state.clock.now();
        let after = match decide_access(&answers, &source.allowed_servers, source.allow_friends) {
            Access::Granted(relationship) => ConnectionAccess { relationship, checked: Some(now), revoked: None },
            Access::Denied { definite: true } => ConnectionAccess {
                relationship: Default::default(),
                checked: Some(now),
                revoked: before.revoked.or(Some(now)),
            },
            Access::Denied { definite: false } => {
                summary.unknown += 1;
                continue;
            }
        };
        let mut tx = lease.begin(state).await?;
        let mut conn = tx.conn();
        conn.set_connection_access(connection.id, &after).await?;
        let change = match (before.revoked, after.revoked) {
            (None, Some(_)) => Some("access_revoked"),
            (Some(_), None) => Some("access_restored"),
            _ => None,
        };
        if let Some(change) = change {
            let ended = if change == "access_revoked" {
                conn.delete_sessions_of_user(connection.user, Some(source.id)).await?
            } else {
                0
            };
            let user = conn.user_by_id(connection.user).await?;
            let action =
                if change == "access_revoked" { EventAction::Logout } else { EventAction::SystemTaskExecution };
            let mut event = NewEvent::new(action, APP)
                .context("reason", change)
                .context("sessions_ended", ended)
                .context("plex_id", connection.identifier.as_str())
                .context("source", json!({"pk": source.id.0.to_string(), "slug": source.slug, "name": source.name}))
                .model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
            if let Some(user) = &user {
                event = event.user(user);
            }
            events::record(&mut conn, event, now).await?;
            if change == "access_revoked" {
                summary.revoked += 1;
                summary.sessions_ended += ended;
            } else {
                summary.restored += 1;
            }
        }
        tx.commit().await?;
    }
    let summary_json = json!({
        "checked": summary.checked, "revoked": summary.revoked, "restored": summary.restored,
        "unknown": summary.unknown, "sessions_ended": summary.sessions_ended,
    });
    // Only the sweep's columns of the source's state: the token check writes the others.
    let mut tx = lease.begin(state).await?;
    let finished = state.clock.now();
    tx.conn().save_sweep_state(source.id, finished, summary_json.as_object().unwrap_or(&Default::default())).await?;
    tx.commit().await?;
    state.metrics.sweep(&source.slug, summary.revoked, summary.restored);
    Ok(summary)
}
