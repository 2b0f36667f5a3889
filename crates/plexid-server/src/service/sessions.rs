//! Sessions: a signed-in browser holds a random key in an HttpOnly cookie; the database keeps
//! only its hash, so sessions can be listed and ended (by the user, an admin or the access
//! sweep). A session ends at its absolute lifetime or after the idle lifetime without use.
//! Cookie-authenticated writes carry a CSRF token derived from the session key.

use plexid_core::model::Session;
use plexid_core::time::{earlier, later};
use plexid_core::{SourceId, Timestamp, UserId};
use plexid_store::listing::{Listed, Window};
use plexid_store::{Conn, ReadWrite};

use plexid_core::permission::{Action, Model};
use plexid_core::Permission;

use super::{Actor, AppState, Client, Principal, ServiceError, ServiceResult};
use crate::crypto::{generate_key, hash_token};

/// A session's last use is written at most this often (so a busy browser is not a write per
/// request).
const TOUCH_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A new session's cookie values: the key (the session cookie), its CSRF token, and the device
/// cookie that marks the browser as one someone signed in from (see `service::limits`).
pub struct Started {
    pub key: String,
    pub csrf: String,
    pub device: String,
    pub session: Session,
}

/// How long a device cookie vouches for a browser.
pub const DEVICE_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 365);

/// The browser a device cookie names (`user.issued`), if plexid signed it within
/// [`DEVICE_LIFETIME`].
pub fn known_device(app: &AppState, cookie: Option<&str>) -> Option<String> {
    let (user, issued) = app.secrets.verify_device(cookie?)?;
    let age = app.clock.now().as_second().checked_sub(issued)?;
    (0..DEVICE_LIFETIME.as_secs()).contains(&age).then(|| format!("{user}.{issued}"))
}

/// The CSRF token of a session: a hash of its key, so it proves the page could read the CSRF
/// cookie (same origin) without being a credential itself.
pub fn csrf_token(session_key: &str) -> String {
    hash_token(&format!("plexid-csrf:{session_key}"))[..32].to_owned()
}

/// Starts a session in the caller's transaction (it commits with the sign-in it belongs to).
pub async fn start(
    conn: &mut Conn<'_, ReadWrite>,
    app: &AppState,
    user: UserId,
    source: Option<SourceId>,
    client: &Client,
) -> ServiceResult<Started> {
    let now = app.clock.now();
    let key = generate_key();
    let session = Session {
        id: uuid::Uuid::new_v4(),
        key_hash: hash_token(&key),
        user,
        source,
        created: now,
        last_seen: now,
        expires: later(now, app.settings.session_lifetime.0),
        client_ip: client.ip.clone(),
        user_agent: client.user_agent.chars().take(512).collect(),
    };
    conn.insert_session(&session).await?;
    let device = app.secrets.sign_device(user.0, now.as_second());
    Ok(Started { csrf: csrf_token(&key), key, device, session })
}

fn is_live(app: &AppState, session: &Session, now: Timestamp) -> bool {
    session.expires > now && later(session.last_seen, app.settings.session_idle.0) > now
}

/// The principal of a live session of an active user. A session whose cached copy looks idle is
/// read again first (another instance may have seen it used since). Its last use is recorded at
/// most every [`TOUCH_EVERY`], and only as well as the database allows: a failed write is logged
/// and the request goes on.
pub async fn authenticate(app: &AppState, key: &str) -> ServiceResult<Option<(Principal, Session)>> {
    let now = app.clock.now();
    let key_hash = hash_token(key);
    let generation = app.store.auth_generation();
    let found = match app.auth_cache.sessions.get(&key_hash, generation) {
        Some(cached) if is_live(app, &cached.1, now) => Some(cached),
        // Looks idle here: read again past every cache (another instance may have seen it used
        // a moment ago).
        Some(_) => load(&key_hash, app.store.read_fresh()).await?,
        None => load(&key_hash, app.store.read()).await?,
    };
    let Some((principal, mut session)) = found.filter(|(_, s)| is_live(app, s, now)) else {
        return Ok(None);
    };
    if later(session.last_seen, TOUCH_EVERY) <= now {
        match touch(app, &key_hash, now).await {
            Ok(()) => session.last_seen = now,
            Err(error) => tracing::warn!(%error, "could not record a session's last use; the request goes on"),
        }
    }
    app.auth_cache.sessions.put(&key_hash, generation, (principal.clone(), session.clone()));
    Ok(Some((principal, session)))
}

