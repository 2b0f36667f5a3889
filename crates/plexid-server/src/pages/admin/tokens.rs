//! `/if/admin/tokens/`: API tokens: list, create (then the key's page, never cached, with a Copy
//! button; the form's answer is a redirect, so a reload makes no second token), and revoke after
//! a confirmation.

use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::response::Response;
use plexid_core::model::Token;
use plexid_core::FieldErrors;
use plexid_store::listing::{OrderTerm, Window};
use plexid_store::tokens::TokenFilter;
use serde_json::json;

use super::forms::{checkbox, copy_block, csrf_field, form_errors, input, select_hinted, FormData};
use super::{admin_page, confirm_verb_page, done, failure, with_status, Admin, Posted};
use crate::clock::iso8601;
use crate::pages::{escape, PageError};
use crate::service::{tokens as service, ServiceError};
use crate::state::AppState;

const BASE: &str = "/if/admin/tokens/";

/// When the token expires, as HTML.
fn expiry(token: &Token) -> String {
    match (token.expiring, token.expires) {
        (true, Some(at)) => crate::pages::text::when(at),
        _ => "never".into(),
    }
}

/// `GET /if/admin/tokens/`.
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let window = Window::Offset { limit: 500, offset: 0 };
    let listed = service::list(&state, &admin.actor, TokenFilter::default(), &[OrderTerm::asc("identifier")], window)
        .await
        .map_err(failure)?;
    let names = super::usernames(&state, listed.rows.iter().map(|t| t.user)).await?;
    let mut rows = String::new();
    for t in &listed.rows {
        rows.push_str(&format!(
            "<tr><td><a href=\"{BASE}{id}/\">{identifier}</a></td><td>{user}</td><td>{intent}</td><td>{expires}</td><td>{description}</td></tr>",
            id = escape(&super::encoded(&t.identifier)),
            identifier = escape(&t.identifier),
            user = escape(names.get(&t.user).map_or("", String::as_str)),
            intent = t.intent.as_str(),
            expires = expiry(t),
            description = escape(&t.description),
        ));
    }
    let body = format!(
        "<h1>API tokens</h1><p><a class=\"button\" href=\"{BASE}new\">New API token</a></p><p class=\"muted\">{total}.</p>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">Identifier</th><th scope=\"col\">User</th><th scope=\"col\">Intent</th>\
         <th scope=\"col\">Expires</th><th scope=\"col\">Description</th></tr></thead><tbody>{rows}</tbody></table></div>",
        total = crate::pages::text::count(listed.total, "token", "tokens"),
    );
    Ok(admin_page(&state, &admin, "API tokens", BASE, &body, &[]))
}

fn form_page(state: &AppState, admin: &Admin, form: &FormData, errors: &FieldErrors) -> Response {
    let body = format!(
        "<p><a href=\"{BASE}\">API tokens</a></p><h1>New API token</h1>{alert}\
         <form method=\"post\" action=\"{BASE}new\" class=\"card\" novalidate>{csrf}{identifier}{description}{expiring}\
         <p><button type=\"submit\">Create token</button> <a href=\"{BASE}\">Cancel</a></p></form>",
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        identifier = input(
            "text",
            "identifier",
            "Identifier",
            form.get("identifier").unwrap_or_default(),
            "A name for the token, unique.",
            errors
        ),
        description =
            input("text", "description", "Description", form.get("description").unwrap_or_default(), "", errors),
        expiring = select_hinted(
            "expires_in",
            "Expires",
            &EXPIRY_CHOICES
                .iter()
                .map(|(value, label, _)| ((*value).to_owned(), (*label).to_owned()))
                .collect::<Vec<_>>(),
            form.get("expires_in").unwrap_or(DEFAULT_EXPIRY),
            "When the token stops working (it can be revoked any time before).",
            errors
        ),
    );
    with_status(admin_page(state, admin, "New API token", BASE, &body, &[]), errors)
}

/// How long a new token lasts: (form value, label, seconds; none: never expires).
const EXPIRY_CHOICES: &[(&str, &str, Option<i64>)] = &[
    ("30d", "In 30 days", Some(30 * 86_400)),
    ("1y", "In a year", Some(365 * 86_400)),
    ("30m", "In 30 minutes", Some(30 * 60)),
    ("never", "Never", None),
];
const DEFAULT_EXPIRY: &str = "30d";

/// `GET /if/admin/tokens/new`.
pub async fn new_form(State(state): State<AppState>, admin: Admin) -> Response {
    form_page(&state, &admin, &FormData::parse(b""), &FieldErrors::default())
}

/// `POST /if/admin/tokens/new`: creates the token, then shows its key's page.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let lifetime = EXPIRY_CHOICES
        .iter()
        .find(|(value, ..)| Some(*value) == form.get("expires_in"))
        .map_or(Some(30 * 86_400), |(_, _, seconds)| *seconds);
    let mut request = json!({
        "identifier": form.get("identifier").unwrap_or_default(), "description": form.get("description").unwrap_or_default(),
        "intent": "api", "expiring": lifetime.is_some(),
    });
    if let Some(seconds) = lifetime {
        request["expires"] = json!(iso8601(state.clock.now() + jiff::SignedDuration::from_secs(seconds)));
    }
    let (changes, errors) = crate::api::read_body(&request, false, crate::api::tokens::read_token);
    let token = match service::create(&state, &admin.actor, changes, errors).await {
        Ok(token) => token,
        Err(ServiceError::Invalid(errors)) => return Ok(form_page(&state, &admin, &form, &errors)),
        Err(other) => return Err(failure(other)),
    };
    let page = format!("{BASE}{}/key", super::encoded(&token.identifier));
    Ok(done(&state, &page, &format!("Created the API token {}.", token.identifier)))
}

