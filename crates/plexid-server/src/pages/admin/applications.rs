//! `/if/admin/applications/`: applications: list, create (an application and its provider in
//! one form: a proxy provider for forward-auth, or an OAuth2/OpenID provider, whose client
//! secret is shown once), the page with the nginx, Caddy and Traefik snippets or the OpenID
//! Connect endpoints to copy, and deletion after a confirmation.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use plexid_core::modes::{AppRelationship, PolicyEngineMode, ProviderKind, ProxyMode};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, Permission};
use plexid_store::apps::ApplicationFilter;
use plexid_store::listing::{OrderTerm, Window};
use serde_json::json;

use super::forms::{
    checkbox_group, copy_block, copy_inline, csrf_field, form_errors, input, input_with, select, select_hinted,
    FormData,
};
use super::{admin_page, confirm_delete_page, done, failure, permitted, with_status, Admin, Posted};
use crate::api::read_body;
use crate::pages::text::{choice_options, count, relationship_choice, rule, ServerNames};
use crate::pages::{escape, PageError};
use crate::service::{applications as service, groups, providers, sources, ServiceError};
use crate::state::AppState;
use crate::web::{cookies, snippets};

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
    let servers = ServerNames(sources::server_names(&state).await.map_err(failure)?);
    let mut rows = String::new();
    for a in &listed.rows {
        rows.push_str(&format!(
            "<tr><td><a href=\"{BASE}{slug}/\">{name}</a></td><td>{slug}</td><td>{rule}</td></tr>",
            slug = escape(&a.slug),
            name = escape(&a.name),
            rule = escape(&rule_in_words(&state, a, &servers).await?),
        ));
    }
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
        "<h1>Applications</h1>{new}<p class=\"muted\">{total}.</p>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Who may use it</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        total = count(listed.total, "application", "applications"),
    );
    Ok(admin_page(&state, &admin, "Applications", BASE, &body, &[]))
}

