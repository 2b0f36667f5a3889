//! Plex sources.

use plexid_core::model::{Source, SourceChanges};
use plexid_core::modes::{GroupMatchingMode, PolicyEngineMode, UserMatchingMode};
use plexid_core::permission::{Action, Model};
use plexid_core::source::{generate_client_id, DEFAULT_USER_PATH_TEMPLATE, TOKEN_PLACEHOLDER};
use plexid_core::{rules, FieldErrors, FlowId, MappingId, Permission, SourceId};
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::sources::{SourceFilter, SourceUsage};
use plexid_store::{Access, Conn};

use super::{check, missing_reference, Actor, AppState, ServiceError, ServiceResult};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::PlexSource)
}

/// Seeing sources.
pub const VIEW: Permission = perm(Action::View);

/// The fields of a source in declaration order (the order errors are reported in).
pub const FIELD_ORDER: &[&str] = &[
    "name",
    "slug",
    "enabled",
    "authentication_flow",
    "enrollment_flow",
    "user_property_mappings",
    "group_property_mappings",
    "policy_engine_mode",
    "user_matching_mode",
    "user_path_template",
    "group_matching_mode",
    "client_id",
    "allowed_servers",
    "allow_friends",
    "plex_token",
];

/// A new source with authentik's defaults (a random client id), before the input is applied.
/// A new source with authentik's defaults (a random id and client id).
pub fn defaults() -> Source {
    Source {
        id: SourceId::random(),
        name: String::new(),
        slug: String::new(),
        enabled: true,
        authentication_flow: None,
        enrollment_flow: None,
        user_property_mappings: Vec::new(),
        group_property_mappings: Vec::new(),
        policy_engine_mode: PolicyEngineMode::Any,
        user_matching_mode: UserMatchingMode::Identifier,
        group_matching_mode: GroupMatchingMode::Identifier,
        managed: None,
        user_path_template: DEFAULT_USER_PATH_TEMPLATE.into(),
        icon: None,
        client_id: generate_client_id(),
        allowed_servers: Vec::new(),
        allow_friends: true,
        plex_token: String::new(),
    }
}

/// `changes` applied to `s`. The Plex token arrives in clear text and is stored encrypted; the
/// placeholder that responses show keeps the stored token (D1).
fn apply(app: &AppState, mut s: Source, mut c: SourceChanges) -> Source {
    match c.plex_token.take() {
        Some(token) if token == TOKEN_PLACEHOLDER && !s.plex_token.is_empty() => {}
        Some(token) => s.plex_token = app.secrets.encrypt(&token),
        None => {}
    }
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { s.$field = v; } )*};
    }
    take!(
        name,
        slug,
        enabled,
        authentication_flow,
        enrollment_flow,
        user_property_mappings,
        group_property_mappings,
        policy_engine_mode,
        user_matching_mode,
        user_path_template,
        group_matching_mode,
        client_id,
        allowed_servers,
        allow_friends
    );
    s
}

/// The checks that need the database: flows and mappings must exist.
async fn check_references<A: Access>(
    conn: &mut Conn<'_, A>,
    s: &Source,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    let flows: Vec<FlowId> = [s.authentication_flow, s.enrollment_flow].into_iter().flatten().collect();
    let existing = conn.existing_flows(&flows).await?;
    for (field, flow) in [("authentication_flow", s.authentication_flow), ("enrollment_flow", s.enrollment_flow)] {
        missing_reference(errors, field, &flow.into_iter().collect::<Vec<_>>(), &existing);
    }
    let mut mappings: Vec<MappingId> = s.user_property_mappings.clone();
    mappings.extend_from_slice(&s.group_property_mappings);
    let existing = conn.existing_mappings(&mappings).await?;
    missing_reference(errors, "user_property_mappings", &s.user_property_mappings, &existing);
    missing_reference(errors, "group_property_mappings", &s.group_property_mappings, &existing);
    Ok(())
}

fn check_slug(slug: Option<&String>, errors: &mut FieldErrors) {
    if let Some(slug) = slug {
        for message in rules::slug_errors(slug) {
            errors.add("slug", message);
        }
    }
}

