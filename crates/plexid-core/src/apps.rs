//! Applications and the providers in front of them (an OpenID Connect provider or forward-auth
//! for a reverse proxy): their records, the per-application access rule, and the small rules of
//! OAuth2 that need no I/O (validity strings, redirect URIs).

use serde::{Deserialize, Serialize};

use crate::login::Relationship;
use crate::modes::{
    AppRelationship, ClientType, IssuerMode, PolicyEngineMode, ProviderKind, ProxyMode, SigningAlg, SubMode,
};
use crate::{ApplicationId, FlowId, GroupId, ProviderId, SourceId};

/// A provider: how an application's users sign in to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub id: ProviderId,
    pub kind: ProviderKind,
    pub name: String,
    pub authentication_flow: Option<FlowId>,
    pub authorization_flow: FlowId,
    pub client_id: String,
    /// SHA-256 of the client secret (empty: none); the secret itself is shown once.
    pub client_secret_hash: String,
    /// The secret's last four characters, to tell secrets apart in listings.
    pub client_secret_hint: String,
    pub settings: ProviderSettings,
}

/// The settings of a provider that only one kind uses, stored together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    // OAuth2 / OpenID Connect.
    pub client_type: ClientType,
    pub access_code_validity: String,
    pub access_token_validity: String,
    pub refresh_token_validity: String,
    pub include_claims_in_id_token: bool,
    /// One redirect URI per line, matched exactly.
    pub redirect_uris: String,
    pub sub_mode: SubMode,
    pub issuer_mode: IssuerMode,
    pub signing_alg: SigningAlg,
    // Forward-auth.
    pub external_host: String,
    pub mode: ProxyMode,
    pub cookie_domain: String,
    pub skip_path_regex: String,
    pub intercept_header_auth: bool,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            client_type: ClientType::Confidential,
            access_code_validity: "minutes=1".into(),
            access_token_validity: "hours=1".into(),
            refresh_token_validity: "days=30".into(),
            include_claims_in_id_token: true,
            redirect_uris: String::new(),
            sub_mode: SubMode::HashedUserId,
            issuer_mode: IssuerMode::PerProvider,
            signing_alg: SigningAlg::Rs256,
            external_host: String::new(),
            mode: ProxyMode::ForwardSingle,
            cookie_domain: String::new(),
            skip_path_regex: String::new(),
            intercept_header_auth: true,
        }
    }
}

impl Provider {
    /// A provider with authentik's defaults, a random client id and no secret; the database
    /// assigns the id when it is inserted.
    pub fn new(kind: ProviderKind, name: &str, authorization_flow: FlowId) -> Self {
        Provider {
            id: ProviderId(0),
            kind,
            name: name.into(),
            authentication_flow: None,
            authorization_flow,
            client_id: crate::source::random_alphanumeric(40),
            client_secret_hash: String::new(),
            client_secret_hint: String::new(),
            settings: ProviderSettings::default(),
        }
    }

    /// The redirect URIs registered for this provider. A forward-auth provider has exactly the
    /// callback of its external host.
    pub fn redirect_uris(&self) -> Vec<String> {
        match self.kind {
            ProviderKind::OAuth2 => self
                .settings
                .redirect_uris
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            ProviderKind::Proxy => vec![forward_auth_callback(&self.settings.external_host)],
        }
    }
}

/// Where plexid sends a browser back to after signing in for a forward-auth provider.
pub fn forward_auth_callback(external_host: &str) -> String {
    format!("{}/outpost.goauthentik.io/callback?X-authentik-auth-callback=true", external_host.trim_end_matches('/'))
}

/// An application: a name, a slug, a provider, and who may use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub id: ApplicationId,
    pub slug: String,
    pub name: String,
    pub provider: Option<ProviderId>,
    pub open_in_new_tab: bool,
    pub meta_launch_url: String,
    pub meta_description: String,
    pub meta_publisher: String,
    /// `any`: one configured rule admits; `all`: every configured rule must.
    pub policy_engine_mode: PolicyEngineMode,
    pub group: String,
    pub access: AccessRules,
}

impl Application {
    pub fn new(slug: &str, name: &str) -> Self {
        Application {
            id: ApplicationId::random(),
            slug: slug.into(),
            name: name.into(),
            provider: None,
            open_in_new_tab: false,
            meta_launch_url: String::new(),
            meta_description: String::new(),
            meta_publisher: String::new(),
            policy_engine_mode: PolicyEngineMode::Any,
            group: String::new(),
            access: AccessRules::default(),
        }
    }
}

