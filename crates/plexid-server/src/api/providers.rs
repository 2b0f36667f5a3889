//! `/api/v3/providers/oauth2/` and `/api/v3/providers/proxy/`: OpenID Connect and forward-auth
//! providers. Fields of authentik's that plexid does not implement (property mappings, JWKS
//! sources, certificates, proxying to an internal host, HTTP basic auth) are refused with a field
//! error unless sent with their empty value, so nothing is silently dropped.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use plexid_core::apps::{forward_auth_callback, Provider as ProviderRecord};
use plexid_core::modes::{ClientType, IssuerMode, ProviderKind, ProxyMode, SigningAlg, SubMode};
use plexid_core::{FieldErrors, ProviderId};
use plexid_store::apps::{ProviderFilter, ProviderRow, PROVIDER_ORDERING};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::{asc, choice_filter, lookup, paginated_schema, read_body, GenericError, ListArgs, UsedBy, ValidationError};
use crate::service::providers::{self as service, masked, ProviderChanges, Saved};
use crate::service::{oidc, Actor};
use crate::state::AppState;
use crate::web::base_url;

/// The fields every provider has (authentik's `Provider`).
#[derive(Serialize, ToSchema, Clone)]
pub struct Provider {
    pub pk: i64,
    pub name: String,
    pub authentication_flow: Option<Uuid>,
    pub authorization_flow: Uuid,
    pub property_mappings: Vec<Uuid>,
    pub component: &'static str,
    /// The application's slug, or "" when the provider has none.
    pub assigned_application_slug: String,
    pub assigned_application_name: String,
    pub assigned_backchannel_application_slug: String,
    pub assigned_backchannel_application_name: String,
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
    pub meta_model_name: &'static str,
}

impl Provider {
    pub fn of(row: &ProviderRow) -> Self {
        let p = &row.provider;
        let (component, verbose_name, verbose_name_plural, meta_model_name) = match p.kind {
            ProviderKind::OAuth2 => (
                "ak-provider-oauth2-form",
                "OAuth2/OpenID Provider",
                "OAuth2/OpenID Providers",
                "authentik_providers_oauth2.oauth2provider",
            ),
            ProviderKind::Proxy => (
                "ak-provider-proxy-form",
                "Proxy Provider",
                "Proxy Providers",
                "authentik_providers_proxy.proxyprovider",
            ),
        };
        let (slug, name) = row.application.clone().unwrap_or_default();
        Provider {
            pk: p.id.0,
            name: p.name.clone(),
            authentication_flow: p.authentication_flow.map(|f| f.0),
            authorization_flow: p.authorization_flow.0,
            property_mappings: Vec::new(),
            component,
            assigned_application_slug: slug,
            assigned_application_name: name,
            assigned_backchannel_application_slug: String::new(),
            assigned_backchannel_application_name: String::new(),
            verbose_name,
            verbose_name_plural,
            meta_model_name,
        }
    }
}

/// authentik's `OAuth2Provider`, with plexid's `id_token_signing_alg`.
#[derive(Serialize, ToSchema)]
pub struct OAuth2Provider {
    #[serde(flatten)]
    pub base: Provider,
    #[schema(value_type = ClientTypeEnum)]
    pub client_type: String,
    pub client_id: String,
    /// In full only in the answer to the write that set it; masked afterwards.
    pub client_secret: String,
    pub access_code_validity: String,
    pub access_token_validity: String,
    pub refresh_token_validity: String,
    pub include_claims_in_id_token: bool,
    pub signing_key: Option<Uuid>,
    pub redirect_uris: String,
    #[schema(value_type = SubModeEnum)]
    pub sub_mode: String,
    #[schema(value_type = IssuerModeEnum)]
    pub issuer_mode: String,
    pub jwks_sources: Vec<Uuid>,
    /// plexid: `RS256` or `ES256` (keys generated and rotated by plexid).
    pub id_token_signing_alg: String,
}

/// authentik's `ProxyProvider` (forward-auth modes only).
#[derive(Serialize, ToSchema)]
pub struct ProxyProvider {
    #[serde(flatten)]
    pub base: Provider,
    pub client_id: String,
    pub internal_host: String,
    pub external_host: String,
    pub internal_host_ssl_validation: bool,
    pub certificate: Option<Uuid>,
    pub skip_path_regex: String,
    pub basic_auth_enabled: bool,
    pub basic_auth_password_attribute: String,
    pub basic_auth_user_attribute: String,
    #[schema(value_type = ProxyModeSchema)]
    pub mode: String,
    pub intercept_header_auth: bool,
    pub redirect_uris: String,
    pub cookie_domain: String,
    pub jwks_sources: Vec<Uuid>,
    pub access_token_validity: String,
    pub refresh_token_validity: String,
    pub outpost_set: Vec<String>,
}