/// Lists sources; `errors` are the filter errors found while reading the request.
pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &SourceFilter,
    mut errors: FieldErrors,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Source>> {
    actor.require(perm(Action::View))?;
    let mut conn = app.store.read();
    for (name, flow) in
        [("authentication_flow", filter.authentication_flow), ("enrollment_flow", filter.enrollment_flow)]
    {
        if let Some(id) = flow {
            if conn.existing_flows(&[id]).await?.is_empty() {
                errors.add(name, super::UNKNOWN_CHOICE);
            }
        }
    }
    errors.into_result()?;
    Ok(conn.list_sources(filter, ordering, window).await?)
}

/// The source with this slug, for an actor who may view sources.
pub async fn get(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<Source> {
    actor.require(perm(Action::View))?;
    app.store.read().source_by_slug(slug).await?.ok_or(ServiceError::NotFound)
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    changes: SourceChanges,
    errors: FieldErrors,
) -> ServiceResult<Source> {
    create_with(app, actor, changes, errors, Extras::default()).await
}

/// What the admin pages' source form sends beside the API's fields.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The names of the picked servers, `(client identifier, name)`, as Plex listed them.
    pub server_names: Vec<(String, String)>,
    /// The source's Plex owner becomes an administrator at their first sign-in through it
    /// (only a superuser may grant this).
    pub owner_becomes_admin: bool,
}

