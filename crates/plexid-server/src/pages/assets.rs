//! The pages' static files, compiled into the binary (nothing is loaded from elsewhere).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::PageError;

const FILES: &[(&str, &str, &str)] = &[
    ("plexid.css", "text/css; charset=utf-8", include_str!("../../assets/plexid.css")),
    ("plexid.js", "text/javascript; charset=utf-8", include_str!("../../assets/plexid.js")),
    ("plex-login.js", "text/javascript; charset=utf-8", include_str!("../../assets/plex-login.js")),
    ("account.js", "text/javascript; charset=utf-8", include_str!("../../assets/account.js")),
    ("admin-source.js", "text/javascript; charset=utf-8", include_str!("../../assets/admin-source.js")),
];

/// `GET /static/plexid/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, ..)| *file == name) {
        Some((_, content_type, body)) => {
            ([(CONTENT_TYPE, *content_type), (CACHE_CONTROL, "public, max-age=300")], *body).into_response()
        }
        None => PageError::not_found().into_response(),
    }
}