/// Who an application admits, in words (groups, servers and its source by name).
async fn rule_in_words(
    state: &AppState,
    a: &plexid_core::apps::Application,
    servers: &ServerNames,
) -> Result<String, PageError> {
    let (groups, source) = service::rule_names(state, a).await.map_err(failure)?;
    Ok(rule(&a.access, a.policy_engine_mode, &groups, source.as_deref(), servers))
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
    /// The ticked servers (client identifiers).
    servers: Vec<String>,
    /// Server identifiers typed in (for servers no source's picker named).
    servers_other: String,
    /// The ticked groups (pks).
    groups: Vec<String>,
    /// The groups to choose from: (pk, name); `None`: the admin may not list groups (the
    /// stored ones are kept).
    group_choices: Option<Vec<(String, String)>>,
    /// The servers to choose from: (client identifier, "name (source)").
    server_choices: Vec<(String, String)>,
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
            servers: app.access.servers.clone(),
            groups: app.access.groups.iter().map(|g| g.0.to_string()).collect(),
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
            servers: form.all("access_servers"),
            servers_other: text("access_servers_other"),
            groups: form.all("access_groups"),
            group_choices: None,
            server_choices: Vec::new(),
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

    /// The ticked servers and those typed in, without repeats.
    fn all_servers(&self) -> Vec<String> {
        let typed = self.servers_other.split([',', ' ', '\n']).map(str::trim).map(str::to_owned);
        let mut servers: Vec<String> = Vec::new();
        for id in self.servers.iter().cloned().chain(typed) {
            if !id.is_empty() && !servers.contains(&id) {
                servers.push(id);
            }
        }
        servers
    }

    /// The application's changes read by the API's reader, with their errors. A stored one
    /// keeps its provider, and its groups when the admin may not list groups.
    fn application_changes(&self, new: bool) -> (service::ApplicationChanges, FieldErrors) {
        let source = Some(self.access_source.as_str()).filter(|s| !s.is_empty());
        let mut body = json!({"name": self.name, "slug": self.slug, "policy_engine_mode": self.policy_engine_mode,
                              "access_relationships": self.relationships, "access_servers": self.all_servers(),
                              "access_source": source});
        if self.group_choices.is_some() {
            body["access_groups"] = json!(self.groups);
        } else if new {
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
                relationship_choice(*r).to_owned(),
                values.relationships.iter().any(|v| v == r.as_str()),
            )
        })
        .collect();
    let modes = vec![
        ("forward_single".to_owned(), "One application (forward_single)".to_owned()),
        ("forward_domain".to_owned(), "Every application under a domain (forward_domain)".to_owned()),
    ];
    let engines = choice_options("policy_engine_mode", PolicyEngineMode::NAMES);
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
         <section class=\"card\" aria-labelledby=\"who\"><h2 id=\"who\">Who may use it</h2>\
         <p class=\"hint\">No rule at all admits everyone who can sign in.</p>{groups}{rels}{source}{servers}{other}{engine}</section>\
         <p><button type=\"submit\">{submit}</button> <a href=\"{cancel}\">Cancel</a></p></form>",
        alert = form_errors(errors),
        action = target.action,
        submit = target.submit,
        cancel = target.cancel,
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", &values.name, "What people see in their list of applications.", errors),
        slug = input_with("text", "slug", "Slug", &values.slug, "Letters, numbers, underscores or hyphens; part of its addresses. Filled from the name.", errors, if target.submit == "Create application" { " data-slug-from=\"name\"" } else { "" }),
        kind = form_kind(values.provider_kind()),
        groups = group_field(values, errors),
        rels = checkbox_group("access_relationships", "Plex relationships", &relationships, "People with one of these relationships to the Plex server's owner.", errors),
        source = select_hinted("access_source", "Whose Plex server", &source_options(values), &values.access_source, "The Plex source whose owner, friends and servers the relationships are counted with.", errors),
        servers = checkbox_group("access_servers", "Servers (for “members of the owner's servers”)", &server_items(values), "Only members of the ticked servers; none ticked: of any server the source allows.", errors),
        other = input("text", "access_servers_other", "Other server identifiers", &values.servers_other, "Comma-separated client identifiers, for servers no source lists.", &FieldErrors::default()),
        engine = select_hinted("policy_engine_mode", "Combining the rules", &engines, &values.policy_engine_mode, "With several rules: whether one is enough (authentik's policy engine mode).", errors),
    )
}

/// The groups whose members the application admits (checkboxes), or nothing when the admin may
/// not list groups (the stored ones are kept).
fn group_field(values: &AppForm, errors: &FieldErrors) -> String {
    let Some(choices) = &values.group_choices else { return String::new() };
    let items: Vec<(String, String, bool)> =
        choices.iter().map(|(id, name)| (id.clone(), name.clone(), values.groups.contains(id))).collect();
    checkbox_group("access_groups", "Groups", &items, "Members of these groups (and of their subgroups).", errors)
}

/// The servers to tick: every source's allowed servers by name, and the ticked ones no source
/// lists.
fn server_items(values: &AppForm) -> Vec<(String, String, bool)> {
    let mut items: Vec<(String, String, bool)> = values
        .server_choices
        .iter()
        .map(|(id, label)| (id.clone(), label.clone(), values.servers.contains(id)))
        .collect();
    for id in &values.servers {
        if !items.iter().any(|(known, ..)| known == id) {
            items.push((id.clone(), format!("{id} (no source lists it)"), true));
        }
    }
    items
}

/// The sources to choose from, after "none" (relationship rules then admit nobody).
fn source_options(values: &AppForm) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), "None chosen (relationship rules admit nobody)".to_owned())];
    options.extend(values.sources.iter().cloned());
    options
}

