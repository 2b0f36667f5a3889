//! The records every front end (API, pages, jobs) works with, as the store reads and writes them.
//! Secrets in them are never clear text: `plex_token` fields hold the encrypted token, API tokens
//! their key's hash.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::ids::*;
use crate::modes::*;
use crate::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub uuid: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub path: String,
    pub attributes: Map<String, Value>,
    pub last_login: Option<Timestamp>,
    pub date_joined: Timestamp,
    pub password_hash: Option<String>,
    pub user_type: UserType,
}

impl User {
    /// A new active internal user with authentik's defaults; the database assigns the id when
    /// it is inserted.
    pub fn named(username: impl Into<String>, now: Timestamp) -> Self {
        User {
            id: UserId(0),
            uuid: Uuid::new_v4(),
            username: username.into(),
            name: String::new(),
            email: String::new(),
            is_active: true,
            path: "users".into(),
            attributes: Map::new(),
            last_login: None,
            date_joined: now,
            password_hash: None,
            user_type: UserType::Internal,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub is_superuser: bool,
    pub parent: Option<GroupId>,
    pub attributes: Map<String, Value>,
}

impl Group {
    /// A new, empty, non-superuser group.
    pub fn named(name: impl Into<String>) -> Self {
        Group { id: GroupId::new(), name: name.into(), is_superuser: false, parent: None, attributes: Map::new() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub id: TokenId,
    pub identifier: String,
    pub key_hash: String,
    /// The key, encrypted, so its owner can see it again (`view_key`).
    pub key_encrypted: String,
    pub user: UserId,
    pub intent: TokenIntent,
    pub description: String,
    pub expiring: bool,
    pub expires: Option<Timestamp>,
    pub managed: Option<String>,
}

impl Token {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expiring && self.expires.is_some_and(|at| at <= now)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub id: SourceId,
    pub name: String,
    pub slug: String,
    pub enabled: bool,
    pub authentication_flow: Option<FlowId>,
    pub enrollment_flow: Option<FlowId>,
    pub user_property_mappings: Vec<MappingId>,
    pub group_property_mappings: Vec<MappingId>,
    pub policy_engine_mode: PolicyEngineMode,
    pub user_matching_mode: UserMatchingMode,
    pub group_matching_mode: GroupMatchingMode,
    pub managed: Option<String>,
    pub user_path_template: String,
    pub icon: Option<String>,
    pub client_id: String,
    pub allowed_servers: Vec<String>,
    pub allow_friends: bool,
    /// The admin's Plex token, encrypted.
    pub plex_token: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: FlowId,
    pub slug: String,
    pub name: String,
    pub title: String,
    pub designation: FlowDesignation,
    pub authentication: FlowAuthentication,
    pub policy_engine_mode: PolicyEngineMode,
    pub compatibility_mode: bool,
    pub layout: FlowLayout,
    pub denied_action: FlowDeniedAction,
}

impl Flow {
    /// A new flow with authentik's defaults for the optional fields.
    pub fn new(slug: &str, name: &str, title: &str, designation: FlowDesignation) -> Self {
        Flow {
            id: FlowId::random(),
            slug: slug.into(),
            name: name.into(),
            title: title.into(),
            designation,
            authentication: FlowAuthentication::None,
            policy_engine_mode: PolicyEngineMode::Any,
            compatibility_mode: false,
            layout: FlowLayout::Stacked,
            denied_action: FlowDeniedAction::MessageContinue,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub id: MappingId,
    pub name: String,
    pub expression: String,
    pub managed: Option<String>,
}

/// A user's link to a Plex account through a source.
#[derive(Clone, Debug, PartialEq)]
pub struct UserConnection {
    pub id: UserConnectionId,
    pub user: UserId,
    pub source: SourceId,
    /// The Plex account id.
    pub identifier: String,
    /// The user's Plex token, encrypted.
    pub plex_token: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

/// A group's link to a group identifier of a source.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupConnection {
    pub id: GroupConnectionId,
    pub group: GroupId,
    pub source: SourceId,
    pub identifier: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

/// A signed-in browser. The cookie holds a random key; only its hash is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub key_hash: String,
    pub user: UserId,
    /// The source the user signed in through (`None` for other sign-ins or a deleted source).
    pub source: Option<SourceId>,
    pub created: Timestamp,
    pub last_seen: Timestamp,
    /// The absolute end; the idle end is `last_seen` plus the idle lifetime.
    pub expires: Timestamp,
    pub client_ip: String,
    pub user_agent: String,
}

/// The user an audit event is about, as authentik shows it (`{"pk", "email", "username"}`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventUser {
    pub pk: i64,
    pub email: String,
    pub username: String,
}

/// One audit log entry. `context` never holds a token.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub action: EventAction,
    pub app: String,
    pub user: Option<EventUser>,
    pub context: Map<String, Value>,
    /// `context.model.pk` or `context.source.pk`, for the `context_model_pk` filter.
    pub context_model_pk: Option<String>,
    pub client_ip: Option<String>,
    pub created: Timestamp,
    pub expires: Timestamp,
}

/// What the last checks of a source found (token check, access sweep).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceState {
    /// `unknown`, `valid`, `rejected` (plex.tv answered 401) or `unreachable`.
    pub token_state: String,
    pub token_checked: Option<Timestamp>,
    pub sweep_finished: Option<Timestamp>,
    pub sweep_summary: Map<String, Value>,
}

// ------------------------------------------------------------------------------------------
// Changes: what an update sets. `None` leaves a field as stored, so an update writes only the
// fields it was given and concurrent changes to other fields are never lost.
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserChanges {
    pub username: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub last_login: Option<Option<Timestamp>>,
    pub email: Option<String>,
    pub attributes: Option<Map<String, Value>>,
    pub path: Option<String>,
    pub user_type: Option<UserType>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub is_superuser: Option<bool>,
    pub parent: Option<Option<GroupId>>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub enabled: Option<bool>,
    pub authentication_flow: Option<Option<FlowId>>,
    pub enrollment_flow: Option<Option<FlowId>>,
    pub user_property_mappings: Option<Vec<MappingId>>,
    pub group_property_mappings: Option<Vec<MappingId>>,
    pub policy_engine_mode: Option<PolicyEngineMode>,
    pub user_matching_mode: Option<UserMatchingMode>,
    pub user_path_template: Option<String>,
    pub group_matching_mode: Option<GroupMatchingMode>,
    pub client_id: Option<String>,
    pub allowed_servers: Option<Vec<String>>,
    pub allow_friends: Option<bool>,
    /// The admin's token in clear text, as sent (stored encrypted; the placeholder keeps it).
    pub plex_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub title: Option<String>,
    pub designation: Option<FlowDesignation>,
    pub policy_engine_mode: Option<PolicyEngineMode>,
    pub compatibility_mode: Option<bool>,
    pub layout: Option<FlowLayout>,
    pub denied_action: Option<FlowDeniedAction>,
    pub authentication: Option<FlowAuthentication>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MappingChanges {
    pub name: Option<String>,
    pub expression: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenChanges {
    pub identifier: Option<String>,
    pub intent: Option<TokenIntent>,
    pub user: Option<UserId>,
    pub description: Option<String>,
    pub expires: Option<Option<Timestamp>>,
    pub expiring: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserConnectionChanges {
    pub identifier: Option<String>,
    /// The user's token in clear text, as sent (stored encrypted).
    pub plex_token: Option<String>,
}
