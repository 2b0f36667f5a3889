//! `/api/v3`: authentik's wire format in front of the service layer. Handlers are thin: read the
//! DRF-style body or query into a typed command → call the operation in [`crate::service`] (which
//! checks permissions) → shape authentik's response. The router and the OpenAPI document are
//! built from the same route list, so every route is documented by construction.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use plexid_core::FieldErrors;
use plexid_store::{Listed, OrderTerm, Window};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::drf::pagination::{PageNumber, PageRequest, Pagination};
use self::drf::{query as listing, Body};
use self::error::{ApiError, ApiResult};
use self::http::QueryParams;
use crate::state::AppState;

pub mod applications;
pub mod auth;
pub mod connections;
pub mod drf;
pub mod error;
pub mod events;
pub mod flows;
pub mod groups;
pub mod http;
pub mod login;
pub mod mappings;
pub mod providers;
pub mod rbac;
pub mod sources;
pub mod tokens;
pub mod users;

/// `{"detail": …}`, authentik's `GenericError`.
#[derive(Serialize, ToSchema)]
pub struct GenericError {
    pub detail: String,
}

/// Field errors, authentik's `ValidationError`: field name → messages.
#[derive(Serialize, ToSchema)]
pub struct ValidationError {
    pub non_field_errors: Option<Vec<String>>,
}

/// One object that references another, authentik's `UsedBy`.
#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct UsedBy {
    pub app: String,
    pub model_name: String,
    pub pk: String,
    pub name: String,
    #[schema(value_type = UsedByActionEnum)]
    pub action: String,
}

impl UsedBy {
    pub fn new(app: &str, model_name: &str, pk: impl ToString, name: impl Into<String>, action: &str) -> Self {
        UsedBy {
            app: app.into(),
            model_name: model_name.into(),
            pk: pk.to_string(),
            name: name.into(),
            action: action.into(),
        }
    }
}

