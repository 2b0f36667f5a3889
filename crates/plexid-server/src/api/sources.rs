//! `/api/v3/sources/plex/`: Plex sources.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{Source, SourceChanges};
use plexid_core::modes::{GroupMatchingMode, PolicyEngineMode, UserMatchingMode};
use plexid_core::source::{plex_icon, TOKEN_PLACEHOLDER};
use plexid_core::{FieldErrors, FlowId};
use plexid_store::sources::{SourceFilter, SOURCE_ORDERING};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{Body, Text};
use super::error::ApiResult;
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::{
    asc, choice_filter, lookup, paginated_schema, read_body, uuid_filter, GenericError, ListArgs, UsedBy,
    ValidationError,
};
use crate::service::{sources as service, Actor};
use crate::state::AppState;

/// A Plex source as the API shows it (authentik's `PlexSource`): the base Source fields, in
/// authentik's order, then the Plex ones.
#[derive(Serialize, ToSchema, Debug)]
pub struct PlexSource {
    #[serde(flatten)]
    pub source: SourceSummary,
    #[schema(value_type = crate::api::GroupMatchingModeEnum)]
    pub group_matching_mode: String,
    pub client_id: String,
    pub allowed_servers: Vec<String>,
    pub allow_friends: bool,
    /// Always `"********"`: the stored token is never returned (send it back to keep it).
    pub plex_token: &'static str,
}

impl From<Source> for PlexSource {
    fn from(mut s: Source) -> Self {
        let group_matching_mode = s.group_matching_mode.as_str().to_owned();
        let client_id = std::mem::take(&mut s.client_id);
        let allowed_servers = std::mem::take(&mut s.allowed_servers);
        let allow_friends = s.allow_friends;
        let icon = plex_icon(s.icon.as_deref());
        let source = SourceSummary {
            component: "ak-source-plex-form",
            verbose_name: "Plex Source",
            verbose_name_plural: "Plex Sources",
            meta_model_name: "authentik_sources_plex.plexsource",
            icon: Some(icon),
            ..SourceSummary::from(s)
        };
        PlexSource {
            source,
            group_matching_mode,
            client_id,
            allowed_servers,
            allow_friends,
            plex_token: TOKEN_PLACEHOLDER,
        }
    }
}

/// The request body of create and update (authentik's `PlexSourceRequest`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlexSourceRequest {
    #[schema(min_length = 1)]
    name: String,
    #[schema(min_length = 1, max_length = 50, pattern = "^[-a-zA-Z0-9_]+$")]
    slug: String,
    enabled: Option<bool>,
    authentication_flow: Option<Uuid>,
    enrollment_flow: Option<Uuid>,
    user_property_mappings: Option<Vec<Uuid>>,
    group_property_mappings: Option<Vec<Uuid>>,
    #[schema(value_type = Option<crate::api::PolicyEngineMode>)]
    policy_engine_mode: Option<String>,
    #[schema(value_type = Option<crate::api::UserMatchingModeEnum>)]
    user_matching_mode: Option<String>,
    user_path_template: Option<String>,
    #[schema(value_type = Option<crate::api::GroupMatchingModeEnum>)]
    group_matching_mode: Option<String>,
    client_id: Option<String>,
    /// Plex server `clientIdentifier`s whose members may sign in. Empty: no server grants access
    /// (only the token owner and, with `allow_friends`, their friends can sign in).
    allowed_servers: Option<Vec<String>>,
    allow_friends: Option<bool>,
    /// The admin's Plex token; stored encrypted. Send `"********"` to keep the stored one.
    #[schema(min_length = 1)]
    plex_token: String,
}

/// The request body of a partial update (authentik's `PatchedPlexSourceRequest`): every field optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchedPlexSourceRequest {
    #[schema(min_length = 1)]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 50, pattern = "^[-a-zA-Z0-9_]+$")]
    slug: Option<String>,
    enabled: Option<bool>,
    authentication_flow: Option<Uuid>,
    enrollment_flow: Option<Uuid>,
    user_property_mappings: Option<Vec<Uuid>>,
    group_property_mappings: Option<Vec<Uuid>>,
    #[schema(value_type = Option<crate::api::PolicyEngineMode>)]
    policy_engine_mode: Option<String>,
    #[schema(value_type = Option<crate::api::UserMatchingModeEnum>)]
    user_matching_mode: Option<String>,
    user_path_template: Option<String>,
    #[schema(value_type = Option<crate::api::GroupMatchingModeEnum>)]
    group_matching_mode: Option<String>,
    client_id: Option<String>,
    /// Plex server `clientIdentifier`s whose members may sign in. Empty: no server grants access
    /// (only the token owner and, with `allow_friends`, their friends can sign in).
    allowed_servers: Option<Vec<String>>,
    allow_friends: Option<bool>,
    /// The admin's Plex token; stored encrypted. Send `"********"` to keep the stored one.
    #[schema(min_length = 1)]
    plex_token: Option<String>,
}

