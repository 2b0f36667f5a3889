//! `/api/v3/propertymappings/source/plex/` and the generic mapping test endpoint.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::validate::Text;
use plexid_core::{listing, pyjson, Body, FieldErrors};
use plexid_mapping::MappingError;
use plexid_store::mappings::{MappingFilter, MappingRecord, MAPPING_ORDERING};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{asc, lookup, paginated_schema, GenericError, ListArgs, UsedBy, ValidationError};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::PlexSourcePropertyMapping;

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

impl From<MappingRecord> for PlexSourcePropertyMapping {
    fn from(m: MappingRecord) -> Self {
        PlexSourcePropertyMapping {
            pk: m.uuid,
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

/// The `Expression Syntax Error: …` field error, if the expression does not parse.
fn check_expression(expression: &str, name: Option<&str>) -> Option<String> {
    match plexid_mapping::check_syntax(expression, name) {
        Ok(()) => None,
        Err(error) => Some(format!("Expression Syntax Error: {error}")),
    }
}

async fn save(
    state: &AppState,
    body: &Value,
    partial: bool,
    stored: Option<MappingRecord>,
) -> ApiResult<PlexSourcePropertyMapping> {
    let mut body = Body::new(body, partial)?;
    let stored_name = stored.as_ref().map(|m| m.name.clone());
    let is_new = stored.is_none();
    let mut mapping = stored.unwrap_or(MappingRecord {
        uuid: Uuid::new_v4(),
        name: String::new(),
        expression: String::new(),
        managed: None,
    });
    if let Some(name) = body.text("name", Text::REQUIRED) {
        mapping.name = name;
    }
    if let Some(expression) = body.text("expression", Text::REQUIRED) {
        if let Some(message) = check_expression(&expression, stored_name.as_deref()) {
            body.errors.add("expression", message);
        }
        mapping.expression = expression;
    }
    body.errors.into_result()?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if is_new {
        conn.insert_mapping(&mapping).await?;
    } else {
        conn.update_mapping(&mapping).await?;
    }
    tx.commit().await?;
    Ok(mapping.into())
}

async fn visible(state: &AppState, caller: &Caller, pm_uuid: &str) -> ApiResult<MappingRecord> {
    caller.require(Action::View, MODEL)?;
    let uuid = Uuid::parse_str(lookup(pm_uuid)?).map_err(|_| ApiError::NotFound)?;
    state.store.conn().mapping_by_uuid(uuid).await?.ok_or(ApiError::NotFound)
}

/// List Plex source property mappings.
#[utoipa::path(get, path = "/propertymappings/source/plex/", tag = "propertymappings",
    params(("managed" = Option<Vec<String>>, Query), ("managed__isnull" = Option<bool>, Query), ("name" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedPlexSourcePropertyMappingList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, MODEL)?;
    let args = ListArgs::parse(&query, MAPPING_ORDERING, &[asc("name")])?;
    let mut conn = state.store.conn();
    let mut managed: Vec<String> = query.get_all("managed").into_iter().map(str::to_owned).collect();
    managed.sort();
    managed.dedup();
    if !managed.is_empty() {
        let present = conn.managed_mapping_values().await?;
        if let Some(bad) = managed.iter().find(|m| !present.contains(m)) {
            return Err(FieldErrors::single("managed", listing::bad_choice(bad)).into());
        }
    }
    let filter = MappingFilter {
        managed,
        managed_is_null: listing::bool_filter(query.get("managed__isnull")),
        name: query.filter("name").map(str::to_owned),
        search: args.search.clone(),
    };
    let listed = conn.list_mappings(&filter, &args.ordering, args.window()).await?;
    args.respond(listed, PlexSourcePropertyMapping::from)
}

/// Create a Plex source property mapping.
#[utoipa::path(post, path = "/propertymappings/source/plex/", tag = "propertymappings", request_body = PlexSourcePropertyMappingRequest,
    responses((status = 201, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    caller.require(Action::Add, MODEL)?;
    Ok(created(&save(&state, &body, false, None).await?))
}

/// Get a Plex source property mapping.
#[utoipa::path(get, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(&PlexSourcePropertyMapping::from(visible(&state, &caller, &pm_uuid).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    caller: &Caller,
    key: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    let stored = visible(state, caller, key).await?;
    caller.require(Action::Change, MODEL)?;
    Ok(ok(&save(state, body, partial, Some(stored)).await?))
}

/// Replace a Plex source property mapping.
#[utoipa::path(put, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    request_body = PlexSourcePropertyMappingRequest,
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &pm_uuid, &body, false).await
}

/// Change some fields of a Plex source property mapping.
#[utoipa::path(patch, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    request_body = PlexSourcePropertyMappingRequest,
    responses((status = 200, body = PlexSourcePropertyMapping), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &pm_uuid, &body, true).await
}

