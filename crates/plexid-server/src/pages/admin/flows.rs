//! `/if/admin/flows/`: flows, the named steps that sources and providers point to: list with
//! search, a flow's page with what uses it, an edit form for its wording and who may run it,
//! and deletion after a confirmation naming the sources it is cleared from and the providers
//! deleted with it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use plexid_core::model::Flow;
use plexid_core::modes::{FlowAuthentication, FlowDesignation};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, Permission};
use plexid_store::flows::FlowFilter;
use plexid_store::listing::OrderTerm;
use serde_json::json;

use super::forms::{csrf_field, form_errors, input, select};
use super::paging::Paging;
use super::{admin_page, confirm_delete_page, failure, permitted, with_status, Admin, Posted};
use crate::api::read_body;
use crate::pages::{escape, PageError};
use crate::service::{flows as service, ServiceError};
use crate::state::AppState;

const BASE: &str = "/if/admin/flows/";

fn can(admin: &Admin, action: Action) -> bool {
    admin.actor.can(Permission::new(action, Model::Flow))
}

fn flow_page(slug: &str) -> String {
    format!("{BASE}{}/", escape(slug))
}

/// `GET /if/admin/flows/`.
pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<Paging>) -> Result<Response, PageError> {
    let filter = FlowFilter { search: q.terms(), ..Default::default() };
    let listed =
        service::list(&state, &admin.actor, &filter, &[OrderTerm::asc("slug")], q.window()).await.map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|f| {
            format!(
                "<tr><td><a href=\"{page}\">{name}</a></td><td>{slug}</td><td>{designation}</td><td>{title}</td></tr>",
                page = flow_page(&f.slug),
                name = escape(&f.name),
                slug = escape(&f.slug),
                designation = f.designation.as_str(),
                title = escape(&f.title),
            )
        })
        .collect();
    let body = format!(
        "<h1>Flows</h1>{search}<p class=\"muted\">{total}. Sources and providers name the flows they use; \
         plexid runs the Plex sign-in itself.</p><div class=\"table\"><table><caption class=\"sr-only\">Flows</caption>\
         <thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Designation</th>\
         <th scope=\"col\">Title</th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search flows"),
        total = crate::pages::text::count(listed.total, "flow", "flows"),
        pager = q.pages(listed.total, BASE),
    );
    Ok(admin_page(&state, &admin, "Flows", BASE, &body, &[]))
}

/// The sources and providers that use a flow, as list items (HTML).
async fn usage_items(state: &AppState, admin: &Admin, slug: &str) -> Result<(String, String), PageError> {
    let usage = service::usage(state, &admin.actor, slug).await.map_err(failure)?;
    let sources = usage.sources.iter().map(|(_, name)| format!("<li>{}</li>", escape(name))).collect();
    let providers = usage
        .providers
        .iter()
        .map(|(_, name, kind)| format!("<li>{} ({})</li>", escape(name), kind.as_str()))
        .collect();
    Ok((sources, providers))
}

/// `GET /if/admin/flows/{slug}/`.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let flow = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let (sources, providers) = usage_items(&state, &admin, &flow.slug).await?;
    let page = flow_page(&flow.slug);
    let actions = super::edit_delete(&page, can(&admin, Action::Change), can(&admin, Action::Delete));
    let list = |items: String, none: &str| {
        if items.is_empty() {
            format!("<p class=\"muted\">{none}</p>")
        } else {
            format!("<ul>{items}</ul>")
        }
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Flows</a></p><h1>{name}</h1>{actions}<dl class=\"facts\"><dt>Slug</dt><dd><code>{slug}</code></dd>\
         <dt>Title</dt><dd>{title}</dd><dt>Designation</dt><dd>{designation}</dd><dt>Who may run it</dt><dd>{auth}</dd></dl>\
         <section class=\"card\" aria-labelledby=\"used\"><h2 id=\"used\">Used by</h2><h3>Sources</h3>{sources}\
         <h3>Providers</h3>{providers}</section>",
        name = escape(&flow.name),
        slug = escape(&flow.slug),
        title = escape(&title_in_words(&flow.title)),
        designation = escape(&crate::pages::text::choice_label("designation", flow.designation.as_str())),
        auth = escape(&crate::pages::text::choice_label("authentication", flow.authentication.as_str())),
        sources = list(sources, "No source."),
        providers = list(providers, "No provider."),
    );
    Ok(admin_page(&state, &admin, &flow.name, BASE, &body, &[]))
}

