//! `/if/flow/{slug}/`: the login page (every enabled Plex source with its button) and, for a new
//! user whose mapped username is missing or taken, the enrollment step that asks for one.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use plexid_core::modes::FlowDesignation;
use serde::Deserialize;

use super::{escape, page, PageError, SignedIn};
use crate::api::http::QueryParams;
use crate::service::login::{self, safe_next};
use crate::service::{Client, ServiceError};
use crate::state::AppState;
use crate::web::cookies;

/// The login page's Plex part: the source buttons and where the status shows.
pub fn plex_buttons(state: &AppState, choices: &[login::LoginChoice], redeem: &str, next: &str, verb: &str) -> String {
    let buttons: String = choices
        .iter()
        .map(|c| {
            format!(
                "<button type=\"button\" id=\"plex-{slug}\" data-plex-source=\"{slug}\" data-client-id=\"{client}\">{verb} {name}</button>",
                slug = escape(&c.slug),
                client = escape(&c.client_id),
                name = escape(&c.name),
            )
        })
        .collect();
    format!(
        "<div id=\"plex-login\" data-plex-api=\"{api}\" data-plex-app=\"{app}\" data-redeem=\"{redeem}\" data-next=\"{next}\">\
         <div class=\"sources\">{buttons}</div>\
         <p id=\"plex-status\" class=\"status\" role=\"status\" aria-live=\"polite\"></p>\
         <button type=\"button\" id=\"plex-retry\" class=\"secondary\" hidden>Try again</button></div>",
        api = escape(state.settings.plex_api_url.trim_end_matches('/')),
        app = escape(state.settings.plex_app_url.trim_end_matches('/')),
        redeem = escape(redeem),
        next = escape(next),
    )
}

async fn flow_designation(state: &AppState, slug: &str) -> Result<FlowDesignation, PageError> {
    let flow = state.store.read().flow_by_slug(slug).await.map_err(|e| PageError::internal(&e))?;
    flow.map(|f| f.designation).ok_or_else(PageError::not_found)
}

fn username_form(slug: &str, username: &str, error: Option<&str>) -> String {
    let refused = error.is_some();
    let error =
        error.map_or_else(String::new, |e| format!("<p id=\"username-error\" class=\"error\">{}</p>", escape(e)));
    format!(
        "<div class=\"card\"><h1>Choose a username</h1>\
         <p class=\"muted\">Your Plex account is allowed in. Pick the username you will have here{taken}.</p>\
         <form method=\"post\" action=\"/if/flow/{slug}/\">\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" autocomplete=\"username\" required \
         aria-describedby=\"username-error\" autofocus>{error}\
         <p><button type=\"submit\">Continue</button></p></form></div>",
        slug = escape(slug),
        username = escape(username),
        taken = if username.is_empty() && !refused {
            " (the one from Plex is already used by someone else, or cannot be used)"
        } else {
            ""
        },
    )
}

/// `GET /if/flow/{slug}/`.
pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    user: Option<SignedIn>,
) -> Result<Response, PageError> {
    let designation = flow_designation(&state, &slug).await?;
    let next = safe_next(query.get("next"));
    if designation == FlowDesignation::Enrollment {
        if let Some(key) = cookies::read_own(&headers, &state.settings, cookies::PENDING) {
            if let Some(username) = login::pending_username(&state, &key).await.map_err(|e| PageError::internal(&e))? {
                return Ok(page(&state, "Choose a username", &username_form(&slug, &username, None), &[]));
            }
        }
    }
    if user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let choices = login::choices(&state).await.map_err(|e| PageError::internal(&e))?;
    let message = super::flash::take(&state, &headers);
    let flash = message.as_deref().map(super::flash::html).unwrap_or_default();
    let body = if choices.is_empty() {
        format!(
            "{flash}<div class=\"card\"><h1>Sign in</h1><p>No sign-in method is set up yet. An administrator has to add a \
             Plex source first, in <a href=\"/if/admin/\">the admin pages</a>.</p></div>"
        )
    } else {
        let purpose = match coming_from(&state, query.get("next")).await {
            Some(app) => format!("Sign in with Plex to continue to <strong>{}</strong>.", escape(&app)),
            None => "Sign in with the Plex account you use for this server.".to_owned(),
        };
        format!(
            "{flash}<div class=\"card\"><h1>Sign in</h1><p class=\"muted\" id=\"purpose\">{purpose}</p>{}</div>",
            plex_buttons(
                &state,
                &choices,
                "/api/v3/sources/plex/redeem_token/",
                query.get("next").map_or("", |_| next.as_str()),
                "Sign in with"
            )
        )
    };
    let mut response = page(&state, "Sign in", &body, &["plex-login.js"]);
    if message.is_some() {
        super::flash::clear(&state, &mut response);
    }
    Ok(response)
}

/// The application a sign-in is for, when `next` is an authorization request (an OpenID
/// Connect application's, or forward-auth's, which uses one too).
async fn coming_from(state: &AppState, next: Option<&str>) -> Option<String> {
    let query = next?.strip_prefix("/application/o/authorize/?")?;
    let client_id = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "client_id")?.1.into_owned();
    let client = crate::service::oidc::client(state, &client_id).await.ok()??;
    Some(client.application.name)
}

#[derive(Deserialize)]
pub struct UsernameForm {
    #[serde(default)]
    username: String,
}

/// `POST /if/flow/{slug}/`: the username of a waiting sign-in.
pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<UsernameForm>,
) -> Result<Response, PageError> {
    flow_designation(&state, &slug).await?;
    let expired = || PageError {
        status: axum::http::StatusCode::BAD_REQUEST,
        title: "Sign-in expired",
        message: "This sign-in waited too long. Please sign in with Plex again.".into(),
    };
    let key = cookies::read_own(&headers, &state.settings, cookies::PENDING).ok_or_else(expired)?;
    match login::complete_enrollment(&state, &key, &form.username, &client).await {
        Ok((started, next)) => {
            let mut response = Redirect::to(&next).into_response();
            cookies::set_session(&mut response, &state.settings, &started);
            Ok(response)
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors
                .messages("username")
                .into_iter()
                .next()
                .unwrap_or_else(|| "This username cannot be used.".to_owned());
            let mut response =
                page(&state, "Choose a username", &username_form(&slug, &form.username, Some(&message)), &[]);
            *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            Ok(response)
        }
        Err(ServiceError::NotFound) => Err(expired()),
        Err(ServiceError::Denied { message, .. }) => {
            Err(PageError { status: axum::http::StatusCode::FORBIDDEN, title: "Sign-in refused", message })
        }
        Err(error) => Err(PageError::internal(&error)),
    }
}
