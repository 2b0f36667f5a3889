//! The API's one error type and the one place it becomes an HTTP response, in authentik's
//! shapes: `{"detail": …}` for 403/404/405, field errors for 400. Internal details are logged,
//! never sent.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use plexid_core::FieldErrors;
use plexid_store::StoreError;
use serde_json::json;

use crate::http::json_response;

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";
pub const TOKEN_INVALID: &str = "Token invalid/expired";
pub const UNSUPPORTED_AUTH: &str = "Unsupported authentication type";

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

impl From<plexid_core::pagination::InvalidPage> for ApiError {
    fn from(_: plexid_core::pagination::InvalidPage) -> Self {
        ApiError::InvalidPage
    }
}

/// Unique constraints as the field errors authentik (or plexid, where authentik has none) reports.
fn unique_violation(constraint: &str) -> (&'static str, &'static str) {
    match constraint {
        "plex_source_slug_key" => ("slug", "source with this slug already exists."),
        "plex_source_managed_key" => ("managed", "source with this managed already exists."),
        "flow_slug_key" => ("slug", "flow with this slug already exists."),
        "property_mapping_name_key" => ("name", "Property Mapping with this name already exists."),
        "property_mapping_managed_key" => ("managed", "Property Mapping with this managed already exists."),
        "app_user_username_key" => ("username", "A user with that username already exists."),
        "app_group_name_parent_key" => ("non_field_errors", "The fields name, parent must make a unique set."),
        "user_source_connection_user_source_key" => {
            ("non_field_errors", "The fields user, source must make a unique set.")
        }
        "user_source_connection_source_identifier_key" => {
            ("identifier", "This Plex account is already linked to another user of this source.")
        }
        "group_source_connection_group_source_key" => {
            ("non_field_errors", "The fields group, source must make a unique set.")
        }
        "group_source_connection_source_identifier_key" => {
            ("identifier", "This identifier is already linked to another group of this source.")
        }
        "api_token_pkey" => ("identifier", "Token with this identifier already exists."),
        _ => ("non_field_errors", "This object conflicts with an existing one."),
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unique(constraint) => {
                let (field, message) = unique_violation(constraint);
                ApiError::field(field, message)
            }
            StoreError::ForeignKey => ApiError::field("non_field_errors", "A referenced object does not exist."),
            other => ApiError::Internal(other.to_string()),
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
                &format!("Request body is larger than {} bytes.", crate::http::MAX_BODY_BYTES),
            ),
            ApiError::Forbidden(text) => detail(StatusCode::FORBIDDEN, text),
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            ApiError::InvalidPage => detail(StatusCode::NOT_FOUND, plexid_core::pagination::INVALID_PAGE),
            ApiError::MethodNotAllowed(method) => {
                detail(StatusCode::METHOD_NOT_ALLOWED, &format!("Method \"{method}\" not allowed."))
            }
            ApiError::Internal(reason) => {
                tracing::error!(%reason, "internal error");
                detail(StatusCode::INTERNAL_SERVER_ERROR, "A server error occurred.")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