/// Who may use an application. No rule at all: every signed-in user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessRules {
    /// Members of these groups (directly or through a child group).
    pub groups: Vec<GroupId>,
    /// People with one of these Plex relationships through one of their live connections.
    pub relationships: Vec<AppRelationship>,
    /// For `server_member`: the servers that count (client identifiers); empty: any allowed
    /// server of the source.
    pub servers: Vec<String>,
    /// The Plex source whose relationships count (D26): a relationship through any other source
    /// (one anybody holding `add_plexsource` could create with their own Plex account) grants
    /// nothing. Stored in its own column (`application.access_source_uuid`), so deleting the
    /// source clears it and the relationship rules then admit nobody.
    #[serde(skip)]
    pub source: Option<SourceId>,
}

/// What is known about a user when an application decides.
#[derive(Clone, Debug, Default)]
pub struct UserFacts<'a> {
    pub active: bool,
    /// Every group the user is in, with the groups those are children of.
    pub groups: &'a [GroupId],
    /// The relationships of the user's connections whose access is not revoked, by source.
    pub relationships: &'a [(SourceId, Relationship)],
}

/// Why an application refused someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppDenial {
    Inactive,
    NotInGroup,
    NoRelationship,
    /// The application has relationship rules but names no source whose relationships count.
    NoSourceChosen,
}

impl AppDenial {
    pub fn message(self) -> &'static str {
        match self {
            AppDenial::Inactive => "This account is disabled.",
            AppDenial::NotInGroup => "You are not in a group this application admits.",
            AppDenial::NoRelationship => {
                "Your Plex account is not one this application admits (owner, home, friend or server member)."
            }
            AppDenial::NoSourceChosen => {
                "This application's administrator has not chosen whose Plex server and friends it admits."
            }
        }
    }
}

fn has_relationship(rules: &AccessRules, r: &Relationship) -> bool {
    rules.relationships.iter().any(|wanted| match wanted {
        AppRelationship::Owner => r.owner,
        AppRelationship::Home => r.home,
        AppRelationship::Friend => r.friend,
        AppRelationship::ServerMember if rules.servers.is_empty() => !r.servers.is_empty(),
        AppRelationship::ServerMember => r.servers.iter().any(|s| rules.servers.contains(s)),
    })
}

/// The user's relationships through `source`.
pub fn relationships_through<'a>(user: &'a UserFacts<'_>, source: SourceId) -> impl Iterator<Item = &'a Relationship> {
    user.relationships.iter().filter(move |(s, _)| *s == source).map(|(_, r)| r)
}

/// The application's rule for this user.
pub fn decide_app_access(app: &Application, user: &UserFacts<'_>) -> Result<(), AppDenial> {
    if !user.active {
        return Err(AppDenial::Inactive);
    }
    let rules = &app.access;
    let mut verdicts = Vec::with_capacity(2);
    if !rules.groups.is_empty() {
        let ok = user.groups.iter().any(|g| rules.groups.contains(g));
        verdicts.push(if ok { Ok(()) } else { Err(AppDenial::NotInGroup) });
    }
    if !rules.relationships.is_empty() {
        verdicts.push(match rules.source {
            None => Err(AppDenial::NoSourceChosen),
            Some(source) if relationships_through(user, source).any(|r| has_relationship(rules, r)) => Ok(()),
            Some(_) => Err(AppDenial::NoRelationship),
        });
    }
    match app.policy_engine_mode {
        _ if verdicts.is_empty() => Ok(()),
        PolicyEngineMode::Any if verdicts.iter().any(Result::is_ok) => Ok(()),
        PolicyEngineMode::Any => verdicts.into_iter().find_map(Result::err).map_or(Ok(()), Err),
        PolicyEngineMode::All => verdicts.into_iter().collect(),
    }
}

/// authentik's message for a validity string it cannot read.
pub fn bad_validity(value: &str) -> String {
    format!("{value} is not in the correct format of 'hours=3;minutes=1'.")
}

/// Reads authentik's validity strings (`hours=1;minutes=30`: Python `timedelta` keyword
/// arguments, numbers may have a fraction). `None` when unreadable, empty or negative; zero is
/// accepted, as authentik accepts it (what it validates then expires at once).
pub fn parse_validity(text: &str) -> Option<jiff::SignedDuration> {
    let mut total = 0f64;
    let mut parts = 0;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        parts += 1;
        let (key, value) = part.split_once('=')?;
        let value: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
        let unit = match key.trim() {
            "weeks" => 604_800.0,
            "days" => 86_400.0,
            "hours" => 3_600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            "milliseconds" => 0.001,
            "microseconds" => 0.000_001,
            _ => return None,
        };
        total += value * unit;
    }
    (parts > 0 && (0.0..1e10).contains(&total)).then(|| jiff::SignedDuration::from_secs_f64(total))
}