async fn touch(app: &AppState, key_hash: &str, now: Timestamp) -> ServiceResult<()> {
    let mut tx = app.store.begin().await?;
    tx.conn().touch_session(key_hash, now).await?;
    Ok(tx.commit().await?)
}

/// The session with this key hash and its active user's principal.
async fn load(key_hash: &str, mut conn: plexid_store::Conn<'_>) -> ServiceResult<Option<(Principal, Session)>> {
    let Some(session) = conn.session_by_key(key_hash).await? else {
        return Ok(None);
    };
    let Some(user) = conn.user_by_id(session.user).await?.filter(|u| u.is_active) else {
        return Ok(None);
    };
    let is_superuser = conn.is_superuser(user.id).await?;
    let principal = Principal::load(&mut conn, user.id, user.username, is_superuser).await?;
    Ok(Some((principal, session)))
}

/// Ends the session with this key (logout), with a `logout` event. Ending an unknown session
/// is fine.
pub async fn end(app: &AppState, key: &str) -> ServiceResult<()> {
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let session = conn.session_by_key(&hash_token(key)).await?;
    conn.delete_session(&hash_token(key)).await?;
    if let Some(session) = session {
        record_logout(&mut conn, app, &session, false).await?;
    }
    Ok(tx.commit().await?)
}

/// Signs the user of this session out everywhere: every session of theirs, and every OpenID
/// Connect grant and forward-auth session of theirs (the account page's "Sign out everywhere").
pub async fn end_everywhere(app: &AppState, key: &str) -> ServiceResult<u64> {
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let Some(session) = conn.session_by_key(&hash_token(key)).await? else { return Ok(0) };
    let ended = conn.delete_sessions_of_user(session.user, None).await? + conn.revoke_all_grants(session.user).await?;
    record_logout(&mut conn, app, &session, true).await?;
    tx.commit().await?;
    Ok(ended)
}

/// The `logout` event of the user of `session` (`everywhere`: every browser and application).
async fn record_logout(
    conn: &mut Conn<'_, ReadWrite>,
    app: &AppState,
    session: &Session,
    everywhere: bool,
) -> ServiceResult<()> {
    let Some(user) = conn.user_by_id(session.user).await? else { return Ok(()) };
    let event = super::events::NewEvent::new(plexid_core::modes::EventAction::Logout, "authentik.events.signals")
        .user(&user)
        .client_ip(&super::audit::request_ip().unwrap_or_else(|| session.client_ip.clone()))
        .context("everywhere", everywhere);
    super::events::record(conn, event, app.clock.now()).await
}

/// Ends one of the signed-in user's own sessions (the account page's "End"): only theirs.
/// Returns whether there was such a session.
pub async fn end_own(app: &AppState, principal: &Principal, session: uuid::Uuid) -> ServiceResult<bool> {
    let mut tx = app.store.begin().await?;
    let ended = tx.conn().delete_session_of_user(principal.user, session).await?;
    tx.commit().await?;
    Ok(ended)
}

/// A user's live sessions, newest first.
pub async fn of_user(app: &AppState, user: UserId) -> ServiceResult<Vec<Session>> {
    let now = app.clock.now();
    let sessions = app.store.read().sessions_of_user(user).await?;
    Ok(sessions.into_iter().filter(|s| is_live(app, s, now)).collect())
}

