//! `/if/admin/sources/`: Plex sources: list, page, create and edit forms with the Plex server
//! picker (D16) and re-authorisation with Plex (D21), and deletion after a confirmation that
//! shows what goes with the source. The stored Plex token never reaches the browser (D1): the
//! form's token field starts empty ("keep the stored token"), and servers are listed by plexid.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use plexid_core::model::Source;
use plexid_core::modes::{FlowDesignation, GroupMatchingMode, PolicyEngineMode, UserMatchingMode};
use plexid_core::permission::{Action, Model};
use plexid_core::source::{generate_client_id, DEFAULT_USER_PATH_TEMPLATE, TOKEN_PLACEHOLDER};
use plexid_core::{FieldErrors, Permission};
use plexid_store::flows::FlowFilter;
use plexid_store::listing::{OrderTerm, Window};
use plexid_store::mappings::MappingFilter;
use plexid_store::sources::SourceFilter;
use serde_json::{json, Value};

use super::forms::{checkbox, checkbox_group, csrf_field, form_errors, input, input_with, select_hinted, FormData};
use super::paging::Paging;
use super::{admin_page, confirm_delete_page, done, failure, permitted, with_status, Admin, Posted};
use crate::api::read_body;
use crate::clock::readable;
use crate::pages::text::{choice_label, choice_options, count, ServerNames};
use crate::pages::{escape, PageError};
use crate::service::{flows, mappings, sources as service, ServiceError};
use crate::state::AppState;

const BASE: &str = "/if/admin/sources/";

fn can(admin: &Admin, action: Action) -> bool {
    admin.actor.can(Permission::new(action, Model::PlexSource))
}

