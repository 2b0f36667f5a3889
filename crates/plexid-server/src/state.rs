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
    pub login_limits: Arc<crate::service::limits::LoginLimits>,
    /// Who API tokens and session keys authenticate (see `service::auth_cache`).
    pub auth_cache: Arc<AuthCaches>,
}

/// The credential caches.
#[derive(Default)]
pub struct AuthCaches {
    /// Key hash → the principal and when the token expires (if it does).
    pub tokens: crate::service::auth_cache::AuthCache<(crate::service::Principal, Option<plexid_core::Timestamp>)>,
    /// Key hash → the principal and the session.
    pub sessions: crate::service::auth_cache::AuthCache<(crate::service::Principal, plexid_core::model::Session)>,
}
