//! `plexid import-authentik`: brings a running authentik 2024.x's Plex set-up across through its
//! `/api/v3` (which plexid also speaks, so a plexid can be the source too): Plex sources (their
//! Plex tokens where the API shows them), Plex property mappings, the flows they name, the users
//! and groups with Plex connections and those connections, the groups applications admit, and
//! applications with OAuth2/OpenID and proxy providers (client ids kept; client secrets where the
//! API shows them).
//!
//! Everything is written in one transaction, matched by natural key (slug, name, username,
//! client id, the Plex identifier), so a second run changes nothing; `--dry-run` runs the same
//! transaction and rolls it back, so what it prints is exactly what a real run would do. What
//! cannot come across is listed with the reason, and an application whose access rules cannot be
//! expressed in plexid is left out rather than opened to everyone.

use std::collections::{BTreeMap, HashMap, HashSet};

use plexid_core::apps::{AccessRules, Application, Provider, ProviderSettings};
use plexid_core::model::{Flow, Group, GroupConnection, Mapping, Source, User, UserConnection};
use plexid_core::modes::*;
use plexid_core::{FlowId, GroupConnectionId, GroupId, MappingId, ProviderId, SourceId, UserConnectionId, UserId};
use plexid_store::{Conn, ReadWrite, Store, StoreError};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::clock::Clock;
use crate::crypto::{hash_token, Secrets};

/// Why an import stopped (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Source(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

/// A reader of an authentik (or plexid) `/api/v3`.
pub struct Authentik {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Authentik {
    pub fn new(url: &str, token: &str) -> Result<Self, ImportError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ImportError::Source(format!("cannot build the HTTP client: {e}")))?;
        let base = url.trim_end_matches('/').trim_end_matches("/api/v3").to_owned();
        Ok(Authentik { http, base, token: token.to_owned() })
    }

    /// GETs `path` (under `/api/v3`); `None` for a 404 (an endpoint this server does not have).
    async fn get(&self, path: &str) -> Result<Option<Value>, ImportError> {
        let url = format!("{}/api/v3{path}", self.base);
        let fail = |what: String| ImportError::Source(format!("GET {path}: {what}"));
        let response =
            self.http.get(&url).bearer_auth(&self.token).send().await.map_err(|e| fail(e.without_url().to_string()))?;
        match response.status().as_u16() {
            200 => response.json().await.map(Some).map_err(|e| fail(format!("unreadable answer: {e}"))),
            404 => Ok(None),
            401 | 403 => Err(fail("the token was refused (it needs a superuser's API token)".into())),
            status => Err(fail(format!("answered {status}"))),
        }
    }

    /// Every object of a paginated list; `None` when the endpoint does not exist.
    async fn list(&self, path: &str) -> Result<Option<Vec<Value>>, ImportError> {
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let Some(body) = self.get(&format!("{path}{separator}page={page}&page_size=100")).await? else {
                return Ok(None);
            };
            let results = body["results"].as_array().cloned().unwrap_or_default();
            all.extend(results);
            match body["pagination"]["next"].as_u64() {
                Some(next) if next > page && page < 1000 => page = next,
                _ => return Ok(Some(all)),
            }
        }
    }

    async fn required(&self, path: &str) -> Result<Vec<Value>, ImportError> {
        self.list(path)
            .await?
            .ok_or_else(|| ImportError::Source(format!("GET {path}: not found (is this authentik 2024.x or plexid?)")))
    }
}

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// The fields that changed.
    Updated(Vec<&'static str>),
    Unchanged,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: &'static str,
    pub name: String,
    pub outcome: Outcome,
}

/// What an import did (or, in a dry run, would do), and what it could not bring over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<Line>,
    /// (what, why).
    pub left_out: Vec<(String, String)>,
}

impl Report {
    fn note(&mut self, kind: &'static str, name: impl Into<String>, outcome: Outcome) {
        self.lines.push(Line { kind, name: name.into(), outcome });
    }

    fn leave_out(&mut self, what: impl Into<String>, why: impl Into<String>) {
        let entry = (what.into(), why.into());
        if !self.left_out.contains(&entry) {
            self.left_out.push(entry);
        }
    }

    /// How many objects were (or would be) created or changed.
    pub fn changes(&self) -> usize {
        self.lines.iter().filter(|l| l.outcome != Outcome::Unchanged).count()
    }

