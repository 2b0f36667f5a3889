//! The API's one error type and the one place it becomes an HTTP response, in authentik's
//! shapes: `{"detail": …}` for 403/404/405, field errors for 400. Internal details are logged,
//! never sent.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use plexid_core::FieldErrors;
use serde_json::json;

use super::http::json_response;
use crate::service::ServiceError;

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";
pub const TOKEN_INVALID: &str = "Token invalid/expired";
pub const UNSUPPORTED_AUTH: &str = "Unsupported authentication type";
pub const CSRF_MISSING: &str = "CSRF Failed: CSRF token missing.";
pub const CSRF_INCORRECT: &str = "CSRF Failed: CSRF token incorrect.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("JSON parse error - {0}")]
    JsonParse(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// 403 with this `detail` (authentication and permission failures).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("invalid page")]
    InvalidPage,
    #[error("method {0} not allowed")]
    MethodNotAllowed(Method),
    /// A refusal with a reason code: `{"detail", "code"}`, and `Retry-After` when it says.
    #[error("{code}: {detail}")]
    Refused { status: StatusCode, detail: String, code: &'static str, retry_after: Option<u64> },
    /// 400 with this body as it is: DRF's `ValidationError` raised with a bare dict or without
    /// a detail (`{"for_user": "User not found"}`, `["Invalid input."]`), which are not field
    /// error lists.
    #[error("bad request")]
    BadRequest(serde_json::Value),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(FieldErrors::single(field, message))
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<super::drf::pagination::InvalidPage> for ApiError {
    fn from(_: super::drf::pagination::InvalidPage) -> Self {
        ApiError::InvalidPage
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotAuthenticated => ApiError::Forbidden(NOT_AUTHENTICATED),
            ServiceError::Forbidden => ApiError::Forbidden(NO_PERMISSION),
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Invalid(errors) => ApiError::Validation(errors),
            ServiceError::Denied { reason, message } => ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                detail: message,
                code: reason.code(),
                retry_after: None,
            },
            ServiceError::PlexUnavailable => ApiError::Refused {
                status: StatusCode::BAD_GATEWAY,
                detail: "plex.tv could not be reached or failed. Please try again later.".into(),
                code: "plex_unavailable",
                retry_after: None,
            },
            ServiceError::PlexRateLimited { retry_after } => {
                let seconds = retry_after.unwrap_or(30);
                ApiError::Refused {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    detail: format!("plex.tv is busy. Please try again in {seconds} seconds."),
                    code: "plex_rate_limited",
                    retry_after: Some(seconds),
                }
            }
            ServiceError::RateLimited { retry_after } => ApiError::Refused {
                status: StatusCode::TOO_MANY_REQUESTS,
                detail: format!("Request was throttled. Expected available in {retry_after} seconds."),
                code: "throttled",
                retry_after: Some(retry_after),
            },
            ServiceError::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = |status: StatusCode, text: &str| json_response(status, &json!({ "detail": text }));
        match self {
            ApiError::Validation(errors) => json_response(StatusCode::BAD_REQUEST, &errors),
            ApiError::JsonParse(message) => detail(StatusCode::BAD_REQUEST, &format!("JSON parse error - {message}")),
            ApiError::UnsupportedMediaType(kind) => {
                detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, &format!("Unsupported media type \"{kind}\" in request."))
            }
            ApiError::PayloadTooLarge => detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Request body is larger than {} bytes.", super::http::MAX_BODY_BYTES),
            ),
            ApiError::Forbidden(text) => detail(StatusCode::FORBIDDEN, text),
            ApiError::BadRequest(body) => json_response(StatusCode::BAD_REQUEST, &body),
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            ApiError::InvalidPage => detail(StatusCode::NOT_FOUND, super::drf::pagination::INVALID_PAGE),
            ApiError::MethodNotAllowed(method) => {
                detail(StatusCode::METHOD_NOT_ALLOWED, &format!("Method \"{method}\" not allowed."))
            }
            ApiError::Refused { status, detail, code, retry_after } => {
                #[derive(serde::Serialize)]
                struct Refusal<'a> {
                    detail: &'a str,
                    code: &'a str,
                }
                let mut response = json_response(status, &Refusal { detail: &detail, code });
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
                }
                response
            }
            ApiError::Internal(reason) => {
                tracing::error!(%reason, "internal error");
                detail(StatusCode::INTERNAL_SERVER_ERROR, "A server error occurred.")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
