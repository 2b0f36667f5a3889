//! What happens before the server accepts requests: migrations, the secret key, the bootstrap
//! admin and its token, and the default flows. Idempotent, safe for several instances.

use plexid_store::accounts::{GroupRecord, NewUser, TokenRecord};
use plexid_store::flows::FlowRecord;
use plexid_store::{Conn, Store, StoreResult};
use uuid::Uuid;

use crate::clock::now_micros;
use crate::config::Settings;
use crate::crypto::{generate_key, hash_password, hash_token, verify_password, Secrets};

pub const ADMIN_USERNAME: &str = "akadmin";
pub const ADMIN_GROUP: &str = "authentik Admins";
pub const BOOTSTRAP_TOKEN_IDENTIFIER: &str = "authentik-bootstrap-token";

/// The flows every installation starts with.
pub fn default_flows() -> [FlowRecord; 2] {
    [
        flow(
            "default-source-authentication",
            "Welcome to plexid!",
            "Welcome to plexid!",
            "authentication",
            "require_unauthenticated",
        ),
        flow(
            "default-source-enrollment",
            "Welcome to plexid! Please enter your details.",
            "Welcome to plexid!",
            "enrollment",
            "require_unauthenticated",
        ),
    ]
}

/// A new flow with authentik's defaults for the optional fields.
pub fn flow(slug: &str, name: &str, title: &str, designation: &str, authentication: &str) -> FlowRecord {
    FlowRecord {
        uuid: Uuid::new_v4(),
        slug: slug.into(),
        name: name.into(),
        title: title.into(),
        designation: designation.into(),
        authentication: authentication.into(),
        policy_engine_mode: "any".into(),
        compatibility_mode: false,
        layout: "stacked".into(),
        denied_action: "message_continue".into(),
    }
}

/// Connects, migrates and seeds. Returns the store and the secrets derived from the secret key.
pub async fn prepare(settings: &Settings) -> StoreResult<(Store, Secrets)> {
    let store = Store::connect(&settings.db.database).await?;
    let applied = store.migrate().await?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    let mut tx = store.begin().await?;
    let mut conn = tx.conn();
    let secret_key = match &settings.secret_key {
        Some(key) => key.clone(),
        None => conn.setting_or_insert("secret_key", &generate_key()).await?,
    };
    let secrets = Secrets::new(&secret_key);
    let admin = ensure_admin(&mut conn).await?;
    if let Some(password) = &settings.bootstrap_password {
        let current = conn.user_by_id(admin).await?.and_then(|u| u.password_hash);
        if !current.is_some_and(|hash| verify_password(password, &hash)) {
            conn.set_user_password(admin, &hash_password(password)).await?;
        }
    }
    if let Some(key) = &settings.bootstrap_token {
        conn.upsert_token(&TokenRecord {
            identifier: BOOTSTRAP_TOKEN_IDENTIFIER.into(),
            key_hash: hash_token(key),
            key_encrypted: secrets.encrypt(key),
            user_id: admin,
            intent: "api".into(),
            description: "Bootstrap token (PLEXID_BOOTSTRAP_TOKEN)".into(),
            expiring: false,
            expires: None,
            managed: Some("goauthentik.io/core/bootstrap-token".into()),
            uuid: Uuid::new_v4(),
        })
        .await?;
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
async fn ensure_admin(conn: &mut Conn<'_>) -> StoreResult<i64> {
    let group = match conn.group_by_name(ADMIN_GROUP).await? {
        Some(group) => group.uuid,
        None => {
            let group = GroupRecord {
                uuid: Uuid::new_v4(),
                name: ADMIN_GROUP.into(),
                is_superuser: true,
                parent: None,
                attributes: Default::default(),
            };
            conn.insert_group(&group).await?;
            group.uuid
        }
    };
    let admin = match conn.user_by_username(ADMIN_USERNAME).await? {
        Some(user) => user.id,
        None => {
            conn.insert_user(&NewUser {
                uuid: Uuid::new_v4(),
                username: ADMIN_USERNAME.into(),
                name: "plexid Default Admin".into(),
                email: String::new(),
                is_active: true,
                path: "users".into(),
                attributes: Default::default(),
                date_joined: now_micros(),
                password_hash: None,
                user_type: "internal".into(),
            })
            .await?
        }
    };
    conn.add_member(group, admin).await?;
    Ok(admin)
}