paginated_schema!(PaginatedPlexSourceList, PlexSource);

/// Reads a create/update body (authentik's `PlexSourceRequest`; PATCH: `partial`).
pub(crate) fn read_source(body: &mut Body<'_>) -> SourceChanges {
    SourceChanges {
        name: body.text("name", Text::REQUIRED),
        slug: body.text("slug", Text::REQUIRED),
        enabled: body.boolean("enabled"),
        authentication_flow: body.uuid_ref("authentication_flow").map(|f| f.map(FlowId)),
        enrollment_flow: body.uuid_ref("enrollment_flow").map(|f| f.map(FlowId)),
        user_property_mappings: body.uuid_list("user_property_mappings").map(mapping_ids),
        group_property_mappings: body.uuid_list("group_property_mappings").map(mapping_ids),
        policy_engine_mode: body.mode("policy_engine_mode", PolicyEngineMode::NAMES, PolicyEngineMode::parse),
        user_matching_mode: body.mode("user_matching_mode", UserMatchingMode::NAMES, UserMatchingMode::parse),
        user_path_template: body.text("user_path_template", Text::OPTIONAL),
        group_matching_mode: body.mode("group_matching_mode", GroupMatchingMode::NAMES, GroupMatchingMode::parse),
        client_id: body.text("client_id", Text::OPTIONAL),
        allowed_servers: body.text_list("allowed_servers"),
        allow_friends: body.boolean("allow_friends"),
        plex_token: body.text("plex_token", Text::REQUIRED),
    }
}

fn mapping_ids(ids: Vec<Uuid>) -> Vec<plexid_core::MappingId> {
    ids.into_iter().map(plexid_core::MappingId).collect()
}

/// List Plex sources.
#[utoipa::path(get, path = "/sources/plex/", tag = "sources",
    params(
        ("name" = Option<String>, Query), ("slug" = Option<String>, Query), ("enabled" = Option<bool>, Query),
        ("authentication_flow" = Option<Uuid>, Query), ("enrollment_flow" = Option<Uuid>, Query),
        ("policy_engine_mode" = Option<String>, Query), ("user_matching_mode" = Option<String>, Query),
        ("group_matching_mode" = Option<String>, Query), ("client_id" = Option<String>, Query),
        ("allow_friends" = Option<bool>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query, description = "at most 1000"),
        ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedPlexSourceList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // before the query is read: no permission is 403, whatever the query
    let args = ListArgs::parse(&query, SOURCE_ORDERING, &[asc("name")])?;
    let mut errors = FieldErrors::default();
    let filter = SourceFilter {
        name: query.filter("name").map(str::to_owned),
        slug: query.filter("slug").map(str::to_owned),
        enabled: bool_filter(query.get("enabled")),
        authentication_flow: uuid_filter(&query, "authentication_flow", &mut errors).map(FlowId),
        enrollment_flow: uuid_filter(&query, "enrollment_flow", &mut errors).map(FlowId),
        policy_engine_mode: choice_filter(&query, "policy_engine_mode", PolicyEngineMode::NAMES, &mut errors)
            .and_then(|m| PolicyEngineMode::parse(&m)),
        user_matching_mode: choice_filter(&query, "user_matching_mode", UserMatchingMode::NAMES, &mut errors)
            .and_then(|m| UserMatchingMode::parse(&m)),
        group_matching_mode: choice_filter(&query, "group_matching_mode", GroupMatchingMode::NAMES, &mut errors)
            .and_then(|m| GroupMatchingMode::parse(&m)),
        client_id: query.filter("client_id").map(str::to_owned),
        allow_friends: bool_filter(query.get("allow_friends")),
        search: args.search.clone(),
    };
    let listed = service::list(&state, &actor, &filter, errors, &args.ordering, args.window()).await?;
    args.respond(listed, PlexSource::from)
}

/// Create a Plex source.
#[utoipa::path(post, path = "/sources/plex/", tag = "sources", request_body = PlexSourceRequest,
    responses((status = 201, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (changes, errors) = read_body(&body, false, read_source);
    let source = service::create(&state, &actor, changes, errors).await?;
    Ok(created(&PlexSource::from(source)))
}

/// Get a Plex source.
#[utoipa::path(get, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 200, body = PlexSource), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(&PlexSource::from(service::get(&state, &actor, lookup(&slug)?).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    let (changes, errors) = read_body(body, partial, read_source);
    Ok(ok(&PlexSource::from(service::update(state, actor, lookup(slug)?, changes, errors).await?)))
}

/// Replace a Plex source (`name`, `slug` and `plex_token` required).
#[utoipa::path(put, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)), request_body = PlexSourceRequest,
    responses((status = 200, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, false).await
}

/// Change some fields of a Plex source.
#[utoipa::path(patch, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)), request_body = PatchedPlexSourceRequest,
    responses((status = 200, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, true).await
}