/// [`create`] with the pages' [`Extras`], written in the same transaction.
pub async fn create_with(
    app: &AppState,
    actor: &Actor,
    changes: SourceChanges,
    mut errors: FieldErrors,
    extras: Extras,
) -> ServiceResult<Source> {
    actor.require(perm(Action::Add))?;
    if extras.owner_becomes_admin && !actor.is_superuser() {
        return Err(ServiceError::Forbidden);
    }
    check_slug(changes.slug.as_ref(), &mut errors);
    let source = apply(app, defaults(), changes);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    check_references(&mut conn, &source, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.insert_source(&source).await?;
    conn.set_server_names(source.id, &source.allowed_servers, &extras.server_names).await?;
    if extras.owner_becomes_admin {
        conn.grant_owner_admin(source.id).await?;
    }
    let saved = conn.source_by_id(source.id).await?.ok_or(ServiceError::NotFound)?;
    super::audit::created(&mut conn, actor, app.clock.now(), &saved).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Applies `changes` to the stored source (locked while this runs, so concurrent updates of
/// other fields are kept).
pub async fn update(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    changes: SourceChanges,
    errors: FieldErrors,
) -> ServiceResult<Source> {
    update_with(app, actor, slug, changes, errors, Vec::new()).await
}

/// [`update`] with the names of the picked servers (the pages' form; see [`Extras`]).
pub async fn update_with(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    changes: SourceChanges,
    mut errors: FieldErrors,
    server_names: Vec<(String, String)>,
) -> ServiceResult<Source> {
    get(app, actor, slug).await?;
    actor.require(perm(Action::Change))?;
    check_slug(changes.slug.as_ref(), &mut errors);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let before = conn.source_for_update(slug).await?.ok_or(ServiceError::NotFound)?;
    let after = apply(app, before.clone(), changes);
    check_references(&mut conn, &after, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.update_source(&before, &after).await?;
    conn.set_server_names(after.id, &after.allowed_servers, &server_names).await?;
    let saved = conn.source_by_id(after.id).await?.ok_or(ServiceError::NotFound)?;
    super::audit::updated(&mut conn, actor, app.clock.now(), &before, &saved).await?;
    tx.commit().await?;
    Ok(saved)
}

pub async fn delete(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<()> {
    let source = get(app, actor, slug).await?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.delete_source(source.id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &source).await?;
    tx.commit().await?;
    Ok(())
}

/// What references the source, limited to what the actor may view.
pub async fn usage(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<(Source, SourceUsage)> {
    let source = get(app, actor, slug).await?;
    let mut usage = app.store.read().source_usage(source.id).await?;
    if !actor.can(Permission::new(Action::View, Model::GroupPlexSourceConnection)) {
        usage.group_connections.clear();
    }
    if !actor.can(Permission::new(Action::View, Model::User)) {
        usage.users.clear();
    }
    if !actor.can(Permission::new(Action::View, Model::UserPlexSourceConnection)) {
        usage.user_connections.clear();
    }
    Ok((source, usage))
}

/// A source named by slug or by id (D10), or the field error for `field`.
pub(crate) async fn resolve<A: Access>(
    conn: &mut Conn<'_, A>,
    value: &str,
    field: &str,
    errors: &mut FieldErrors,
) -> ServiceResult<Option<Source>> {
    let found = match value.parse::<SourceId>() {
        Ok(id) => conn.source_by_id(id).await?,
        Err(_) => conn.source_by_slug(value).await?,
    };
    if found.is_none() {
        let message = match value.parse::<SourceId>() {
            Ok(_) => plexid_core::errors::does_not_exist(value),
            Err(_) => format!("Object with slug={value} does not exist."),
        };
        errors.add(field, message);
    }
    Ok(found)
}

/// A Plex server an administrator may pick for `allowed_servers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlexServer {
    pub name: String,
    pub client_identifier: String,
    pub owned: bool,
}

/// Whose Plex token lists the servers.
#[derive(Clone, Debug)]
pub enum ServerLister {
    /// A token the administrator just obtained from plex.tv in the browser.
    Token(String),
    /// The token stored with this source (by slug); it never leaves plexid (D1).
    Source(String),
}

/// The servers the token's account can reach, by D16's one rule (a resource whose `provides`
/// lists `server`, owned or shared), owned first, then by name. Needs the permission to add or
/// to change sources (a stored token: to change that source).
pub async fn plex_servers(
    app: &AppState,
    actor: &Actor,
    lister: ServerLister,
    client_id: Option<&str>,
) -> ServiceResult<Vec<PlexServer>> {
    let (token, client_id) = match lister {
        ServerLister::Token(token) => {
            if !actor.can(perm(Action::Add)) && !actor.can(perm(Action::Change)) {
                actor.require(perm(Action::Add))?;
            }
            if token.trim().is_empty() {
                let mut errors = FieldErrors::default();
                errors.add("plex_token", "This field may not be blank.");
                return Err(ServiceError::Invalid(errors));
            }
            (token, client_id.unwrap_or(PICKER_CLIENT_ID).to_owned())
        }
        ServerLister::Source(slug) => {
            let source = get(app, actor, &slug).await?;
            actor.require(perm(Action::Change))?;
            let Some(token) = super::login::owner_token(app, &source) else {
                let mut errors = FieldErrors::default();
                errors.add("source", "This source has no Plex token: sign in with Plex to set one.");
                return Err(ServiceError::Invalid(errors));
            };
            (token, source.client_id)
        }
    };
    let resources = match app.plex.resources(&client_id, &token).await {
        Ok(resources) => resources,
        Err(plexid_plex::PlexError::Unauthorized) => {
            let mut errors = FieldErrors::default();
            errors.add("plex_token", "plex.tv did not accept this Plex token: sign in with Plex again.");
            return Err(ServiceError::Invalid(errors));
        }
        Err(error) => return Err(super::login::plex_failure(&error)),
    };
    let mut servers: Vec<PlexServer> = resources
        .into_iter()
        .filter(plexid_plex::Resource::is_server)
        .map(|r| PlexServer { name: r.name, client_identifier: r.client_identifier, owned: r.owned })
        .collect();
    servers.sort_by(|a, b| b.owned.cmp(&a.owned).then_with(|| a.name.cmp(&b.name)));
    Ok(servers)
}

/// The client identifier plexid names itself with when a browser-obtained token lists servers
/// and the form did not say which one it used.
const PICKER_CLIENT_ID: &str = "plexid-admin";

/// The names of the Plex servers administrators picked for sources, by client identifier (what
/// pages show instead of identifiers; names are no secret, so no permission is needed).
pub async fn server_names(app: &AppState) -> ServiceResult<std::collections::HashMap<String, String>> {
    Ok(app.store.read().server_names().await?.into_iter().map(|s| (s.identifier, s.name)).collect())
}
