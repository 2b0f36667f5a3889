use std::sync::Arc;

use plexid_store::Store;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::Secrets;

/// What every front end and operation can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: Secrets,
    pub settings: Arc<Settings>,
    /// Mapping expressions run in worker processes with hard limits.
    pub mappings: Arc<plexid_mapping::worker::Pool>,
    pub clock: Clock,
    /// The plex.tv client (one connection pool, the owner cache).
    pub plex: plexid_plex::PlexClient,
    /// The state of each source's plex.tv calls as this instance last saw it.
    pub plex_seen: Arc<crate::service::plex_facts::Seen>,
    pub login_limits: Arc<crate::service::limits::LoginLimits>,
    /// Who API tokens and session keys authenticate (see `service::auth_cache`).
    pub auth_cache: Arc<AuthCaches>,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The credential caches.
#[derive(Default)]
pub struct AuthCaches {
    /// Key hash → the principal and when the token expires (if it does).
    pub tokens: crate::service::auth_cache::AuthCache<(crate::service::Principal, Option<plexid_core::Timestamp>)>,
    /// Key hash → the principal and the session.
    pub sessions: crate::service::auth_cache::AuthCache<(crate::service::Principal, plexid_core::model::Session)>,
    /// Host → the forward-auth application serving it; `oidc:<slug>` → an OpenID Connect one.
    pub hosts: crate::service::auth_cache::AuthCache<Option<crate::service::oidc::Client>>,
    /// Forward-auth session key hash → its provider, expiry and the identity it passed with.
    pub proxy_sessions: crate::service::auth_cache::AuthCache<(
        plexid_core::ProviderId,
        plexid_core::Timestamp,
        crate::service::oidc::Identity,
    )>,
    /// The signing keys (one entry).
    pub signing_keys: crate::service::auth_cache::AuthCache<Vec<plexid_store::oauth::SigningKey>>,
    /// Held while a signing key is being made, so concurrent first requests make one.
    pub key_creation: tokio::sync::Mutex<()>,
}
