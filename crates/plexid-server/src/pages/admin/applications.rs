//! `/if/admin/applications/`: applications: list, create (an application and its provider in
//! one form: a proxy provider for forward-auth, or an OAuth2/OpenID provider, whose client
//! secret is shown once), the page with the nginx, Caddy and Traefik snippets or the OpenID
//! Connect endpoints to copy, and deletion after a confirmation.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use plexid_core::modes::{AppRelationship, PolicyEngineMode, ProviderKind, ProxyMode};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, Permission};
use plexid_store::apps::ApplicationFilter;
use plexid_store::listing::{OrderTerm, Window};
use serde_json::json;

use super::forms::{checkbox_group, csrf_field, form_errors, input, select, FormData};
use super::{admin_page, confirm_delete_page, failure, permitted, with_status, Admin, Posted};
use crate::api::read_body;
use crate::pages::{escape, PageError};
use crate::service::{applications as service, providers, ServiceError};
use crate::state::AppState;
use crate::web::snippets;

const BASE: &str = "/if/admin/applications/";
/// The flow a provider created here authorizes with (created at first start).
const AUTHORIZATION_FLOW: &str = "default-provider-authorization-implicit-consent";

fn can(admin: &Admin, model: Model, action: Action) -> bool {
    admin.actor.can(Permission::new(action, model))
}

/// `GET /if/admin/applications/`.
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let window = Window::Offset { limit: 200, offset: 0 };
    let listed = service::list(&state, &admin.actor, &ApplicationFilter::default(), &[OrderTerm::asc("name")], window)
        .await
        .map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|a| {
            format!(
                "<tr><td><a href=\"{BASE}{slug}/\">{name}</a></td><td>{slug}</td><td>{rule}</td></tr>",
                slug = escape(&a.slug),
                name = escape(&a.name),
                rule = escape(&rule_text(&a.access)),
            )
        })
        .collect();
    let mut new = String::new();
    if may(&admin, Some(ProviderKind::Proxy), Action::Add).is_ok() {
        new.push_str(&format!("<a class=\"button\" href=\"{BASE}new\">New application behind forward-auth</a> "));
    }
    if may(&admin, Some(ProviderKind::OAuth2), Action::Add).is_ok() {
        new.push_str(&format!(
            "<a class=\"button secondary\" href=\"{BASE}new?kind=oidc\">New OpenID Connect application</a>"
        ));
    }
    if !new.is_empty() {
        new = format!("<p class=\"actions\">{new}</p>");
    }
    let body = format!(
        "<h1>Applications</h1>{new}<p class=\"muted\">{total} application(s).</p>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Who may use it</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        total = listed.total,
    );
    Ok(admin_page(&state, &admin, "Applications", BASE, &body, &[]))
}

/// Who an application admits, in words.
fn rule_text(rules: &plexid_core::apps::AccessRules) -> String {
    let mut parts: Vec<String> = rules.relationships.iter().map(|r| relationship_label(*r).to_owned()).collect();
    if !rules.servers.is_empty() {
        parts.push(format!("members of {}", rules.servers.join(", ")));
    }
    if !rules.groups.is_empty() {
        parts.push(format!("{} group(s)", rules.groups.len()));
    }
    if parts.is_empty() {
        "every signed-in user".into()
    } else if !rules.relationships.is_empty() && rules.source.is_none() {
        format!("{}; no Plex source chosen, so the relationships admit nobody", parts.join(", "))
    } else {
        parts.join(", ")
    }
}

fn relationship_label(r: AppRelationship) -> &'static str {
    match r {
        AppRelationship::Owner => "the Plex owner",
        AppRelationship::Home => "the owner's Plex Home",
        AppRelationship::Friend => "the owner's Plex friends",
        AppRelationship::ServerMember => "members of a server",
    }
}

/// The form's `kind` for a provider of `kind` (none: an application without one).
fn form_kind(kind: Option<ProviderKind>) -> &'static str {
    match kind {
        Some(ProviderKind::OAuth2) => "oidc",
        Some(_) => "proxy",
        None => "none",
    }
}