/// Errors in a redirect-URI list: every line must be an absolute `http(s)` URL without a
/// fragment (plexid matches them exactly; authentik's regular expressions are not supported).
pub fn redirect_uri_errors(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !is_absolute_http_url(l) || l.contains('#'))
        .map(|l| format!("Redirect URI \"{l}\" is not an absolute http(s) URL without a fragment (plexid matches redirect URIs exactly)."))
        .collect()
}

/// An absolute `http(s)` URL with a host.
pub fn is_absolute_http_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
        && !text.chars().any(char::is_whitespace)
}

/// The host (with a port other than the scheme's default) of an absolute URL, lower-cased.
pub fn url_host(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The host name in `host` (a `Host` header value, maybe with a port), lowercased, if the whole
/// value is a host and port: a path, user or query smuggled in (`evil.com/.example.com`) is not.
pub fn host_name(host: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{host}/")).ok()?;
    let only_authority = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    only_authority.then(|| url.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase())).flatten()
}

/// Is `host` (maybe with a port) the cookie domain or under it? Compared label by label, so
/// `evil.com/.example.com` or `notexample.com` are not under `example.com`.
pub fn host_in_domain(host: &str, domain: &str) -> bool {
    let (Some(host), Some(domain)) = (host_name(host), host_name(domain.trim_start_matches('.'))) else {
        return false;
    };
    let (host, domain): (Vec<&str>, Vec<&str>) = (host.rsplit('.').collect(), domain.rsplit('.').collect());
    host.len() >= domain.len() && host.iter().zip(&domain).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(owner: bool, home: bool, friend: bool, servers: &[&str]) -> Relationship {
        Relationship { owner, home, friend, servers: servers.iter().map(|s| s.to_string()).collect() }
    }

    /// The source the test applications name.
    fn source() -> SourceId {
        SourceId(uuid::Uuid::from_u128(1))
    }

    fn through(r: Relationship) -> (SourceId, Relationship) {
        (source(), r)
    }

    fn app(
        groups: Vec<GroupId>,
        relationships: Vec<AppRelationship>,
        servers: &[&str],
        mode: PolicyEngineMode,
    ) -> Application {
        Application {
            policy_engine_mode: mode,
            access: AccessRules {
                groups,
                relationships,
                servers: servers.iter().map(|s| s.to_string()).collect(),
                source: Some(source()),
            },
            ..Application::new("a", "A")
        }
    }

    #[test]
    fn relationships_count_only_through_the_applications_source() {
        let owner_app = app(vec![], vec![AppRelationship::Owner], &[], PolicyEngineMode::Any);
        // The owner of another source (someone with add_plexsource and their own Plex account).
        let elsewhere = [(SourceId(uuid::Uuid::from_u128(2)), rel(true, true, true, &["s1"]))];
        let facts = UserFacts { active: true, groups: &[], relationships: &elsewhere };
        assert_eq!(decide_app_access(&owner_app, &facts), Err(AppDenial::NoRelationship));
        let here = [through(rel(true, false, false, &[]))];
        assert_eq!(
            decide_app_access(&owner_app, &UserFacts { active: true, groups: &[], relationships: &here }),
            Ok(())
        );
        // No source chosen: the relationship rules admit nobody.
        let mut unsourced = owner_app.clone();
        unsourced.access.source = None;
        let facts = UserFacts { active: true, groups: &[], relationships: &here };
        assert_eq!(decide_app_access(&unsourced, &facts), Err(AppDenial::NoSourceChosen));
    }

    #[test]
    fn without_rules_every_active_user_is_admitted() {
        let a = app(vec![], vec![], &[], PolicyEngineMode::Any);
        assert_eq!(decide_app_access(&a, &UserFacts { active: true, ..Default::default() }), Ok(()));
        assert_eq!(decide_app_access(&a, &UserFacts::default()), Err(AppDenial::Inactive));
    }

    #[test]
    fn each_relationship_admits_only_its_people() {
        let cases = [
            (AppRelationship::Owner, through(rel(true, false, false, &[]))),
            (AppRelationship::Home, through(rel(false, true, false, &[]))),
            (AppRelationship::Friend, through(rel(false, false, true, &[]))),
            (AppRelationship::ServerMember, through(rel(false, false, false, &["s1"]))),
        ];
        for (wanted, matching) in &cases {
            let a = app(vec![], vec![*wanted], &[], PolicyEngineMode::Any);
            for (other, r) in &cases {
                let facts = UserFacts { active: true, groups: &[], relationships: std::slice::from_ref(r) };
                let expected = if other == wanted { Ok(()) } else { Err(AppDenial::NoRelationship) };
                assert_eq!(decide_app_access(&a, &facts), expected, "{wanted:?} vs {other:?}");
            }
            let _ = matching;
        }
    }

    #[test]
    fn named_servers_narrow_server_members() {
        let a = app(vec![], vec![AppRelationship::ServerMember], &["s2"], PolicyEngineMode::Any);
        let s1 = [through(rel(false, false, false, &["s1"]))];
        let s2 = [through(rel(false, false, false, &["s1", "s2"]))];
        assert!(decide_app_access(&a, &UserFacts { active: true, groups: &[], relationships: &s1 }).is_err());
        assert!(decide_app_access(&a, &UserFacts { active: true, groups: &[], relationships: &s2 }).is_ok());
    }

    #[test]
    fn any_and_all_combine_groups_and_relationships() {
        let g = GroupId::new();
        let friend = [through(rel(false, false, true, &[]))];
        let in_group = [g];
        let any = app(vec![g], vec![AppRelationship::Friend], &[], PolicyEngineMode::Any);
        let all = app(vec![g], vec![AppRelationship::Friend], &[], PolicyEngineMode::All);
        let group_only = UserFacts { active: true, groups: &in_group, relationships: &[] };
        let friend_only = UserFacts { active: true, groups: &[], relationships: &friend };
        let both = UserFacts { active: true, groups: &in_group, relationships: &friend };
        assert_eq!(decide_app_access(&any, &group_only), Ok(()));
        assert_eq!(decide_app_access(&any, &friend_only), Ok(()));
        assert_eq!(decide_app_access(&all, &group_only), Err(AppDenial::NoRelationship));
        assert_eq!(decide_app_access(&all, &friend_only), Err(AppDenial::NotInGroup));
        assert_eq!(decide_app_access(&all, &both), Ok(()));
        let nobody = UserFacts { active: true, ..Default::default() };
        assert_eq!(decide_app_access(&any, &nobody), Err(AppDenial::NotInGroup));
    }

    #[test]
    fn validity_strings_read_like_python_timedelta() {
        assert_eq!(parse_validity("hours=1"), Some(jiff::SignedDuration::from_secs(3600)));
        assert_eq!(parse_validity("hours=1;minutes=30"), Some(jiff::SignedDuration::from_secs(5400)));
        assert_eq!(parse_validity("minutes=1.5"), Some(jiff::SignedDuration::from_secs(90)));
        assert_eq!(parse_validity("days=30"), Some(jiff::SignedDuration::from_secs(30 * 86400)));
        assert_eq!(parse_validity("seconds=0"), Some(jiff::SignedDuration::ZERO));
        for bad in ["", " ; ", "hours", "hours=x", "years=1", "hours=-1", "hours=inf"] {
            assert_eq!(parse_validity(bad), None, "{bad}");
        }
        assert_eq!(bad_validity("x"), "x is not in the correct format of 'hours=3;minutes=1'.");
    }

    #[test]
    fn redirect_uris_must_be_absolute_http_urls() {
        assert!(redirect_uri_errors("https://app.example.com/cb\n\nhttp://127.0.0.1:8000/cb?x=1").is_empty());
        assert_eq!(redirect_uri_errors("https://a/cb\n/relative\nhttps://a/cb#frag\nftp://x/").len(), 3);
        let mut p = Provider::new(ProviderKind::OAuth2, "p", FlowId::random());
        p.settings.redirect_uris = " https://a/cb \n\nhttps://b/cb".into();
        assert_eq!(p.redirect_uris(), ["https://a/cb", "https://b/cb"]);
        let fa = Provider {
            kind: ProviderKind::Proxy,
            settings: ProviderSettings { external_host: "https://app.example.com/".into(), ..Default::default() },
            ..p
        };
        assert_eq!(
            fa.redirect_uris(),
            ["https://app.example.com/outpost.goauthentik.io/callback?X-authentik-auth-callback=true"]
        );
    }

    #[test]
    fn hosts_and_domains() {
        assert_eq!(url_host("https://User@App.Example.com:8443/x?y").as_deref(), Some("app.example.com:8443"));
        assert_eq!(url_host("https://app.example.com:443/").as_deref(), Some("app.example.com"));
        assert_eq!(url_host("/relative"), None);
        assert!(host_in_domain("app.example.com:443", "example.com"));
        assert!(host_in_domain("example.com", ".example.com"));
        assert!(!host_in_domain("evilexample.com", "example.com"));
        assert!(!host_in_domain("example.com", ""));
        for smuggled in
            ["evil.com/.example.com", "evil.com?.example.com", "evil.com#.example.com", "x@evil.com", "a b.example.com"]
        {
            assert!(!host_in_domain(smuggled, "example.com"), "{smuggled}");
        }
        assert!(host_in_domain("App.Example.com.", "example.com"));
        assert_eq!(host_name("App.Example.com:8443").as_deref(), Some("app.example.com"));
        assert_eq!(host_name("[::1]:80").as_deref(), Some("[::1]"));
    }
}
