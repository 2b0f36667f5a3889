//! `/if/admin/`: the administration pages. Server-rendered HTML forms that work without
//! JavaScript (scripts only add the Plex sign-in and the server picker), usable on a phone and
//! with the keyboard, every asset served by plexid. They call the same service operations as the
//! API, with the signed-in user as the actor, so permissions, validation and authentik's error
//! wording are the API's; a page or action the user may not use is not offered.

pub mod applications;
pub mod connections;
pub mod events;
pub mod flows;
pub mod forms;
pub mod groups;
pub mod mappings;
pub mod paging;
pub mod sessions;
pub mod sources;
pub mod tokens;
pub mod users;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use plexid_core::Permission;

use super::{document, escape, PageError, SignedIn, LOGIN_PATH};
use crate::service::{sessions as session_service, Actor, ServiceError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/if/admin/", get(overview))
        .route(
            "/if/admin/sign-in",
            get(token_form)
                .post(token_sign_in)
                .layer(axum::extract::DefaultBodyLimit::max(crate::api::http::ANONYMOUS_MAX_BODY_BYTES)),
        )
        .route("/if/admin/sources/", get(sources::list))
        .route("/if/admin/sources/new", get(sources::new_form).post(sources::create))
        .route("/if/admin/sources/{slug}/", get(sources::show))
        .route("/if/admin/sources/{slug}/edit", get(sources::edit_form).post(sources::update))
        .route("/if/admin/sources/{slug}/delete", get(sources::confirm_delete).post(sources::delete))
        .route("/if/admin/mappings/", get(mappings::list))
        .route("/if/admin/mappings/new", get(mappings::new_form).post(mappings::create))
        .route("/if/admin/mappings/{id}/", get(mappings::show).post(mappings::update))
        .route("/if/admin/mappings/{id}/test", axum::routing::post(mappings::test))
        .route("/if/admin/mappings/{id}/delete", get(mappings::confirm_delete).post(mappings::delete))
        .route("/if/admin/users/", get(users::list))
        .route("/if/admin/users/{id}/", get(users::show))
        .route("/if/admin/users/{id}/groups", axum::routing::post(users::add_group))
        .route("/if/admin/users/{id}/groups/{group}/remove", axum::routing::post(users::remove_group))
        .route("/if/admin/users/{id}/sessions/{session}/end", axum::routing::post(users::end_session))
        .route("/if/admin/users/{id}/sessions/end-all", axum::routing::post(users::end_all))
        .route("/if/admin/users/{id}/active", axum::routing::post(users::set_active))
        .route("/if/admin/groups/", get(groups::list))
        .route("/if/admin/groups/new", get(groups::new_form).post(groups::create))
        .route("/if/admin/groups/{id}/", get(groups::show))
        .route("/if/admin/groups/{id}/edit", get(groups::edit_form).post(groups::update))
        .route("/if/admin/groups/{id}/members", axum::routing::post(groups::add_member))
        .route("/if/admin/groups/{id}/members/{user}/remove", axum::routing::post(groups::remove_member))
        .route("/if/admin/groups/{id}/delete", get(groups::confirm_delete).post(groups::delete))
        .route("/if/admin/sessions/", get(sessions::list))
        .route("/if/admin/sessions/{user}/{session}/end", axum::routing::post(sessions::end))
        .route("/if/admin/connections/", get(connections::index))
        .route("/if/admin/connections/{kind}/", get(connections::list))
        .route("/if/admin/connections/{kind}/{id}/", get(connections::show))
        .route("/if/admin/connections/{kind}/{id}/delete", get(connections::confirm_delete).post(connections::delete))
        .route("/if/admin/flows/", get(flows::list))
        .route("/if/admin/flows/{slug}/", get(flows::show))
        .route("/if/admin/flows/{slug}/edit", get(flows::edit_form).post(flows::update))
        .route("/if/admin/flows/{slug}/delete", get(flows::confirm_delete).post(flows::delete))
        .route("/if/admin/events/", get(events::list))
        .route("/if/admin/tokens/", get(tokens::list))
        .route("/if/admin/tokens/new", get(tokens::new_form).post(tokens::create))
        .route("/if/admin/tokens/{identifier}/", get(tokens::show))
        .route("/if/admin/tokens/{identifier}/edit", get(tokens::edit_form).post(tokens::update))
        .route("/if/admin/tokens/{identifier}/key", get(tokens::key))
        .route("/if/admin/tokens/{identifier}/delete", get(tokens::confirm_delete).post(tokens::delete))
        .route("/if/admin/applications/", get(applications::list))
        .route("/if/admin/applications/new", get(applications::new_form).post(applications::create))
        .route("/if/admin/applications/{slug}/", get(applications::show))
        .route("/if/admin/applications/{slug}/edit", get(applications::edit_form).post(applications::update))
        .route("/if/admin/applications/{slug}/secret", get(applications::secret))
        .route("/if/admin/applications/{slug}/delete", get(applications::confirm_delete).post(applications::delete))
}