/// `GET /if/admin/sources/`: the sources, searchable, 50 a page.
pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<Paging>) -> Result<Response, PageError> {
    let filter = SourceFilter { search: q.terms(), ..Default::default() };
    let listed =
        service::list(&state, &admin.actor, &filter, FieldErrors::default(), &[OrderTerm::asc("name")], q.window())
            .await
            .map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|s| {
            format!(
                "<tr><td><a href=\"{BASE}{slug}/\">{name}</a></td><td>{slug_text}</td><td>{enabled}</td><td>{friends}</td><td>{servers}</td></tr>",
                slug = escape(&s.slug),
                name = escape(&s.name),
                slug_text = escape(&s.slug),
                enabled = yes_no(s.enabled),
                friends = yes_no(s.allow_friends),
                servers = s.allowed_servers.len(),
            )
        })
        .collect();
    let new = super::new_button(can(&admin, Action::Add), &format!("{BASE}new"), "New Plex source");
    let pager = q.pages(listed.total, BASE);
    let body = format!(
        "<h1>Plex sources</h1>{new}{search}<p class=\"muted\">{total}.</p>\
         <div class=\"table\"><table><caption class=\"sr-only\">Plex sources</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th>\
         <th scope=\"col\">Enabled</th><th scope=\"col\">Friends allowed</th><th scope=\"col\">Allowed servers</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search sources"),
        total = count(listed.total, "source", "sources"),
    );
    Ok(admin_page(&state, &admin, "Plex sources", BASE, &body, &[]))
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// The sources with their token check and last access sweep (the overview's table).
pub async fn health_table(state: &AppState, admin: &Admin) -> Result<String, PageError> {
    let window = Window::Offset { limit: 50, offset: 0 }; // the overview shows the first 50
    let listed = service::list(
        state,
        &admin.actor,
        &SourceFilter::default(),
        FieldErrors::default(),
        &[OrderTerm::asc("name")],
        window,
    )
    .await
    .map_err(failure)?;
    let ids: Vec<_> = listed.rows.iter().map(|s| s.id).collect();
    let states = state.store.read().source_states(&ids).await.map_err(|e| PageError::internal(&e))?;
    let facts = state.store.read().fact_states(&ids).await.map_err(|e| PageError::internal(&e))?;
    let mut rows = String::new();
    for (s, (_, health)) in listed.rows.iter().zip(&states) {
        rows.push_str(&format!(
            "<tr><td><a href=\"{BASE}{slug}/\">{name}</a></td><td>{token}</td><td>{calls}</td><td>{sweep}</td></tr>",
            slug = escape(&s.slug),
            name = escape(&s.name),
            token = escape(&token_text(health)),
            calls = calls_html(&facts, s.id),
            sweep = escape(&sweep_text(health)),
        ));
    }
    Ok(format!(
        "<section class=\"card\" aria-labelledby=\"health\"><h2 id=\"health\">Plex sources</h2>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Admin token</th>\
         <th scope=\"col\">plex.tv calls</th><th scope=\"col\">Last access sweep</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    ))
}

/// The source's failing plex.tv calls ("friends list unavailable since …: …"), or that they work.
fn calls_html(
    facts: &[(plexid_core::SourceId, plexid_store::jobs::FactState)],
    source: plexid_core::SourceId,
) -> String {
    let mine: Vec<_> = facts.iter().filter(|(id, _)| *id == source).map(|(_, f)| f.clone()).collect();
    let lines = crate::service::plex_facts::health_lines(&mine);
    match (mine.is_empty(), lines.is_empty()) {
        (true, _) => "not asked yet".to_owned(),
        (false, true) => "all answer".to_owned(),
        (false, false) => {
            lines.iter().map(|l| format!("<span class=\"error\">{}</span>", escape(l))).collect::<Vec<_>>().join("<br>")
        }
    }
}

fn token_text(health: &plexid_core::model::SourceState) -> String {
    let state = match health.token_state.as_str() {
        "valid" => "accepted by plex.tv",
        "rejected" => "rejected by plex.tv: re-authorise with Plex",
        "unreachable" => "plex.tv could not be reached",
        _ => "not checked yet",
    };
    match health.token_checked {
        Some(at) => format!("{state} ({})", readable(at)),
        None => state.to_owned(),
    }
}

fn sweep_text(health: &plexid_core::model::SourceState) -> String {
    let Some(at) = health.sweep_finished else { return "not run yet".into() };
    let summary: Vec<String> = health.sweep_summary.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{} ({})", readable(at), summary.join(", "))
}

/// `GET /if/admin/sources/{slug}/`: the source, its health and its connections.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let source = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let health = state.store.read().source_state(source.id).await.map_err(|e| PageError::internal(&e))?;
    let facts = state.store.read().fact_states(&[source.id]).await.map_err(|e| PageError::internal(&e))?;
    let mut actions = Vec::new();
    if can(&admin, Action::Change) {
        actions.push(format!("<a class=\"button\" href=\"{BASE}{}/edit\">Edit</a>", escape(&source.slug)));
        actions.push(format!(
            "<a class=\"button secondary\" href=\"{BASE}{}/edit#plex-login\">Re-authorise with Plex</a>",
            escape(&source.slug)
        ));
    }
    if can(&admin, Action::Delete) {
        actions.push(format!("<a class=\"button danger\" href=\"{BASE}{}/delete\">Delete</a>", escape(&source.slug)));
    }
    let connections = connections_section(&state, &admin, &source).await?;
    let names = ServerNames(service::server_names(&state).await.map_err(failure)?);
    let servers: Vec<String> = source.allowed_servers.iter().map(|id| names.name(id)).collect();
    let body = format!(
        "<p><a href=\"{BASE}\">Plex sources</a></p><h1>{name}</h1><p class=\"actions\">{actions}</p>\
         <section class=\"card\" aria-labelledby=\"settings\"><h2 id=\"settings\">Settings</h2><dl class=\"facts\">\
         <dt>Slug</dt><dd>{slug}</dd><dt>Enabled</dt><dd>{enabled}</dd><dt>Friends of the token's owner may sign in</dt><dd>{friends}</dd>\
         <dt>Members of these servers may sign in</dt><dd id=\"allowed-servers\">{servers}</dd><dt>New Plex accounts</dt><dd>{matching}</dd><dt>New groups</dt><dd>{group_matching}</dd>\
         <dt>Client identifier</dt><dd><code>{client}</code></dd><dt>Admin token</dt><dd>{token}</dd><dt>plex.tv calls</dt><dd id=\"plex-calls\">{calls}</dd><dt>Last access sweep</dt><dd>{sweep}</dd></dl></section>\
         {connections}",
        name = escape(&source.name),
        actions = actions.join(" "),
        slug = escape(&source.slug),
        enabled = yes_no(source.enabled),
        friends = yes_no(source.allow_friends),
        servers = if servers.is_empty() { "none: no server's members may sign in".to_owned() } else { escape(&servers.join(", ")) },
        matching = escape(&choice_label("user_matching_mode", source.user_matching_mode.as_str())),
        group_matching = escape(&choice_label("group_matching_mode", source.group_matching_mode.as_str())),
        client = escape(&source.client_id),
        token = escape(&token_text(&health)),
        calls = calls_html(&facts, source.id),
        sweep = escape(&sweep_text(&health)),
    );
    Ok(admin_page(&state, &admin, &source.name, BASE, &body, &[]))
}

/// The first 100 user connections of a source (when the admin may see them).
async fn connections_section(state: &AppState, admin: &Admin, source: &Source) -> Result<String, PageError> {
    if !admin.actor.can(Permission::new(Action::View, Model::UserPlexSourceConnection)) {
        return Ok(String::new());
    }
    let filter =
        plexid_store::connections::ConnectionFilter { source_slug: Some(source.slug.clone()), ..Default::default() };
    let window = Window::Offset { limit: 100, offset: 0 };
    let (listed, _) =
        crate::service::connections::list_user(state, &admin.actor, filter, FieldErrors::default(), &[], window)
            .await
            .map_err(failure)?;
    let names = super::usernames(state, listed.rows.iter().map(|c| c.user)).await?;
    let mut rows = String::new();
    for c in &listed.rows {
        rows.push_str(&format!(
            "<tr><td>{user}</td><td>{id}</td><td>{created}</td></tr>",
            user = escape(names.get(&c.user).map_or("", String::as_str)),
            id = escape(&c.identifier),
            created = crate::pages::text::when(c.created),
        ));
    }
    Ok(format!(
        "<section class=\"card\" aria-labelledby=\"connections\"><h2 id=\"connections\">Connected users ({total})</h2>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">User</th><th scope=\"col\">Plex id</th><th scope=\"col\">Connected</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></section>",
        total = listed.total,
    ))
}

/// What the form shows: a stored source, the defaults of a new one, or what was submitted.
struct SourceForm {
    /// The Plex token the admin signed in with in the form (kept when a submit is refused).
    token: String,
    /// The names of servers, as Plex listed them: (client identifier, name).
    server_names: Vec<(String, String)>,
    /// Make the source's Plex owner an administrator (offered with the first source).
    owner_becomes_admin: bool,
    name: String,
    slug: String,
    enabled: bool,
    allow_friends: bool,
    allowed_servers: Vec<String>,
    user_matching_mode: String,
    group_matching_mode: String,
    policy_engine_mode: String,
    user_path_template: String,
    client_id: String,
    authentication_flow: String,
    enrollment_flow: String,
    user_property_mappings: Vec<String>,
    group_property_mappings: Vec<String>,
}

impl SourceForm {
    fn new_source() -> Self {
        SourceForm {
            token: String::new(),
            server_names: Vec::new(),
            owner_becomes_admin: true,
            name: String::new(),
            slug: String::new(),
            enabled: true,
            allow_friends: true,
            allowed_servers: Vec::new(),
            user_matching_mode: UserMatchingMode::Identifier.as_str().into(),
            group_matching_mode: GroupMatchingMode::Identifier.as_str().into(),
            policy_engine_mode: PolicyEngineMode::Any.as_str().into(),
            user_path_template: DEFAULT_USER_PATH_TEMPLATE.into(),
            client_id: generate_client_id(),
            authentication_flow: String::new(),
            enrollment_flow: String::new(),
            user_property_mappings: Vec::new(),
            group_property_mappings: Vec::new(),
        }
    }

    fn of(s: &Source) -> Self {
        SourceForm {
            token: String::new(),
            server_names: Vec::new(),
            owner_becomes_admin: false,
            name: s.name.clone(),
            slug: s.slug.clone(),
            enabled: s.enabled,
            allow_friends: s.allow_friends,
            allowed_servers: s.allowed_servers.clone(),
            user_matching_mode: s.user_matching_mode.as_str().into(),
            group_matching_mode: s.group_matching_mode.as_str().into(),
            policy_engine_mode: s.policy_engine_mode.as_str().into(),
            user_path_template: s.user_path_template.clone(),
            client_id: s.client_id.clone(),
            authentication_flow: s.authentication_flow.map(|f| f.0.to_string()).unwrap_or_default(),
            enrollment_flow: s.enrollment_flow.map(|f| f.0.to_string()).unwrap_or_default(),
            user_property_mappings: s.user_property_mappings.iter().map(|m| m.0.to_string()).collect(),
            group_property_mappings: s.group_property_mappings.iter().map(|m| m.0.to_string()).collect(),
        }
    }

    fn submitted(form: &FormData) -> Self {
        let text = |name: &str| form.get(name).unwrap_or_default().to_owned();
        SourceForm {
            token: text("plex_token"),
            server_names: form
                .all("server_names")
                .iter()
                .filter_map(|pair| pair.split_once('=').map(|(id, name)| (id.to_owned(), name.to_owned())))
                .collect(),
            owner_becomes_admin: form.ticked("owner_becomes_admin"),
            name: text("name"),
            slug: text("slug"),
            enabled: form.ticked("enabled"),
            allow_friends: form.ticked("allow_friends"),
            allowed_servers: allowed_servers(form),
            user_matching_mode: text("user_matching_mode"),
            group_matching_mode: text("group_matching_mode"),
            policy_engine_mode: text("policy_engine_mode"),
            user_path_template: text("user_path_template"),
            client_id: text("client_id"),
            authentication_flow: text("authentication_flow"),
            enrollment_flow: text("enrollment_flow"),
            user_property_mappings: form.all("user_property_mappings"),
            group_property_mappings: form.all("group_property_mappings"),
        }
    }

    /// The API's request body for these values; `token` is what the token field held (empty on
    /// an edit: keep the stored token).
    fn body(&self, token: &str, editing: bool) -> Value {
        let flow = |id: &str| if id.is_empty() { Value::Null } else { json!(id) };
        let token = if editing && token.is_empty() { TOKEN_PLACEHOLDER } else { token };
        json!({
            "name": self.name, "slug": self.slug, "enabled": self.enabled,
            "authentication_flow": flow(&self.authentication_flow), "enrollment_flow": flow(&self.enrollment_flow),
            "user_property_mappings": self.user_property_mappings, "group_property_mappings": self.group_property_mappings,
            "policy_engine_mode": self.policy_engine_mode, "user_matching_mode": self.user_matching_mode,
            "user_path_template": self.user_path_template, "group_matching_mode": self.group_matching_mode,
            "client_id": self.client_id, "allowed_servers": self.allowed_servers, "allow_friends": self.allow_friends,
            "plex_token": token,
        })
    }
}

/// The ticked servers and those typed into "other server identifiers", without repeats.
fn allowed_servers(form: &FormData) -> Vec<String> {
    let typed = form.get("allowed_servers_other").unwrap_or_default();
    let mut servers: Vec<String> = Vec::new();
    for id in form.all("allowed_servers").into_iter().chain(typed.split([',', ' ', '\n']).map(str::to_owned)) {
        let id = id.trim().to_owned();
        if !id.is_empty() && !servers.contains(&id) {
            servers.push(id);
        }
    }
    servers
}

/// What the form needs from elsewhere: flows, mappings and (editing) the servers plexid can list.
struct Choices {
    authentication_flows: Vec<(String, String)>,
    enrollment_flows: Vec<(String, String)>,
    mappings: Vec<(String, String)>,
    /// The servers the stored token lists, or why they could not be listed.
    servers: Result<Vec<service::PlexServer>, String>,
    /// The stored names of servers.
    names: ServerNames,
    /// No source exists yet (the form offers to make the Plex owner an administrator).
    first: bool,
}

async fn choices(
    state: &AppState,
    admin: &Admin,
    editing: Option<&str>,
    values: &SourceForm,
) -> Result<Choices, PageError> {
    let all = Window::Offset { limit: 1000, offset: 0 };
    let mut authentication_flows = vec![(String::new(), "None".to_owned())];
    let mut enrollment_flows = vec![(String::new(), "None: people without an account here cannot sign up".to_owned())];
    if admin.actor.can(Permission::new(Action::View, Model::Flow)) {
        let listed = flows::list(state, &admin.actor, &FlowFilter::default(), &[OrderTerm::asc("slug")], all)
            .await
            .map_err(failure)?;
        for f in listed.rows {
            let option = (f.id.0.to_string(), format!("{} ({})", f.name, f.slug));
            match f.designation {
                FlowDesignation::Authentication => authentication_flows.push(option),
                FlowDesignation::Enrollment => enrollment_flows.push(option),
                _ => {}
            }
        }
    }
    let mut mapping_choices = Vec::new();
    if admin.actor.can(Permission::new(Action::View, Model::PlexSourcePropertyMapping)) {
        let listed = mappings::list(state, &admin.actor, &MappingFilter::default(), &[OrderTerm::asc("name")], all)
            .await
            .map_err(failure)?;
        mapping_choices = listed.rows.into_iter().map(|m| (m.id.0.to_string(), m.name)).collect();
    }
    // The token of a Plex sign-in in the form (kept across a refused submit) lists the servers,
    // else the stored one of the source being edited.
    let lister = match (values.token.is_empty(), editing) {
        (false, _) => Some(service::ServerLister::Token(values.token.clone())),
        (true, Some(slug)) => Some(service::ServerLister::Source(slug.to_owned())),
        (true, None) => None,
    };
    let servers = match lister {
        None => Err("Sign in with Plex to list your servers.".to_owned()),
        Some(lister) => {
            match service::plex_servers(state, &admin.actor, lister, Some(values.client_id.as_str())).await {
                Ok(servers) => Ok(servers),
                Err(ServiceError::Invalid(errors)) => Err(errors
                    .messages("plex_token")
                    .into_iter()
                    .chain(errors.messages("source"))
                    .collect::<Vec<_>>()
                    .join(" ")),
                Err(ServiceError::PlexUnavailable | ServiceError::PlexRateLimited { .. }) => {
                    Err("plex.tv could not be reached to list the servers; the identifiers below are kept.".to_owned())
                }
                Err(other) => return Err(failure(other)),
            }
        }
    };
    let mut names = ServerNames(service::server_names(state).await.map_err(failure)?);
    names.0.extend(values.server_names.iter().cloned());
    let first = state.store.read().source_ids().await.map_err(|e| PageError::internal(&e))?.is_empty();
    Ok(Choices { authentication_flows, enrollment_flows, mappings: mapping_choices, servers, names, first })
}

/// The create or edit form (`editing`: the slug of the stored source).
fn form_html(
    admin: &Admin,
    state: &AppState,
    values: &SourceForm,
    choices: &Choices,
    editing: Option<&str>,
    errors: &FieldErrors,
) -> String {
    let action = match editing {
        Some(slug) => format!("{BASE}{}/edit", escape(slug)),
        None => format!("{BASE}new"),
    };
    let listed: Vec<service::PlexServer> = choices.servers.clone().unwrap_or_default();
    let mut server_items: Vec<(String, String, bool)> = listed
        .iter()
        .map(|s| {
            let label = format!("{} ({})", s.name, if s.owned { "owned" } else { "shared with you" });
            (s.client_identifier.clone(), label, values.allowed_servers.contains(&s.client_identifier))
        })
        .collect();
    let mut named: Vec<(String, String)> =
        listed.iter().map(|s| (s.client_identifier.clone(), s.name.clone())).collect();
    for id in &values.allowed_servers {
        if !listed.iter().any(|s| &s.client_identifier == id) {
            let label = match choices.names.0.get(id) {
                Some(name) => {
                    named.push((id.clone(), name.clone()));
                    format!("{name} (not listed by Plex now)")
                }
                None => format!("{id} (not listed by Plex)"),
            };
            server_items.push((id.clone(), label, true));
        }
    }
    // The names go with the form, so the source keeps them (pages show names, not identifiers).
    let names_html: String = named
        .iter()
        .map(|(id, name)| {
            format!("<input type=\"hidden\" name=\"server_names\" value=\"{}\">", escape(&format!("{id}={name}")))
        })
        .collect();
    let server_status = match &choices.servers {
        Ok(list) => format!("{} listed by Plex.", count(list.len() as u64, "server", "servers")),
        Err(message) => message.clone(),
    };
    let kept = !values.token.is_empty() && !errors.is_empty();
    let plex_status =
        if kept { "Signed in with Plex (kept from your last try): no need to sign in again." } else { "" };
    let owner_admin = if choices.first && editing.is_none() && admin.actor.is_superuser() {
        checkbox(
            "owner_becomes_admin",
            "Make this Plex server's owner an administrator",
            values.owner_becomes_admin,
            "The owner of the Plex account you sign in with here becomes an administrator of plexid at their first \
             sign-in with Plex, so you can sign in to these pages with Plex from then on.",
            errors,
        )
    } else {
        String::new()
    };
    let mappings = |field: &str, legend: &str, chosen: &[String]| {
        let items: Vec<(String, String, bool)> =
            choices.mappings.iter().map(|(id, name)| (id.clone(), name.clone(), chosen.contains(id))).collect();
        checkbox_group(field, legend, &items, "", errors)
    };
    let token_hint = match editing {
        Some(_) => "Leave empty to keep the stored token, or use “Sign in with Plex” to replace it (re-authorise).",
        None => "Use “Sign in with Plex” above, or paste a Plex token.",
    };
    format!(
        "{alert}<form method=\"post\" action=\"{action}\" id=\"source-form\" novalidate>{csrf}\
         <section class=\"card\" aria-labelledby=\"basics\"><h2 id=\"basics\">Source</h2>{name}{slug}{enabled}</section>\
         <section class=\"card\" aria-labelledby=\"plex\"><h2 id=\"plex\">Plex</h2>\
         <div id=\"plex-login\" data-plex-api=\"{api}\" data-plex-app=\"{app}\" data-redeem=\"\" data-next=\"\">\
         <button type=\"button\" id=\"plex-signin\" data-plex-source=\"admin\" data-client-id=\"{client_id}\">Sign in with Plex</button>\
         <p id=\"plex-status\" class=\"status\" role=\"status\" aria-live=\"polite\">{plex_status}</p>\
         <button type=\"button\" id=\"plex-retry\" class=\"secondary\" hidden>Try again</button></div>\
         {token}{owner_admin}{allow_friends}\
         <div id=\"server-picker\" data-csrf-header=\"X-CSRFToken\"><p class=\"muted\" id=\"server-status\" role=\"status\" aria-live=\"polite\">{server_status}</p>{servers}\
         <div id=\"server-names\">{names_html}</div></div>\
         {other}{client}</section>\
         <section class=\"card\" aria-labelledby=\"matching\"><h2 id=\"matching\">Users and groups</h2>{user_matching}{group_matching}{path}{policy}</section>\
         <section class=\"card\" aria-labelledby=\"flows\"><h2 id=\"flows\">Flows and mappings</h2>{auth_flow}{enroll_flow}{user_mappings}{group_mappings}</section>\
         <p><button type=\"submit\">{submit}</button> <a href=\"{cancel}\">Cancel</a></p></form>",
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", &values.name, "What the sign-in button says: “Sign in with …”.", errors),
        slug = input_with("text", "slug", "Slug", &values.slug, "Letters, numbers, underscores or hyphens; part of the login URL. Filled from the name.", errors, if editing.is_none() { " data-slug-from=\"name\"" } else { "" }),
        enabled = checkbox("enabled", "Enabled", values.enabled, "", errors),
        api = escape(state.settings.plex_api_url.trim_end_matches('/')),
        app = escape(state.settings.plex_app_url.trim_end_matches('/')),
        client_id = escape(&values.client_id),
        token = input("password", "plex_token", "Plex token", &values.token, token_hint, errors),
        allow_friends = checkbox("allow_friends", "Friends of the token's owner may sign in", values.allow_friends, "Your Plex friends (people you share with or who share with you).", errors),
        servers = checkbox_group("allowed_servers", "Allowed servers", &server_items, "Members of these servers may sign in (none ticked: no server's members).", errors),
        other = input("text", "allowed_servers_other", "Other server identifiers", "", "Comma-separated clientIdentifiers, for servers Plex does not list here.", &FieldErrors::default()),
        client = input("text", "client_id", "Plex client identifier", &values.client_id, "How plexid names itself to Plex (the Plex window shows it); any random string.", errors),
        user_matching = select_hinted("user_matching_mode", "New Plex accounts", &choice_options("user_matching_mode", UserMatchingMode::NAMES), &values.user_matching_mode, "What a Plex account's first sign-in does (authentik's user matching mode).", errors),
        group_matching = select_hinted("group_matching_mode", "New groups", &choice_options("group_matching_mode", GroupMatchingMode::NAMES), &values.group_matching_mode, "What happens when a mapping names a group for the first time (group matching mode).", errors),
        path = input("text", "user_path_template", "User path", &values.user_path_template, "Where new users are filed (authentik's user path); %(slug)s is this source's slug. The default is fine.", errors),
        policy = select_hinted("policy_engine_mode", "Policies", &choice_options("policy_engine_mode", PolicyEngineMode::NAMES), &values.policy_engine_mode, "How authentik combines policies bound to a source (policy engine mode); plexid binds none, so this changes nothing.", errors),
        auth_flow = select_hinted("authentication_flow", "Authentication flow", &choices.authentication_flows, &values.authentication_flow, "The sign-in page of returning users.", errors),
        enroll_flow = select_hinted("enrollment_flow", "Enrollment flow", &choices.enrollment_flows, &values.enrollment_flow, "The sign-in page of new users (where they pick a username if theirs is taken).", errors),
        user_mappings = mappings("user_property_mappings", "User property mappings", &values.user_property_mappings),
        group_mappings = mappings("group_property_mappings", "Group property mappings", &values.group_property_mappings),
        submit = if editing.is_some() { "Save" } else { "Create source" },
        cancel = match editing { Some(slug) => format!("{BASE}{}/", escape(slug)), None => BASE.to_owned() },
    )
}

const FORM_SCRIPTS: &[&str] = &["plex-login.js", "admin-source.js"];

async fn form_page(
    state: &AppState,
    admin: &Admin,
    values: &SourceForm,
    editing: Option<&str>,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let choices = choices(state, admin, editing, values).await?;
    let title = if editing.is_some() { format!("Edit {}", values.name) } else { "New Plex source".to_owned() };
    let body = format!(
        "<p><a href=\"{BASE}\">Plex sources</a></p><h1>{}</h1>{}",
        escape(&title),
        form_html(admin, state, values, &choices, editing, errors)
    );
    let mut response = with_status(admin_page(state, admin, &title, BASE, &body, FORM_SCRIPTS), errors);
    // A refused form keeps the Plex sign-in's token in its field: never cached.
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /if/admin/sources/new`.
pub async fn new_form(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Add))?;
    let mut values = SourceForm::new_source();
    // The flows plexid made at its first start, chosen already.
    let mut conn = state.store.read();
    for (slug, field) in [
        ("default-source-authentication", &mut values.authentication_flow),
        ("default-source-enrollment", &mut values.enrollment_flow),
    ] {
        if let Some(flow) = conn.flow_by_slug(slug).await.map_err(|e| PageError::internal(&e))? {
            *field = flow.id.0.to_string();
        }
    }
    form_page(&state, &admin, &values, None, &FieldErrors::default()).await
}

/// `POST /if/admin/sources/new`: creates the source, or shows the form again with its errors.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let values = SourceForm::submitted(&form);
    let (changes, errors) = read_body(
        &values.body(form.get("plex_token").unwrap_or_default(), false),
        false,
        crate::api::sources::read_source,
    );
    let extras =
        service::Extras { server_names: values.server_names.clone(), owner_becomes_admin: values.owner_becomes_admin };
    match service::create_with(&state, &admin.actor, changes, errors, extras).await {
        Ok(source) => {
            let mut message = format!("Created the Plex source {}.", source.name);
            if values.owner_becomes_admin {
                message.push_str(" Its Plex server's owner becomes an administrator at their first sign-in with Plex.");
            }
            Ok(done(&state, &format!("{BASE}{}/", source.slug), &message))
        }
        Err(ServiceError::Invalid(errors)) => form_page(&state, &admin, &values, None, &errors).await,
        Err(other) => Err(failure(other)),
    }
}

/// `GET /if/admin/sources/{slug}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let source = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    permitted(can(&admin, Action::Change))?;
    form_page(&state, &admin, &SourceForm::of(&source), Some(&slug), &FieldErrors::default()).await
}

/// `POST /if/admin/sources/{slug}/edit`: saves every field (an empty token field keeps the token).
pub async fn update(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let values = SourceForm::submitted(&form);
    let (changes, errors) = read_body(
        &values.body(form.get("plex_token").unwrap_or_default(), true),
        false,
        crate::api::sources::read_source,
    );
    match service::update_with(&state, &admin.actor, &slug, changes, errors, values.server_names.clone()).await {
        Ok(source) => {
            Ok(done(&state, &format!("{BASE}{}/", source.slug), &format!("Saved the Plex source {}.", source.name)))
        }
        Err(ServiceError::Invalid(errors)) => form_page(&state, &admin, &values, Some(&slug), &errors).await,
        Err(other) => Err(failure(other)),
    }
}

/// `GET /if/admin/sources/{slug}/delete`: what deleting the source takes with it, and a button.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Delete))?;
    let (source, usage) = service::usage(&state, &admin.actor, &slug).await.map_err(failure)?;
    let mut consequences = Vec::new();
    if !usage.user_connections.is_empty() {
        consequences.push(format!(
            "{} deleted",
            count(usage.user_connections.len() as u64, "user connection is", "user connections are")
        ));
    }
    if !usage.group_connections.is_empty() {
        consequences.push(format!(
            "{} deleted",
            count(usage.group_connections.len() as u64, "group connection is", "group connections are")
        ));
    }
    if !usage.users.is_empty() {
        consequences
            .push(format!("{} their link to this source", count(usage.users.len() as u64, "user loses", "users lose")));
    }
    let list = if consequences.is_empty() {
        "<p>Nothing else is deleted with it.</p>".to_owned()
    } else {
        let items: String = consequences.iter().map(|c| format!("<li>{}</li>", escape(c))).collect();
        format!("<p>Deleting it also affects:</p><ul id=\"cascade\">{items}</ul>")
    };
    Ok(confirm_delete_page(&state, &admin, BASE, &format!("{BASE}{}/", source.slug), &source.name, &list))
}

/// `POST /if/admin/sources/{slug}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let source = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    service::delete(&state, &admin.actor, &slug).await.map_err(failure)?;
    Ok(done(&state, BASE, &format!("Deleted the Plex source {}.", source.name)))
}
