//! `/api/v3/core/applications/`: applications, their provider, and who may use them. plexid adds
//! three fields for its access rules: `access_groups` (group pks), `access_relationships`
//! (`owner`, `home`, `friend`, `server_member`) and `access_servers` (client identifiers that
//! narrow `server_member`); `policy_engine_mode` says whether any or all configured rules must
//! admit. No rule at all admits every signed-in user, as an authentik application without
//! bindings does.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::apps::AccessRules;
use plexid_core::modes::{AppRelationship, PolicyEngineMode};
use plexid_core::{GroupId, ProviderId, UserId};
use plexid_store::apps::{ApplicationFilter, APPLICATION_ORDERING};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::providers::Provider;
use super::{asc, lookup, paginated_schema, read_body, GenericError, ListArgs, UsedBy, ValidationError};
use crate::service::applications::{self as service, ApplicationChanges, Shown};
use crate::service::Actor;
use crate::state::AppState;

/// authentik's `Application`, with plexid's access rules.
#[derive(Serialize, ToSchema)]
pub struct Application {
    pub pk: Uuid,
    pub name: String,
    pub slug: String,
    pub provider: Option<i64>,
    pub provider_obj: Option<Provider>,
    pub backchannel_providers: Vec<i64>,
    pub backchannel_providers_obj: Vec<Provider>,
    pub launch_url: Option<String>,
    pub open_in_new_tab: bool,
    pub meta_launch_url: String,
    pub meta_icon: Option<String>,
    pub meta_description: String,
    pub meta_publisher: String,
    #[schema(value_type = super::PolicyEngineMode)]
    pub policy_engine_mode: String,
    pub group: String,
    /// plexid: members of these groups (or their child groups) may use the application.
    pub access_groups: Vec<Uuid>,
    /// plexid: people with one of these Plex relationships may use it.
    pub access_relationships: Vec<String>,
    /// plexid: the servers that count for `server_member` (empty: any allowed server).
    pub access_servers: Vec<String>,
    /// plexid: the pk of the Plex source whose relationships count (D26); relationship rules
    /// without one admit nobody.
    pub access_source: Option<Uuid>,
}

impl From<Shown> for Application {
    fn from(shown: Shown) -> Self {
        let launch_url = shown.launch_url();
        let a = shown.app;
        Application {
            pk: a.id.0,
            name: a.name,
            slug: a.slug,
            provider: a.provider.map(|p| p.0),
            provider_obj: shown.provider.as_ref().map(Provider::of),
            backchannel_providers: Vec::new(),
            backchannel_providers_obj: Vec::new(),
            launch_url,
            open_in_new_tab: a.open_in_new_tab,
            meta_launch_url: a.meta_launch_url,
            meta_icon: None,
            meta_description: a.meta_description,
            meta_publisher: a.meta_publisher,
            policy_engine_mode: a.policy_engine_mode.to_string(),
            group: a.group,
            access_groups: a.access.groups.iter().map(|g| g.0).collect(),
            access_relationships: a.access.relationships.iter().map(|r| r.to_string()).collect(),
            access_servers: a.access.servers,
            access_source: a.access.source.map(|s| s.0),
        }
    }
}

/// authentik's `ApplicationRequest`, with plexid's access rules.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApplicationRequest {
    name: String,
    slug: String,
    provider: Option<i64>,
    backchannel_providers: Option<Vec<i64>>,
    open_in_new_tab: Option<bool>,
    meta_launch_url: Option<String>,
    meta_description: Option<String>,
    meta_publisher: Option<String>,
    #[schema(value_type = Option<super::PolicyEngineMode>)]
    policy_engine_mode: Option<String>,
    group: Option<String>,
    access_groups: Option<Vec<Uuid>>,
    /// `owner`, `home`, `friend`, `server_member`
    access_relationships: Option<Vec<String>>,
    access_servers: Option<Vec<String>>,
    /// The pk or slug of the Plex source whose relationships count; defaults to the only source
    /// when there is one (several: required with `access_relationships`).
    access_source: Option<String>,
}

/// authentik's `PolicyTestResult`.
#[derive(Serialize, ToSchema)]
pub struct PolicyTestResult {
    pub passing: bool,
    pub messages: Vec<String>,
    pub log_messages: Vec<Value>,
}