/// What the form shows (new, or submitted with errors).
#[derive(Default)]
struct AppForm {
    /// `oidc` for an OAuth2/OpenID provider; anything else, forward-auth.
    kind: String,
    name: String,
    slug: String,
    external_host: String,
    mode: String,
    cookie_domain: String,
    relationships: Vec<String>,
    servers: String,
    /// The pk of the source whose relationships count (empty: none chosen).
    access_source: String,
    /// The sources to choose from: (pk, name).
    sources: Vec<(String, String)>,
    policy_engine_mode: String,
    client_type: String,
    redirect_uris: String,
}

impl AppForm {
    fn oidc(&self) -> bool {
        self.kind == "oidc"
    }

    /// The kind of the application's provider (`kind` `none`: an application without one,
    /// which only the edit form meets).
    fn provider_kind(&self) -> Option<ProviderKind> {
        match self.kind.as_str() {
            "oidc" => Some(ProviderKind::OAuth2),
            "none" => None,
            _ => Some(ProviderKind::Proxy),
        }
    }

    /// The form for changing a stored application and its provider.
    fn stored(shown: &service::Shown) -> Self {
        let app = &shown.app;
        let mut values = AppForm {
            kind: form_kind(None).into(),
            name: app.name.clone(),
            slug: app.slug.clone(),
            relationships: app.access.relationships.iter().map(|r| r.as_str().to_owned()).collect(),
            servers: app.access.servers.join(", "),
            access_source: app.access.source.map(|s| s.0.to_string()).unwrap_or_default(),
            policy_engine_mode: app.policy_engine_mode.as_str().into(),
            ..Default::default()
        };
        if let Some(row) = &shown.provider {
            let settings = &row.provider.settings;
            values.kind = form_kind(Some(row.provider.kind)).into();
            values.external_host = settings.external_host.clone();
            values.mode = settings.mode.as_str().into();
            values.cookie_domain = settings.cookie_domain.clone();
            values.client_type = settings.client_type.as_str().into();
            values.redirect_uris = settings.redirect_uris.clone();
        }
        values
    }

    fn submitted(form: &FormData) -> Self {
        let text = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        AppForm {
            name: text("name"),
            slug: text("slug"),
            external_host: text("external_host"),
            mode: text("mode"),
            cookie_domain: text("cookie_domain"),
            relationships: form.all("access_relationships"),
            servers: text("access_servers"),
            access_source: text("access_source"),
            sources: Vec::new(),
            policy_engine_mode: text("policy_engine_mode"),
            kind: text("kind"),
            client_type: text("client_type"),
            redirect_uris: form.get("redirect_uris").unwrap_or_default().to_owned(),
        }
    }

    /// The provider's changes read by the API's reader, with their errors: a new provider
    /// authorizes with `flow`; a stored one (`flow` `None`) keeps its flow and secret.
    fn provider_changes(&self, flow: Option<&str>) -> (providers::ProviderChanges, FieldErrors) {
        let mut body = if self.oidc() {
            json!({"name": self.name, "client_type": self.client_type, "redirect_uris": self.redirect_uris})
        } else {
            json!({"name": self.name, "external_host": self.external_host, "mode": self.mode,
                   "cookie_domain": self.cookie_domain})
        };
        if let Some(flow) = flow {
            body["authorization_flow"] = json!(flow);
        }
        let reader = if self.oidc() { crate::api::providers::read_oauth2 } else { crate::api::providers::read_proxy };
        read_body(&body, flow.is_none(), reader)
    }

    /// The application's changes read by the API's reader, with their errors. A new
    /// application has no group rule; a stored one keeps its groups and its provider.
    fn application_changes(&self, new: bool) -> (service::ApplicationChanges, FieldErrors) {
        let servers: Vec<&str> =
            self.servers.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
        let source = Some(self.access_source.as_str()).filter(|s| !s.is_empty());
        let mut body = json!({"name": self.name, "slug": self.slug, "policy_engine_mode": self.policy_engine_mode,
                              "access_relationships": self.relationships, "access_servers": servers,
                              "access_source": source});
        if new {
            body["access_groups"] = json!([]);
        }
        read_body(&body, !new, crate::api::applications::read_application)
    }

