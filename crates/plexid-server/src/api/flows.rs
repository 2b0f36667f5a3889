//! `/api/v3/flows/instances/`: flows as named objects that sources reference.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::source::{flow as choices, FLOW_DESIGNATIONS, POLICY_ENGINE_MODES};
use plexid_core::validate::Text;
use plexid_core::{Body, FieldErrors};
use plexid_store::flows::{FlowFilter, FlowRecord, FLOW_ORDERING};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::sources::read_slug;
use super::{asc, choice_filter, lookup, paginated_schema, GenericError, ListArgs, UsedBy, ValidationError};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::Flow;
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
            pk: f.uuid,
            policybindingmodel_ptr_id: f.uuid,
            export_url: format!("/api/v3/flows/instances/{}/export/", f.slug),
            name: f.name,
            slug: f.slug,
            title: f.title,
            designation: f.designation,
            background: BACKGROUND,
            stages: Vec::new(),
            policies: Vec::new(),
            cache_count: 0,
            policy_engine_mode: f.policy_engine_mode,
            compatibility_mode: f.compatibility_mode,
            layout: f.layout,
            denied_action: f.denied_action,
            authentication: f.authentication,
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

fn read_flow(body: &mut Body<'_>, mut base: FlowRecord) -> FlowRecord {
    if let Some(v) = body.text("name", Text::REQUIRED) {
        base.name = v;
    }
    if let Some(v) = read_slug(body) {
        base.slug = v;
    }
    if let Some(v) = body.text("title", Text::REQUIRED) {
        base.title = v;
    }
    if let Some(v) = body.required_choice("designation", FLOW_DESIGNATIONS) {
        base.designation = v;
    }
    if let Some(v) = body.choice("policy_engine_mode", POLICY_ENGINE_MODES) {
        base.policy_engine_mode = v;
    }
    if let Some(v) = body.boolean("compatibility_mode") {
        base.compatibility_mode = v;
    }
    if let Some(v) = body.choice("layout", choices::LAYOUTS) {
        base.layout = v;
    }
    if let Some(v) = body.choice("denied_action", choices::DENIED_ACTIONS) {
        base.denied_action = v;
    }
    if let Some(v) = body.choice("authentication", choices::AUTHENTICATION) {
        base.authentication = v;
    }
    base
}

async fn save(
    state: &AppState,
    body: &serde_json::Value,
    partial: bool,
    stored: Option<FlowRecord>,
) -> ApiResult<Flow> {
    let mut body = Body::new(body, partial)?;
    let is_new = stored.is_none();
    let base = stored.unwrap_or_else(|| crate::startup::flow("", "", "", "authentication", "none"));
    let flow = read_flow(&mut body, base);
    body.errors.into_result()?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if is_new {
        conn.insert_flow(&flow).await?;
    } else {
        conn.update_flow(&flow).await?;
    }
    tx.commit().await?;
    Ok(Flow::from(flow))
}

async fn visible(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<FlowRecord> {
    caller.require(Action::View, MODEL)?;
    state.store.conn().flow_by_slug(lookup(slug)?).await?.ok_or(ApiError::NotFound)
}

/// List flows.
#[utoipa::path(get, path = "/flows/instances/", tag = "flows",
    params(("slug" = Option<String>, Query), ("designation" = Option<String>, Query), ("name" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedFlowList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, MODEL)?;
    let args = ListArgs::parse(&query, FLOW_ORDERING, &[asc("slug")])?;
    let mut errors = FieldErrors::default();
    let filter = FlowFilter {
        slug: query.filter("slug").map(str::to_owned),
        designation: choice_filter(&query, "designation", FLOW_DESIGNATIONS, &mut errors),
        name: query.filter("name").map(str::to_owned),
        search: args.search.clone(),
    };
    errors.into_result()?;
    let listed = state.store.conn().list_flows(&filter, &args.ordering, args.window()).await?;
    args.respond(listed, Flow::from)
}

/// Create a flow.
#[utoipa::path(post, path = "/flows/instances/", tag = "flows", request_body = FlowRequest,
    responses((status = 201, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    caller.require(Action::Add, MODEL)?;
    Ok(created(&save(&state, &body, false, None).await?))
}

/// Get a flow by slug.
#[utoipa::path(get, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 200, body = Flow), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(&Flow::from(visible(&state, &caller, &slug).await?)))
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

/// Replace a flow.
#[utoipa::path(put, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)), request_body = FlowRequest,
    responses((status = 200, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &slug, &body, false).await
}

/// Change some fields of a flow.
#[utoipa::path(patch, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)), request_body = FlowRequest,
    responses((status = 200, body = Flow), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &slug, &body, true).await
}

/// Delete a flow; sources that used it keep running with no flow set.
#[utoipa::path(delete, path = "/flows/instances/{slug}/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &slug).await?;
    caller.require(Action::Delete, MODEL)?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_flow(stored.uuid).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Sources that reference this flow (their reference is cleared when it is deleted).
#[utoipa::path(get, path = "/flows/instances/{slug}/used_by/", tag = "flows", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    let flow = visible(&state, &caller, &slug).await?;
    let mut entries = Vec::new();
    if caller.can(Action::View, Model::PlexSource) {
        for (uuid, name) in state.store.conn().sources_using_flow(flow.uuid).await? {
            entries.push(UsedBy::new("authentik_sources_plex", "plexsource", uuid, name, "set_null"));
        }
    }
    Ok(ok(&entries))
}