/// The sections of the admin pages: label, path, and the permission that shows them.
const SECTIONS: &[(&str, &str, Permission)] = &[
    ("Plex sources", "/if/admin/sources/", crate::service::sources::VIEW),
    ("Property mappings", "/if/admin/mappings/", crate::service::mappings::VIEW),
    ("Applications", "/if/admin/applications/", crate::service::applications::VIEW),
    ("Users", "/if/admin/users/", crate::service::users::VIEW),
    ("Groups", "/if/admin/groups/", crate::service::groups::VIEW),
    ("Connections", "/if/admin/connections/", crate::service::connections::VIEW_USER),
    ("Sessions", "/if/admin/sessions/", crate::service::users::VIEW),
    ("Flows", "/if/admin/flows/", crate::service::flows::VIEW),
    ("API tokens", "/if/admin/tokens/", crate::service::tokens::VIEW),
    ("Audit log", "/if/admin/events/", crate::service::events::VIEW),
];

/// A signed-in user who may use at least one admin section.
pub struct Admin {
    pub actor: Actor,
    pub username: String,
    /// The session's CSRF token, carried by every form.
    pub csrf: String,
    /// What the last form did (see `pages::flash`), shown once by [`admin_page`].
    pub flash: Option<String>,
}

impl Admin {
    /// The signed-in user's id.
    pub fn user(&self) -> Option<plexid_core::UserId> {
        self.actor.principal().ok().map(|p| p.user)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = <SignedIn as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(user) = signed_in else {
            let next = parts.uri.path_and_query().map_or("/if/admin/", |p| p.as_str());
            return Err(Redirect::to(&format!("/if/admin/sign-in?next={}", encoded(next))).into_response());
        };
        let actor = Actor::User(user.principal.clone());
        if !SECTIONS.iter().any(|(_, _, permission)| actor.can(*permission)) {
            return Err(no_rights(state, &user));
        }
        let username = user.principal.username.clone();
        let flash = super::flash::take(state, &parts.headers);
        Ok(Admin { actor, username, csrf: session_service::csrf_token(&user.key), flash })
    }
}

/// The page of a signed-in person without administration rights: how one gets them, and
/// signing out (to sign in as someone else).
fn no_rights(state: &AppState, user: &SignedIn) -> Response {
    let body = format!(
        "<div class=\"card\"><h1>No administration rights</h1>\
         <p>You are signed in as <strong>{username}</strong>, which may not administer plexid.</p>\
         <h2>How to get in</h2><ul>\
         <li>An administrator can make you one: on your page under <em>Users</em>, “Add to a group” → \
         <em>{group}</em>.</li>\
         <li>If you run this plexid and nobody can sign in as an administrator yet, sign out and use \
         <a href=\"/if/admin/sign-in\">the administrator sign-in</a> with the bootstrap token \
         (<code>PLEXID_BOOTSTRAP_TOKEN</code>) or a token printed by <code>plexid create-token</code>.</li></ul>\
         <form method=\"post\" action=\"/if/logout/\" class=\"actions\">{csrf}\
         <button type=\"submit\">Sign out</button> <a class=\"button secondary\" href=\"/if/user/\">My account</a></form></div>",
        username = escape(&user.principal.username),
        group = escape(crate::startup::ADMIN_GROUP),
        csrf = forms::csrf_field(&session_service::csrf_token(&user.key)),
    );
    let mut response =
        document(state, "No administration rights", &super::account::account_header(&user.principal), &body, &[], "");
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// A form posted to an admin page by an admin: read only once it carries this session's CSRF
/// token (else a 403 page), so no POST handler can forget the check. Goes last among a
/// handler's arguments (it reads the body).
pub struct Posted {
    pub admin: Admin,
    pub form: forms::FormData,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        let form = forms::FormData::parse(&body);
        admin.check_csrf(&form).map_err(IntoResponse::into_response)?;
        Ok(Posted { admin, form })
    }
}