fn oauth2(saved: Saved) -> OAuth2Provider {
    let p = &saved.row.provider;
    let s = &p.settings;
    OAuth2Provider {
        base: Provider::of(&saved.row),
        client_type: s.client_type.to_string(),
        client_id: p.client_id.clone(),
        client_secret: saved.new_secret.clone().unwrap_or_else(|| masked(p)),
        access_code_validity: s.access_code_validity.clone(),
        access_token_validity: s.access_token_validity.clone(),
        refresh_token_validity: s.refresh_token_validity.clone(),
        include_claims_in_id_token: s.include_claims_in_id_token,
        signing_key: None,
        redirect_uris: s.redirect_uris.clone(),
        sub_mode: s.sub_mode.to_string(),
        issuer_mode: s.issuer_mode.to_string(),
        jwks_sources: Vec::new(),
        id_token_signing_alg: s.signing_alg.to_string(),
    }
}

fn proxy(saved: Saved) -> ProxyProvider {
    let p: &ProviderRecord = &saved.row.provider;
    let s = &p.settings;
    ProxyProvider {
        base: Provider::of(&saved.row),
        client_id: p.client_id.clone(),
        internal_host: String::new(),
        external_host: s.external_host.clone(),
        internal_host_ssl_validation: true,
        certificate: None,
        skip_path_regex: s.skip_path_regex.clone(),
        basic_auth_enabled: false,
        basic_auth_password_attribute: String::new(),
        basic_auth_user_attribute: String::new(),
        mode: s.mode.to_string(),
        intercept_header_auth: s.intercept_header_auth,
        redirect_uris: forward_auth_callback(&s.external_host),
        cookie_domain: s.cookie_domain.clone(),
        jwks_sources: Vec::new(),
        access_token_validity: s.access_token_validity.clone(),
        refresh_token_validity: s.refresh_token_validity.clone(),
        outpost_set: Vec::new(),
    }
}

/// A provider of either kind, serialized as itself (fields in authentik's order).
#[derive(Serialize)]
#[serde(untagged)]
enum Shaped {
    OAuth2(Box<OAuth2Provider>),
    Proxy(Box<ProxyProvider>),
}

fn shape(kind: ProviderKind, saved: Saved) -> Shaped {
    match kind {
        ProviderKind::OAuth2 => Shaped::OAuth2(Box::new(oauth2(saved))),
        ProviderKind::Proxy => Shaped::Proxy(Box::new(proxy(saved))),
    }
}

/// authentik's `OAuth2ProviderRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OAuth2ProviderRequest {
    name: String,
    authentication_flow: Option<Uuid>,
    authorization_flow: Uuid,
    property_mappings: Option<Vec<Uuid>>,
    #[schema(value_type = Option<ClientTypeEnum>)]
    client_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    access_code_validity: Option<String>,
    access_token_validity: Option<String>,
    refresh_token_validity: Option<String>,
    include_claims_in_id_token: Option<bool>,
    signing_key: Option<Uuid>,
    redirect_uris: Option<String>,
    #[schema(value_type = Option<SubModeEnum>)]
    sub_mode: Option<String>,
    #[schema(value_type = Option<IssuerModeEnum>)]
    issuer_mode: Option<String>,
    jwks_sources: Option<Vec<Uuid>>,
    /// plexid: `RS256` (default) or `ES256`.
    id_token_signing_alg: Option<String>,
}

/// authentik's `ProxyProviderRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProxyProviderRequest {
    name: String,
    authentication_flow: Option<Uuid>,
    authorization_flow: Uuid,
    property_mappings: Option<Vec<Uuid>>,
    internal_host: Option<String>,
    external_host: String,
    internal_host_ssl_validation: Option<bool>,
    certificate: Option<Uuid>,
    skip_path_regex: Option<String>,
    basic_auth_enabled: Option<bool>,
    basic_auth_password_attribute: Option<String>,
    basic_auth_user_attribute: Option<String>,
    #[schema(value_type = Option<ProxyModeSchema>)]
    mode: Option<String>,
    intercept_header_auth: Option<bool>,
    cookie_domain: Option<String>,
    jwks_sources: Option<Vec<Uuid>>,
    access_token_validity: Option<String>,
    refresh_token_validity: Option<String>,
}