paginated_schema!(PaginatedApplicationList, Application);

pub(crate) fn read_application(body: &mut Body<'_>) -> ApplicationChanges {
    if body.raw("backchannel_providers").is_some_and(|v| !v.as_array().is_some_and(Vec::is_empty)) {
        body.errors.add("backchannel_providers", "plexid has no backchannel providers; leave this empty.");
    }
    let provider = body.int_ref("provider").map(|id| id.map(ProviderId));
    let relationships = body.text_list("access_relationships").and_then(|names| {
        let parsed: Option<Vec<AppRelationship>> = names.iter().map(|n| AppRelationship::parse(n)).collect();
        if parsed.is_none() {
            body.errors.add(
                "access_relationships",
                format!("Each relationship must be one of: {}.", AppRelationship::NAMES.join(", ")),
            );
        }
        parsed
    });
    let groups = body.uuid_list("access_groups");
    let servers = body.text_list("access_servers");
    let access = if groups.is_some() || relationships.is_some() || servers.is_some() {
        Some((groups, relationships, servers))
    } else {
        None
    };
    ApplicationChanges {
        name: body.text("name", Text::REQUIRED),
        slug: body.text("slug", Text::REQUIRED),
        provider,
        open_in_new_tab: body.boolean("open_in_new_tab"),
        meta_launch_url: body.text("meta_launch_url", Text::OPTIONAL_BLANK),
        meta_description: body.text("meta_description", Text::OPTIONAL_BLANK),
        meta_publisher: body.text("meta_publisher", Text::OPTIONAL_BLANK),
        policy_engine_mode: body.mode("policy_engine_mode", PolicyEngineMode::NAMES, PolicyEngineMode::parse),
        group: body.text("group", Text::OPTIONAL_BLANK),
        access: access
            .map(|(groups, relationships, servers)| AccessRulesPatch { groups, relationships, servers }.into()),
        access_source: body.nullable_text("access_source", Text::OPTIONAL),
    }
}

/// The access fields a write sent. A write that sends none keeps the stored rules; one that
/// sends some replaces the rules, except that a PATCH keeps the unsent fields as stored
/// ([`merge_access`]).
struct AccessRulesPatch {
    groups: Option<Vec<Uuid>>,
    relationships: Option<Vec<AppRelationship>>,
    servers: Option<Vec<String>>,
}

impl From<AccessRulesPatch> for AccessRules {
    fn from(p: AccessRulesPatch) -> Self {
        AccessRules {
            groups: p.groups.unwrap_or_default().into_iter().map(GroupId).collect(),
            relationships: p.relationships.unwrap_or_default(),
            servers: p.servers.unwrap_or_default(),
            source: None,
        }
    }
}

/// List applications (all of them with `view_application`; otherwise those you may use).
#[utoipa::path(get, path = "/core/applications/", tag = "core",
    params(("name" = Option<String>, Query), ("slug" = Option<String>, Query), ("group" = Option<String>, Query),
        ("meta_description" = Option<String>, Query), ("meta_launch_url" = Option<String>, Query), ("meta_publisher" = Option<String>, Query),
        ("only_with_launch_url" = Option<bool>, Query), ("superuser_full_list" = Option<bool>, Query), ("for_user" = Option<i64>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedApplicationList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let args = ListArgs::parse(&query, APPLICATION_ORDERING, &[asc("name")])?;
    let filter = ApplicationFilter {
        slug: query.filter("slug").map(str::to_owned),
        name: query.filter("name").map(str::to_owned),
        group: query.filter("group").map(str::to_owned),
        meta_publisher: query.filter("meta_publisher").map(str::to_owned),
        meta_description: query.filter("meta_description").map(str::to_owned),
        meta_launch_url: query.filter("meta_launch_url").map(str::to_owned),
        only_with_launch_url: bool_filter(query.get("only_with_launch_url")).unwrap_or(false),
        search: args.search.clone(),
    };
    let listed = match query.get("for_user") {
        None => service::list(&state, &actor, &filter, &args.ordering, args.window()).await?,
        Some(text) => {
            let user = text.trim().parse().map(UserId).map_err(|_| ApiError::BadRequest(json!(["Invalid input."])))?;
            service::list_for_user(&state, &actor, user, &filter, &args.ordering, args.window())
                .await?
                .ok_or_else(user_not_found)?
        }
    };
    let shown = service::with_providers(&state, listed.rows).await?;
    args.respond_shaped(listed.total, shown.into_iter().map(Application::from).collect())
}

/// Create an application.
#[utoipa::path(post, path = "/core/applications/", tag = "core", request_body = ApplicationRequest,
    responses((status = 201, body = Application), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (changes, errors) = read_body(&body, false, read_application);
    Ok(created(&Application::from(service::create(&state, &actor, changes, errors).await?)))
}

/// Get an application by slug.
#[utoipa::path(get, path = "/core/applications/{slug}/", tag = "core", params(("slug" = String, Path)),
    responses((status = 200, body = Application), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    Ok(ok(&Application::from(service::get(&state, &actor, lookup(&slug)?).await?)))
}

async fn change(state: &AppState, actor: &Actor, slug: &str, body: &Value, partial: bool) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let (mut changes, errors) = read_body(body, partial, read_application);
    if partial {
        merge_access(state, slug, body, &mut changes).await?;
    }
    Ok(ok(&Application::from(service::update(state, actor, lookup(slug)?, changes, errors).await?)))
}