impl Admin {
    /// Fails with a 403 page unless the form came from a page of this session.
    fn check_csrf(&self, form: &forms::FormData) -> Result<(), PageError> {
        if form.get("csrf") == Some(self.csrf.as_str()) {
            Ok(())
        } else {
            Err(PageError::not_our_form())
        }
    }
}

/// A form's page answered with 400 when it shows `errors` (a refused submission), else 200.
pub fn with_status(mut response: Response, errors: &plexid_core::FieldErrors) -> Response {
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// A 403 page unless `allowed` (for the pages and actions the admin's permissions do not
/// offer, reached by their address).
pub fn permitted(allowed: bool) -> Result<(), PageError> {
    if allowed {
        Ok(())
    } else {
        Err(failure(ServiceError::Forbidden))
    }
}

/// The list's button to `href` making a new object, when the admin may (`allowed`).
pub fn new_button(allowed: bool, href: &str, label: &str) -> String {
    if allowed {
        format!("<p><a class=\"button\" href=\"{href}\">{label}</a></p>")
    } else {
        String::new()
    }
}

/// The redirect after an action, to `to`, whose page says `message` (see `pages::flash`).
pub fn done(state: &AppState, to: &str, message: &str) -> Response {
    super::flash::redirect(state, to, message)
}

/// The Edit and Delete buttons of the object whose page is `page` (a path ending in `/`), each
/// only when the admin may use it; nothing when neither.
pub fn edit_delete(page: &str, edit: bool, delete: bool) -> String {
    let mut buttons = Vec::new();
    if edit {
        buttons.push(format!("<a class=\"button\" href=\"{page}edit\">Edit</a>"));
    }
    if delete {
        buttons.push(format!("<a class=\"button danger\" href=\"{page}delete\">Delete</a>"));
    }
    if buttons.is_empty() {
        String::new()
    } else {
        format!("<p class=\"actions\">{}</p>", buttons.join(" "))
    }
}

/// A service failure as a page.
pub fn failure(error: ServiceError) -> PageError {
    match error {
        ServiceError::NotFound => PageError::not_found(),
        // A refusal that is no form's field error (such as losing the last administrator).
        ServiceError::Invalid(errors) if errors.has("non_field_errors") => PageError {
            status: StatusCode::BAD_REQUEST,
            title: "Not done",
            message: errors.messages("non_field_errors").join(" "),
        },
        ServiceError::Forbidden | ServiceError::NotAuthenticated => PageError {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: "Your account may not do this.".into(),
        },
        other => PageError::internal(&other),
    }
}

/// An admin page: the navigation (sections the user may use, `current` marked), then `body`.
pub fn admin_page(
    state: &AppState,
    admin: &Admin,
    title: &str,
    current: &str,
    body: &str,
    scripts: &[&str],
) -> Response {
    let links: String = std::iter::once(("Overview", "/if/admin/"))
        .chain(SECTIONS.iter().filter(|(_, _, p)| admin.actor.can(*p)).map(|(label, path, _)| (*label, *path)))
        .map(|(label, path)| {
            let marker = if path == current { " aria-current=\"page\"" } else { "" };
            format!("<li><a href=\"{path}\"{marker}>{label}</a></li>")
        })
        .collect();
    let header = format!(
        "<a class=\"skip\" href=\"#content\">Skip to content</a>\
         <header class=\"admin-bar\"><button type=\"button\" id=\"menu-toggle\" class=\"secondary small menu-toggle\" \
         aria-expanded=\"false\" aria-controls=\"admin-nav\" hidden>Menu</button>\
         <nav aria-label=\"Administration\" id=\"admin-nav\"><ul>{links}</ul></nav>\
         <form class=\"inline\" method=\"post\" action=\"/if/logout/\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <a href=\"/if/user/\">My account ({user})</a> <button type=\"submit\" class=\"secondary small\">Sign out</button></form></header>",
        csrf = escape(&admin.csrf),
        user = escape(&admin.username),
    );
    let body = match &admin.flash {
        Some(message) => format!("{}{body}", super::flash::html(message)),
        None => body.to_owned(),
    };
    let mut response = document(state, title, &header, &body, scripts, "admin");
    if admin.flash.is_some() {
        super::flash::clear(state, &mut response);
    }
    response
}

/// Error pages of the admin pages, shown inside the admin layout (with the navigation) when the
/// person may use them; everything else passes through untouched.
pub async fn error_layout(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    if !request.uri().path().starts_with("/if/admin/") {
        return next.run(request).await;
    }
    let (uri, headers) = (request.uri().clone(), request.headers().clone());
    let response = next.run(request).await;
    let Some(error) = response.extensions().get::<super::ErrorPage>().cloned() else { return response };
    let Ok(empty) = Request::builder().uri(uri).body(axum::body::Body::empty()) else { return response };
    let (mut parts, _) = empty.into_parts();
    parts.headers = headers;
    let Ok(admin) = Admin::from_request_parts(&mut parts, &state).await else { return response };
    let status = response.status();
    let ways_on = "<p class=\"actions\"><a class=\"button secondary\" href=\"/if/admin/\">Overview</a></p>";
    let body = super::error_body(error.title, &error.message, ways_on);
    let mut page = admin_page(&state, &admin, error.title, "", &body, &[]);
    *page.status_mut() = status;
    page
}

/// Sign-ins and refusals over the last 24 hours: a bar chart (SVG, drawn here; nothing is
/// loaded) and the same figures as a table for screen readers and copying.
async fn activity_chart(state: &AppState, admin: &Admin) -> Result<String, PageError> {
    use plexid_core::modes::EventAction;
    const HOURS: usize = 24;
    let signins =
        crate::service::events::hourly_counts(state, &admin.actor, EventAction::Login, HOURS).await.map_err(failure)?;
    let refusals = crate::service::events::hourly_counts(state, &admin.actor, EventAction::LoginFailed, HOURS)
        .await
        .map_err(failure)?;
    let top = signins.iter().chain(&refusals).copied().max().unwrap_or(0).max(1);
    let (width, height, slot) = (480, 120, 20);
    let mut bars = String::new();
    for (hour, (ok, refused)) in signins.iter().zip(&refusals).enumerate() {
        let x = hour * slot;
        let ok_height = *ok as usize * height / top as usize;
        let refused_height = *refused as usize * height / top as usize;
        bars.push_str(&format!(
            "<rect class=\"bar-ok\" x=\"{x}\" y=\"{}\" width=\"8\" height=\"{ok_height}\"/>\
             <rect class=\"bar-refused\" x=\"{}\" y=\"{}\" width=\"8\" height=\"{refused_height}\"/>",
            height - ok_height,
            x + 9,
            height - refused_height,
        ));
    }
    let rows: String = signins
        .iter()
        .zip(&refusals)
        .enumerate()
        .map(|(hour, (ok, refused))| format!("<tr><td>{}</td><td>{ok}</td><td>{refused}</td></tr>", HOURS - hour))
        .collect();
    let (total_ok, total_refused): (i64, i64) = (signins.iter().sum(), refusals.iter().sum());
    // The axes: the hours along the bottom, the tallest bar's count at the top left.
    let axis = format!(
        "<text class=\"chart-axis\" x=\"0\" y=\"{label_y}\">24 h ago</text>\
         <text class=\"chart-axis\" x=\"{mid}\" y=\"{label_y}\" text-anchor=\"middle\">12 h ago</text>\
         <text class=\"chart-axis\" x=\"{width}\" y=\"{label_y}\" text-anchor=\"end\">now</text>\
         <text class=\"chart-axis\" x=\"0\" y=\"10\">{top}</text>",
        label_y = height + 14,
        mid = width / 2,
    );
    Ok(format!(
        "<section class=\"card\" aria-labelledby=\"activity\"><h2 id=\"activity\">Sign-ins, last 24 hours</h2>\
         <p><span class=\"key-ok\">{signed_in}</span> · <span class=\"key-refused\">{refused}</span> \
         <span class=\"muted\">(bars per hour; the scale tops out at {top})</span></p>\
         <svg class=\"chart\" viewBox=\"0 0 {width} {svg_height}\" role=\"img\" aria-label=\"{total_ok} sign-ins and {total_refused} refusals in the last 24 hours, by hour\">{bars}{axis}</svg>\
         <details><summary>By hour</summary><table><thead><tr><th scope=\"col\">Hours ago</th><th scope=\"col\">Sign-ins</th>\
         <th scope=\"col\">Refusals</th></tr></thead><tbody>{rows}</tbody></table></details></section>",
        signed_in = super::text::count(total_ok as u64, "sign-in", "sign-ins"),
        refused = super::text::count(total_refused as u64, "refusal", "refusals"),
        svg_height = height + 18,
    ))
}

/// The confirmation before deleting `name` (whose page is `page`, a path ending in `/`):
/// `consequences` (HTML, already escaped) says what goes with it; the form posts to
/// `{page}delete`.
pub fn confirm_delete_page(
    state: &AppState,
    admin: &Admin,
    section: &str,
    page: &str,
    name: &str,
    consequences: &str,
) -> Response {
    confirm_verb_page(state, admin, section, page, "Delete", name, consequences)
}

/// [`confirm_delete_page`] whose action is called `verb` (`Revoke` for a token).
pub fn confirm_verb_page(
    state: &AppState,
    admin: &Admin,
    section: &str,
    page: &str,
    verb: &str,
    name: &str,
    consequences: &str,
) -> Response {
    let confirm = Confirm {
        back: page,
        question: &format!("{verb} {name}?"),
        explanation: consequences,
        action: &format!("{page}delete"),
        button: &format!("{verb} {name}"),
        danger: true,
        fields: &[],
    };
    confirm_page(state, admin, section, &confirm)
}

/// A question asked before an action: the form posts `fields` (and `confirm=yes`) to
/// `action`; Cancel goes `back`.
pub struct Confirm<'a> {
    pub back: &'a str,
    pub question: &'a str,
    /// HTML, already escaped: what the action does.
    pub explanation: &'a str,
    pub action: &'a str,
    pub button: &'a str,
    pub danger: bool,
    pub fields: &'a [(&'a str, &'a str)],
}

