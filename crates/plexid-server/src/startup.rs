//! What happens before the server accepts requests: migrations, the secret key, the bootstrap
//! admin and its token, and the default flows. Idempotent, safe for several instances.

use plexid_core::model::{Flow, Group, User};
use plexid_core::modes::{FlowAuthentication, FlowDesignation, TokenIntent};
use plexid_core::UserId;
use plexid_store::{Conn, ReadWrite, Store};

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{generate_key, hash_password, verify_password, Secrets};
use crate::service::tokens::{self, NewToken};
use crate::service::{ServiceError, ServiceResult};

pub const ADMIN_USERNAME: &str = "akadmin";
pub const ADMIN_GROUP: &str = "authentik Admins";
pub const BOOTSTRAP_TOKEN_IDENTIFIER: &str = "authentik-bootstrap-token";

/// The flows every installation starts with.
pub fn default_flows() -> [Flow; 3] {
    let flow = |slug: &str, name: &str, designation| Flow {
        authentication: FlowAuthentication::RequireUnauthenticated,
        ..Flow::new(slug, name, "Welcome to plexid!", designation)
    };
    [
        flow("default-source-authentication", "Welcome to plexid!", FlowDesignation::Authentication),
        flow("default-source-enrollment", "Welcome to plexid! Please enter your details.", FlowDesignation::Enrollment),
        Flow {
            authentication: FlowAuthentication::RequireAuthenticated,
            ..Flow::new(
                "default-provider-authorization-implicit-consent",
                "Authorize Application",
                "Redirecting to %(app)s",
                FlowDesignation::Authorization,
            )
        },
    ]
}

/// Connects, migrates and seeds. Returns the store and the secrets derived from the secret key.
pub async fn prepare(settings: &Settings, clock: &Clock) -> ServiceResult<(Store, Secrets)> {
    let store = Store::connect(&settings.db.database).await?;
    let applied = store.migrate().await?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    let mut tx = store.begin().await?;
    let mut conn = tx.conn();
    conn.lock_setup().await?;
    let stored = conn.setting(crate::config::STORED_SECRET_KEY).await?;
    let secret_key = match settings.external_secret_key().map_err(ServiceError::Internal)? {
        Some(key) => {
            if stored.as_ref().is_some_and(|s| *s != key) {
                tracing::warn!("a different secret key is stored in the database; `plexid move-secret-key` removes it");
            }
            key
        }
        None => {
            if stored.is_none() {
                tracing::warn!(
                    "generating a secret key and keeping it in the database: anyone with a copy of the database can \
                     decrypt the Plex tokens in it; `plexid move-secret-key --to FILE` moves it to a file"
                );
            }
            conn.setting_or_insert(crate::config::STORED_SECRET_KEY, &generate_key()).await?
        }
    };
    let secrets = Secrets::new(&secret_key);
    let admin = ensure_admin(&mut conn, clock).await?;
    if let Some(password) = &settings.bootstrap_password {
        let current = conn.user_by_id(admin).await?.and_then(|u| u.password_hash);
        if !current.is_some_and(|hash| verify_password(password, &hash)) {
            conn.set_user_password(admin, &hash_password(password)).await?;
        }
    }
    if let Some(key) = &settings.bootstrap_token {
        let spec = NewToken {
            intent: TokenIntent::Api,
            managed: Some("goauthentik.io/core/bootstrap-token".into()),
            key: Some(key.clone()),
            ..NewToken::api(BOOTSTRAP_TOKEN_IDENTIFIER, admin, "Bootstrap token (PLEXID_BOOTSTRAP_TOKEN)")
        };
        tokens::issue(&mut conn, &secrets, spec, true).await?;
    }
    for flow in default_flows() {
        if conn.ensure_flow(&flow).await? {
            tracing::info!(slug = %flow.slug, "created default flow");
        }
    }
    tx.commit().await?;
    Ok((store, secrets))
}

/// Ensures the superuser group and `akadmin` in it; returns akadmin's id.
async fn ensure_admin(conn: &mut Conn<'_, ReadWrite>, clock: &Clock) -> ServiceResult<UserId> {
    let group = match conn.group_by_name(ADMIN_GROUP).await? {
        Some(group) => group.id,
        None => {
            let group = Group { is_superuser: true, ..Group::named(ADMIN_GROUP) };
            conn.insert_group(&group).await?;
            group.id
        }
    };
    let admin = match conn.user_by_username(ADMIN_USERNAME).await? {
        Some(user) => user.id,
        None => {
            let user = User { name: "plexid Default Admin".into(), ..User::named(ADMIN_USERNAME, clock.now()) };
            conn.insert_user(&user).await?
        }
    };
    conn.add_member(group, admin).await?;
    Ok(admin)
}