/// authentik's enums, as its schema names them.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum UsedByActionEnum {
    Cascade,
    CascadeMany,
    SetNull,
    SetDefault,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PolicyEngineMode {
    All,
    Any,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum UserMatchingModeEnum {
    Identifier,
    EmailLink,
    EmailDeny,
    UsernameLink,
    UsernameDeny,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GroupMatchingModeEnum {
    Identifier,
    NameLink,
    NameDeny,
}

/// A paginated list: `{"pagination": …, "results": […]}`.
#[derive(Serialize)]
pub struct Page<T> {
    pub pagination: Pagination,
    pub results: Vec<T>,
}

/// The pagination object's schema (authentik types every key as a number).
#[derive(Serialize, ToSchema)]
#[schema(as = Pagination)]
pub struct PaginationSchema {
    pub next: f64,
    pub previous: f64,
    pub count: f64,
    pub current: f64,
    pub total_pages: f64,
    pub start_index: f64,
    pub end_index: f64,
}

/// Declares `Paginated<Name>List`, the documented shape of a list response.
macro_rules! paginated_schema {
    ($name:ident, $item:ty) => {
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            pub pagination: crate::api::PaginationSchema,
            pub results: Vec<$item>,
        }
    };
}
pub(crate) use paginated_schema;

/// `page`, `page_size`, `ordering` and `search` of a list request.
pub struct ListArgs {
    pub page: PageRequest,
    pub ordering: Vec<OrderTerm>,
    pub search: Vec<String>,
}

impl ListArgs {
    pub fn parse(query: &QueryParams, allowed: &[&'static str], default: &[OrderTerm]) -> ApiResult<Self> {
        Ok(ListArgs {
            page: PageRequest::parse(query.get("page"), query.get("page_size"))?,
            ordering: listing::ordering(query.get("ordering"), allowed, default),
            search: listing::search_terms(query.get("search")),
        })
    }

    pub fn window(&self) -> Window {
        match self.page.page {
            PageNumber::Number(_) => Window::Offset { limit: self.page.size, offset: self.page.offset().unwrap_or(0) },
            PageNumber::Last => Window::Last { size: self.page.size },
        }
    }

    /// The list response for `listed`, each row shaped by `shape`.
    pub fn respond<R, T: Serialize>(&self, listed: Listed<R>, shape: impl Fn(R) -> T) -> ApiResult<Response> {
        self.respond_shaped(listed.total, listed.rows.into_iter().map(shape).collect())
    }

    /// The list response for rows already shaped (when shaping needs the database).
    pub fn respond_shaped<T: Serialize>(&self, total: u64, results: Vec<T>) -> ApiResult<Response> {
        let pagination = Pagination::new(self.page, total)?;
        Ok(http::ok(&Page { pagination, results }))
    }
}

/// An ascending default ordering term.
pub const fn asc(term: &'static str) -> OrderTerm {
    OrderTerm::asc(term)
}

/// Reads a request body into a command with `read`. A body that is not a JSON object yields
/// an empty command and its error, so the operation still checks permissions first and then
/// reports the error, as DRF does.
pub fn read_body<T: Default>(
    value: &serde_json::Value,
    partial: bool,
    read: impl FnOnce(&mut Body<'_>) -> T,
) -> (T, FieldErrors) {
    match Body::new(value, partial) {
        Ok(mut body) => {
            let command = read(&mut body);
            (command, body.errors)
        }
        Err(errors) => (T::default(), errors),
    }
}

/// django-filter's check of a choice filter: `Ok(None)` when absent, 400 when not a choice.
pub fn choice_filter(query: &QueryParams, name: &str, choices: &[&str], errors: &mut FieldErrors) -> Option<String> {
    let value = query.filter(name)?;
    if choices.contains(&value) {
        Some(value.to_owned())
    } else {
        errors.add(name, listing::bad_choice(value));
        None
    }
}

/// A `ModelChoiceFilter` on a UUID: malformed values are 400 like unknown ones.
pub fn uuid_filter(query: &QueryParams, name: &str, errors: &mut FieldErrors) -> Option<uuid::Uuid> {
    let value = query.filter(name)?;
    match uuid::Uuid::parse_str(value) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.add(name, listing::UNKNOWN_CHOICE);
            None
        }
    }
}

/// authentik's lookup values match `[^/.]+`; anything else is not a route.
pub fn lookup(value: &str) -> ApiResult<&str> {
    if value.is_empty() || value.contains('.') {
        Err(ApiError::NotFound)
    } else {
        Ok(value)
    }
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "authentik",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "plexid", description = "authentik-compatible Plex source API"),
    servers((url = "/api/v3/")),
    modifiers(&SecurityAddon),
    security(("authentik" = [])),
    components(schemas(GenericError, ValidationError))
)]
struct ApiDoc;