    /// Both parts, read together for the service's one-transaction writes.
    fn with_provider(&self, kind: ProviderKind, flow: Option<&str>) -> service::WithProvider {
        let (application, application_errors) = self.application_changes(flow.is_some());
        let (provider, provider_errors) = self.provider_changes(flow);
        service::WithProvider { application, application_errors, kind, provider, provider_errors }
    }
}

/// Where a form posts and what its button says: a new application, or a stored one.
struct FormTarget {
    action: String,
    title: String,
    submit: &'static str,
    cancel: String,
}

impl FormTarget {
    fn new() -> Self {
        FormTarget {
            action: format!("{BASE}new"),
            title: "New application".into(),
            submit: "Create application",
            cancel: BASE.into(),
        }
    }

    fn edit(slug: &str, name: &str) -> Self {
        let page = format!("{BASE}{}/", escape(slug));
        FormTarget {
            action: format!("{page}edit"),
            title: format!("Edit {name}"),
            submit: "Save changes",
            cancel: page,
        }
    }
}

fn form_html(admin: &Admin, target: &FormTarget, values: &AppForm, errors: &FieldErrors) -> String {
    let relationships: Vec<(String, String, bool)> = AppRelationship::ALL
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                relationship_label(*r).to_owned(),
                values.relationships.iter().any(|v| v == r.as_str()),
            )
        })
        .collect();
    let modes = vec![
        ("forward_single".to_owned(), "One application (forward_single)".to_owned()),
        ("forward_domain".to_owned(), "Every application under a domain (forward_domain)".to_owned()),
    ];
    let engines: Vec<(String, String)> =
        vec![("any".into(), "any rule admits (any)".into()), ("all".into(), "every rule must admit (all)".into())];
    let provider = if values.provider_kind().is_none() {
        String::new()
    } else if values.oidc() {
        let types = vec![
            ("confidential".to_owned(), "Confidential (a server-side app with a client secret)".to_owned()),
            ("public".to_owned(), "Public (a browser or mobile app; PKCE required)".to_owned()),
        ];
        format!(
            "<section class=\"card\" aria-labelledby=\"fa\"><h2 id=\"fa\">OpenID Connect</h2>{types}{uris}</section>",
            types = select("client_type", "Client type", &types, &values.client_type, errors),
            uris = super::forms::textarea(
                "redirect_uris",
                "Redirect URIs",
                &values.redirect_uris,
                3,
                "One per line; matched exactly.",
                errors
            ),
        )
    } else {
        format!(
            "<section class=\"card\" aria-labelledby=\"fa\"><h2 id=\"fa\">Forward-auth</h2>{host}{mode}{cookie}</section>",
            host = input("text", "external_host", "External address", &values.external_host, "The address people open, such as https://tautulli.example.com.", errors),
            mode = select("mode", "Mode", &modes, &values.mode, errors),
            cookie = input("text", "cookie_domain", "Cookie domain", &values.cookie_domain, "Only for forward_domain, such as example.com.", errors),
        )
    };
    format!(
        "{alert}<form method=\"post\" action=\"{action}\" id=\"app-form\" novalidate>{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
         <section class=\"card\" aria-labelledby=\"app\"><h2 id=\"app\">Application</h2>{name}{slug}</section>{provider}\
         <section class=\"card\" aria-labelledby=\"who\"><h2 id=\"who\">Who may use it</h2>{rels}{source}{servers}{engine}</section>\
         <p><button type=\"submit\">{submit}</button> <a href=\"{cancel}\">Cancel</a></p></form>",
        alert = form_errors(errors),
        action = target.action,
        submit = target.submit,
        cancel = target.cancel,
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", &values.name, "", errors),
        slug = input("text", "slug", "Slug", &values.slug, "", errors),
        kind = form_kind(values.provider_kind()),
        rels = checkbox_group("access_relationships", "Plex relationships", &relationships, "No rule at all admits every signed-in user.", errors),
        source = select("access_source", "Whose relationships (Plex source)", &source_options(values), &values.access_source, errors),
        servers = input("text", "access_servers", "Servers", &values.servers, "Comma-separated clientIdentifiers, for “members of a server”.", errors),
        engine = select("policy_engine_mode", "Combining the rules", &engines, &values.policy_engine_mode, errors),
    )
}