/// `GET /if/admin/tokens/{identifier}/key`: the token's key with a Copy button (its owner or a
/// superuser; never cached).
pub async fn key(
    State(state): State<AppState>,
    admin: Admin,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let token = service::get(&state, &admin.actor, &identifier).await.map_err(failure)?;
    let key = service::view_key(&state, &admin.actor, &token.identifier).await.map_err(failure)?;
    let body = format!(
        "<p><a href=\"{BASE}\">API tokens</a></p><h1>{identifier}</h1><div class=\"card secret\">\
         <p>The token's key: copy it into the program that will use it.</p>{key}\
         <p class=\"muted\">Expires: {expires}. Send it as <code>Authorization: Bearer …</code>.</p>\
         <p><a class=\"button\" href=\"{BASE}{id}/\">Done</a></p></div>",
        identifier = escape(&token.identifier),
        key = copy_block("token-key", "the key", &key),
        expires = expiry(&token),
        id = escape(&super::encoded(&token.identifier)),
    );
    let mut response = admin_page(&state, &admin, &token.identifier, BASE, &body, &[]);
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /if/admin/tokens/{identifier}/`.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let token = service::get(&state, &admin.actor, &identifier).await.map_err(failure)?;
    let page = format!("{BASE}{}/", super::encoded(&token.identifier));
    let body = format!(
        "<p><a href=\"{BASE}\">API tokens</a></p><h1>{identifier}</h1><p class=\"actions\"><a class=\"button\" href=\"{page}edit\">Edit</a> \
         <a class=\"button secondary\" href=\"{page}key\">Show the key</a> <a class=\"button danger\" href=\"{page}delete\">Revoke</a></p>\
         <div class=\"card\"><dl class=\"facts\"><dt>Intent</dt><dd>{intent}</dd><dt>Expires</dt><dd>{expires}</dd>\
         <dt>Description</dt><dd>{description}</dd></dl></div>",
        identifier = escape(&token.identifier),
        page = escape(&page),
        intent = token.intent.as_str(),
        expires = expiry(&token),
        description = escape(&token.description),
    );
    Ok(admin_page(&state, &admin, &token.identifier, BASE, &body, &[]))
}

/// The edit form of the token `identifier`: its description and expiry (`values`: description,
/// expires as ISO 8601, expiring).
fn edit_page(
    state: &AppState,
    admin: &Admin,
    identifier: &str,
    values: (&str, &str, bool),
    errors: &FieldErrors,
) -> Response {
    let page = escape(&format!("{BASE}{}/", super::encoded(identifier)));
    let title = format!("Edit {identifier}");
    let body = format!(
        "<p><a href=\"{BASE}\">API tokens</a></p><h1>{title_html}</h1>{alert}\
         <form method=\"post\" action=\"{page}edit\" class=\"card\" novalidate>{csrf}{description}{expiring}{expires}\
         <p><button type=\"submit\">Save changes</button> <a href=\"{page}\">Cancel</a></p></form>",
        title_html = escape(&title),
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        description = input("text", "description", "Description", values.0, "", errors),
        expiring = checkbox("expiring", "Expires", values.2, "Unticked, the token works until it is revoked.", errors),
        expires = input(
            "text",
            "expires",
            "Expires at",
            values.1,
            "ISO 8601, such as 2027-01-31T12:00:00Z; empty: 30 minutes from now.",
            errors
        ),
    );
    with_status(admin_page(state, admin, &title, BASE, &body, &[]), errors)
}

/// `GET /if/admin/tokens/{identifier}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let token = service::get(&state, &admin.actor, &identifier).await.map_err(failure)?;
    let expires = token.expires.filter(|_| token.expiring).map(iso8601).unwrap_or_default();
    let values = (token.description.as_str(), expires.as_str(), token.expiring);
    Ok(edit_page(&state, &admin, &token.identifier, values, &FieldErrors::default()))
}

/// `POST /if/admin/tokens/{identifier}/edit`: description and expiry, read by the API's reader.
pub async fn update(
    State(state): State<AppState>,
    Path(identifier): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let description = form.get("description").unwrap_or_default().trim();
    let expires = form.get("expires").unwrap_or_default().trim();
    let expiring = form.ticked("expiring");
    // Not expiring: no end; expiring without a date: the default lifetime from now.
    let end = if expiring && !expires.is_empty() { json!(expires) } else { json!(null) };
    let request = json!({"description": description, "expiring": expiring, "expires": end});
    let (changes, errors) = crate::api::read_body(&request, true, crate::api::tokens::read_token);
    match service::update(&state, &admin.actor, &identifier, changes, errors).await {
        Ok(token) => Ok(done(
            &state,
            &format!("{BASE}{}/", super::encoded(&token.identifier)),
            &format!("Saved the API token {}.", token.identifier),
        )),
        Err(ServiceError::Invalid(errors)) => {
            Ok(edit_page(&state, &admin, &identifier, (description, expires, expiring), &errors))
        }
        Err(other) => Err(failure(other)),
    }
}

/// `GET /if/admin/tokens/{identifier}/delete`.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(identifier): Path<String>,
) -> Result<Response, PageError> {
    let token = service::get(&state, &admin.actor, &identifier).await.map_err(failure)?;
    let page = format!("{BASE}{}/", super::encoded(&token.identifier));
    let consequences = "<p>Every program using this token is refused at once; this cannot be undone.</p>";
    Ok(confirm_verb_page(&state, &admin, BASE, &page, "Revoke", &token.identifier, consequences))
}

/// `POST /if/admin/tokens/{identifier}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(identifier): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    service::delete(&state, &admin.actor, &identifier).await.map_err(failure)?;
    Ok(done(&state, BASE, &format!("Revoked the API token {identifier}.")))
}
