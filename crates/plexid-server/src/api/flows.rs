//! `/api/v3/flows/instances/`: flows as named objects that sources reference.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{Flow as FlowRecord, FlowChanges};
use plexid_core::modes::*;
use plexid_core::FieldErrors;
use plexid_store::flows::{FlowFilter, FLOW_ORDERING};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::{Body, Text};
use super::error::ApiResult;
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::{asc, choice_filter, lookup, paginated_schema, read_body, GenericError, ListArgs, UsedBy, ValidationError};
use crate::service::{flows as service, Actor};
use crate::state::AppState;
const BACKGROUND: &str = "/static/dist/assets/images/flow_background.jpg";

/// A flow (authentik's `Flow`, with the fields its clients require).
#[derive(Serialize, ToSchema)]
pub struct Flow {
    pub pk: Uuid,
    pub policybindingmodel_ptr_id: Uuid,
    pub name: String,
    pub slug: String,
    pub title: String,
    pub designation: String,
    pub background: &'static str,
    pub stages: Vec<Uuid>,
    pub policies: Vec<Uuid>,
    pub cache_count: i64,
    pub policy_engine_mode: String,
    pub compatibility_mode: bool,
    pub export_url: String,
    pub layout: String,
    pub denied_action: String,
    pub authentication: String,
}

impl From<FlowRecord> for Flow {
    fn from(f: FlowRecord) -> Self {
        Flow {
            pk: f.id.0,
            policybindingmodel_ptr_id: f.id.0,
            export_url: format!("/api/v3/flows/instances/{}/export/", f.slug),
            name: f.name,
            slug: f.slug,
            title: f.title,
            designation: f.designation.to_string(),
            background: BACKGROUND,
            stages: Vec::new(),
            policies: Vec::new(),
            cache_count: 0,
            policy_engine_mode: f.policy_engine_mode.to_string(),
            compatibility_mode: f.compatibility_mode,
            layout: f.layout.to_string(),
            denied_action: f.denied_action.to_string(),
            authentication: f.authentication.to_string(),
        }
    }
}

/// authentik's `FlowRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FlowRequest {
    name: String,
    slug: String,
    title: String,
    /// `authentication`, `authorization`, `invalidation`, `enrollment`, `unenrollment`, `recovery` or `stage_configuration`
    designation: String,
    policy_engine_mode: Option<String>,
    compatibility_mode: Option<bool>,
    layout: Option<String>,
    denied_action: Option<String>,
    authentication: Option<String>,
}

paginated_schema!(PaginatedFlowList, Flow);

pub(crate) fn read_flow(body: &mut Body<'_>) -> FlowChanges {
    FlowChanges {
        name: body.text("name", Text::REQUIRED),
        slug: body.text("slug", Text::REQUIRED),
        title: body.text("title", Text::REQUIRED),
        designation: body.required_mode("designation", FlowDesignation::NAMES, FlowDesignation::parse),
        policy_engine_mode: body.mode("policy_engine_mode", PolicyEngineMode::NAMES, PolicyEngineMode::parse),
        compatibility_mode: body.boolean("compatibility_mode"),
        layout: body.mode("layout", FlowLayout::NAMES, FlowLayout::parse),
        denied_action: body.mode("denied_action", FlowDeniedAction::NAMES, FlowDeniedAction::parse),
        authentication: body.mode("authentication", FlowAuthentication::NAMES, FlowAuthentication::parse),
    }
}

/// List flows.
#[utoipa::path(get, path = "/flows/instances/", tag = "flows",
    params(("slug" = Option<String>, Query), ("designation" = Option<String>, Query), ("name" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedFlowList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // before the query is read: no permission is 403, whatever the query
    let args = ListArgs::parse(&query, FLOW_ORDERING, &[asc("slug")])?;
    let mut errors = FieldErrors::default();
    let filter = FlowFilter {
        slug: query.filter("slug").map(str::to_owned),
        designation: choice_filter(&query, "designation", FlowDesignation::NAMES, &mut errors)
            .and_then(|d| FlowDesignation::parse(&d)),
        name: query.filter("name").map(str::to_owned),
        search: args.search.clone(),
    };
    errors.into_result()?;
    let listed = service::list(&state, &actor, &filter, &args.ordering, args.window()).await?;
    args.respond(listed, Flow::from)
}

/// Create a flow.
#[utoipa::path(post, path = "/flows/instances/", tag = "flows", request_body = FlowRequest,
    responses((status = 201, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (changes, errors) = read_body(&body, false, read_flow);
    Ok(created(&Flow::from(service::create(&state, &actor, changes, errors).await?)))
}

/// Get a flow by slug.
#[utoipa::path(get, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 200, body = Flow), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(&Flow::from(service::get(&state, &actor, lookup(&slug)?).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    let (changes, errors) = read_body(body, partial, read_flow);
    Ok(ok(&Flow::from(service::update(state, actor, lookup(slug)?, changes, errors).await?)))
}

/// Replace a flow.
#[utoipa::path(put, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)), request_body = FlowRequest,
    responses((status = 200, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, false).await
}

/// Change some fields of a flow.
#[utoipa::path(patch, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)), request_body = FlowRequest,
    responses((status = 200, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &slug, &body, true).await
}

/// Delete a flow; sources that used it keep running with no flow set.
#[utoipa::path(delete, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    service::delete(&state, &actor, lookup(&slug)?).await?;
    Ok(no_content())
}

/// Sources that reference this flow (their reference is cleared when it is deleted).
#[utoipa::path(get, path = "/flows/instances/{slug}/used_by/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(slug): Path<String>) -> ApiResult<Response> {
    let usage = service::usage(&state, &actor, lookup(&slug)?).await?;
    let mut entries: Vec<UsedBy> = usage
        .sources
        .into_iter()
        .map(|(id, name)| UsedBy::new("authentik_sources_plex", "plexsource", id, name, "set_null"))
        .collect();
    entries.extend(usage.providers.into_iter().map(|(id, name, kind)| {
        let (app, model) = match kind {
            plexid_core::modes::ProviderKind::OAuth2 => ("authentik_providers_oauth2", "oauth2provider"),
            plexid_core::modes::ProviderKind::Proxy => ("authentik_providers_proxy", "proxyprovider"),
        };
        UsedBy::new(app, model, id, name, "cascade")
    }));
    Ok(ok(&entries))
}
