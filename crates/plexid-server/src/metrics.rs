//! What `/metrics` reports, in Prometheus' text format (prometheus-client). One [`Metrics`] per
//! server, in the application state; every place that counts something calls one method here,
//! so the instrumentation stays a line at each place. Label values are bounded: source and
//! application slugs (made by administrators), route templates (never raw paths), refusal
//! reasons, plex.tv endpoints without ids or queries. No label ever holds a user, a token or an
//! address.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignIn {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refusal {
    source: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlexCall {
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobRun {
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ForwardAuth {
    application: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenGrant {
    grant_type: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRequest {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRoute {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
}

/// Seconds, from a millisecond to ten seconds (plex.tv calls, HTTP requests).
fn latency_histogram() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

/// How a completed sign-in is labelled.
pub trait SignInOutcome {
    fn label(&self) -> &'static str;
}

impl SignInOutcome for crate::service::login::Redeemed {
    fn label(&self) -> &'static str {
        match self {
            Self::SignedIn { .. } => "signed_in",
            Self::NeedsUsername { .. } => "needs_username",
            Self::Linked { .. } => "linked",
        }
    }
}

impl SignInOutcome for crate::service::sessions::Started {
    fn label(&self) -> &'static str {
        "enrolled"
    }
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    sign_ins: Family<SignIn, Counter>,
    refusals: Family<Refusal, Counter>,
    plex_calls: Family<PlexCall, Histogram, fn() -> Histogram>,
    job_runs: Family<JobRun, Counter>,
    revocations: Family<SourceLabel, Counter>,
    restorations: Family<SourceLabel, Counter>,
    forward_auth: Family<ForwardAuth, Counter>,
    token_grants: Family<TokenGrant, Counter>,
    mapping_evaluations: Family<Outcome, Counter>,
    limit_hits: Family<Limit, Counter>,
    http_requests: Family<HttpRequest, Counter>,
    http_duration: Family<HttpRoute, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("plexid");
        let metrics = Metrics {
            registry: Registry::default(),
            sign_ins: Family::default(),
            refusals: Family::default(),
            plex_calls: Family::new_with_constructor(latency_histogram),
            job_runs: Family::default(),
            revocations: Family::default(),
            restorations: Family::default(),
            forward_auth: Family::default(),
            token_grants: Family::default(),
            mapping_evaluations: Family::default(),
            limit_hits: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
        };
        let build = Family::<Build, Gauge>::default();
        build.get_or_create(&Build { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        registry.register("build_info", "The running plexid's version (always 1)", build);
        registry.register(
            "sign_ins",
            "Completed Plex sign-ins by source and outcome (signed_in, needs_username, linked, enrolled)",
            metrics.sign_ins.clone(),
        );
        registry.register("sign_in_refusals", "Refused Plex sign-ins by source and reason", metrics.refusals.clone());
        registry.register(
            "plex_request_duration_seconds",
            "Requests to plex.tv by endpoint and outcome (ok, unauthorized, rate_limited, unavailable, failed), each attempt",
            metrics.plex_calls.clone(),
        );
        registry.register(
            "job_runs",
            "Background job runs by job (access_sweep, token_check, session_cleanup) and outcome",
            metrics.job_runs.clone(),
        );
        registry.register(
            "access_revocations",
            "Connections whose access the access sweep found gone, by source",
            metrics.revocations.clone(),
        );
        registry.register(
            "access_restorations",
            "Revoked connections the access sweep found admitted again, by source",
            metrics.restorations.clone(),
        );
        registry.register(
            "forward_auth_checks",
            "Forward-auth checks by application and outcome (allowed, no_session, denied, no_application)",
            metrics.forward_auth.clone(),
        );
        registry.register(
            "oidc_token_requests",
            "OpenID Connect token endpoint requests by grant type and outcome (issued or the OAuth2 error)",
            metrics.token_grants.clone(),
        );
        registry.register(
            "mapping_evaluations",
            "Property mapping evaluations by outcome (ok, syntax, runtime, limit)",
            metrics.mapping_evaluations.clone(),
        );
        registry.register("limit_hits", "Requests refused by a rate limit, by limit", metrics.limit_hits.clone());
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request durations by method and route template",
            metrics.http_duration.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// The text to answer `/metrics` with.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// A sign-in through `source` that ended with `outcome`.
    pub fn sign_in(&self, source: &str, outcome: &str) {
        self.sign_ins.get_or_create(&SignIn { source: source.into(), outcome: outcome.into() }).inc();
    }

    /// A sign-in through `source` refused for `reason` (a `DenyReason` code).
    pub fn sign_in_refused(&self, source: &str, reason: &str) {
        self.refusals.get_or_create(&Refusal { source: source.into(), reason: reason.into() }).inc();
    }

    /// A request to plex.tv (the plex.tv client's observer).
    pub fn plex_call(&self, call: &plexid_plex::Call<'_>) {
        let labels = PlexCall { endpoint: call.endpoint.into(), outcome: call.outcome.into() };
        self.plex_calls.get_or_create(&labels).observe(call.elapsed.as_secs_f64());
    }

    /// A run of a background job.
    pub fn job_run(&self, job: &str, succeeded: bool) {
        let outcome = if succeeded { "ok" } else { "failed" };
        self.job_runs.get_or_create(&JobRun { job: job.into(), outcome: outcome.into() }).inc();
    }

    /// What the access sweep changed in one source.
    pub fn sweep(&self, source: &str, revoked: usize, restored: usize) {
        let label = SourceLabel { source: source.into() };
        self.revocations.get_or_create(&label).inc_by(revoked as u64);
        self.restorations.get_or_create(&label).inc_by(restored as u64);
    }

    /// A forward-auth check for `application` (empty when no application is at the address).
    pub fn forward_auth(&self, application: &str, outcome: &str) {
        self.forward_auth
            .get_or_create(&ForwardAuth { application: application.into(), outcome: outcome.into() })
            .inc();
    }

    /// A forward-auth check of `application`: whether the request had the provider's session
    /// cookie, and whether it was let through.
    pub fn forward_auth_checked(&self, application: &str, had_session: bool, allowed: bool) {
        let outcome = match (had_session, allowed) {
            (_, true) => "allowed",
            (false, false) => "no_session",
            (true, false) => "denied",
        };
        self.forward_auth(application, outcome);
    }

    /// A sign-in's outcome, counted and handed back.
    pub fn counted_sign_in<T: SignInOutcome>(&self, source: &str, outcome: T) -> T {
        self.sign_in(source, outcome.label());
        outcome
    }

    /// A token endpoint request: `error` is the OAuth2 error code when it was refused.
    pub fn token_request(&self, grant_type: &str, error: Option<&str>) {
        let grant_type = match grant_type {
            "authorization_code" | "refresh_token" => grant_type,
            _ => "other",
        };
        let outcome = error.unwrap_or("issued");
        self.token_grants.get_or_create(&TokenGrant { grant_type: grant_type.into(), outcome: outcome.into() }).inc();
    }

    /// A property mapping evaluation.
    pub fn mapping_evaluation(&self, result: &Result<serde_json::Value, plexid_mapping::MappingError>) {
        use plexid_mapping::MappingError;
        let outcome = match result {
            Ok(_) => "ok",
            Err(MappingError::Syntax(_)) => "syntax",
            Err(MappingError::Runtime(_)) => "runtime",
            Err(MappingError::Limit(_)) => "limit",
        };
        self.mapping_evaluations.get_or_create(&Outcome { outcome: outcome.into() }).inc();
    }

    /// A request refused by the rate limit `limit`.
    pub fn limit_hit(&self, limit: &str) {
        self.limit_hits.get_or_create(&Limit { limit: limit.into() }).inc();
    }

    /// An HTTP request answered: `route` is its route template. Methods outside HTTP's own set
    /// count as `other` (a client can send any token as a method; labels must stay bounded).
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];
        let method = if METHODS.contains(&method) { method } else { "other" };
        let (method, route) = (method.to_owned(), route.to_owned());
        let labels = HttpRequest { method: method.clone(), route: route.clone(), status: status.to_string() };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&HttpRoute { method, route }).observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels() {
        let metrics = Metrics::new();
        metrics.sign_in_refused("plex", "not_allowed");
        metrics.sign_in_refused("plex", "not_allowed");
        metrics.http_request("GET", "/api/v3/sources/plex/", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains("plexid_sign_in_refusals_total{source=\"plex\",reason=\"not_allowed\"} 2"), "{text}");
        assert!(text
            .contains("plexid_http_requests_total{method=\"GET\",route=\"/api/v3/sources/plex/\",status=\"200\"} 1"));
        assert!(text.contains("plexid_build_info{version="));
    }

    #[test]
    fn made_up_methods_are_one_label() {
        let metrics = Metrics::new();
        for method in ["FOO", "BAR", "get"] {
            metrics.http_request(method, "unmatched", 405, Duration::ZERO);
        }
        let text = metrics.render();
        assert!(
            text.contains("plexid_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 3"),
            "{text}"
        );
    }

    #[test]
    fn unknown_grant_types_are_one_label() {
        let metrics = Metrics::new();
        metrics.token_request("password", Some("unsupported_grant_type"));
        metrics.token_request("something-else", Some("unsupported_grant_type"));
        let text = metrics.render();
        assert!(text.contains("grant_type=\"other\",outcome=\"unsupported_grant_type\"} 2"), "{text}");
    }
}