/// The page of a [`Confirm`] question.
pub fn confirm_page(state: &AppState, admin: &Admin, section: &str, c: &Confirm<'_>) -> Response {
    let fields: String = c
        .fields
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value)))
        .collect();
    let body = format!(
        "<p><a href=\"{back}\">Back</a></p><h1>{question}</h1><div class=\"card\">{explanation}\
         <form method=\"post\" action=\"{action}\" id=\"delete-form\">{csrf}{fields}\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\"{class}>{button}</button> <a href=\"{back}\">Cancel</a></form></div>",
        back = escape(c.back),
        question = escape(c.question),
        explanation = c.explanation,
        action = escape(c.action),
        csrf = forms::csrf_field(&admin.csrf),
        class = if c.danger { " class=\"danger\"" } else { "" },
        button = escape(c.button),
    );
    admin_page(state, admin, c.question, section, &body, &[])
}

/// `GET /if/admin/`: what each section holds, and the sources' health.
async fn overview(
    axum::extract::State(state): axum::extract::State<AppState>,
    admin: Admin,
) -> Result<Response, PageError> {
    let sources = if admin.actor.can(crate::service::sources::VIEW) {
        sources::health_table(&state, &admin).await?
    } else {
        String::new()
    };
    let activity = if admin.actor.can(crate::service::events::VIEW) {
        activity_chart(&state, &admin).await?
    } else {
        String::new()
    };
    let body = format!("<h1>Overview</h1>{activity}{sources}");
    Ok(admin_page(&state, &admin, "Overview", "/if/admin/", &body, &[]))
}

