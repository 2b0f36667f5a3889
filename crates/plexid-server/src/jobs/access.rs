//! The access sweep (D3), from the owner's side: one pass of the source owner's calls (identity,
//! servers, accepted shares, friends, Plex Home; asked afresh) decides every connection of the
//! source. A person's own token is asked only when an allowed server is shared with the owner by
//! someone else (only that person's devices can show its membership); so someone who revoked
//! their token at Plex, or whose token plex.tv rejects, is still judged. Access that is
//! *definitely* gone (every fact that could have admitted them obtained) ends the user's sessions
//! through that source and is recorded; a missing fact changes nothing.
//!
//! Decisions are written 200 connections to a short transaction that re-reads those rows under a
//! lock (one query) and writes only the access columns (relationship, checked, revoked): a
//! changed row on its own, the unchanged ones' time of check in one statement; a connection a
//! sign-in checked after the sweep's facts were gathered is left alone (the sweep never acts on
//! facts older than the row). What each connection was found to be (owner, Home, friend, member of
//! which servers) is stored with it for per-application rules; a part plex.tv did not answer
//! keeps its last value.

use plexid_core::login::{decide_access, Access, Fact, PersonSide};
use plexid_core::model::{Source, UserConnection};
use plexid_core::modes::EventAction;
use plexid_core::Timestamp;
use plexid_plex::OwnerQuery;
use plexid_store::connections::ConnectionAccess;
use serde_json::json;

use super::Lease;
use crate::service::events::{self, NewEvent};
use crate::service::login::owner_token;
use crate::service::plex_facts::{self, Owner};
use crate::service::ServiceResult;
use crate::state::AppState;

const APP: &str = "plexid.jobs.access_sweep";

/// The sweep's job (and lease) name.
pub const JOB: &str = "access_sweep";

/// How many connections one write transaction decides.
const BATCH: usize = 200;
/// Connections read at a time: a source's people are judged a page at a time, so a sweep's
/// memory does not grow with the number of people.
const PAGE: usize = 2_000;

/// What one sweep of a source did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepSummary {
    pub checked: usize,
    pub revoked: usize,
    pub restored: usize,
    /// Connections left as they were because plex.tv did not answer.
    pub unknown: usize,
    /// Connections a sign-in checked after this sweep's facts were gathered (left alone).
    pub fresher: usize,
    pub sessions_ended: u64,
    /// plex.tv calls made with connections' own tokens.
    pub person_calls: usize,
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
        total.fresher += s.fresher;
        total.sessions_ended += s.sessions_ended;
        total.person_calls += s.person_calls;
    }
    Ok(total)
}

/// The access rule's verdict for one connection, with the owner's facts and, only when needed,
/// the person's own servers.
async fn judge(
    state: &AppState,
    source: &Source,
    owner: &Owner,
    connection: &UserConnection,
    calls: &mut usize,
) -> Option<Access> {
    let plex_id = connection.identifier.parse::<u64>().ok()?;
    let decide = |servers| {
        decide_access(
            &owner.side(),
            &PersonSide { id: plex_id, servers },
            &source.allowed_servers,
            source.allow_friends,
        )
    };
    let access = decide(None);
    if !matches!(&access, Access::Unknown { missing } if missing == &[Fact::PersonServers]) {
        return Some(access);
    }
    // Only the person's devices can show membership of a server shared with the owner.
    let servers = match state.secrets.decrypt(&connection.plex_token) {
        Ok(token) if token.is_empty() => Some(Vec::new()),
        Ok(token) => {
            *calls += 1;
            plex_facts::person_servers(&state.plex.resources(&source.client_id, &token).await)
        }
        Err(_) => None,
    };
    Some(decide(servers.as_deref()))
}

pub async fn sweep_source(state: &AppState, source: &Source, lease: &Lease) -> ServiceResult<SweepSummary> {
    let page = |after| async move { state.store.read().connections_of_source(source.id, after, PAGE).await };
    let mut connections = page(None).await?;
    let mut summary = SweepSummary::default();
    if connections.is_empty() {
        return Ok(summary);
    }
    let gathered = state.clock.now();
    let started = std::time::Instant::now();
    let facts = match owner_token(state, source) {
        Some(token) => {
            let query = OwnerQuery { servers: &source.allowed_servers, friends: source.allow_friends, fresh: true };
            Some(state.plex.owner(&source.client_id, &token, query).await)
        }
        None => None,
    };
    if let Some(facts) = &facts {
        plex_facts::observe(state, source, facts).await;
    }
    let pass = Pass { state, source, owner: facts.as_ref().map(Owner::of).unwrap_or_default(), lease, gathered };
    loop {
        pass.judge_page(&connections, &mut summary).await?;
        let last = connections.last().map(|(c, _)| c.id);
        if connections.len() < PAGE {
            break;
        }
        connections = page(last).await?;
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
    tracing::info!(
        source = %source.slug,
        checked = summary.checked,
        revoked = summary.revoked,
        restored = summary.restored,
        unknown = summary.unknown,
        fresher = summary.fresher,
        person_calls = summary.person_calls,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "access sweep finished"
    );
    Ok(summary)
}

/// One sweep of a source: the owner's facts, gathered once (at `gathered`), decide every page.
struct Pass<'a> {
    state: &'a AppState,
    source: &'a Source,
    owner: Owner,
    lease: &'a Lease,
    gathered: Timestamp,
}

