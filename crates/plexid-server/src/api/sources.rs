//! `/api/v3/sources/plex/`: Plex sources.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::source::{self as rules, TOKEN_PLACEHOLDER};
use plexid_core::validate::{does_not_exist, is_slug, Text, BAD_SLUG};
use plexid_core::{listing, Body, FieldErrors};
use plexid_store::sources::{SourceFilter, SourceRecord, SOURCE_ORDERING};
use plexid_store::Conn;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    asc, choice_filter, lookup, paginated_schema, uuid_filter, GenericError, ListArgs, UsedBy, ValidationError,
};
use crate::auth::Caller;
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::PlexSource;

/// A Plex source as the API shows it (authentik's `PlexSource`): the base Source fields, in
/// authentik's order, then the Plex ones.
#[derive(Serialize, ToSchema, Debug)]
pub struct PlexSource {
    #[serde(flatten)]
    pub source: SourceSummary,
    pub group_matching_mode: String,
    pub client_id: String,
    pub allowed_servers: Vec<String>,
    pub allow_friends: bool,
    /// Always `"********"`: the stored token is never returned (send it back to keep it).
    pub plex_token: &'static str,
}

impl From<SourceRecord> for PlexSource {
    fn from(mut s: SourceRecord) -> Self {
        let group_matching_mode = std::mem::take(&mut s.group_matching_mode);
        let client_id = std::mem::take(&mut s.client_id);
        let allowed_servers = std::mem::take(&mut s.allowed_servers);
        let allow_friends = s.allow_friends;
        let icon = rules::plex_icon(s.icon.as_deref());
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
    /// `all` or `any`
    policy_engine_mode: Option<String>,
    /// `identifier`, `email_link`, `email_deny`, `username_link` or `username_deny`
    user_matching_mode: Option<String>,
    user_path_template: Option<String>,
    /// `identifier`, `name_link` or `name_deny`
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

paginated_schema!(PaginatedPlexSourceList, PlexSource);

/// Serializer field order, for ordering errors that are found in several passes.
const FIELD_ORDER: &[&str] = &[
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

/// Reads a create/update body onto `base` (defaults for create, the stored source for
/// updates). Absent fields keep `base`'s values, as DRF's model serializers do.
fn read_source(body: &mut Body<'_>, mut base: SourceRecord, secrets: &Secrets) -> SourceRecord {
    if let Some(name) = body.text("name", Text::REQUIRED) {
        base.name = name;
    }
    if let Some(slug) = read_slug(body) {
        base.slug = slug;
    }
    if let Some(enabled) = body.boolean("enabled") {
        base.enabled = enabled;
    }
    if let Some(flow) = body.uuid_ref("authentication_flow") {
        base.authentication_flow = flow;
    }
    if let Some(flow) = body.uuid_ref("enrollment_flow") {
        base.enrollment_flow = flow;
    }
    if let Some(list) = body.uuid_list("user_property_mappings") {
        base.user_property_mappings = list;
    }
    if let Some(list) = body.uuid_list("group_property_mappings") {
        base.group_property_mappings = list;
    }
    if let Some(mode) = body.choice("policy_engine_mode", rules::POLICY_ENGINE_MODES) {
        base.policy_engine_mode = mode;
    }
    if let Some(mode) = body.choice("user_matching_mode", rules::USER_MATCHING_MODES) {
        base.user_matching_mode = mode;
    }
    if let Some(template) = body.text("user_path_template", Text::OPTIONAL) {
        base.user_path_template = template;
    }
    if let Some(mode) = body.choice("group_matching_mode", rules::GROUP_MATCHING_MODES) {
        base.group_matching_mode = mode;
    }
    if let Some(client_id) = body.text("client_id", Text::OPTIONAL) {
        base.client_id = client_id;
    }
    if let Some(servers) = body.text_list("allowed_servers") {
        base.allowed_servers = servers;
    }
    if let Some(allow) = body.boolean("allow_friends") {
        base.allow_friends = allow;
    }
    match body.text("plex_token", Text::REQUIRED) {
        Some(token) if token == TOKEN_PLACEHOLDER && !base.plex_token.is_empty() => {}
        Some(token) => base.plex_token = secrets.encrypt(&token),
        None => {}
    }
    base
}

/// A slug: non-blank, at most 50 characters, letters, digits, `-` and `_`.
pub fn read_slug(body: &mut Body<'_>) -> Option<String> {
    let slug = body.text("slug", Text::REQUIRED)?;
    let mut valid = true;
    if slug.chars().count() > rules::SLUG_MAX_LENGTH {
        body.errors.add("slug", format!("Ensure this field has no more than {} characters.", rules::SLUG_MAX_LENGTH));
        valid = false;
    }
    if !is_slug(&slug) {
        body.errors.add("slug", BAD_SLUG);
        valid = false;
    }
    valid.then_some(slug)
}

/// Reference checks that need the database: flows and mappings must exist.
async fn check_references(conn: &mut Conn<'_>, s: &SourceRecord, errors: &mut FieldErrors) -> ApiResult<()> {
    let flows: Vec<Uuid> = [s.authentication_flow, s.enrollment_flow].into_iter().flatten().collect();
    let existing = conn.existing_flows(&flows).await?;
    for (field, flow) in [("authentication_flow", s.authentication_flow), ("enrollment_flow", s.enrollment_flow)] {
        if let Some(id) = flow.filter(|id| !existing.contains(id)) {
            if !errors.has(field) {
                errors.add(field, does_not_exist(id));
            }
        }
    }
    let mut mappings = s.user_property_mappings.clone();
    mappings.extend_from_slice(&s.group_property_mappings);
    let existing = conn.existing_mappings(&mappings).await?;
    for (field, list) in
        [("user_property_mappings", &s.user_property_mappings), ("group_property_mappings", &s.group_property_mappings)]
    {
        if let Some(missing) = list.iter().find(|id| !existing.contains(id)) {
            if !errors.has(field) {
                errors.add(field, does_not_exist(missing));
            }
        }
    }
    Ok(())
}

fn new_source() -> SourceRecord {
    SourceRecord {
        uuid: Uuid::new_v4(),
        name: String::new(),
        slug: String::new(),
        enabled: true,
        authentication_flow: None,
        enrollment_flow: None,
        user_property_mappings: Vec::new(),
        group_property_mappings: Vec::new(),
        policy_engine_mode: "any".into(),
        user_matching_mode: "identifier".into(),
        group_matching_mode: "identifier".into(),
        managed: None,
        user_path_template: rules::DEFAULT_USER_PATH_TEMPLATE.into(),
        icon: None,
        client_id: rules::generate_client_id(),
        allowed_servers: Vec::new(),
        allow_friends: true,
        plex_token: String::new(),
    }
}

/// Validates `body` onto `base` and writes it in one transaction (insert or update).
async fn save(
    state: &AppState,
    body: &serde_json::Value,
    partial: bool,
    stored: Option<SourceRecord>,
) -> ApiResult<PlexSource> {
    let mut body = Body::new(body, partial)?;
    let is_new = stored.is_none();
    let source = read_source(&mut body, stored.unwrap_or_else(new_source), &state.secrets);
    let mut errors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    check_references(&mut conn, &source, &mut errors).await?;
    errors.sort_by(FIELD_ORDER);
    errors.into_result()?;
    if is_new {
        conn.insert_source(&source).await?;
    } else {
        conn.update_source(&source).await?;
    }
    let saved = conn.source_by_uuid(source.uuid).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(PlexSource::from(saved))
}

/// The source with this slug, for a caller who may view sources.
async fn visible(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<SourceRecord> {
    caller.require(Action::View, MODEL)?;
    state.store.conn().source_by_slug(lookup(slug)?).await?.ok_or(ApiError::NotFound)
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
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, MODEL)?;
    let args = ListArgs::parse(&query, SOURCE_ORDERING, &[asc("name")])?;
    let mut errors = FieldErrors::default();
    let filter = SourceFilter {
        name: query.filter("name").map(str::to_owned),
        slug: query.filter("slug").map(str::to_owned),
        enabled: listing::bool_filter(query.get("enabled")),
        authentication_flow: uuid_filter(&query, "authentication_flow", &mut errors),
        enrollment_flow: uuid_filter(&query, "enrollment_flow", &mut errors),
        policy_engine_mode: choice_filter(&query, "policy_engine_mode", rules::POLICY_ENGINE_MODES, &mut errors),
        user_matching_mode: choice_filter(&query, "user_matching_mode", rules::USER_MATCHING_MODES, &mut errors),
        group_matching_mode: choice_filter(&query, "group_matching_mode", rules::GROUP_MATCHING_MODES, &mut errors),
        client_id: query.filter("client_id").map(str::to_owned),
        allow_friends: listing::bool_filter(query.get("allow_friends")),
        search: args.search.clone(),
    };
    let mut conn = state.store.conn();
    for (name, flow) in
        [("authentication_flow", filter.authentication_flow), ("enrollment_flow", filter.enrollment_flow)]
    {
        if let Some(id) = flow {
            if conn.existing_flows(&[id]).await?.is_empty() {
                errors.add(name, listing::UNKNOWN_CHOICE);
            }
        }
    }
    errors.into_result()?;
    let listed = conn.list_sources(&filter, &args.ordering, args.window()).await?;
    args.respond(listed, PlexSource::from)
}

/// Create a Plex source.
#[utoipa::path(post, path = "/sources/plex/", tag = "sources", request_body = PlexSourceRequest,
    responses((status = 201, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    caller.require(Action::Add, MODEL)?;
    Ok(created(&save(&state, &body, false, None).await?))
}

/// Get a Plex source.
#[utoipa::path(get, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 200, body = PlexSource), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(&PlexSource::from(visible(&state, &caller, &slug).await?)))
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

/// Replace a Plex source (`name`, `slug` and `plex_token` required).
#[utoipa::path(put, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)), request_body = PlexSourceRequest,
    responses((status = 200, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &slug, &body, false).await
}

/// Change some fields of a Plex source.
#[utoipa::path(patch, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)), request_body = PlexSourceRequest,
    responses((status = 200, body = PlexSource), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &slug, &body, true).await
}

/// Delete a Plex source and its user and group connections.
#[utoipa::path(delete, path = "/sources/plex/{slug}/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &slug).await?;
    caller.require(Action::Delete, MODEL)?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_source(stored.uuid).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Objects that would be affected by deleting this source.
#[utoipa::path(get, path = "/sources/plex/{slug}/used_by/", tag = "sources", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, caller: Caller, Path(slug): Path<String>) -> ApiResult<Response> {
    let source = visible(&state, &caller, &slug).await?;
    let usage = state.store.conn().source_usage(source.uuid).await?;
    let mut entries = Vec::new();
    if caller.can(Action::View, Model::GroupPlexSourceConnection) {
        entries.extend(usage.group_connections.iter().map(|(id, group)| {
            let name = format!("Group-source connection (group={group}, source={})", source.uuid);
            UsedBy::new("authentik_core", "groupsourceconnection", id, name, "cascade")
        }));
    }
    if caller.can(Action::View, Model::User) {
        entries.extend(
            usage
                .users
                .iter()
                .map(|(id, username)| UsedBy::new("authentik_core", "user", id, username.clone(), "cascade_many")),
        );
    }
    if caller.can(Action::View, Model::UserPlexSourceConnection) {
        entries.extend(usage.user_connections.iter().map(|(id, user)| {
            let name = format!("User-source connection (user={user}, source={})", source.uuid);
            UsedBy::new("authentik_core", "usersourceconnection", id, name, "cascade")
        }));
    }
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
    pub policy_engine_mode: String,
    pub user_matching_mode: String,
    pub managed: Option<String>,
    pub user_path_template: String,
    pub icon: Option<String>,
}

impl From<SourceRecord> for SourceSummary {
    fn from(s: SourceRecord) -> Self {
        SourceSummary {
            pk: s.uuid,
            name: s.name,
            slug: s.slug,
            enabled: s.enabled,
            authentication_flow: s.authentication_flow,
            enrollment_flow: s.enrollment_flow,
            user_property_mappings: s.user_property_mappings,
            group_property_mappings: s.group_property_mappings,
            component: "",
            verbose_name: "source",
            verbose_name_plural: "sources",
            meta_model_name: "authentik_core.source",
            policy_engine_mode: s.policy_engine_mode,
            user_matching_mode: s.user_matching_mode,
            managed: s.managed,
            user_path_template: s.user_path_template,
            icon: s.icon,
        }
    }
}

/// A source named by slug or by pk (D10), or the field error for `field`.
pub async fn resolve_source(
    conn: &mut Conn<'_>,
    value: &str,
    field: &str,
    errors: &mut FieldErrors,
) -> ApiResult<Option<SourceRecord>> {
    let found = match Uuid::parse_str(value) {
        Ok(uuid) => conn.source_by_uuid(uuid).await?,
        Err(_) => conn.source_by_slug(value).await?,
    };
    if found.is_none() {
        let message = match Uuid::parse_str(value) {
            Ok(_) => does_not_exist(value),
            Err(_) => format!("Object with slug={value} does not exist."),
        };
        errors.add(field, message);
    }
    Ok(found)
}
