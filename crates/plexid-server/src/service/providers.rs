//! Providers: OpenID Connect (`oauth2`) and forward-auth (`proxy`). A client secret is stored as
//! a hash and shown once, in the answer to the write that set it (authentik shows it on every
//! read); later reads show a mask, and writing the mask back keeps the secret.

use plexid_core::apps::{bad_validity, parse_validity, redirect_uri_errors, Provider, ProviderSettings};
use plexid_core::modes::{ClientType, FlowDesignation, IssuerMode, ProviderKind, ProxyMode, SigningAlg, SubMode};
use plexid_core::permission::{Action, Model};
use plexid_core::source::random_alphanumeric;
use plexid_core::{FieldErrors, FlowId, Permission, ProviderId};
use plexid_store::apps::{ProviderFilter, ProviderRow};
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::{Conn, ReadWrite};
use uuid::Uuid;

use super::{check, Actor, AppState, ServiceError, ServiceResult};
use crate::crypto::hash_token;

/// What shows in place of a stored client secret.
pub const SECRET_MASK: &str = "********";

pub fn model(kind: ProviderKind) -> Model {
    match kind {
        ProviderKind::OAuth2 => Model::OAuth2Provider,
        ProviderKind::Proxy => Model::ProxyProvider,
    }
}

fn perm(kind: ProviderKind, action: Action) -> Permission {
    Permission::new(action, model(kind))
}

/// A provider write: `None` leaves the field as it is (PATCH) or at its default (POST).
#[derive(Clone, Debug, Default)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub authentication_flow: Option<Option<Uuid>>,
    pub authorization_flow: Option<Uuid>,
    pub client_type: Option<ClientType>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub access_code_validity: Option<String>,
    pub access_token_validity: Option<String>,
    pub refresh_token_validity: Option<String>,
    pub include_claims_in_id_token: Option<bool>,
    pub redirect_uris: Option<String>,
    pub sub_mode: Option<SubMode>,
    pub issuer_mode: Option<IssuerMode>,
    pub signing_alg: Option<SigningAlg>,
    pub external_host: Option<String>,
    pub mode: Option<ProxyMode>,
    pub cookie_domain: Option<String>,
    pub skip_path_regex: Option<String>,
    pub intercept_header_auth: Option<bool>,
}

/// A provider as a write returns it: with the client secret in full when this write set it.
pub struct Saved {
    pub row: ProviderRow,
    pub new_secret: Option<String>,
}

pub const FIELD_ORDER: &[&str] = &[
    "name",
    "authentication_flow",
    "authorization_flow",
    "property_mappings",
    "client_type",
    "client_id",
    "client_secret",
    "access_code_validity",
    "access_token_validity",
    "refresh_token_validity",
    "include_claims_in_id_token",
    "signing_key",
    "redirect_uris",
    "sub_mode",
    "issuer_mode",
    "jwks_sources",
    "internal_host",
    "external_host",
    "internal_host_ssl_validation",
    "certificate",
    "skip_path_regex",
    "basic_auth_enabled",
    "basic_auth_password_attribute",
    "basic_auth_user_attribute",
    "mode",
    "intercept_header_auth",
    "cookie_domain",
    "id_token_signing_alg",
];

/// Applies the changes; returns the new secret if one was set.
fn apply(p: &mut Provider, c: ProviderChanges) -> Option<String> {
    let s: &mut ProviderSettings = &mut p.settings;
    macro_rules! take {
        ($target:expr, $($field:ident),*) => {$( if let Some(v) = c.$field { $target.$field = v; } )*};
    }
    take!(p, name, client_id);
    if let Some(flow) = c.authentication_flow {
        p.authentication_flow = flow.map(FlowId);
    }
    if let Some(flow) = c.authorization_flow {
        p.authorization_flow = FlowId(flow);
    }
    take!(
        s,
        client_type,
        access_code_validity,
        access_token_validity,
        refresh_token_validity,
        include_claims_in_id_token,
        redirect_uris,
        sub_mode,
        issuer_mode,
        signing_alg,
        external_host,
        mode,
        cookie_domain,
        skip_path_regex,
        intercept_header_auth
    );
    if p.kind == ProviderKind::Proxy {
        s.external_host = s.external_host.trim_end_matches('/').to_owned();
    }
    match c.client_secret {
        Some(secret) if secret != masked(p) => Some(set_secret(p, secret)),
        _ => None,
    }
}