impl Pass<'_> {
    /// Judges a page of connections and writes the verdicts, [`BATCH`] to a transaction.
    async fn judge_page(
        &self,
        connections: &[(UserConnection, ConnectionAccess)],
        summary: &mut SweepSummary,
    ) -> ServiceResult<()> {
        let mut verdicts = Vec::with_capacity(connections.len());
        for (connection, _) in connections {
            summary.checked += 1;
            match judge(self.state, self.source, &self.owner, connection, &mut summary.person_calls).await {
                Some(Access::Unknown { .. }) | None => summary.unknown += 1,
                Some(access) => verdicts.push((connection, access)),
            }
        }
        for batch in verdicts.chunks(BATCH) {
            let mut tx = self.lease.begin(self.state).await?;
            let mut conn = tx.conn();
            let ids: Vec<_> = batch.iter().map(|(c, _)| c.id).collect();
            let rows = conn.connections_access_for_update(&ids).await?;
            let mut unchanged = Vec::new();
            for (connection, access) in batch {
                let Some((_, identifier, before)) = rows.iter().find(|(id, _, _)| *id == connection.id) else {
                    continue;
                };
                // Changed hands, or a sign-in checked it after the facts were gathered: left alone.
                if *identifier != connection.identifier || before.checked.is_some_and(|checked| checked > self.gathered)
                {
                    summary.fresher += 1;
                    continue;
                }
                if !apply(self.state, self.source, &mut conn, connection, access, before, summary).await? {
                    unchanged.push(connection.id);
                }
            }
            conn.touch_connections_checked(&unchanged, self.state.clock.now()).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Writes one verdict on the connection as re-read under its lock (`before`); sessions ended and
/// an event recorded when access is revoked or restored. Returns whether anything but the time
/// of the check changed (that one is written for the whole batch at once).
async fn apply(
    state: &AppState,
    source: &Source,
    conn: &mut plexid_store::Conn<'_, plexid_store::ReadWrite>,
    connection: &UserConnection,
    access: &Access,
    before: &ConnectionAccess,
    summary: &mut SweepSummary,
) -> ServiceResult<bool> {
    let now = state.clock.now();
    let after = match access {
        Access::Granted { relationship, unknown } => ConnectionAccess {
            relationship: relationship.clone().keeping(&before.relationship, unknown),
            checked: Some(now),
            revoked: None,
        },
        Access::Denied(_) => ConnectionAccess {
            relationship: Default::default(),
            checked: Some(now),
            revoked: before.revoked.or(Some(now)),
        },
        Access::Unknown { .. } => return Ok(true),
    };
    if after.relationship == before.relationship && after.revoked == before.revoked {
        return Ok(false);
    }
    conn.set_connection_access(connection.id, &after).await?;
    let change = match (before.revoked, after.revoked) {
        (None, Some(_)) => "access_revoked",
        (Some(_), None) => "access_restored",
        _ => return Ok(true),
    };
    let ended = if change == "access_revoked" {
        conn.delete_sessions_of_user(connection.user, Some(source.id)).await?
    } else {
        0
    };
    let user = conn.user_by_id(connection.user).await?;
    let action = if change == "access_revoked" { EventAction::Logout } else { EventAction::SystemTaskExecution };
    let mut event = NewEvent::new(action, APP)
        .context("reason", change)
        .context("sessions_ended", ended)
        .context("plex_id", connection.identifier.as_str())
        .context("source", json!({"pk": source.id.0.to_string(), "slug": source.slug, "name": source.name}))
        .model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
    if let Some(user) = &user {
        event = event.user(user);
    }
    events::record(conn, event, now).await?;
    if change == "access_revoked" {
        summary.revoked += 1;
        summary.sessions_ended += ended;
    } else {
        summary.restored += 1;
    }
    Ok(true)
}