/// The sources to choose from, after "none" (relationship rules then admit nobody).
fn source_options(values: &AppForm) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), "None chosen (relationship rules admit nobody)".to_owned())];
    options.extend(values.sources.iter().cloned());
    options
}

/// Every source, as (pk, name), for the form's choice.
async fn source_choices(state: &AppState) -> Result<Vec<(String, String)>, PageError> {
    let mut conn = state.store.read();
    let ids = conn.source_ids().await.map_err(|e| PageError::internal(&e))?;
    let sources = conn.sources_by_ids(&ids).await.map_err(|e| PageError::internal(&e))?;
    Ok(sources.into_iter().map(|s| (s.id.0.to_string(), s.name)).collect())
}

fn form_page(state: &AppState, admin: &Admin, target: &FormTarget, values: &AppForm, errors: &FieldErrors) -> Response {
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{title}</h1>{form}",
        title = escape(&target.title),
        form = form_html(admin, target, values, errors)
    );
    with_status(admin_page(state, admin, &target.title, BASE, &body, &[]), errors)
}

/// Whether the admin may `action` applications and their providers of `kind` (none: the
/// application alone).
fn may(admin: &Admin, kind: Option<ProviderKind>, action: Action) -> Result<(), PageError> {
    let provider = kind.is_none_or(|kind| can(admin, providers::model(kind), action));
    permitted(can(admin, Model::Application, action) && provider)
}

/// A refused form again with the service's errors, or the failure.
fn refused(
    state: &AppState,
    admin: &Admin,
    target: &FormTarget,
    values: &AppForm,
    error: ServiceError,
) -> Result<Response, PageError> {
    match error {
        ServiceError::Invalid(errors) => Ok(form_page(state, admin, target, values, &errors)),
        other => Err(failure(other)),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct KindQuery {
    #[serde(default)]
    kind: String,
}

/// `GET /if/admin/applications/new` (`?kind=oidc`: with an OAuth2/OpenID provider).
pub async fn new_form(
    State(state): State<AppState>,
    admin: Admin,
    axum::extract::Query(q): axum::extract::Query<KindQuery>,
) -> Result<Response, PageError> {
    let sources = source_choices(&state).await?;
    let values = AppForm {
        kind: q.kind,
        mode: ProxyMode::ForwardSingle.as_str().into(),
        policy_engine_mode: PolicyEngineMode::Any.as_str().into(),
        client_type: "confidential".into(),
        // With one source there is nothing to choose.
        access_source: match sources.as_slice() {
            [(only, _)] => only.clone(),
            _ => String::new(),
        },
        sources,
        ..Default::default()
    };
    may(&admin, values.provider_kind(), Action::Add)?;
    Ok(form_page(&state, &admin, &FormTarget::new(), &values, &FieldErrors::default()))
}

/// `POST /if/admin/applications/new`: the provider and the application using it, validated
/// together and written in one transaction, so a refused form leaves nothing behind.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let mut values = AppForm::submitted(&form);
    values.sources = source_choices(&state).await?;
    if values.kind == "none" {
        values.kind.clear();
    }
    let kind = values.provider_kind().unwrap_or(ProviderKind::Proxy);
    may(&admin, Some(kind), Action::Add)?;
    let flow = state.store.read().flow_by_slug(AUTHORIZATION_FLOW).await.map_err(|e| PageError::internal(&e))?;
    let flow = flow.map(|f| f.id.0.to_string()).unwrap_or_default();
    let target = FormTarget::new();
    match service::create_with_provider(&state, &admin.actor, values.with_provider(kind, Some(&flow))).await {
        // A confidential client's secret exists in full only now: shown once, on this answer
        // (a public client does not use one).
        Ok((shown, secret)) => match secret.filter(|_| values.client_type != "public") {
            Some(secret) => Ok(secret_page(&state, &admin, &shown, &secret)),
            None => Ok(Redirect::to(&format!("{BASE}{}/", shown.app.slug)).into_response()),
        },
        Err(error) => refused(&state, &admin, &target, &values, error),
    }
}

/// `GET /if/admin/applications/{slug}/edit`: the form, filled from the application and its
/// provider.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let mut values = AppForm::stored(&shown);
    values.sources = source_choices(&state).await?;
    may(&admin, values.provider_kind(), Action::Change)?;
    let target = FormTarget::edit(&shown.app.slug, &shown.app.name);
    Ok(form_page(&state, &admin, &target, &values, &FieldErrors::default()))
}