/// Every `/api/v3` route with its documentation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::retrieve, sources::update, sources::partial_update, sources::destroy))
        .routes(routes!(sources::used_by))
        .routes(routes!(sources::plex_servers))
        .routes(routes!(login::redeem_token))
        .routes(routes!(login::redeem_token_authenticated))
        .routes(routes!(flows::list, flows::create))
        .routes(routes!(flows::retrieve, flows::update, flows::partial_update, flows::destroy))
        .routes(routes!(flows::used_by))
        .routes(routes!(mappings::list, mappings::create))
        .routes(routes!(mappings::retrieve, mappings::update, mappings::partial_update, mappings::destroy))
        .routes(routes!(mappings::used_by))
        .routes(routes!(mappings::test))
        .routes(routes!(connections::list_user, connections::create_user))
        .routes(routes!(
            connections::retrieve_user,
            connections::update_user,
            connections::partial_update_user,
            connections::destroy_user
        ))
        .routes(routes!(connections::used_by_user))
        .routes(routes!(connections::list_group, connections::create_group))
        .routes(routes!(
            connections::retrieve_group,
            connections::update_group,
            connections::partial_update_group,
            connections::destroy_group
        ))
        .routes(routes!(connections::used_by_group))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::me))
        .routes(routes!(users::retrieve, users::update, users::partial_update, users::destroy))
        .routes(routes!(users::used_by))
        .routes(routes!(users::set_password))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::retrieve, groups::update, groups::partial_update, groups::destroy))
        .routes(routes!(groups::add_user))
        .routes(routes!(groups::remove_user))
        .routes(routes!(groups::used_by))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::retrieve, tokens::update, tokens::partial_update, tokens::destroy))
        .routes(routes!(tokens::view_key))
        .routes(routes!(rbac::assign_user))
        .routes(routes!(rbac::unassign_user))
        .routes(routes!(rbac::assign_group))
        .routes(routes!(rbac::unassign_group))
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(
            applications::retrieve,
            applications::update,
            applications::partial_update,
            applications::destroy
        ))
        .routes(routes!(applications::check_access))
        .routes(routes!(applications::used_by))
        .routes(routes!(providers::list_oauth2, providers::create_oauth2))
        .routes(routes!(
            providers::retrieve_oauth2,
            providers::update_oauth2,
            providers::partial_update_oauth2,
            providers::destroy_oauth2
        ))
        .routes(routes!(providers::used_by_oauth2))
        .routes(routes!(providers::setup_urls))
        .routes(routes!(providers::list_proxy, providers::create_proxy))
        .routes(routes!(
            providers::retrieve_proxy,
            providers::update_proxy,
            providers::partial_update_proxy,
            providers::destroy_proxy
        ))
        .routes(routes!(providers::used_by_proxy))
        .routes(routes!(events::list))
        .routes(routes!(events::retrieve))
}

/// The OpenAPI document, rendered once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| api_routes().split_for_parts().1);
    &DOC
}

static SCHEMA_JSON: LazyLock<Result<String, String>> =
    LazyLock::new(|| serde_json::to_string_pretty(openapi()).map_err(|e| e.to_string()));
static SCHEMA_YAML: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let value: serde_json::Value =
        serde_json::from_str(SCHEMA_JSON.as_ref().map_err(Clone::clone)?).map_err(|e| e.to_string())?;
    let mut text = String::new();
    yaml_rust2::YamlEmitter::new(&mut text).dump(&yaml_of(value)).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
});

/// A JSON value as YAML (numbers written plainly: serde_json's `arbitrary_precision`, enabled
/// by starlark, must not leak into the document).
pub fn yaml_of(value: serde_json::Value) -> yaml_rust2::Yaml {
    use serde_json::Value as J;
    use yaml_rust2::Yaml as Y;
    match value {
        J::Null => Y::Null,
        J::Bool(b) => Y::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Y::Integer(i),
            None => Y::Real(n.to_string()),
        },
        J::String(s) => Y::String(s),
        J::Array(items) => Y::Array(items.into_iter().map(yaml_of).collect()),
        J::Object(map) => Y::Hash(map.into_iter().map(|(k, v)| (Y::String(k), yaml_of(v))).collect()),
    }
}

/// `GET /api/v3/schema/`: JSON, or YAML with `?format=yaml`.
async fn schema(query: QueryParams) -> Response {
    let (body, content_type) = match query.get("format") {
        Some("yaml") => (SCHEMA_YAML.as_ref(), "application/vnd.oai.openapi; charset=utf-8"),
        _ => (SCHEMA_JSON.as_ref(), "application/vnd.oai.openapi+json; charset=utf-8"),
    };
    match body {
        Ok(text) => ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], text.clone()).into_response(),
        Err(error) => ApiError::Internal(format!("rendering the schema: {error}")).into_response(),
    }
}

/// The `/api/v3` routes, with the schema endpoint and authentik's JSON 404 and 405.
pub fn routes() -> Router<AppState> {
    let (api, _) = api_routes().split_for_parts();
    api.route("/schema/", get(schema)).fallback(not_found).method_not_allowed_fallback(method_not_allowed)
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}