/// authentik's `OAuth2ProviderSetupURLs`.
#[derive(Serialize, ToSchema)]
pub struct OAuth2ProviderSetupURLs {
    pub issuer: String,
    pub authorize: String,
    pub token: String,
    pub user_info: String,
    pub provider_info: String,
    pub logout: String,
    pub jwks: String,
}

paginated_schema!(PaginatedOAuth2ProviderList, OAuth2Provider);
paginated_schema!(PaginatedProxyProviderList, ProxyProvider);

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ClientTypeEnum {
    Confidential,
    Public,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SubModeEnum {
    HashedUserId,
    UserId,
    UserUuid,
    UserUsername,
    UserEmail,
    UserUpn,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum IssuerModeEnum {
    Global,
    PerProvider,
}

#[derive(ToSchema)]
#[schema(as = ProxyMode, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ProxyModeSchema {
    Proxy,
    ForwardSingle,
    ForwardDomain,
}

/// Refuses a field plexid does not implement unless it carries its empty value.
fn unsupported(body: &mut Body<'_>, name: &str, is_empty: fn(&Value) -> bool, message: &str) {
    if body.raw(name).is_some_and(|v| !is_empty(v)) {
        body.errors.add(name, message);
    }
}

fn empty_list(v: &Value) -> bool {
    v.as_array().is_some_and(Vec::is_empty)
}

fn empty_text(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

fn is_false(v: &Value) -> bool {
    v.as_bool() == Some(false)
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

const NO_MAPPINGS: &str = "plexid does not support property mappings on providers; leave this empty.";
const NO_JWKS: &str = "plexid does not accept JWTs from other sources; leave this empty.";

fn read_common(body: &mut Body<'_>) -> ProviderChanges {
    unsupported(body, "property_mappings", empty_list, NO_MAPPINGS);
    unsupported(body, "jwks_sources", empty_list, NO_JWKS);
    ProviderChanges {
        name: body.text("name", Text::REQUIRED),
        authentication_flow: body.uuid_ref("authentication_flow"),
        authorization_flow: body.required_uuid("authorization_flow"),
        access_token_validity: body.text("access_token_validity", Text::OPTIONAL),
        refresh_token_validity: body.text("refresh_token_validity", Text::OPTIONAL),
        ..Default::default()
    }
}

pub(crate) fn read_oauth2(body: &mut Body<'_>) -> ProviderChanges {
    unsupported(
        body,
        "signing_key",
        Value::is_null,
        "plexid signs ID tokens with its own keys; set id_token_signing_alg (RS256 or ES256) instead.",
    );
    ProviderChanges {
        client_type: body.mode("client_type", ClientType::NAMES, ClientType::parse),
        client_id: body.text("client_id", Text::OPTIONAL.max(255)),
        client_secret: body.text("client_secret", Text::OPTIONAL_BLANK.max(255)),
        access_code_validity: body.text("access_code_validity", Text::OPTIONAL),
        include_claims_in_id_token: body.boolean("include_claims_in_id_token"),
        redirect_uris: body.text("redirect_uris", Text::OPTIONAL_BLANK),
        sub_mode: body.mode("sub_mode", SubMode::NAMES, SubMode::parse),
        issuer_mode: body.mode("issuer_mode", IssuerMode::NAMES, IssuerMode::parse),
        signing_alg: body.mode("id_token_signing_alg", SigningAlg::NAMES, SigningAlg::parse),
        ..read_common(body)
    }
}

pub(crate) fn read_proxy(body: &mut Body<'_>) -> ProviderChanges {
    const NOT_PROXYING: &str = "plexid does not proxy requests (forward-auth only); leave this empty.";
    unsupported(body, "internal_host", empty_text, NOT_PROXYING);
    unsupported(body, "certificate", Value::is_null, NOT_PROXYING);
    unsupported(body, "internal_host_ssl_validation", is_true, NOT_PROXYING);
    unsupported(body, "basic_auth_enabled", is_false, "plexid does not send HTTP basic credentials upstream.");
    unsupported(
        body,
        "basic_auth_password_attribute",
        empty_text,
        "plexid does not send HTTP basic credentials upstream.",
    );
    unsupported(body, "basic_auth_user_attribute", empty_text, "plexid does not send HTTP basic credentials upstream.");
    ProviderChanges {
        external_host: body.text("external_host", Text::REQUIRED),
        mode: body.mode("mode", ProxyMode::NAMES, ProxyMode::parse),
        cookie_domain: body.text("cookie_domain", Text::OPTIONAL_BLANK),
        skip_path_regex: body.text("skip_path_regex", Text::OPTIONAL_BLANK),
        intercept_header_auth: body.boolean("intercept_header_auth"),
        ..read_common(body)
    }
}

fn reader(kind: ProviderKind) -> fn(&mut Body<'_>) -> ProviderChanges {
    match kind {
        ProviderKind::OAuth2 => read_oauth2,
        ProviderKind::Proxy => read_proxy,
    }
}

fn provider_id(id: &str) -> ApiResult<ProviderId> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

/// The list filters authentik's viewsets declare: for OAuth2 providers exact fields and
/// django-filter's choice filters (a value outside the choices is a 400), for proxy providers
/// `…__iexact` lookups.
fn list_filter(kind: ProviderKind, query: &QueryParams, search: Vec<String>) -> ApiResult<ProviderFilter> {
    let mut errors = FieldErrors::default();
    let mut filter = ProviderFilter {
        name: query.filter("name").map(str::to_owned),
        client_id: query.filter("client_id").map(str::to_owned),
        application_isnull: bool_filter(query.get("application__isnull")),
        search,
        ..Default::default()
    };
    match kind {
        ProviderKind::OAuth2 => {
            for (name, choices) in
                [("client_type", ClientType::NAMES), ("sub_mode", SubMode::NAMES), ("issuer_mode", IssuerMode::NAMES)]
            {
                if let Some(value) = choice_filter(query, name, choices, &mut errors) {
                    filter.settings.push((name, value));
                }
            }
        }
        ProviderKind::Proxy => {
            for (param, field) in [
                ("name__iexact", "name"),
                ("mode__iexact", "mode"),
                ("external_host__iexact", "external_host"),
                ("cookie_domain__iexact", "cookie_domain"),
            ] {
                if let Some(value) = query.filter(param) {
                    filter.iexact.push((field, value.to_owned()));
                }
            }
        }
    }
    errors.into_result().map(|()| filter).map_err(ApiError::from)
}

async fn list_kind(state: &AppState, actor: &Actor, kind: ProviderKind, query: &QueryParams) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let args = ListArgs::parse(query, PROVIDER_ORDERING, &[asc("name")])?;
    let filter = list_filter(kind, query, args.search.clone())?;
    let listed = service::list(state, actor, kind, &filter, &args.ordering, args.window()).await?;
    args.respond(listed, |row| shape(kind, Saved { row, new_secret: None }))
}

async fn create_kind(state: &AppState, actor: &Actor, kind: ProviderKind, body: &Value) -> ApiResult<Response> {
    let (changes, errors) = read_body(body, false, reader(kind));
    Ok(created(&shape(kind, service::create(state, actor, kind, changes, errors).await?)))
}

async fn retrieve_kind(state: &AppState, actor: &Actor, kind: ProviderKind, id: &str) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let row = service::get(state, actor, kind, provider_id(id)?).await?;
    Ok(ok(&shape(kind, Saved { row, new_secret: None })))
}

async fn change_kind(
    state: &AppState,
    actor: &Actor,
    kind: ProviderKind,
    id: &str,
    body: &Value,
    partial: bool,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let id = provider_id(id)?;
    let (changes, errors): (ProviderChanges, FieldErrors) = read_body(body, partial, reader(kind));
    Ok(ok(&shape(kind, service::update(state, actor, kind, id, changes, errors).await?)))
}

async fn destroy_kind(state: &AppState, actor: &Actor, kind: ProviderKind, id: &str) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::delete(state, actor, kind, provider_id(id)?).await?;
    Ok(no_content())
}