/// `POST /if/admin/applications/{slug}/edit`: the application and its provider, changed together
/// in one transaction (the provider keeps its flow and its client secret).
pub async fn update(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let mut values = AppForm::submitted(&form);
    values.sources = source_choices(&state).await?;
    // The provider's kind is the stored one, whatever the form says.
    values.kind = form_kind(shown.provider.as_ref().map(|row| row.provider.kind)).into();
    let kind = values.provider_kind();
    may(&admin, kind, Action::Change)?;
    let target = FormTarget::edit(&shown.app.slug, &shown.app.name);
    let saved = match kind {
        Some(kind) => service::update_with_provider(&state, &admin.actor, &slug, values.with_provider(kind, None))
            .await
            .map(|(shown, _)| shown),
        None => {
            let (changes, errors) = values.application_changes(false);
            service::update(&state, &admin.actor, &slug, changes, errors).await
        }
    };
    match saved {
        Ok(shown) => Ok(Redirect::to(&format!("{BASE}{}/", shown.app.slug)).into_response()),
        Err(error) => refused(&state, &admin, &target, &values, error),
    }
}

/// `GET /if/admin/applications/{slug}/`: the rule and the snippets for the reverse proxy.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let plexid = state.settings.public_url.clone().unwrap_or_else(|| "http://PLEXID_PUBLIC_URL".into());
    let plexid = plexid.trim_end_matches('/');
    let setup = match &shown.provider {
        Some(row) if row.provider.kind == ProviderKind::Proxy => {
            let s = &row.provider.settings;
            let scheme = if s.external_host.starts_with("https://") { "https" } else { "http" };
            let example = format!("{scheme}://app.{}", s.cookie_domain.trim_start_matches('.'));
            let target = snippets::Target::of(&row.provider, plexid, &example);
            let domain_note = if s.mode == ProxyMode::ForwardDomain {
                "<p>Each application under the domain gets its own server block or site, with its own address \
                 where these say <code>app.</code>.</p>"
            } else {
                ""
            };
            format!(
                "<section class=\"card\" aria-labelledby=\"setup\"><h2 id=\"setup\">Reverse proxy</h2>\
                 <p>External address: <code>{host}</code> ({mode}).</p>{domain_note}\
                 <h3>nginx</h3><pre><code>{nginx}</code></pre><h3>Caddy</h3><pre><code>{caddy}</code></pre>\
                 <h3>Traefik</h3><pre><code>{traefik}</code></pre></section>",
                host = escape(&s.external_host),
                mode = s.mode.as_str(),
                nginx = escape(&snippets::nginx(&target)),
                caddy = escape(&snippets::caddy(&target)),
                traefik = escape(&snippets::traefik(&target)),
            )
        }
        Some(row) => oidc_section(&state, &row.provider, &shown.app),
        None => String::new(),
    };
    let page = format!("{BASE}{}/", escape(&shown.app.slug));
    let kind = shown.provider.as_ref().map(|row| row.provider.kind);
    let delete = super::edit_delete(
        &page,
        may(&admin, kind, Action::Change).is_ok(),
        can(&admin, Model::Application, Action::Delete),
    );
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{name}</h1>{delete}\
         <section class=\"card\" aria-labelledby=\"rule\"><h2 id=\"rule\">Who may use it</h2><p>{rule} ({engine})</p></section>{setup}",
        name = escape(&shown.app.name),
        rule = escape(&match shown.app.access.source.filter(|_| !shown.app.access.relationships.is_empty()) {
            Some(id) => {
                let source = state.store.read().source_by_id(id).await.map_err(|e| PageError::internal(&e))?;
                format!("{} (through {})", rule_text(&shown.app.access), source.map(|s| s.name).unwrap_or_default())
            }
            None => rule_text(&shown.app.access),
        }),
        engine = shown.app.policy_engine_mode.as_str(),
    );
    Ok(admin_page(&state, &admin, &shown.app.name, BASE, &body, &[]))
}