/// Every user's live sessions with their usernames, most recently seen first (needs
/// `view_user`); every `search` term must appear in the username, address or browser.
pub async fn list_live(
    app: &AppState,
    actor: &Actor,
    search: &[String],
    window: Window,
) -> ServiceResult<Listed<(Session, String)>> {
    actor.require(Permission::new(Action::View, Model::User))?;
    let now = app.clock.now();
    Ok(app.store.read().list_live_sessions(now, earlier(now, app.settings.session_idle.0), search, window).await?)
}

/// Removes ended sessions, expired pending sign-ins, expired OAuth2 codes, tokens and
/// forward-auth sessions, and expired audit events, now, in a transaction of its own.
pub async fn sweep_stale(app: &AppState) -> ServiceResult<u64> {
    let mut tx = app.store.begin().await?;
    let removed = sweep_stale_in(&mut tx.conn(), app, app.clock.now()).await?;
    tx.commit().await?;
    Ok(removed)
}

/// [`sweep_stale`] at `now` in the caller's transaction (the clean-up job's, which holds its
/// lease).
pub async fn sweep_stale_in(conn: &mut Conn<'_, ReadWrite>, app: &AppState, now: Timestamp) -> ServiceResult<u64> {
    let ended = conn.delete_stale_sessions(now, earlier(now, app.settings.session_idle.0)).await?;
    let grants = conn.delete_expired_grants(now).await?;
    let events = conn.delete_expired_events(now).await?;
    Ok(ended + grants + events)
}

/// A random key and its hash, for a sign-in that waits for a username.
pub fn new_pending_key() -> (String, String) {
    let key = generate_key();
    let hash = hash_token(&key);
    (key, hash)
}

/// Signs in to the admin pages with an API token (how the first administrator gets in before
/// any Plex source exists: with the bootstrap token). Only a token whose user holds one of
/// `admin_permissions` (or is a superuser) starts a session; the sign-in is in the audit log.
pub async fn start_with_token(
    app: &AppState,
    key: &str,
    admin_permissions: &[plexid_core::Permission],
    client: &Client,
) -> ServiceResult<Option<Started>> {
    let Some(principal) = super::tokens::authenticate(app, key.trim()).await? else { return Ok(None) };
    if !admin_permissions.iter().any(|p| principal.has(*p)) {
        return Err(ServiceError::Forbidden);
    }
    let user = app.store.read().user_by_id(principal.user).await?.ok_or(ServiceError::NotFound)?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let started = start(&mut conn, app, principal.user, None, client).await?;
    let event = super::events::NewEvent::new(plexid_core::modes::EventAction::Login, "plexid.admin")
        .user(&user)
        .client_ip(&client.ip)
        .context("method", "api_token");
    super::events::record(&mut conn, event, app.clock.now()).await?;
    tx.commit().await?;
    Ok(Some(started))
}

/// Which of a user's sign-ins an administrator ends.
#[derive(Clone, Copy, Debug)]
pub enum Revoke {
    /// One plexid session (a browser), by its id.
    Session(uuid::Uuid),
    /// Every plexid session, every OpenID Connect token and every forward-auth session.
    Everywhere,
}

/// Ends sign-ins of `user` (needs `change_user`, and a superuser's only a superuser); returns
/// how many were ended. Other instances drop their cached copies through the change feed.
pub async fn revoke(app: &AppState, actor: &Actor, user: UserId, which: Revoke) -> ServiceResult<u64> {
    actor.require(Permission::new(Action::View, Model::User))?;
    actor.require(Permission::new(Action::Change, Model::User))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.user_by_id(user).await?.ok_or(ServiceError::NotFound)?;
    if !actor.is_user(user) {
        super::users::guard_target(&mut conn, actor, user).await?;
    }
    let ended = match which {
        Revoke::Session(id) => u64::from(conn.delete_session_of_user(user, id).await?),
        Revoke::Everywhere => conn.delete_sessions_of_user(user, None).await? + conn.revoke_all_grants(user).await?,
    };
    tx.commit().await?;
    Ok(ended)
}
