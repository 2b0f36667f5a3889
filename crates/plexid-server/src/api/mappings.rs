//! `/api/v3/propertymappings/source/plex/` and the generic mapping test endpoint.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{Mapping, MappingChanges};
use plexid_core::{GroupId, MappingId, UserId};
use plexid_store::mappings::{MappingFilter, MAPPING_ORDERING};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{pyjson, Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::{asc, lookup, paginated_schema, read_body, GenericError, ListArgs, UsedBy, ValidationError};
use crate::service::mappings::{self as service, TestInput};
use crate::service::Actor;
use crate::state::AppState;

/// authentik's `PlexSourcePropertyMapping`.
#[derive(Serialize, ToSchema)]
pub struct PlexSourcePropertyMapping {
    pub pk: Uuid,
    /// Set by plexid for mappings it manages; read-only.
    pub managed: Option<String>,
    pub name: String,
    pub expression: String,
    pub component: &'static str,
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
    pub meta_model_name: &'static str,
}

impl From<Mapping> for PlexSourcePropertyMapping {
    fn from(m: Mapping) -> Self {
        PlexSourcePropertyMapping {
            pk: m.id.0,
            managed: m.managed,
            name: m.name,
            expression: m.expression,
            component: "ak-property-mapping-source-plex-form",
            verbose_name: "Plex Source Property Mapping",
            verbose_name_plural: "Plex Source Property Mappings",
            meta_model_name: "authentik_sources_plex.plexsourcepropertymapping",
        }
    }
}

/// authentik's `PlexSourcePropertyMappingRequest`. `expression` is the body of a function in
/// Starlark (a Python dialect), with the variables `info`, `source`, `properties`, `group_id`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlexSourcePropertyMappingRequest {
    name: String,
    expression: String,
}

/// authentik's `PatchedPlexSourcePropertyMappingRequest`: every field optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchedPlexSourcePropertyMappingRequest {
    name: Option<String>,
    expression: Option<String>,
}

/// authentik's `PropertyMappingTestRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PropertyMappingTestRequest {
    user: Option<i64>,
    group: Option<Uuid>,
    context: Option<Map<String, Value>>,
}

/// authentik's `PropertyMappingTestResult`. On failure `result` holds the error message.
#[derive(Serialize, ToSchema)]
pub struct PropertyMappingTestResult {
    pub result: String,
    pub successful: bool,
}

paginated_schema!(PaginatedPlexSourcePropertyMappingList, PlexSourcePropertyMapping);

pub(crate) fn read_mapping(body: &mut Body<'_>) -> MappingChanges {
    MappingChanges {
        name: body.text("name", Text::REQUIRED),
        expression: body.text("expression", Text::REQUIRED.max(plexid_mapping::MAX_EXPRESSION_CHARS)),
    }
}

fn mapping_id(pm_uuid: &str) -> ApiResult<MappingId> {
    lookup(pm_uuid)?.parse().map_err(|_| ApiError::NotFound)
}

/// List Plex source property mappings.
#[utoipa::path(get, path = "/propertymappings/source/plex/", tag = "propertymappings",
    params(("managed" = Option<Vec<String>>, Query), ("managed__isnull" = Option<bool>, Query), ("name" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedPlexSourcePropertyMappingList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // before the query is read: no permission is 403, whatever the query
    let args = ListArgs::parse(&query, MAPPING_ORDERING, &[asc("name")])?;
    let mut managed: Vec<String> = query.get_all("managed").into_iter().map(str::to_owned).collect();
    managed.sort();
    managed.dedup();
    let filter = MappingFilter {
        managed,
        managed_is_null: bool_filter(query.get("managed__isnull")),
        name: query.filter("name").map(str::to_owned),
        search: args.search.clone(),
    };
    let listed = service::list(&state, &actor, &filter, &args.ordering, args.window()).await?;
    args.respond(listed, PlexSourcePropertyMapping::from)
}

/// Create a Plex source property mapping.
#[utoipa::path(post, path = "/propertymappings/source/plex/", tag = "propertymappings", request_body = PlexSourcePropertyMappingRequest,
    responses((status = 201, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (changes, errors) = read_body(&body, false, read_mapping);
    Ok(created(&PlexSourcePropertyMapping::from(service::create(&state, &actor, changes, errors).await?)))
}

/// Get a Plex source property mapping.
#[utoipa::path(get, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(pm_uuid): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // a malformed id is 404 only for those who may look
    Ok(ok(&PlexSourcePropertyMapping::from(service::get(&state, &actor, mapping_id(&pm_uuid)?).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    key: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (changes, errors) = read_body(body, partial, read_mapping);
    let mapping = service::update(state, actor, mapping_id(key)?, changes, errors).await?;
    Ok(ok(&PlexSourcePropertyMapping::from(mapping)))
}

/// Replace a Plex source property mapping.
#[utoipa::path(put, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    request_body = PlexSourcePropertyMappingRequest,
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(pm_uuid): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &pm_uuid, &body, false).await
}

/// Change some fields of a Plex source property mapping.
#[utoipa::path(patch, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    request_body = PatchedPlexSourcePropertyMappingRequest,
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(pm_uuid): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &pm_uuid, &body, true).await
}

/// Delete a Plex source property mapping (it is removed from every source's lists).
#[utoipa::path(delete, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(pm_uuid): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    service::delete(&state, &actor, mapping_id(&pm_uuid)?).await?;
    Ok(no_content())
}

/// Sources that use this mapping.
#[utoipa::path(get, path = "/propertymappings/source/plex/{pm_uuid}/used_by/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(pm_uuid): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let sources = service::usage(&state, &actor, mapping_id(&pm_uuid)?).await?;
    let entries: Vec<UsedBy> = sources
        .into_iter()
        .map(|(id, name)| UsedBy::new("authentik_core", "source", id, name, "cascade_many"))
        .collect();
    Ok(ok(&entries))
}

/// Evaluate a mapping with the given context (`info`, `properties`, … as variables).
#[utoipa::path(post, path = "/propertymappings/all/{pm_uuid}/test/", tag = "propertymappings",
    params(("pm_uuid" = Uuid, Path), ("format_result" = Option<bool>, Query)), request_body = PropertyMappingTestRequest,
    responses((status = 200, body = PropertyMappingTestResult), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn test(
    State(state): State<AppState>,
    actor: Actor,
    Path(pm_uuid): Path<String>,
    query: QueryParams,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    actor.require(service::TEST)?;
    let id = mapping_id(&pm_uuid)?;
    let (input, errors) = read_body(&body, true, |body| TestInput {
        expression: None,
        user: body.integer("user", false).map(UserId),
        group: body.uuid_ref("group").flatten().map(GroupId),
        context: body.object("context").unwrap_or_default(),
    });
    let outcome = service::test(&state, &actor, id, input, errors).await?;
    let indent = bool_filter(query.get("format_result")).unwrap_or(false);
    let result = match outcome {
        Ok(value) => PropertyMappingTestResult { result: pyjson::dumps(&value, indent), successful: true },
        Err(error) => PropertyMappingTestResult { result: service::describe(&error), successful: false },
    };
    Ok(ok(&result))
}