/// Delete a Plex source property mapping (it is removed from every source's lists).
#[utoipa::path(delete, path = "/propertymappings/source/plex/{pm_uuid}/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &pm_uuid).await?;
    caller.require(Action::Delete, MODEL)?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_mapping(stored.uuid).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Sources that use this mapping.
#[utoipa::path(get, path = "/propertymappings/source/plex/{pm_uuid}/used_by/", tag = "propertymappings", params(("pm_uuid" = Uuid, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
) -> ApiResult<Response> {
    let mapping = visible(&state, &caller, &pm_uuid).await?;
    let mut entries = Vec::new();
    if caller.can(Action::View, Model::PlexSource) {
        for (uuid, name) in state.store.conn().sources_using_mapping(mapping.uuid).await? {
            entries.push(UsedBy::new("authentik_core", "source", uuid, name, "cascade_many"));
        }
    }
    Ok(ok(&entries))
}

/// Evaluate a mapping with the given context (`info`, `properties`, … as variables).
#[utoipa::path(post, path = "/propertymappings/all/{pm_uuid}/test/", tag = "propertymappings",
    params(("pm_uuid" = Uuid, Path), ("format_result" = Option<bool>, Query)), request_body = PropertyMappingTestRequest,
    responses((status = 200, body = PropertyMappingTestResult), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(pm_uuid): Path<String>,
    query: QueryParams,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    caller.require(Action::View, Model::PropertyMapping)?;
    let uuid = Uuid::parse_str(lookup(&pm_uuid)?).map_err(|_| ApiError::NotFound)?;
    let mut conn = state.store.conn();
    let mapping = conn.mapping_by_uuid(uuid).await?.ok_or(ApiError::NotFound)?;
    let mut body = Body::new(&body, true)?;
    let user = body.integer("user", false);
    let group = body.uuid_ref("group").flatten();
    let context = body.object("context").unwrap_or_default();
    let mut variables = context;
    if let Some(id) = user {
        caller.require(Action::View, Model::User)?;
        match conn.user_by_id(id).await? {
            Some(u) => {
                variables.insert(
                    "user".into(),
                    serde_json::json!({
                        "pk": u.id, "username": u.username, "name": u.name, "email": u.email,
                        "is_active": u.is_active, "path": u.path, "attributes": u.attributes,
                    }),
                );
            }
            None => body.errors.add("user", plexid_core::validate::does_not_exist(id)),
        }
    }
    if let Some(id) = group {
        caller.require(Action::View, Model::Group)?;
        match conn.group_by_uuid(id).await? {
            Some(g) => {
                variables.insert(
                    "group".into(),
                    serde_json::json!({
                        "pk": g.uuid, "name": g.name, "is_superuser": g.is_superuser, "attributes": g.attributes,
                    }),
                );
            }
            None => body.errors.add("group", plexid_core::validate::does_not_exist(id)),
        }
    }
    body.errors.into_result()?;
    variables.entry("request").or_insert(Value::Null);
    let indent = listing::bool_filter(query.get("format_result")).unwrap_or(false);
    let limits = state.mapping_limits.clone();
    let expression = mapping.expression.clone();
    let outcome = tokio::task::spawn_blocking(move || plexid_mapping::evaluate(&expression, &variables, &limits))
        .await
        .map_err(|e| ApiError::Internal(format!("mapping evaluation task: {e}")))?;
    let result = match outcome {
        Ok(value) => PropertyMappingTestResult { result: pyjson::dumps(&value, indent), successful: true },
        Err(error) => PropertyMappingTestResult { result: describe(&error), successful: false },
    };
    Ok(ok(&result))
}

fn describe(error: &MappingError) -> String {
    match error {
        MappingError::Syntax(message) => format!("Expression Syntax Error: {message}"),
        MappingError::Runtime(message) | MappingError::Limit(message) => message.clone(),
    }
}
