//! Request extractors and response helpers shared by every handler: JSON bodies with DRF's
//! parse errors, query strings read as Django's QueryDict, and JSON responses with authentik's
//! content type.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;

/// Largest request body accepted from an authenticated caller.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest request body accepted from anyone else (a sign-in, a token exchange, a form of the
/// login pages): what those need, so unauthenticated connections cannot make plexid buffer a
/// megabyte each.
pub const ANONYMOUS_MAX_BODY_BYTES: usize = 64 * 1024;

/// Put in a request's extensions by the [`crate::service::Actor`] extractor when the caller
/// proved who they are: [`JsonBody`] then accepts the larger limit.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated;

/// A JSON response with `Content-Type: application/json; charset=utf-8`.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let mut bytes = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            response
        }
        Err(error) => ApiError::Internal(format!("serialising response: {error}")).into_response(),
    }
}

/// `200 OK` with a JSON body.
pub fn ok<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, body)
}

/// `201 Created` with a JSON body.
pub fn created<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::CREATED, body)
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A request body parsed as JSON. An empty body is `{}` (as DRF treats it). At most
/// [`MAX_BODY_BYTES`] from an authenticated caller, [`ANONYMOUS_MAX_BODY_BYTES`] otherwise (the
/// caller was identified by an extractor before this one).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let limit = if request.extensions().get::<Authenticated>().is_some() {
            MAX_BODY_BYTES
        } else {
            ANONYMOUS_MAX_BODY_BYTES
        };
        let bytes: Bytes = axum::body::to_bytes(request.into_body(), limit).await.map_err(|e| {
            let error = e.into_inner();
            if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                ApiError::PayloadTooLarge
            } else {
                ApiError::JsonParse(format!("could not read the request body: {error}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Object(Default::default())));
        }
        if let Some(kind) = content_type.filter(|k| k != "application/json" && !k.ends_with("+json")) {
            return Err(ApiError::UnsupportedMediaType(kind));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| ApiError::JsonParse(e.to_string()))
    }
}

/// The query string as a multi-map. `get` returns the last value, like Django's `QueryDict`.
#[derive(Debug, Default, Clone)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        QueryParams(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A non-empty value (django-filter ignores empty filter values).
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()).collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::parse(parts.uri.query().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::QueryParams;

    #[test]
    fn last_value_wins_and_all_are_kept() {
        let q = QueryParams::parse("managed=a&managed=b&search=plex%20test&x=");
        assert_eq!(q.get("managed"), Some("b"));
        assert_eq!(q.get_all("managed"), ["a", "b"]);
        assert_eq!(q.get("search"), Some("plex test"));
        assert_eq!(q.filter("x"), None);
    }
}