fn set_secret(p: &mut Provider, secret: String) -> String {
    p.client_secret_hash = if secret.is_empty() { String::new() } else { hash_token(&secret) };
    p.client_secret_hint = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    secret
}

/// The client secret as reads show it.
pub fn masked(p: &Provider) -> String {
    if p.client_secret_hash.is_empty() {
        String::new()
    } else {
        format!("{SECRET_MASK}{}", p.client_secret_hint)
    }
}

/// The rules authentik's serializers check on a provider, and plexid's own.
fn validate(p: &Provider, errors: &mut FieldErrors) {
    let s = &p.settings;
    for (field, value) in [
        ("access_code_validity", &s.access_code_validity),
        ("access_token_validity", &s.access_token_validity),
        ("refresh_token_validity", &s.refresh_token_validity),
    ] {
        if !errors.has(field) && parse_validity(value).is_none() {
            errors.add(field, bad_validity(value));
        }
    }
    match p.kind {
        ProviderKind::OAuth2 => {
            for message in redirect_uri_errors(&s.redirect_uris) {
                errors.add("redirect_uris", message);
            }
        }
        ProviderKind::Proxy => {
            if !errors.has("external_host") && !plexid_core::apps::is_absolute_http_url(&s.external_host) {
                errors.add("external_host", "Enter a valid URL.");
            }
            if s.mode == ProxyMode::Proxy && !errors.has("mode") {
                errors.add("mode", "plexid does not proxy requests itself; use forward_single or forward_domain.");
            }
            if s.mode == ProxyMode::ForwardDomain && s.cookie_domain.trim().is_empty() && !errors.has("cookie_domain") {
                errors.add("cookie_domain", "A cookie domain is required for forward_domain mode.");
            }
            if !s.skip_path_regex.trim().is_empty() && !errors.has("skip_path_regex") {
                errors.add(
                    "skip_path_regex",
                    "plexid does not support skipping paths; protect them in the proxy instead.",
                );
            }
        }
    }
}