/// The edit form: `values` is the stored flow, or the submitted one with `errors`.
fn form_page(state: &AppState, admin: &Admin, slug: &str, values: &Flow, errors: &FieldErrors) -> Response {
    let choices = crate::pages::text::choice_options;
    let title = format!("Edit {}", values.name);
    let page = flow_page(slug);
    let body = format!(
        "<p><a href=\"{BASE}\">Flows</a></p><h1>{title_html}</h1>{alert}<form method=\"post\" action=\"{page}edit\" novalidate>{csrf}\
         {name}{slug_field}{flow_title}{designation}{auth}\
         <p><button type=\"submit\">Save changes</button> <a href=\"{page}\">Cancel</a></p></form>",
        title_html = escape(&title),
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", &values.name, "", errors),
        slug_field = input("text", "slug", "Slug", &values.slug, "Sources and providers keep pointing to the flow.", errors),
        flow_title = input("text", "title", "Title", &values.title, "Shown to people running the flow; %(app)s stands for the application's name.", errors),
        designation = select(
            "designation",
            "What it is for (designation)",
            &choices("designation", FlowDesignation::NAMES),
            values.designation.as_str(),
            errors
        ),
        auth = select(
            "authentication",
            "Who may run it",
            &choices("authentication", FlowAuthentication::NAMES),
            values.authentication.as_str(),
            errors
        ),
    );
    with_status(admin_page(state, admin, &title, BASE, &body, &[]), errors)
}

/// `GET /if/admin/flows/{slug}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let flow = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    permitted(can(&admin, Action::Change))?;
    Ok(form_page(&state, &admin, &flow.slug, &flow, &FieldErrors::default()))
}

/// `POST /if/admin/flows/{slug}/edit`: read by the API's reader (its validation and wording).
pub async fn update(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let stored = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let text = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let sent = json!({"name": text("name"), "slug": text("slug"), "title": text("title"),
                      "designation": text("designation"), "authentication": text("authentication")});
    let (changes, errors) = read_body(&sent, true, crate::api::flows::read_flow);
    match service::update(&state, &admin.actor, &slug, changes, errors).await {
        Ok(flow) => Ok(super::done(&state, &flow_page(&flow.slug), &format!("Saved the flow {}.", flow.name))),
        Err(ServiceError::Invalid(errors)) => {
            // The form again as sent; what could not be read shows the stored value.
            let values = Flow {
                name: text("name"),
                slug: text("slug"),
                title: text("title"),
                designation: FlowDesignation::parse(&text("designation")).unwrap_or(stored.designation),
                authentication: FlowAuthentication::parse(&text("authentication")).unwrap_or(stored.authentication),
                ..stored
            };
            Ok(form_page(&state, &admin, &slug, &values, &errors))
        }
        Err(other) => Err(failure(other)),
    }
}

/// `GET /if/admin/flows/{slug}/delete`: what the deletion touches.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Delete))?;
    let flow = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    let (sources, providers) = usage_items(&state, &admin, &flow.slug).await?;
    let mut consequences = String::new();
    if !sources.is_empty() {
        consequences.push_str(&format!("<p>These sources stop using it:</p><ul>{sources}</ul>"));
    }
    if !providers.is_empty() {
        consequences.push_str(&format!(
            "<p><strong>These providers are deleted with it</strong>, and their applications lose their provider:</p>\
             <ul id=\"cascade\">{providers}</ul>"
        ));
    }
    if consequences.is_empty() {
        consequences = "<p>Nothing uses it.</p>".into();
    }
    Ok(confirm_delete_page(&state, &admin, BASE, &flow_page(&flow.slug), &flow.name, &consequences))
}

/// `POST /if/admin/flows/{slug}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let flow = service::get(&state, &admin.actor, &slug).await.map_err(failure)?;
    service::delete(&state, &admin.actor, &slug).await.map_err(failure)?;
    Ok(super::done(&state, BASE, &format!("Deleted the flow {}.", flow.name)))
}

/// A flow's title as people see it: `%(app)s` is the application's name.
fn title_in_words(title: &str) -> String {
    if title.contains("%(app)s") {
        format!("{title} (shown as “{}”)", title.replace("%(app)s", "the application's name"))
    } else {
        title.to_owned()
    }
}