/// Fills in what the form offers: every source (pk, name), their servers by name, and the
/// groups (when the admin may list them).
async fn fill_choices(state: &AppState, admin: &Admin, values: &mut AppForm) -> Result<(), PageError> {
    let mut conn = state.store.read();
    let ids = conn.source_ids().await.map_err(|e| PageError::internal(&e))?;
    let sources = conn.sources_by_ids(&ids).await.map_err(|e| PageError::internal(&e))?;
    let names = ServerNames(sources::server_names(state).await.map_err(failure)?);
    values.server_choices = sources
        .iter()
        .flat_map(|s| s.allowed_servers.iter().map(move |id| (id, s)))
        .map(|(id, s)| (id.clone(), format!("{} ({})", names.name(id), s.name)))
        .collect();
    values.sources = sources.into_iter().map(|s| (s.id.0.to_string(), s.name)).collect();
    if admin.actor.can(groups::VIEW) {
        let all = groups::by_name(state, &admin.actor, 1000).await.map_err(failure)?;
        values.group_choices = Some(all.into_iter().map(|g| (g.id.0.to_string(), g.name)).collect());
    }
    Ok(())
}

fn form_page(state: &AppState, admin: &Admin, target: &FormTarget, values: &AppForm, errors: &FieldErrors) -> Response {
    // Forward-auth cannot work until plexid knows its public address: said before the form.
    let notice = if state.settings.public_url.is_none() && values.provider_kind() == Some(ProviderKind::Proxy) {
        format!(
            "<div class=\"notice\" role=\"note\" id=\"public-url-notice\"><p>{}</p></div>",
            escape(crate::service::forward_auth::NEEDS_PUBLIC_URL)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{title}</h1>{notice}{form}",
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
    let mut values = AppForm {
        kind: q.kind,
        mode: ProxyMode::ForwardSingle.as_str().into(),
        policy_engine_mode: PolicyEngineMode::Any.as_str().into(),
        client_type: "confidential".into(),
        ..Default::default()
    };
    fill_choices(&state, &admin, &mut values).await?;
    // With one source there is nothing to choose.
    if let [(only, _)] = values.sources.as_slice() {
        values.access_source = only.clone();
    }
    may(&admin, values.provider_kind(), Action::Add)?;
    Ok(form_page(&state, &admin, &FormTarget::new(), &values, &FieldErrors::default()))
}

/// How long the page after creating an OAuth2 application may show its client secret.
const REVEAL_SECONDS: i64 = 10 * 60;

/// `POST /if/admin/applications/new`: the provider and the application using it, validated
/// together and written in one transaction, so a refused form leaves nothing behind.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let mut values = AppForm::submitted(&form);
    fill_choices(&state, &admin, &mut values).await?;
    if values.kind == "none" {
        values.kind.clear();
    }
    let kind = values.provider_kind().unwrap_or(ProviderKind::Proxy);
    may(&admin, Some(kind), Action::Add)?;
    let flow = state.store.read().flow_by_slug(AUTHORIZATION_FLOW).await.map_err(|e| PageError::internal(&e))?;
    let flow = flow.map(|f| f.id.0.to_string()).unwrap_or_default();
    let target = FormTarget::new();
    match service::create_with_provider(&state, &admin.actor, values.with_provider(kind, Some(&flow))).await {
        Ok((shown, secret)) => {
            let page = format!("{BASE}{}/", shown.app.slug);
            let message = format!("Created the application {}.", shown.app.name);
            // A confidential client's secret exists in full only now: the next page shows it,
            // from an encrypted cookie that lives a few minutes (a public client uses none).
            match secret.filter(|_| values.client_type != "public") {
                Some(secret) => {
                    let mut response = done(&state, &format!("{page}secret"), &message);
                    let value = state.secrets.encrypt(&format!("{}\n{secret}", shown.app.slug));
                    cookies::set_brief(&mut response, &state.settings, cookies::REVEAL, &value, REVEAL_SECONDS);
                    Ok(response)
                }
                None => Ok(done(&state, &page, &message)),
            }
        }
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
    fill_choices(&state, &admin, &mut values).await?;
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
    fill_choices(&state, &admin, &mut values).await?;
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
        Ok(shown) => Ok(done(
            &state,
            &format!("{BASE}{}/", shown.app.slug),
            &format!("Saved the application {}.", shown.app.name),
        )),
        Err(error) => refused(&state, &admin, &target, &values, error),
    }
}

/// plexid's address for the snippets and endpoints: `PLEXID_PUBLIC_URL`, else the address this
/// page was opened at, with a notice that forward-auth needs the setting.
fn plexid_address(state: &AppState, headers: &HeaderMap) -> (String, String) {
    let base = crate::web::base_url(&state.settings, headers);
    let notice = if state.settings.public_url.is_some() {
        String::new()
    } else {
        format!(
            "<div class=\"notice\" role=\"note\" id=\"public-url-notice\"><p><strong>Set <code>PLEXID_PUBLIC_URL</code> first.</strong> \
             plexid does not know the address people reach it at, so these use the one this page was opened at \
             (<code>{base}</code>). Forward-auth sends browsers to plexid's address to sign in: start plexid with \
             <code>PLEXID_PUBLIC_URL</code> (or <code>--public-url</code>) set to it, such as \
             <code>https://plexid.example.com</code>, then copy these.</p></div>",
            base = escape(&base),
        )
    };
    (base, notice)
}

/// `GET /if/admin/applications/{slug}/`: the rule and the snippets for the reverse proxy.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let (plexid, notice) = plexid_address(&state, &headers);
    let setup = match &shown.provider {
        Some(row) if row.provider.kind == ProviderKind::Proxy => {
            let s = &row.provider.settings;
            let scheme = if s.external_host.starts_with("https://") { "https" } else { "http" };
            let example = format!("{scheme}://app.{}", s.cookie_domain.trim_start_matches('.'));
            let target = snippets::Target::of(&row.provider, &plexid, &example);
            let domain_note = if s.mode == ProxyMode::ForwardDomain {
                "<p>Each application under the domain gets its own server block or site, with its own address \
                 where these say <code>app.</code>.</p>"
            } else {
                ""
            };
            format!(
                "<section class=\"card\" aria-labelledby=\"setup\"><h2 id=\"setup\">Reverse proxy</h2>{notice}\
                 <p>External address: <code>{host}</code> ({mode}). Paste one of these into your reverse proxy's \
                 configuration; <code>your-app:8080</code> is where the application itself listens.</p>{domain_note}\
                 <h3>nginx</h3>{nginx}<h3>Caddy</h3>{caddy}<h3>Traefik</h3>{traefik}</section>",
                host = escape(&s.external_host),
                mode = if s.mode == ProxyMode::ForwardDomain {
                    "every application under a domain"
                } else {
                    "one application"
                },
                nginx = copy_block("snippet-nginx", "the nginx snippet", &snippets::nginx(&target)),
                caddy = copy_block("snippet-caddy", "the Caddy snippet", &snippets::caddy(&target)),
                traefik = copy_block("snippet-traefik", "the Traefik snippet", &snippets::traefik(&target)),
            )
        }
        Some(row) => oidc_section(&plexid, &notice, &row.provider, &shown.app),
        None => String::new(),
    };
    // The page after this one forgets a client secret still waiting to be shown.
    let page = format!("{BASE}{}/", escape(&shown.app.slug));
    let kind = shown.provider.as_ref().map(|row| row.provider.kind);
    let delete = super::edit_delete(
        &page,
        may(&admin, kind, Action::Change).is_ok(),
        can(&admin, Model::Application, Action::Delete),
    );
    let servers = ServerNames(sources::server_names(&state).await.map_err(failure)?);
    let launch = match shown.launch_url() {
        Some(url) => format!("<p>Opens at <a href=\"{url}\">{url}</a>.</p>", url = escape(&url)),
        None => String::new(),
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{name}</h1>{delete}\
         <section class=\"card\" aria-labelledby=\"rule\"><h2 id=\"rule\">Who may use it</h2><p id=\"rule-text\">{rule}.</p>{launch}</section>{setup}",
        name = escape(&shown.app.name),
        rule = escape(&capitalized(&rule_in_words(&state, &shown.app, &servers).await?)),
    );
    let mut response = admin_page(&state, &admin, &shown.app.name, BASE, &body, &[]);
    cookies::clear(&mut response, &state.settings, cookies::REVEAL);
    Ok(response)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The client id and the endpoints a relying party needs, each with a Copy button.
fn oidc_section(
    base: &str,
    notice: &str,
    provider: &plexid_core::apps::Provider,
    app: &plexid_core::apps::Application,
) -> String {
    let issuer = crate::service::oidc::issuer(base, provider, app);
    let e = crate::service::oidc::endpoints(base, &app.slug, issuer);
    let rows: String = [
        ("client-id", "Client ID", provider.client_id.as_str()),
        ("issuer", "Issuer", e.issuer.as_str()),
        ("discovery", "Discovery", e.provider_info.as_str()),
        ("authorize", "Authorize", e.authorize.as_str()),
        ("token", "Token", e.token.as_str()),
        ("userinfo", "User info", e.user_info.as_str()),
        ("jwks", "JWKS", e.jwks.as_str()),
        ("end-session", "End session", e.logout.as_str()),
    ]
    .iter()
    .map(|(id, label, value)| format!("<dt>{label}</dt><dd>{}</dd>", copy_inline(&format!("oidc-{id}"), label, value)))
    .collect();
    let secret = match provider.client_secret_hint.as_str() {
        "" => String::new(),
        hint => format!(
            "<dt>Client secret</dt><dd>ends in <code>{}</code> (shown in full only when it was made)</dd>",
            escape(hint)
        ),
    };
    format!(
        "<section class=\"card\" aria-labelledby=\"setup\"><h2 id=\"setup\">OpenID Connect</h2>{notice}<dl class=\"facts\">{rows}{secret}</dl></section>"
    )
}

/// `GET /if/admin/applications/{slug}/secret`: the page after creating an application with a
/// confidential OAuth2 provider: its client secret, while the creating browser's short-lived
/// cookie holds it (never cached), and the endpoints.
pub async fn secret(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let shown = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let revealed = cookies::read_own(&headers, &state.settings, cookies::REVEAL)
        .and_then(|value| state.secrets.decrypt(&value).ok())
        .and_then(|value| value.split_once('\n').map(|(s, secret)| (s.to_owned(), secret.to_owned())))
        .filter(|(s, _)| *s == shown.app.slug)
        .map(|(_, secret)| secret);
    let (plexid, notice) = plexid_address(&state, &headers);
    let setup = shown
        .provider
        .as_ref()
        .map(|row| oidc_section(&plexid, &notice, &row.provider, &shown.app))
        .unwrap_or_default();
    let secret = match revealed {
        Some(secret) => format!(
            "<p>The client secret, shown only now: copy it into the application's settings.</p>{}",
            copy_block("client-secret", "the client secret", &secret)
        ),
        None => "<p>The client secret was shown when the application was made and is not kept in full. If it was \
                 lost, make the application again (or a new provider for it through the API).</p>"
            .to_owned(),
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Applications</a></p><h1>{name}</h1><div class=\"card secret\">{secret}\
         <p><a class=\"button\" href=\"{BASE}{slug}/\">Done</a></p></div>{setup}",
        name = escape(&shown.app.name),
        slug = escape(&shown.app.slug),
    );
    let mut response = admin_page(&state, &admin, &shown.app.name, BASE, &body, &[]);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
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
    let name = service::get(&state, &admin.actor, &slug).await.map_err(failure)?.app.name;
    service::delete(&state, &admin.actor, &slug, form.ticked("with_provider")).await.map_err(failure)?;
    Ok(done(&state, BASE, &format!("Deleted the application {name}.")))
}
