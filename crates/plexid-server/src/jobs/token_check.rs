//! The source-token check (spec §5 with D21): is each source's Plex token still accepted by
//! plex.tv? A rejected token (401) and an outage are told apart, and only a change of state is
//! recorded (one `configuration_error` when the token stops working, not one per run).

use plexid_core::model::Source;
use plexid_core::modes::EventAction;
use plexid_plex::PlexError;

use super::Lease;
use crate::service::events::{self, NewEvent};
use crate::service::login::owner_token;
use crate::service::ServiceResult;
use crate::state::AppState;

const APP: &str = "plexid.jobs.token_check";

/// What a check found.
pub fn state_of(result: &Result<(), PlexError>) -> &'static str {
    match result {
        Ok(()) => "valid",
        Err(PlexError::Unauthorized) => "rejected",
        Err(_) => "unreachable",
    }
}

fn message(state: &str) -> &'static str {
    match state {
        "valid" => "Plex token is valid.",
        "rejected" => "Plex token invalid, please re-authenticate source.",
        _ => "plex.tv could not be reached to check the Plex token.",
    }
}

/// Checks every source that has a token; returns how many changed state.
pub async fn run(state: &AppState) -> ServiceResult<usize> {
    run_with(state, &Lease::none()).await
}

/// [`run`] as a run of the job holding `lease`.
pub async fn run_with(state: &AppState, lease: &Lease) -> ServiceResult<usize> {
    let ids = state.store.read().source_ids().await?;
    let mut changed = 0;
    for id in ids {
        let Some(source) = state.store.read().source_by_id(id).await? else { continue };
        if check(state, &source, lease).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Checks one source; returns whether its state changed. Writes only the token columns of the
/// source's state (the access sweep writes the others).
pub async fn check(state: &AppState, source: &Source, lease: &Lease) -> ServiceResult<bool> {
    let Some(token) = owner_token(state, source) else { return Ok(false) };
    let result = state.plex.user(&source.client_id, &token).await.map(drop);
    let new_state = state_of(&result);
    let mut tx = lease.begin(state).await?;
    let now = state.clock.now();
    let mut conn = tx.conn();
    let stored = conn.source_state(source.id).await?;
    let first_check_valid = stored.token_state == "unknown" && new_state == "valid";
    let changed = stored.token_state != new_state;
    conn.save_token_state(source.id, new_state, now).await?;
    if changed && !first_check_valid {
        let action =
            if new_state == "valid" { EventAction::SystemTaskExecution } else { EventAction::ConfigurationError };
        let mut event = NewEvent::new(action, APP)
            .context("message", message(new_state))
            .context("token_state", new_state)
            .context(
                "source",
                serde_json::json!({"pk": source.id.0.to_string(), "slug": source.slug, "name": source.name}),
            )
            .model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
        if let Err(PlexError::Unavailable(reason)) = &result {
            event = event.context("error", reason.as_str());
        }
        events::record(&mut conn, event, now).await?;
    }
    tx.commit().await?;
    Ok(changed)
}