/// The usernames of `ids`, read in one query (for tables that name each row's user).
pub async fn usernames(
    state: &AppState,
    ids: impl IntoIterator<Item = plexid_core::UserId>,
) -> Result<std::collections::HashMap<plexid_core::UserId, String>, PageError> {
    let ids: Vec<plexid_core::UserId> = ids.into_iter().collect();
    let users = state.store.read().users_by_ids(&ids).await.map_err(|e| PageError::internal(&e))?;
    Ok(users.into_iter().map(|u| (u.id, u.username)).collect())
}

/// `text` encoded for a URL's query.
pub fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Where to go after signing in: an admin page asked for, else the overview.
fn admin_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with("/if/admin/")
                && !path.contains("//")
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path
        }
        _ => "/if/admin/",
    }
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /if/admin/sign-in`: for administrators without a Plex sign-in yet (the first one, before
/// any source exists): an API token, such as the bootstrap token, starts an admin session.
async fn token_form(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    token_page(&state, admin_next(q.next.as_deref()), None, StatusCode::OK)
}

/// The token form, with a fresh login-CSRF value in its hidden field and cookie.
fn token_page(state: &AppState, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let login_csrf = crate::crypto::generate_key();
    let mut response = token_form_html(state, next, &login_csrf, error, status);
    crate::web::cookies::set_login_csrf(&mut response, &state.settings, &login_csrf);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

fn token_form_html(
    state: &AppState,
    next: &str,
    login_csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let errors = match error {
        Some(message) => plexid_core::FieldErrors::single("token", message),
        None => plexid_core::FieldErrors::default(),
    };
    let body = format!(
        "<div class=\"card\"><h1>Administrator sign-in</h1>\
         <p><a class=\"button\" href=\"{LOGIN_PATH}?next={next_query}\">Sign in with Plex</a></p>\
         <p class=\"muted\">No Plex source yet? Sign in with an API token: the first time, the bootstrap token \
         (<code>PLEXID_BOOTSTRAP_TOKEN</code>), or one printed by <code>plexid create-token</code>.</p>\
         <form method=\"post\" action=\"/if/admin/sign-in\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <input type=\"hidden\" name=\"login_csrf\" value=\"{login_csrf}\">{field}\
         <button type=\"submit\">Sign in with the token</button></form></div>",
        next_query = escape(&encoded(next)),
        next = escape(next),
        login_csrf = escape(login_csrf),
        field = forms::input("password", "token", "API token", "", "", &errors),
    );
    let mut response = super::page(state, "Administrator sign-in", &body, &[]);
    *response.status_mut() = status;
    response
}

/// `POST /if/admin/sign-in`: starts a session for the token's user, if they may administer.
/// The form must carry the login-CSRF value of its cookie (a cross-site form cannot sign a
/// browser in to an attacker's account), and attempts count against the client's sign-in limit.
async fn token_sign_in(
    axum::extract::State(state): axum::extract::State<AppState>,
    client: crate::service::Client,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = forms::FormData::parse(&body);
    let next = admin_next(form.get("next"));
    let expected = crate::web::cookies::read_own(&headers, &state.settings, crate::web::cookies::LOGIN_CSRF);
    if expected.is_none() || form.get("login_csrf") != expected.as_deref() {
        let message = "This sign-in form was not plexid's, or has expired. Please try again.";
        return Ok(token_page(&state, next, Some(message), StatusCode::FORBIDDEN));
    }
    if let Err(retry_after) = state.login_limits.per_client.attempt(&format!("admin:{}", client.ip), state.clock.now())
    {
        let message = format!("Too many sign-in attempts from your address. Try again in {retry_after} seconds.");
        let mut response = token_page(&state, next, Some(&message), StatusCode::TOO_MANY_REQUESTS);
        if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let key = form.get("token").unwrap_or_default();
    match session_service::start_with_token(&state, key, &admin_permissions(), &client).await {
        Ok(Some(started)) => {
            let mut response = Redirect::to(next).into_response();
            crate::web::cookies::set_session(&mut response, &state.settings, &started);
            Ok(response)
        }
        Ok(None) => Ok(token_page(&state, next, Some("This token is not valid."), StatusCode::BAD_REQUEST)),
        Err(ServiceError::Forbidden) => {
            Ok(token_page(&state, next, Some("This token's user may not administer plexid."), StatusCode::FORBIDDEN))
        }
        Err(other) => Err(PageError::internal(&other)),
    }
}

/// The permissions that open at least one admin section.
pub fn admin_permissions() -> Vec<Permission> {
    SECTIONS.iter().map(|(_, _, p)| *p).collect()
}