    pub fn render(&self, dry_run: bool) -> String {
        let (created, updated) = if dry_run { ("would create", "would update") } else { ("created", "updated") };
        let mut out = String::new();
        for line in &self.lines {
            let what = match &line.outcome {
                Outcome::Created => created.to_owned(),
                Outcome::Updated(fields) => format!("{updated} ({})", fields.join(", ")),
                Outcome::Unchanged => "unchanged".to_owned(),
            };
            out.push_str(&format!("{:<13} {:<40} {what}\n", line.kind, line.name));
        }
        let unchanged = self.lines.len() - self.changes();
        let verb = if dry_run { "would change" } else { "changed" };
        out.push_str(&format!("\n{} {verb}, {unchanged} unchanged.\n", self.changes()));
        if !self.left_out.is_empty() {
            out.push_str("\nNot brought over:\n");
            for (what, why) in &self.left_out {
                out.push_str(&format!("  - {what}: {why}\n"));
            }
        }
        if dry_run {
            out.push_str("\nDry run: nothing was written.\n");
        }
        out
    }
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn flag(v: &Value, key: &str, default: bool) -> bool {
    v[key].as_bool().unwrap_or(default)
}

fn uuid_of(v: &Value, key: &str) -> Option<Uuid> {
    v[key].as_str().and_then(|s| s.parse().ok())
}

fn uuids(v: &Value, key: &str) -> Vec<Uuid> {
    v[key].as_array().map(|a| a.iter().filter_map(|x| x.as_str()?.parse().ok()).collect()).unwrap_or_default()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v[key].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn object(v: &Value, key: &str) -> Map<String, Value> {
    v[key].as_object().cloned().unwrap_or_default()
}

/// A secret as the source's API shows it: `None` when it is masked (plexid shows `********…`)
/// or absent.
fn shown_secret(v: &Value, key: &str) -> Option<String> {
    let s = v[key].as_str()?;
    (!s.is_empty() && !s.starts_with("********")).then(|| s.to_owned())
}

/// Names of the fields in which `$before` and `$after` differ.
macro_rules! changed {
    ($before:expr, $after:expr, [$($field:ident).+ $(, $($rest:ident).+)* $(,)?]) => {{
        let mut fields: Vec<&'static str> = Vec::new();
        if $before.$($field).+ != $after.$($field).+ { fields.push(stringify!($($field).+)); }
        $( if $before.$($rest).+ != $after.$($rest).+ { fields.push(stringify!($($rest).+)); } )*
        fields
    }};
}

/// What the source holds, read once.
struct Snapshot {
    flows: Vec<Value>,
    mappings: Vec<Value>,
    sources: Vec<Value>,
    user_connections: Vec<Value>,
    group_connections: Vec<Value>,
    users: Vec<Value>,
    groups: Vec<Value>,
    oauth2: Vec<Value>,
    proxy: Vec<Value>,
    applications: Vec<Value>,
    /// Application pk → its policy bindings (`None`: the server has no bindings endpoint).
    bindings: HashMap<String, Option<Vec<Value>>>,
}

async fn read(api: &Authentik) -> Result<Snapshot, ImportError> {
    let user_connections = api.required("/sources/user_connections/plex/").await?;
    let group_connections = api.required("/sources/group_connections/plex/").await?;
    let applications = api.required("/core/applications/?superuser_full_list=true").await?;
    let mut bindings = HashMap::new();
    for app in &applications {
        let pk = text(app, "pk");
        bindings.insert(pk.clone(), api.list(&format!("/policies/bindings/?target={pk}")).await?);
    }
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for connection in &user_connections {
        let pk = text(connection, "user");
        if seen.insert(pk.clone()) {
            if let Some(user) = api.get(&format!("/core/users/{pk}/")).await? {
                users.push(user);
            }
        }
    }
    Ok(Snapshot {
        flows: api.required("/flows/instances/").await?,
        mappings: api.required("/propertymappings/source/plex/").await?,
        sources: api.required("/sources/plex/").await?,
        user_connections,
        group_connections,
        users,
        groups: api.required("/core/groups/").await?,
        oauth2: api.required("/providers/oauth2/").await?,
        proxy: api.required("/providers/proxy/").await?,
        applications,
        bindings,
    })
}

/// Reads the source at `api` and brings it into `store`; with `dry_run` the transaction is
/// rolled back.
pub async fn run(
    store: &Store,
    secrets: &Secrets,
    clock: &Clock,
    api: &Authentik,
    dry_run: bool,
) -> Result<Report, ImportError> {
    let snapshot = read(api).await?;
    let mut tx = store.begin().await?;
    let mut import = Import {
        conn: tx.conn(),
        secrets,
        now: clock.now(),
        report: Report::default(),
        flows: HashMap::new(),
        mappings: HashMap::new(),
        sources: HashMap::new(),
        source_ids: HashMap::new(),
        groups: HashMap::new(),
        users: HashMap::new(),
        providers: HashMap::new(),
    };
    import.all(&snapshot).await?;
    let report = import.report;
    if dry_run {
        drop(tx);
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

struct Import<'a, 'c> {
    conn: Conn<'c, ReadWrite>,
    secrets: &'a Secrets,
    now: plexid_core::Timestamp,
    report: Report,
    /// The source's ids → plexid's.
    flows: HashMap<Uuid, FlowId>,
    mappings: HashMap<Uuid, MappingId>,
    /// By slug.
    sources: HashMap<String, SourceId>,
    /// By the source's pk.
    source_ids: HashMap<Uuid, SourceId>,
    groups: HashMap<Uuid, GroupId>,
    users: HashMap<String, UserId>,
    providers: HashMap<String, ProviderId>,
}

impl Import<'_, '_> {
    async fn all(&mut self, s: &Snapshot) -> Result<(), ImportError> {
        self.report.leave_out(
            "flows' stages, stage bindings and policies",
            "plexid's flows are fixed; only each flow's slug, name, title and designation come over",
        );
        self.report.leave_out("passwords", "authentik's API never shows them; people sign in with Plex");
        for mapping in &s.mappings {
            self.mapping(mapping).await?;
        }
        for source in &s.sources {
            self.source(s, source).await?;
        }
        let wanted = wanted_groups(s);
        for group in order_parents_first(&s.groups, &wanted) {
            self.group(group).await?;
        }
        for user in &s.users {
            self.user(user).await?;
        }
        for connection in &s.user_connections {
            self.user_connection(connection).await?;
        }
        for connection in &s.group_connections {
            self.group_connection(connection).await?;
        }
        for provider in &s.oauth2 {
            self.provider(s, ProviderKind::OAuth2, provider).await?;
        }
        for provider in &s.proxy {
            self.provider(s, ProviderKind::Proxy, provider).await?;
        }
        for application in &s.applications {
            self.application(s, application).await?;
        }
        Ok(())
    }

    /// The plexid flow for the source's flow `pk` (by slug; created when missing).
    async fn flow(&mut self, s: &Snapshot, pk: Option<Uuid>) -> Result<Option<FlowId>, ImportError> {
        let Some(pk) = pk else { return Ok(None) };
        if let Some(id) = self.flows.get(&pk) {
            return Ok(Some(*id));
        }
        let Some(theirs) = s.flows.iter().find(|f| uuid_of(f, "pk") == Some(pk)) else { return Ok(None) };
        let slug = text(theirs, "slug");
        let id = match self.conn.flow_by_slug(&slug).await? {
            Some(flow) => {
                self.report.note("flow", &slug, Outcome::Unchanged);
                flow.id
            }
            None => {
                let designation =
                    FlowDesignation::parse(&text(theirs, "designation")).unwrap_or(FlowDesignation::Authentication);
                let mut flow = Flow::new(&slug, &text(theirs, "name"), &text(theirs, "title"), designation);
                flow.id = FlowId(pk);
                if let Some(a) = FlowAuthentication::parse(&text(theirs, "authentication")) {
                    flow.authentication = a;
                }
                self.conn.insert_flow(&flow).await?;
                self.report.note("flow", &slug, Outcome::Created);
                flow.id
            }
        };
        self.flows.insert(pk, id);
        Ok(Some(id))
    }

    async fn mapping(&mut self, theirs: &Value) -> Result<(), ImportError> {
        let name = text(theirs, "name");
        let expression = text(theirs, "expression");
        if let Some(error) = crate::service::mappings::syntax_error_here(&expression, Some(&name)) {
            let why = format!(
                "its expression is not valid in plexid (Starlark, close to Python): {error}; rewrite it in \
                 /if/admin/mappings/ and add it to the source"
            );
            self.report.leave_out(format!("property mapping {name:?}"), why);
            return Ok(());
        }
        let wanted = Mapping {
            id: MappingId(uuid_of(theirs, "pk").unwrap_or_else(Uuid::new_v4)),
            name: name.clone(),
            expression,
            managed: theirs["managed"].as_str().map(str::to_owned),
        };
        let id = match self.conn.mapping_by_name(&name).await? {
            Some(ours) => {
                let after = Mapping { id: ours.id, managed: ours.managed.clone(), ..wanted };
                let fields = changed!(ours, after, [expression]);
                if self.settled("mapping", &name, fields) {
                    self.conn.update_mapping(&after).await?;
                }
                ours.id
            }
            None => {
                self.conn.insert_mapping(&wanted).await?;
                self.report.note("mapping", &name, Outcome::Created);
                wanted.id
            }
        };
        if let Some(pk) = uuid_of(theirs, "pk") {
            self.mappings.insert(pk, id);
        }
        Ok(())
    }

    async fn source(&mut self, s: &Snapshot, theirs: &Value) -> Result<(), ImportError> {
        let slug = text(theirs, "slug");
        let existing = self.conn.source_by_slug(&slug).await?;
        let mut wanted = existing.clone().unwrap_or_else(|| Source {
            id: SourceId(uuid_of(theirs, "pk").unwrap_or_else(Uuid::new_v4)),
            ..crate::service::sources::defaults()
        });
        wanted.slug = slug.clone();
        wanted.name = text(theirs, "name");
        wanted.enabled = flag(theirs, "enabled", true);
        wanted.authentication_flow = self.flow(s, uuid_of(theirs, "authentication_flow")).await?;
        wanted.enrollment_flow = self.flow(s, uuid_of(theirs, "enrollment_flow")).await?;
        wanted.user_property_mappings = self.mapped(&uuids(theirs, "user_property_mappings"));
        wanted.group_property_mappings = self.mapped(&uuids(theirs, "group_property_mappings"));
        if let Some(mode) = PolicyEngineMode::parse(&text(theirs, "policy_engine_mode")) {
            wanted.policy_engine_mode = mode;
        }
        if let Some(mode) = UserMatchingMode::parse(&text(theirs, "user_matching_mode")) {
            wanted.user_matching_mode = mode;
        }
        if let Some(mode) = GroupMatchingMode::parse(&text(theirs, "group_matching_mode")) {
            wanted.group_matching_mode = mode;
        }
        wanted.user_path_template = text(theirs, "user_path_template");
        wanted.client_id = text(theirs, "client_id");
        wanted.allowed_servers = strings(theirs, "allowed_servers");
        wanted.allow_friends = flag(theirs, "allow_friends", true);
        match shown_secret(theirs, "plex_token") {
            Some(token) => {
                let same = existing
                    .as_ref()
                    .and_then(|e| self.secrets.decrypt(&e.plex_token).ok())
                    .is_some_and(|stored| stored == token);
                if !same {
                    wanted.plex_token = self.secrets.encrypt(&token);
                }
            }
            None => self.report.leave_out(
                format!("source {slug:?}'s Plex token"),
                "the source's API does not show it: sign in with Plex on the source's page in /if/admin/sources/",
            ),
        }
        match existing {
            Some(ours) => {
                let fields = changed!(
                    ours,
                    wanted,
                    [
                        name,
                        enabled,
                        authentication_flow,
                        enrollment_flow,
                        user_property_mappings,
                        group_property_mappings,
                        policy_engine_mode,
                        user_matching_mode,
                        group_matching_mode,
                        user_path_template,
                        client_id,
                        allowed_servers,
                        allow_friends,
                        plex_token,
                    ]
                );
                if self.settled("source", &slug, fields) {
                    self.conn.update_source(&ours, &wanted).await?;
                }
            }
            None => {
                self.conn.insert_source(&wanted).await?;
                self.report.note("source", &slug, Outcome::Created);
            }
        }
        if let Some(pk) = uuid_of(theirs, "pk") {
            self.source_ids.insert(pk, wanted.id);
        }
        self.sources.insert(slug, wanted.id);
        Ok(())
    }

    fn mapped(&self, theirs: &[Uuid]) -> Vec<MappingId> {
        theirs.iter().filter_map(|pk| self.mappings.get(pk).copied()).collect()
    }

    async fn group(&mut self, theirs: &Value) -> Result<(), ImportError> {
        let name = text(theirs, "name");
        let parent = uuid_of(theirs, "parent").and_then(|p| self.groups.get(&p).copied());
        let existing = self.conn.groups_named(&name).await?;
        let mut found = None;
        for named in existing {
            if let Some(group) = self.conn.group_by_id(named.group).await? {
                if group.parent == parent {
                    found = Some(group);
                }
            }
        }
        let wanted = Group {
            id: found.as_ref().map_or_else(|| GroupId(uuid_of(theirs, "pk").unwrap_or_else(Uuid::new_v4)), |g| g.id),
            name: name.clone(),
            is_superuser: flag(theirs, "is_superuser", false),
            parent,
            attributes: object(theirs, "attributes"),
        };
        let id = match found {
            Some(ours) => {
                let fields = changed!(ours, wanted, [is_superuser, attributes]);
                if self.settled("group", &name, fields) {
                    self.conn.update_group(&ours, &wanted).await?;
                }
                ours.id
            }
            None => {
                self.conn.insert_group(&wanted).await?;
                self.report.note("group", &name, Outcome::Created);
                wanted.id
            }
        };
        if let Some(pk) = uuid_of(theirs, "pk") {
            self.groups.insert(pk, id);
        }
        Ok(())
    }

    async fn user(&mut self, theirs: &Value) -> Result<(), ImportError> {
        let username = text(theirs, "username");
        let existing = self.conn.user_by_username(&username).await?;
        let mut wanted = existing.clone().unwrap_or_else(|| {
            let mut user = User::named(&username, self.now);
            user.uuid = uuid_of(theirs, "uuid").unwrap_or(user.uuid);
            user
        });
        wanted.name = text(theirs, "name");
        wanted.email = text(theirs, "email");
        wanted.is_active = flag(theirs, "is_active", true);
        wanted.path = text(theirs, "path");
        wanted.attributes = object(theirs, "attributes");
        if let Some(kind) = UserType::parse(&text(theirs, "type")) {
            wanted.user_type = kind;
        }
        let created = existing.is_none();
        let (id, mut fields) = match existing {
            Some(ours) => {
                let fields = changed!(ours, wanted, [name, email, is_active, path, attributes, user_type]);
                if !fields.is_empty() {
                    self.conn.update_user(&ours, &wanted).await?;
                }
                (ours.id, fields)
            }
            None => (self.conn.insert_user(&wanted).await?, Vec::new()),
        };
        if self.add_memberships(theirs, id).await? {
            fields.push("groups");
        }
        let result = if created { Outcome::Created } else { outcome(fields) };
        self.report.note("user", &username, result);
        self.users.insert(text(theirs, "pk"), id);
        Ok(())
    }

    /// Adds `user` to the imported groups the source has them in; whether any was added.
    async fn add_memberships(&mut self, theirs: &Value, user: UserId) -> Result<bool, ImportError> {
        let current: HashSet<GroupId> =
            self.conn.memberships_of_users(&[user]).await?.into_iter().map(|m| m.group.id).collect();
        let mut added = false;
        for pk in uuids(theirs, "groups") {
            if let Some(group) = self.groups.get(&pk).copied() {
                if !current.contains(&group) {
                    self.conn.add_member(group, user).await?;
                    added = true;
                }
            }
        }
        Ok(added)
    }

    async fn user_connection(&mut self, theirs: &Value) -> Result<(), ImportError> {
        let slug = text(&theirs["source"], "slug");
        let identifier = text(theirs, "identifier");
        let name = format!("{slug}/{identifier}");
        let (Some(source), Some(user)) =
            (self.sources.get(&slug).copied(), self.users.get(&text(theirs, "user")).copied())
        else {
            self.report.leave_out(format!("user connection {name}"), "its source or user did not come over");
            return Ok(());
        };
        self.report.leave_out(
            "users' own Plex tokens",
            "authentik's API never shows them: each connection comes over without its token and its Plex \
             relationship is learnt again at the person's next sign-in",
        );
        match self.conn.user_connection_by_identifier(source, &identifier).await? {
            Some(ours) if ours.user == user => self.report.note("connection", name, Outcome::Unchanged),
            Some(_) => self.report.leave_out(
                format!("user connection {name}"),
                "this Plex account is already connected to another plexid user",
            ),
            None => {
                let connection = UserConnection {
                    id: UserConnectionId(0),
                    user,
                    source,
                    identifier,
                    plex_token: String::new(),
                    created: self.now,
                    last_updated: self.now,
                };
                match self.conn.insert_user_connection(&connection).await {
                    Ok(_) => self.report.note("connection", name, Outcome::Created),
                    Err(StoreError::Unique(_)) => self.report.leave_out(
                        format!("user connection {name}"),
                        "the user already has another Plex account connected through this source",
                    ),
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(())
    }

    async fn group_connection(&mut self, theirs: &Value) -> Result<(), ImportError> {
        let slug = text(&theirs["source"], "slug");
        let identifier = text(theirs, "identifier");
        let name = format!("{slug}/{identifier}");
        let group = uuid_of(theirs, "group").and_then(|g| self.groups.get(&g).copied());
        let (Some(source), Some(group)) = (self.sources.get(&slug).copied(), group) else {
            self.report.leave_out(format!("group connection {name}"), "its source or group did not come over");
            return Ok(());
        };
        match self.conn.group_connection_by_identifier(source, &identifier).await? {
            Some(ours) if ours.group == group => self.report.note("group link", name, Outcome::Unchanged),
            Some(_) => self.report.leave_out(format!("group connection {name}"), "already linked to another group"),
            None => {
                let connection = GroupConnection {
                    id: GroupConnectionId(0),
                    group,
                    source,
                    identifier,
                    created: self.now,
                    last_updated: self.now,
                };
                self.conn.insert_group_connection(&connection).await?;
                self.report.note("group link", name, Outcome::Created);
            }
        }
        Ok(())
    }

    async fn provider(&mut self, s: &Snapshot, kind: ProviderKind, theirs: &Value) -> Result<(), ImportError> {
        let name = text(theirs, "name");
        let client_id = text(theirs, "client_id");
        let label = format!("{} provider {name:?}", kind.as_str());
        if kind == ProviderKind::Proxy && text(theirs, "mode") == "proxy" {
            self.report
                .leave_out(label, "plexid does not proxy requests itself (only forward_single and forward_domain)");
            return Ok(());
        }
        let Some(authorization_flow) = self.flow(s, uuid_of(theirs, "authorization_flow")).await? else {
            self.report.leave_out(label, "its authorization flow could not be read");
            return Ok(());
        };
        let existing = self.conn.provider_by_client_id(&client_id).await?.map(|row| row.provider);
        let mut wanted = existing.clone().unwrap_or_else(|| Provider::new(kind, &name, authorization_flow));
        wanted.name = name.clone();
        wanted.client_id = client_id;
        wanted.authorization_flow = authorization_flow;
        wanted.authentication_flow = self.flow(s, uuid_of(theirs, "authentication_flow")).await?;
        let d = ProviderSettings::default();
        let st = &mut wanted.settings;
        let or = |key: &str, default: &str| Some(text(theirs, key)).filter(|t| !t.is_empty()).unwrap_or(default.into());
        st.access_token_validity = or("access_token_validity", &d.access_token_validity);
        st.refresh_token_validity = or("refresh_token_validity", &d.refresh_token_validity);
        match kind {
            ProviderKind::OAuth2 => {
                st.client_type = ClientType::parse(&text(theirs, "client_type")).unwrap_or(d.client_type);
                st.access_code_validity = or("access_code_validity", &d.access_code_validity);
                st.include_claims_in_id_token = flag(theirs, "include_claims_in_id_token", true);
                st.redirect_uris = text(theirs, "redirect_uris");
                st.sub_mode = SubMode::parse(&text(theirs, "sub_mode")).unwrap_or(d.sub_mode);
                st.issuer_mode = IssuerMode::parse(&text(theirs, "issuer_mode")).unwrap_or(d.issuer_mode);
                match shown_secret(theirs, "client_secret") {
                    Some(secret) if hash_token(&secret) != wanted.client_secret_hash => {
                        wanted.client_secret_hash = hash_token(&secret);
                        wanted.client_secret_hint = secret.chars().skip(secret.chars().count().saturating_sub(4)).collect();
                    }
                    Some(_) => {}
                    None if st.client_type == ClientType::Confidential => self.report.leave_out(
                        format!("{label}'s client secret"),
                        "the source's API does not show it: set a new one in /if/admin/applications/ and give it to the app",
                    ),
                    None => {}
                }
                if !theirs["signing_key"].is_null() {
                    self.report.leave_out(
                        "signing keys",
                        "plexid signs ID tokens with its own keys: relying parties fetch them from the new JWKS address",
                    );
                }
            }
            ProviderKind::Proxy => {
                st.external_host = text(theirs, "external_host");
                st.mode = ProxyMode::parse(&text(theirs, "mode")).unwrap_or(d.mode);
                st.cookie_domain = text(theirs, "cookie_domain");
                st.intercept_header_auth = flag(theirs, "intercept_header_auth", true);
                if !text(theirs, "skip_path_regex").trim().is_empty() {
                    self.report.leave_out(
                        format!("{label}'s skip_path_regex"),
                        "plexid does not skip paths; protect them in the proxy",
                    );
                }
            }
        }
        let id = match existing {
            Some(ours) => {
                let fields = changed!(
                    ours,
                    wanted,
                    [name, authorization_flow, authentication_flow, client_secret_hash, settings]
                );
                if self.settled(provider_kind(kind), &name, fields) {
                    self.conn.update_provider(&wanted).await?;
                }
                ours.id
            }
            None => {
                let id = self.conn.insert_provider(&wanted).await?;
                self.report.note(provider_kind(kind), &name, Outcome::Created);
                id
            }
        };
        self.providers.insert(text(theirs, "pk"), id);
        Ok(())
    }

    /// The application's access rules: plexid's own fields when the source is a plexid, else
    /// authentik's group bindings. `Err(why)` when there is something plexid cannot express.
    fn access_rules(&self, s: &Snapshot, theirs: &Value) -> Result<AccessRules, String> {
        if theirs.get("access_groups").is_some() {
            let groups = uuids(theirs, "access_groups");
            let mapped: Vec<GroupId> = groups.iter().filter_map(|g| self.groups.get(g).copied()).collect();
            if mapped.len() < groups.len() {
                return Err("a group it admits did not come over".into());
            }
            let relationships = strings(theirs, "access_relationships")
                .iter()
                .map(|r| AppRelationship::parse(r).ok_or_else(|| format!("unknown relationship {r:?}")))
                .collect::<Result<_, _>>()?;
            let source = match uuid_of(theirs, "access_source") {
                None => None,
                Some(pk) => Some(*self.source_ids.get(&pk).ok_or("the Plex source of its rule did not come over")?),
            };
            return Ok(AccessRules {
                groups: mapped,
                relationships,
                servers: strings(theirs, "access_servers"),
                source,
            });
        }
        let Some(Some(bindings)) = s.bindings.get(&text(theirs, "pk")) else {
            return Err("its policy bindings could not be read".into());
        };
        let mut rules = AccessRules::default();
        for binding in bindings.iter().filter(|b| flag(b, "enabled", true)) {
            if flag(binding, "negate", false) {
                return Err("it has a negated binding".into());
            }
            match (uuid_of(binding, "group"), binding["user"].is_null(), binding["policy"].is_null()) {
                (Some(group), true, true) => match self.groups.get(&group) {
                    Some(id) => rules.groups.push(*id),
                    None => return Err("a group it is bound to did not come over".into()),
                },
                (_, false, _) => {
                    return Err("it is bound to single users (plexid admits by group or Plex relationship)".into())
                }
                _ => {
                    let policy = binding["policy_obj"]["name"].as_str().unwrap_or("a policy").to_owned();
                    return Err(format!("it is bound to {policy:?}, which plexid cannot evaluate"));
                }
            }
        }
        Ok(rules)
    }

    async fn application(&mut self, s: &Snapshot, theirs: &Value) -> Result<(), ImportError> {
        let slug = text(theirs, "slug");
        let provider = match theirs["provider"].as_i64() {
            None => None,
            Some(pk) => match self.providers.get(&pk.to_string()) {
                Some(id) => Some(*id),
                None => {
                    let kind = text(&theirs["provider_obj"], "verbose_name");
                    let why = format!(
                        "its provider ({kind}) did not come over (plexid has OAuth2/OpenID and proxy providers)"
                    );
                    self.report.leave_out(format!("application {slug:?}"), why);
                    return Ok(());
                }
            },
        };
        let access = match self.access_rules(s, theirs) {
            Ok(rules) => rules,
            Err(why) => {
                let why =
                    format!("{why}; left out rather than opened to everyone: create it by hand with an access rule");
                self.report.leave_out(format!("application {slug:?}"), why);
                return Ok(());
            }
        };
        let existing = self.conn.application_by_slug(&slug).await?;
        let mut wanted = existing.clone().unwrap_or_else(|| {
            let mut app = Application::new(&slug, "");
            app.id = plexid_core::ApplicationId(uuid_of(theirs, "pk").unwrap_or_else(Uuid::new_v4));
            app
        });
        wanted.name = text(theirs, "name");
        wanted.provider = provider;
        wanted.open_in_new_tab = flag(theirs, "open_in_new_tab", false);
        wanted.meta_launch_url = text(theirs, "meta_launch_url");
        wanted.meta_description = text(theirs, "meta_description");
        wanted.meta_publisher = text(theirs, "meta_publisher");
        wanted.policy_engine_mode =
            PolicyEngineMode::parse(&text(theirs, "policy_engine_mode")).unwrap_or(PolicyEngineMode::Any);
        wanted.group = text(theirs, "group");
        wanted.access = access;
        match existing {
            Some(ours) => {
                let fields = changed!(
                    ours,
                    wanted,
                    [
                        name,
                        provider,
                        open_in_new_tab,
                        meta_launch_url,
                        meta_description,
                        meta_publisher,
                        policy_engine_mode,
                        group,
                        access,
                    ]
                );
                if self.settled("application", &slug, fields) {
                    self.conn.update_application(&wanted).await?;
                }
            }
            None => {
                self.conn.insert_application(&wanted).await?;
                self.report.note("application", &slug, Outcome::Created);
            }
        }
        Ok(())
    }
}

fn provider_kind(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OAuth2 => "oauth2",
        ProviderKind::Proxy => "proxy",
    }
}

impl Import<'_, '_> {
    /// Notes what happened to an existing object; whether it needs writing.
    fn settled(&mut self, kind: &'static str, name: &str, fields: Vec<&'static str>) -> bool {
        let write = !fields.is_empty();
        self.report.note(kind, name, outcome(fields));
        write
    }
}

fn outcome(fields: Vec<&'static str>) -> Outcome {
    if fields.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Updated(fields)
    }
}

/// The groups to bring over: those with Plex group connections, those applications admit
/// (bindings or plexid's `access_groups`), and those the connected users are in, with their
/// ancestors.
fn wanted_groups(s: &Snapshot) -> HashSet<Uuid> {
    let mut wanted: HashSet<Uuid> = s.group_connections.iter().filter_map(|c| uuid_of(c, "group")).collect();
    for app in &s.applications {
        wanted.extend(uuids(app, "access_groups"));
        if let Some(Some(bindings)) = s.bindings.get(&text(app, "pk")) {
            wanted.extend(bindings.iter().filter_map(|b| uuid_of(b, "group")));
        }
    }
    for user in &s.users {
        wanted.extend(uuids(user, "groups"));
    }
    let parents: BTreeMap<Uuid, Uuid> =
        s.groups.iter().filter_map(|g| Some((uuid_of(g, "pk")?, uuid_of(g, "parent")?))).collect();
    let mut queue: Vec<Uuid> = wanted.iter().copied().collect();
    while let Some(group) = queue.pop() {
        if let Some(parent) = parents.get(&group) {
            if wanted.insert(*parent) {
                queue.push(*parent);
            }
        }
    }
    wanted
}

/// The `wanted` groups of `groups`, each after its parent.
fn order_parents_first<'a>(groups: &'a [Value], wanted: &HashSet<Uuid>) -> Vec<&'a Value> {
    let mut left: Vec<&Value> =
        groups.iter().filter(|g| uuid_of(g, "pk").is_some_and(|pk| wanted.contains(&pk))).collect();
    let mut placed: HashSet<Uuid> = HashSet::new();
    let mut ordered = Vec::new();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|g| {
            let ready = uuid_of(g, "parent").is_none_or(|p| placed.contains(&p) || !wanted.contains(&p));
            if ready {
                placed.insert(uuid_of(g, "pk").expect("filtered"));
                ordered.push(*g);
            }
            !ready
        });
        if left.len() == before {
            // A cycle (authentik forbids them): bring the rest over as they come.
            ordered.append(&mut left);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masked_secrets_are_not_secrets() {
        assert_eq!(shown_secret(&json!({"t": "abc"}), "t").as_deref(), Some("abc"));
        assert_eq!(shown_secret(&json!({"t": "********"}), "t"), None);
        assert_eq!(shown_secret(&json!({"t": "********wxyz"}), "t"), None);
        assert_eq!(shown_secret(&json!({"t": ""}), "t"), None);
        assert_eq!(shown_secret(&json!({}), "t"), None);
    }

    #[test]
    fn parents_come_first_and_ancestors_are_wanted() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let groups = vec![
            json!({"pk": c.to_string(), "parent": b.to_string()}),
            json!({"pk": b.to_string(), "parent": a.to_string()}),
            json!({"pk": a.to_string(), "parent": null}),
        ];
        let snapshot = Snapshot {
            flows: vec![],
            mappings: vec![],
            sources: vec![],
            user_connections: vec![],
            group_connections: vec![json!({"group": c.to_string()})],
            users: vec![],
            groups: groups.clone(),
            oauth2: vec![],
            proxy: vec![],
            applications: vec![],
            bindings: HashMap::new(),
        };
        let wanted = wanted_groups(&snapshot);
        assert_eq!(wanted, [a, b, c].into_iter().collect());
        let order: Vec<String> = order_parents_first(&groups, &wanted).iter().map(|g| text(g, "pk")).collect();
        assert_eq!(order, [a, b, c].map(|u| u.to_string()));
    }

    #[test]
    fn the_report_says_what_a_dry_run_would_do() {
        let mut report = Report::default();
        report.note("source", "plex", Outcome::Created);
        report.note("group", "friends", Outcome::Updated(vec!["attributes"]));
        report.note("user", "alice", Outcome::Unchanged);
        report.leave_out("passwords", "never shown");
        let text = report.render(true);
        assert!(text.contains("would create") && text.contains("would update (attributes)"), "{text}");
        assert!(text.contains("2 would change, 1 unchanged.") && text.contains("- passwords: never shown"), "{text}");
        assert!(text.contains("Dry run: nothing was written."));
    }
}
