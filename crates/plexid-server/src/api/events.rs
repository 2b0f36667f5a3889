//! `/api/v3/events/events/`: the audit log, read-only (authentik's `Event`).

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::Event as EventRecord;
use plexid_store::events::{EventFilter, EVENT_ORDERING};
use plexid_store::OrderTerm;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, ApiResult};
use super::http::{ok, QueryParams};
use super::{lookup, paginated_schema, GenericError, ListArgs, ValidationError};
use crate::clock::iso8601;
use crate::service::{events as service, Actor};
use crate::state::AppState;

/// An audit event (authentik's `Event`).
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub pk: Uuid,
    #[schema(value_type = Object)]
    pub user: Value,
    #[schema(value_type = EventActions)]
    pub action: &'static str,
    pub app: String,
    #[schema(value_type = Object)]
    pub context: Map<String, Value>,
    pub client_ip: Option<String>,
    pub created: String,
    pub expires: String,
    #[schema(value_type = Object)]
    pub brand: Value,
}

/// The user of an event nobody signed in caused, as authentik shows its `AnonymousUser`. plexid
/// has no such user row, so its pk is 0, which no user has.
fn anonymous_user() -> Value {
    json!({"pk": 0, "email": "", "username": plexid_store::events::ANONYMOUS, "is_anonymous": true})
}

impl From<EventRecord> for Event {
    fn from(e: EventRecord) -> Self {
        Event {
            pk: e.id,
            user: e.user.map_or_else(anonymous_user, |u| json!(u)),
            action: e.action.as_str(),
            app: e.app,
            context: e.context,
            client_ip: e.client_ip,
            created: iso8601(e.created),
            expires: iso8601(e.expires),
            brand: json!({}),
        }
    }
}

/// authentik's `EventActions`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventActions {
    Login,
    LoginFailed,
    Logout,
    UserWrite,
    SuspiciousRequest,
    PasswordSet,
    SecretView,
    SecretRotate,
    InvitationUsed,
    AuthorizeApplication,
    SourceLinked,
    ImpersonationStarted,
    ImpersonationEnded,
    FlowExecution,
    PolicyExecution,
    PolicyException,
    PropertyMappingException,
    SystemTaskExecution,
    SystemTaskException,
    SystemException,
    ConfigurationError,
    ModelCreated,
    ModelUpdated,
    ModelDeleted,
    EmailSent,
    UpdateAvailable,
    #[schema(rename = "custom_")]
    Custom,
}

paginated_schema!(PaginatedEventList, Event);

/// List audit events (newest first by default).
#[utoipa::path(get, path = "/events/events/", tag = "events",
    params(("action" = Option<String>, Query), ("client_ip" = Option<String>, Query),
        ("context_model_pk" = Option<String>, Query), ("context_model_app" = Option<String>, Query),
        ("context_model_name" = Option<String>, Query), ("context_authorized_app" = Option<String>, Query),
        ("brand_name" = Option<String>, Query), ("username" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
        ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedEventList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let args = ListArgs::parse(&query, EVENT_ORDERING, &[OrderTerm::desc("created")])?;
    let filter = EventFilter {
        action: query.filter("action").map(str::to_owned),
        username: query.filter("username").map(str::to_owned),
        client_ip: query.filter("client_ip").map(str::to_owned),
        context_model_pk: query.filter("context_model_pk").map(str::to_owned),
        context_model_app: query.filter("context_model_app").map(str::to_owned),
        context_model_name: query.filter("context_model_name").map(str::to_owned),
        context_authorized_app: query.filter("context_authorized_app").map(str::to_owned),
        brand_name: query.filter("brand_name").map(str::to_owned),
        search: args.search.clone(),
    };
    let listed = service::list(&state, &actor, &filter, &args.ordering, args.window()).await?;
    args.respond(listed, Event::from)
}

/// Get one audit event.
#[utoipa::path(get, path = "/events/events/{event_uuid}/", tag = "events", params(("event_uuid" = Uuid, Path)),
    responses((status = 200, body = Event), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let id = Uuid::parse_str(lookup(&id)?).map_err(|_| ApiError::NotFound)?;
    Ok(ok(&Event::from(service::get(&state, &actor, id).await?)))
}