/// A PATCH that sends some access fields keeps the others as stored.
async fn merge_access(state: &AppState, slug: &str, body: &Value, changes: &mut ApplicationChanges) -> ApiResult<()> {
    let Some(access) = changes.access.as_mut() else { return Ok(()) };
    let stored = state.store.read().application_by_slug(slug).await.map_err(crate::service::ServiceError::from)?;
    let Some(stored) = stored else { return Ok(()) };
    if body.get("access_groups").is_none() {
        access.groups = stored.access.groups.clone();
    }
    if body.get("access_relationships").is_none() {
        access.relationships = stored.access.relationships.clone();
    }
    if body.get("access_servers").is_none() {
        access.servers = stored.access.servers;
    }
    Ok(())
}

/// Replace an application.
#[utoipa::path(put, path = "/core/applications/{slug}/", tag = "core", params(("slug" = String, Path)), request_body = ApplicationRequest,
    responses((status = 200, body = Application), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, false).await
}

/// Change some fields of an application.
#[utoipa::path(patch, path = "/core/applications/{slug}/", tag = "core", params(("slug" = String, Path)), request_body = ApplicationRequest,
    responses((status = 200, body = Application), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, true).await
}

/// Delete an application (its provider stays, unassigned).
#[utoipa::path(delete, path = "/core/applications/{slug}/", tag = "core", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::delete(&state, &actor, lookup(&slug)?, false).await?;
    Ok(no_content())
}

/// authentik's answer to a `for_user` naming nobody the caller may see.
fn user_not_found() -> ApiError {
    ApiError::BadRequest(json!({"for_user": "User not found"}))
}

/// May this user (default: you) use the application?
#[utoipa::path(get, path = "/core/applications/{slug}/check_access/", tag = "core",
    params(("slug" = String, Path), ("for_user" = Option<i64>, Query)),
    responses((status = 200, body = PolicyTestResult), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn check_access(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    query: QueryParams,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let for_user = match query.get("for_user") {
        Some(text) => Some(
            text.trim()
                .parse()
                .map(UserId)
                .map_err(|_| ApiError::BadRequest(json!({"for_user": "for_user must be numerical"})))?,
        ),
        None => None,
    };
    let verdict = service::check_access(&state, &actor, lookup(&slug)?, for_user).await?.ok_or_else(user_not_found)?;
    let messages = match verdict {
        Ok(()) => Vec::new(),
        Err(reason) => vec![reason.message().to_owned()],
    };
    Ok(ok(&PolicyTestResult { passing: verdict.is_ok(), messages, log_messages: Vec::new() }))
}

/// Nothing references an application in plexid.
#[utoipa::path(get, path = "/core/applications/{slug}/used_by/", tag = "core", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::get(&state, &actor, lookup(&slug)?).await?;
    Ok(ok(&Vec::<UsedBy>::new()))
}