/// Delete a Plex source and its user and group connections.
#[utoipa::path(delete, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    service::delete(&state, &actor, lookup(&slug)?).await?;
    Ok(no_content())
}

/// Objects that would be affected by deleting this source.
#[utoipa::path(get, path = "/sources/plex/{slug}/used_by/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    let (source, usage) = service::usage(&state, &actor, lookup(&slug)?).await?;
    let mut entries = Vec::new();
    entries.extend(usage.group_connections.iter().map(|(id, group)| {
        let name = format!("Group-source connection (group={group}, source={})", source.id);
        UsedBy::new("authentik_core", "groupsourceconnection", id, name, "cascade")
    }));
    entries.extend(
        usage
            .users
            .iter()
            .map(|(id, username)| UsedBy::new("authentik_core", "user", id, username.clone(), "cascade_many")),
    );
    entries.extend(usage.user_connections.iter().map(|(id, user)| {
        let name = format!("User-source connection (user={user}, source={})", source.id);
        UsedBy::new("authentik_core", "usersourceconnection", id, name, "cascade")
    }));
    Ok(ok(&entries))
}

/// authentik's base `Source` shape: nested in connections, and the first fields of a Plex source.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = Source)]
pub struct SourceSummary {
    pub pk: Uuid,
    pub name: String,
    pub slug: String,
    pub enabled: bool,
    pub authentication_flow: Option<Uuid>,
    pub enrollment_flow: Option<Uuid>,
    pub user_property_mappings: Vec<Uuid>,
    pub group_property_mappings: Vec<Uuid>,
    pub component: &'static str,
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
    pub meta_model_name: &'static str,
    #[schema(value_type = crate::api::PolicyEngineMode)]
    pub policy_engine_mode: String,
    #[schema(value_type = crate::api::UserMatchingModeEnum)]
    pub user_matching_mode: String,
    pub managed: Option<String>,
    pub user_path_template: String,
    pub icon: Option<String>,
}

impl From<Source> for SourceSummary {
    fn from(s: Source) -> Self {
        SourceSummary {
            pk: s.id.0,
            name: s.name,
            slug: s.slug,
            enabled: s.enabled,
            authentication_flow: s.authentication_flow.map(|f| f.0),
            enrollment_flow: s.enrollment_flow.map(|f| f.0),
            user_property_mappings: s.user_property_mappings.into_iter().map(|m| m.0).collect(),
            group_property_mappings: s.group_property_mappings.into_iter().map(|m| m.0).collect(),
            component: "",
            verbose_name: "source",
            verbose_name_plural: "sources",
            meta_model_name: "authentik_core.source",
            policy_engine_mode: s.policy_engine_mode.as_str().to_owned(),
            user_matching_mode: s.user_matching_mode.as_str().to_owned(),
            managed: s.managed,
            user_path_template: s.user_path_template,
            icon: s.icon,
        }
    }
}

/// The request body of `plex_servers`: either a Plex token the administrator just obtained from
/// plex.tv in the browser (with the client identifier it used), or a source whose stored token
/// lists the servers (the token itself never leaves plexid).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlexServersRequest {
    plex_token: Option<String>,
    client_id: Option<String>,
    /// A source's slug or pk.
    source: Option<String>,
}

/// A Plex server that may be allowed (plexid's picker; not in authentik).
#[derive(Serialize, ToSchema, Debug)]
pub struct PlexServer {
    pub name: String,
    #[serde(rename = "clientIdentifier")]
    pub client_identifier: String,
    pub owned: bool,
}

/// List the Plex servers, owned or shared, a Plex token can reach (plexid's server picker,
/// decision D16: a resource counts when its `provides` lists `server`). Needs the permission to
/// add or change sources; with `source`, to change that source.
#[utoipa::path(post, path = "/sources/plex/plex_servers/", tag = "sources", request_body = PlexServersRequest,
    responses((status = 200, body = Vec<PlexServer>), (status = 400, body = ValidationError), (status = 403, body = GenericError),
        (status = 404, body = GenericError), (status = 502, body = GenericError)))]
pub async fn plex_servers(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let ((token, client_id, source), errors) = read_body(&body, true, |body| {
        (
            body.text("plex_token", Text::OPTIONAL),
            body.text("client_id", Text::OPTIONAL),
            body.text("source", Text::OPTIONAL),
        )
    });
    errors.into_result()?;
    let lister = match (token, source) {
        (Some(token), None) => service::ServerLister::Token(token),
        (None, Some(source)) => service::ServerLister::Source(source),
        _ => {
            let mut errors = FieldErrors::default();
            errors.add("non_field_errors", "Send either plex_token or source.");
            return Err(errors.into());
        }
    };
    let servers = service::plex_servers(&state, &actor, lister, client_id.as_deref()).await?;
    let servers: Vec<PlexServer> = servers
        .into_iter()
        .map(|s| PlexServer { name: s.name, client_identifier: s.client_identifier, owned: s.owned })
        .collect();
    Ok(ok(&servers))
}