/// The client id and the endpoints a relying party needs.
fn oidc_section(
    state: &AppState,
    provider: &plexid_core::apps::Provider,
    app: &plexid_core::apps::Application,
) -> String {
    let base = state.settings.public_url.clone().unwrap_or_else(|| "http://PLEXID_PUBLIC_URL".into());
    let issuer = crate::service::oidc::issuer(&base, provider, app);
    let e = crate::service::oidc::endpoints(&base, &app.slug, issuer);
    let rows: String = [
        ("Client ID", provider.client_id.as_str()),
        ("Issuer", e.issuer.as_str()),
        ("Discovery", e.provider_info.as_str()),
        ("Authorize", e.authorize.as_str()),
        ("Token", e.token.as_str()),
        ("User info", e.user_info.as_str()),
        ("JWKS", e.jwks.as_str()),
        ("End session", e.logout.as_str()),
    ]
    .iter()
    .map(|(label, value)| format!("<dt>{label}</dt><dd><code>{}</code></dd>", escape(value)))
    .collect();
    let secret = match provider.client_secret_hint.as_str() {
        "" => String::new(),
        hint => format!(
            "<dt>Client secret</dt><dd>ends in <code>{}</code> (shown in full only when it was made)</dd>",
            escape(hint)
        ),
    };
    format!(
        "<section class=\"card\" aria-labelledby=\"setup\"><h2 id=\"setup\">OpenID Connect</h2><dl class=\"facts\">{rows}{secret}</dl></section>"
    )
}

/// The answer to creating an application with a confidential OAuth2 provider: its client secret,
/// this once (never cached), and the endpoints.
fn secret_page(state: &AppState, admin: &Admin, shown: &service::Shown, secret: &str) -> Response {
    let setup = shown.provider.as_ref().map(|row| oidc_section(state, &row.provider, &shown.app)).unwrap_or_default();
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{name}</h1><div class=\"card\" role=\"status\">\
         <p>The client secret, shown this once: copy it into the application now.</p><pre><code id=\"client-secret\">{secret}</code></pre>\
         <p><a href=\"{BASE}{slug}/\">Done</a></p></div>{setup}",
        name = escape(&shown.app.name),
        secret = escape(secret),
        slug = escape(&shown.app.slug),
    );
    let mut response = admin_page(state, admin, &shown.app.name, BASE, &body, &[]);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

/// `GET /if/admin/applications/{slug}/delete`.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    permitted(can(&admin, Model::Application, Action::Delete))?;
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    // The provider goes too when ticked (the default), if the admin may delete it.
    let provider = match &shown.provider {
        Some(row) if can(&admin, providers::model(row.provider.kind), Action::Delete) => format!(
            "<div class=\"field check\"><input type=\"checkbox\" id=\"with_provider\" name=\"with_provider\" value=\"on\" \
             checked form=\"delete-form\"><label for=\"with_provider\">Delete its provider, {name}, too</label>\
             <p class=\"hint\">Otherwise it stays, unassigned, and can only be reached through the API.</p></div>",
            name = escape(&row.provider.name)
        ),
        Some(row) => format!("<p>Its provider, {}, stays, unassigned.</p>", escape(&row.provider.name)),
        None => String::new(),
    };
    let consequences =
        format!("<p>People signed in to it through forward-auth or OpenID Connect lose access at once.</p>{provider}");
    let page = format!("{BASE}{}/", shown.app.slug);
    Ok(confirm_delete_page(&state, &admin, BASE, &page, &shown.app.name, &consequences))
}

/// `POST /if/admin/applications/{slug}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    service::delete(&state, &admin.actor, &slug, form.ticked("with_provider")).await.map_err(failure)?;
    Ok(Redirect::to(BASE).into_response())
}