/// Checks the provider's flows, reading through the caller's transaction.
async fn check_flows(conn: &mut Conn<'_, ReadWrite>, p: &Provider, errors: &mut FieldErrors) -> ServiceResult<()> {
    if !errors.has("authorization_flow") {
        match conn.flow_by_id(p.authorization_flow).await? {
            None => errors.add("authorization_flow", plexid_core::errors::does_not_exist(p.authorization_flow)),
            Some(f) if f.designation != FlowDesignation::Authorization => {
                errors.add("authorization_flow", plexid_core::errors::does_not_exist(p.authorization_flow))
            }
            Some(_) => {}
        }
    }
    if let (Some(flow), false) = (p.authentication_flow, errors.has("authentication_flow")) {
        match conn.flow_by_id(flow).await? {
            Some(f) if f.designation == FlowDesignation::Authentication => {}
            _ => errors.add("authentication_flow", plexid_core::errors::does_not_exist(flow)),
        }
    }
    Ok(())
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    kind: ProviderKind,
    filter: &ProviderFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<ProviderRow>> {
    actor.require(perm(kind, Action::View))?;
    Ok(app.store.read().list_providers(kind, filter, ordering, window).await?)
}

pub async fn get(app: &AppState, actor: &Actor, kind: ProviderKind, id: ProviderId) -> ServiceResult<ProviderRow> {
    actor.require(perm(kind, Action::View))?;
    app.store.read().provider_by_id(id).await?.filter(|r| r.provider.kind == kind).ok_or(ServiceError::NotFound)
}

/// A new provider of `kind` from `changes`, validated in the caller's transaction (problems go
/// to `errors`), and the client secret it was given (generated for an OAuth2 provider when none
/// is sent). Nothing is written.
pub(super) async fn prepare_new(
    conn: &mut Conn<'_, ReadWrite>,
    app: &AppState,
    kind: ProviderKind,
    changes: ProviderChanges,
    errors: &mut FieldErrors,
) -> ServiceResult<(Provider, Option<String>)> {
    let mut provider = Provider::new(kind, "", FlowId(Uuid::nil()));
    let generate = changes.client_secret.is_none() && kind == ProviderKind::OAuth2;
    let mut new_secret = apply(&mut provider, changes);
    if generate {
        new_secret = Some(set_secret(&mut provider, random_alphanumeric(128)));
    }
    validate(&provider, errors);
    if kind == ProviderKind::Proxy && app.settings.public_url.is_none() {
        errors.add("non_field_errors", super::forward_auth::NEEDS_PUBLIC_URL);
    }
    check_flows(conn, &provider, errors).await?;
    Ok((provider, new_secret))
}

/// The stored provider `id` (locked in the caller's transaction) with `changes` applied and
/// validated (problems go to `errors`), and the new client secret if the changes set one.
pub(super) async fn prepare_change(
    conn: &mut Conn<'_, ReadWrite>,
    id: ProviderId,
    changes: ProviderChanges,
    errors: &mut FieldErrors,
) -> ServiceResult<(Provider, ProviderRow, Option<String>)> {
    let mut row = conn.provider_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    let before = row.provider.clone();
    let new_secret = apply(&mut row.provider, changes);
    validate(&row.provider, errors);
    check_flows(conn, &row.provider, errors).await?;
    Ok((before, row, new_secret))
}

/// Needs the permission to `action` providers of `kind`.
pub(super) fn require(actor: &Actor, kind: ProviderKind, action: Action) -> ServiceResult<()> {
    actor.require(perm(kind, action))
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    kind: ProviderKind,
    changes: ProviderChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Saved> {
    actor.require(perm(kind, Action::Add))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let (provider, new_secret) = prepare_new(&mut conn, app, kind, changes, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    let id = conn.insert_provider(&provider).await?;
    let row = conn.provider_by_id(id).await?.ok_or_else(|| ServiceError::Internal("provider vanished".into()))?;
    super::audit::created(&mut conn, actor, app.clock.now(), &row.provider).await?;
    tx.commit().await?;
    Ok(Saved { row, new_secret })
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    kind: ProviderKind,
    id: ProviderId,
    changes: ProviderChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Saved> {
    get(app, actor, kind, id).await?;
    actor.require(perm(kind, Action::Change))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let (before, row, new_secret) = prepare_change(&mut conn, id, changes, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.update_provider(&row.provider).await?;
    super::audit::updated(&mut conn, actor, app.clock.now(), &before, &row.provider).await?;
    tx.commit().await?;
    Ok(Saved { row, new_secret })
}

pub async fn delete(app: &AppState, actor: &Actor, kind: ProviderKind, id: ProviderId) -> ServiceResult<()> {
    let row = get(app, actor, kind, id).await?;
    actor.require(perm(kind, Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.delete_provider(id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &row.provider).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Provider {
        Provider::new(ProviderKind::OAuth2, "p", FlowId::random())
    }

    #[test]
    fn secrets_are_hashed_and_the_mask_keeps_them() {
        let mut p = provider();
        let shown = apply(&mut p, ProviderChanges { client_secret: Some("s3cret-value".into()), ..Default::default() });
        assert_eq!(shown.as_deref(), Some("s3cret-value"));
        assert_eq!(p.client_secret_hash, hash_token("s3cret-value"));
        assert_eq!(masked(&p), "********alue");
        let before = p.clone();
        assert_eq!(apply(&mut p, ProviderChanges { client_secret: Some(masked(&before)), ..Default::default() }), None);
        assert_eq!(p, before);
    }

    #[test]
    fn validity_and_redirect_uris_are_checked() {
        let mut p = provider();
        p.settings.access_token_validity = "soon".into();
        p.settings.redirect_uris = "not a url".into();
        let mut errors = FieldErrors::default();
        validate(&p, &mut errors);
        assert!(errors.has("access_token_validity") && errors.has("redirect_uris"));
    }

    #[test]
    fn forward_auth_needs_a_host_and_a_domain_for_domain_mode() {
        let mut p = Provider { kind: ProviderKind::Proxy, ..provider() };
        p.settings.mode = ProxyMode::ForwardDomain;
        let mut errors = FieldErrors::default();
        validate(&p, &mut errors);
        assert!(errors.has("external_host") && errors.has("cookie_domain"));
        p.settings.mode = ProxyMode::Proxy;
        let mut errors = FieldErrors::default();
        validate(&p, &mut errors);
        assert!(errors.has("mode"));
    }
}