async fn used_by_kind(state: &AppState, actor: &Actor, kind: ProviderKind, id: &str) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let row = service::get(state, actor, kind, provider_id(id)?).await?;
    let mut entries = Vec::new();
    if let Some((slug, name)) = row.application {
        let app = state.store.read().application_by_slug(&slug).await.map_err(crate::service::ServiceError::from)?;
        if let Some(app) = app {
            entries.push(UsedBy::new("authentik_core", "application", app.id.0, name, "set_null"));
        }
    }
    Ok(ok(&entries))
}

macro_rules! provider_endpoints {
    ($kind:expr, $path:literal, $item:literal, $tag:literal, $model:ty, $request:ty, $paginated:ty, [$($filter:literal),*],
     $list:ident, $create:ident, $retrieve:ident, $update:ident, $partial:ident, $destroy:ident, $used_by:ident) => {
        #[utoipa::path(get, path = $path, tag = $tag,
            params(("name" = Option<String>, Query), ("client_id" = Option<String>, Query), ("application__isnull" = Option<bool>, Query),
                $(($filter = Option<String>, Query),)*
                ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
            responses((status = 200, body = $paginated), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
        pub async fn $list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
            list_kind(&state, &actor, $kind, &query).await
        }

        #[utoipa::path(post, path = $path, tag = $tag, request_body = $request,
            responses((status = 201, body = $model), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
        pub async fn $create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
            create_kind(&state, &actor, $kind, &body).await
        }

        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = i64, Path)),
            responses((status = 200, body = $model), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
        pub async fn $retrieve(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
            retrieve_kind(&state, &actor, $kind, &id).await
        }

        #[utoipa::path(put, path = $item, tag = $tag, params(("id" = i64, Path)), request_body = $request,
            responses((status = 200, body = $model), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
        pub async fn $update(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
            change_kind(&state, &actor, $kind, &id, &body, false).await
        }

        #[utoipa::path(patch, path = $item, tag = $tag, params(("id" = i64, Path)), request_body = $request,
            responses((status = 200, body = $model), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
        pub async fn $partial(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
            change_kind(&state, &actor, $kind, &id, &body, true).await
        }

        #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = i64, Path)),
            responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
        pub async fn $destroy(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
            destroy_kind(&state, &actor, $kind, &id).await
        }

        #[utoipa::path(get, path = concat!($item, "used_by/"), tag = $tag, params(("id" = i64, Path)),
            responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
        pub async fn $used_by(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
            used_by_kind(&state, &actor, $kind, &id).await
        }
    };
}

provider_endpoints!(
    ProviderKind::OAuth2,
    "/providers/oauth2/",
    "/providers/oauth2/{id}/",
    "providers",
    OAuth2Provider,
    OAuth2ProviderRequest,
    PaginatedOAuth2ProviderList,
    ["client_type", "sub_mode", "issuer_mode"],
    list_oauth2,
    create_oauth2,
    retrieve_oauth2,
    update_oauth2,
    partial_update_oauth2,
    destroy_oauth2,
    used_by_oauth2
);

provider_endpoints!(
    ProviderKind::Proxy,
    "/providers/proxy/",
    "/providers/proxy/{id}/",
    "providers",
    ProxyProvider,
    ProxyProviderRequest,
    PaginatedProxyProviderList,
    ["name__iexact", "mode__iexact", "external_host__iexact", "cookie_domain__iexact"],
    list_proxy,
    create_proxy,
    retrieve_proxy,
    update_proxy,
    partial_update_proxy,
    destroy_proxy,
    used_by_proxy
);

/// The OpenID Connect endpoints of a provider, for configuring the client.
#[utoipa::path(get, path = "/providers/oauth2/{id}/setup_urls/", tag = "providers", params(("id" = i64, Path)),
    responses((status = 200, body = OAuth2ProviderSetupURLs), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn setup_urls(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let row = service::get(&state, &actor, ProviderKind::OAuth2, provider_id(&id)?).await?;
    let base = base_url(&state.settings, &headers);
    let app = match &row.application {
        Some((slug, _)) => {
            state.store.read().application_by_slug(slug).await.map_err(crate::service::ServiceError::from)?
        }
        None => None,
    };
    // Without an application authentik answers 200 with the global issuer and null for the
    // per-application URLs; plexid answers "" there, the strings its schema promises.
    let (slug, issuer) = match &app {
        Some(app) => (app.slug.as_str(), oidc::issuer(&base, &row.provider, app)),
        None => ("", format!("{}/", base.trim_end_matches('/'))),
    };
    let e = oidc::endpoints(&base, slug, issuer);
    let per_app = |url: String| if app.is_some() { url } else { String::new() };
    Ok(ok(&OAuth2ProviderSetupURLs {
        issuer: e.issuer,
        authorize: e.authorize,
        token: e.token,
        user_info: e.user_info,
        provider_info: per_app(e.provider_info),
        logout: per_app(e.logout),
        jwks: per_app(e.jwks),
    }))
}
