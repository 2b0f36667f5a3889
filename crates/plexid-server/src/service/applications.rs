//! Applications: a provider, launch details, and who may use them (groups, Plex relationships).
//! The access rule itself is [`plexid_core::apps::decide_app_access`]; [`Subject`] gathers what it
//! needs about a user from the database, once.

use plexid_core::apps::{decide_app_access, AccessRules, AppDenial, Application, Provider, UserFacts};
use plexid_core::login::Relationship;
use plexid_core::model::User;
use plexid_core::modes::{PolicyEngineMode, ProviderKind};
use plexid_core::permission::{Action, Model};
use plexid_core::{rules, FieldErrors, GroupId, Permission, ProviderId, SourceId, UserId};
use plexid_store::apps::{ApplicationFilter, LiveConnection, ProviderRow};
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::{Access, Conn, ReadWrite};

use super::providers::{self, ProviderChanges};

use super::{check, missing_reference, Actor, AppState, ServiceError, ServiceResult};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::Application)
}

pub const VIEW: Permission = perm(Action::View);

#[derive(Clone, Debug, Default)]
pub struct ApplicationChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub provider: Option<Option<ProviderId>>,
    pub open_in_new_tab: Option<bool>,
    pub meta_launch_url: Option<String>,
    pub meta_description: Option<String>,
    pub meta_publisher: Option<String>,
    pub policy_engine_mode: Option<PolicyEngineMode>,
    pub group: Option<String>,
    pub access: Option<AccessRules>,
    /// `access_source` as sent: a source's pk or slug, or null (`Some(None)`); unsent: `None`.
    pub access_source: Option<Option<String>>,
}

pub const FIELD_ORDER: &[&str] = &[
    "name",
    "slug",
    "provider",
    "backchannel_providers",
    "open_in_new_tab",
    "meta_launch_url",
    "meta_description",
    "meta_publisher",
    "policy_engine_mode",
    "group",
    "access_groups",
    "access_relationships",
    "access_servers",
    "access_source",
];

/// The field error of relationship rules that name no source while several exist (D26).
pub const CHOOSE_SOURCE: &str =
    "Choose the Plex source whose relationships count: there are several, and another's owner or friends must not get in.";
/// The field error of relationship rules while no source exists.
pub const NO_SOURCE: &str = "Relationship rules need a Plex source: create one first.";

/// An application with its provider (for `provider_obj`).
pub struct Shown {
    pub app: Application,
    pub provider: Option<ProviderRow>,
}

impl Shown {
    /// Where the application's launch link goes: its own launch URL, else its provider's (the
    /// first redirect URI's origin for OpenID Connect, the external host for forward-auth).
    pub fn launch_url(&self) -> Option<String> {
        if !self.app.meta_launch_url.is_empty() {
            return Some(self.app.meta_launch_url.clone());
        }
        let provider = &self.provider.as_ref()?.provider;
        match provider.kind {
            ProviderKind::Proxy => Some(provider.settings.external_host.clone()),
            ProviderKind::OAuth2 => {
                let first = provider.redirect_uris().into_iter().next()?;
                url::Url::parse(&first).ok().map(|u| u.origin().ascii_serialization())
            }
        }
    }
}

fn apply(mut a: Application, mut c: ApplicationChanges) -> Application {
    // The source is written apart from the other rules (it is resolved in `validate`).
    if let Some(access) = c.access.as_mut() {
        access.source = a.access.source;
    }
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { a.$field = v; } )*};
    }
    take!(
        name,
        slug,
        provider,
        open_in_new_tab,
        meta_launch_url,
        meta_description,
        meta_publisher,
        policy_engine_mode,
        group,
        access
    );
    a
}

/// The source the relationship rules count through (D26), and whose Plex id and relationships
/// the application is told: the one named, else the only source there is. Several and none
/// named is a field error when there are relationship rules, since picking one for the admin
/// could hand an owner-only application to another source's owner.
async fn access_source<A: Access>(
    conn: &mut Conn<'_, A>,
    a: &mut Application,
    named: Option<Option<String>>,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    match named {
        Some(Some(value)) => {
            a.access.source = super::sources::resolve(conn, &value, "access_source", errors).await?.map(|s| s.id);
        }
        Some(None) => a.access.source = None,
        None => {}
    }
    if a.access.source.is_some() || errors.has("access_source") {
        return Ok(());
    }
    let rules = !a.access.relationships.is_empty();
    match conn.source_ids().await?.as_slice() {
        [only] => a.access.source = Some(*only),
        [] if rules => errors.add("access_source", NO_SOURCE),
        _ if rules => errors.add("access_source", CHOOSE_SOURCE),
        _ => {}
    }
    Ok(())
}

/// Checks the application, reading through the caller's transaction. Only groups the change
/// adds to the access rule must exist: a group deleted since it was named stays in the rule
/// (where it matches nobody, so the rule does not widen) without failing every later save.
async fn validate(
    conn: &mut Conn<'_, ReadWrite>,
    a: &Application,
    stored_groups: &[GroupId],
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    if !errors.has("slug") {
        for message in rules::slug_errors(&a.slug) {
            errors.add("slug", message);
        }
    }
    if !a.meta_launch_url.is_empty()
        && !errors.has("meta_launch_url")
        && !plexid_core::apps::is_absolute_http_url(&a.meta_launch_url)
    {
        errors.add("meta_launch_url", "Enter a valid URL.");
    }
    if let (Some(id), false) = (a.provider, errors.has("provider")) {
        if conn.provider_by_id(id).await?.is_none() {
            errors.add("provider", plexid_core::errors::does_not_exist(id));
        }
    }
    if !errors.has("access_groups") {
        let added: Vec<GroupId> = a.access.groups.iter().filter(|g| !stored_groups.contains(g)).copied().collect();
        let existing = conn.existing_groups(&added).await?;
        missing_reference(errors, "access_groups", &added, &existing);
    }
    Ok(())
}

async fn shown<A: Access>(conn: &mut Conn<'_, A>, app: Application) -> ServiceResult<Shown> {
    let provider = match app.provider {
        Some(id) => conn.provider_by_id(id).await?,
        None => None,
    };
    Ok(Shown { app, provider })
}

/// Attaches each application's provider, in one query.
pub async fn with_providers(app: &AppState, apps: Vec<Application>) -> ServiceResult<Vec<Shown>> {
    let ids: Vec<ProviderId> = apps.iter().filter_map(|a| a.provider).collect();
    let providers = app.store.read().providers_by_ids(&ids).await?;
    Ok(apps
        .into_iter()
        .map(|a| {
            let provider = a.provider.and_then(|id| providers.iter().find(|p| p.provider.id == id).cloned());
            Shown { app: a, provider }
        })
        .collect())
}

/// Lists applications: everything for holders of `view_application`; for anyone else, the
/// applications they may use (their library).
pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &ApplicationFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Application>> {
    let principal = actor.principal()?;
    if actor.can(VIEW) {
        return Ok(app.store.read().list_applications(filter, ordering, window).await?);
    }
    Ok(library(app, principal.user, filter, ordering, window).await?.unwrap_or(Listed { rows: Vec::new(), total: 0 }))
}

/// Lists the applications `for_user` may use (authentik's `for_user` parameter); `None` when the
/// caller may not see that user or there is none (authentik: "User not found"). Asking about
/// someone else needs `view_user`.
pub async fn list_for_user(
    app: &AppState,
    actor: &Actor,
    for_user: UserId,
    filter: &ApplicationFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Option<Listed<Application>>> {
    let principal = actor.principal()?;
    if for_user != principal.user && !actor.can(Permission::new(Action::View, Model::User)) {
        return Ok(None);
    }
    library(app, for_user, filter, ordering, window).await
}

/// The applications `user` may use, one page of them; `None` when there is no such user.
async fn library(
    app: &AppState,
    user: UserId,
    filter: &ApplicationFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Option<Listed<Application>>> {
    let everything = Window::Offset { limit: u64::MAX / 2, offset: 0 };
    let all = app.store.read().list_applications(filter, ordering, everything).await?;
    let with_groups = all.rows.iter().any(|a| !a.access.groups.is_empty());
    let Some(subject) = Subject::load(&mut app.store.read(), user, with_groups).await? else {
        return Ok(None);
    };
    let mine: Vec<Application> = all.rows.into_iter().filter(|a| subject.decide(a).is_ok()).collect();
    let total = mine.len() as u64;
    let rows = match window {
        Window::Offset { limit, offset } => mine.into_iter().skip(offset as usize).take(limit as usize).collect(),
        Window::Last { size } => {
            let start = total.saturating_sub(1) / size * size;
            mine.into_iter().skip(start as usize).collect()
        }
    };
    Ok(Some(Listed { rows, total }))
}

pub async fn get(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<Shown> {
    let principal = actor.principal()?;
    let mut conn = app.store.read();
    let found = conn.application_by_slug(slug).await?.ok_or(ServiceError::NotFound)?;
    if !actor.can(VIEW) && user_access(app, principal.user, &found).await?.is_err() {
        return Err(ServiceError::NotFound);
    }
    shown(&mut conn, found).await
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    changes: ApplicationChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Shown> {
    actor.require(perm(Action::Add))?;
    let named = changes.access_source.clone();
    let mut a = apply(Application::new("", ""), changes);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    validate(&mut conn, &a, &[], &mut errors).await?;
    access_source(&mut conn, &mut a, named, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.insert_application(&a).await?;
    super::audit::created(&mut conn, actor, app.clock.now(), &a).await?;
    let shown = shown(&mut conn, a).await?;
    tx.commit().await?;
    Ok(shown)
}

/// The stored application `slug` (locked in the caller's transaction), and it with `changes`
/// applied and validated; problems go to `errors`.
async fn prepare_change(
    conn: &mut Conn<'_, ReadWrite>,
    slug: &str,
    changes: ApplicationChanges,
    errors: &mut FieldErrors,
) -> ServiceResult<(Application, Application)> {
    let named = changes.access_source.clone();
    let before = conn.application_for_update(slug).await?.ok_or(ServiceError::NotFound)?;
    let stored_groups = before.access.groups.clone();
    let mut a = apply(before.clone(), changes);
    validate(conn, &a, &stored_groups, errors).await?;
    access_source(conn, &mut a, named, errors).await?;
    Ok((before, a))
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    changes: ApplicationChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Shown> {
    actor.require(VIEW)?;
    actor.require(perm(Action::Change))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let (before, a) = prepare_change(&mut conn, slug, changes, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.update_application(&a).await?;
    super::audit::updated(&mut conn, actor, app.clock.now(), &before, &a).await?;
    let shown = shown(&mut conn, a).await?;
    tx.commit().await?;
    Ok(shown)
}

/// An application and the provider of its own, written together (the admin pages' one form):
/// both parts are validated before anything is written and written in one transaction, so one
/// submission reports the errors of both and a refusal changes nothing.
pub struct WithProvider {
    pub application: ApplicationChanges,
    pub application_errors: FieldErrors,
    pub kind: ProviderKind,
    pub provider: ProviderChanges,
    pub provider_errors: FieldErrors,
}

impl WithProvider {
    /// Both parts' errors, the application's first.
    fn errors(&self) -> FieldErrors {
        let mut errors = self.application_errors.clone();
        errors.extend(self.provider_errors.clone());
        errors
    }
}

/// Creates the provider and the application using it; returns the application and the
/// provider's new client secret (OAuth2), which exists in full only in this answer.
pub async fn create_with_provider(
    app: &AppState,
    actor: &Actor,
    mut input: WithProvider,
) -> ServiceResult<(Shown, Option<String>)> {
    actor.require(perm(Action::Add))?;
    providers::require(actor, input.kind, Action::Add)?;
    // The application is checked without its provider (which does not exist yet).
    input.application.provider = Some(None);
    let named = input.application.access_source.take();
    let mut a = apply(Application::new("", ""), std::mem::take(&mut input.application));
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    validate(&mut conn, &a, &[], &mut input.application_errors).await?;
    let (provider, secret) = providers::prepare_new(
        &mut conn,
        app,
        input.kind,
        std::mem::take(&mut input.provider),
        &mut input.provider_errors,
    )
    .await?;
    access_source(&mut conn, &mut a, named, &mut input.application_errors).await?;
    check(input.errors(), FIELD_ORDER)?;
    let id = conn.insert_provider(&provider).await?;
    a.provider = Some(id);
    conn.insert_application(&a).await?;
    let now = app.clock.now();
    super::audit::created(&mut conn, actor, now, &Provider { id, ..provider }).await?;
    super::audit::created(&mut conn, actor, now, &a).await?;
    let shown = shown(&mut conn, a).await?;
    tx.commit().await?;
    Ok((shown, secret))
}

/// Changes the application `slug` and its provider (of `input.kind`) together.
pub async fn update_with_provider(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    mut input: WithProvider,
) -> ServiceResult<(Shown, Option<String>)> {
    actor.require(VIEW)?;
    actor.require(perm(Action::Change))?;
    providers::require(actor, input.kind, Action::Change)?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    input.application.provider = None;
    let (before, a) =
        prepare_change(&mut conn, slug, std::mem::take(&mut input.application), &mut input.application_errors).await?;
    let id = a.provider.ok_or(ServiceError::NotFound)?;
    let (provider_before, row, secret) =
        providers::prepare_change(&mut conn, id, std::mem::take(&mut input.provider), &mut input.provider_errors)
            .await?;
    if row.provider.kind != input.kind {
        return Err(ServiceError::NotFound);
    }
    check(input.errors(), FIELD_ORDER)?;
    conn.update_application(&a).await?;
    conn.update_provider(&row.provider).await?;
    let now = app.clock.now();
    super::audit::updated(&mut conn, actor, now, &before, &a).await?;
    super::audit::updated(&mut conn, actor, now, &provider_before, &row.provider).await?;
    let shown = shown(&mut conn, a).await?;
    tx.commit().await?;
    Ok((shown, secret))
}

/// Deletes the application; `with_provider`: the provider it uses too, in the same
/// transaction (which needs the permission to delete providers of its kind).
pub async fn delete(app: &AppState, actor: &Actor, slug: &str, with_provider: bool) -> ServiceResult<()> {
    actor.require(VIEW)?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let a = conn.application_for_update(slug).await?.ok_or(ServiceError::NotFound)?;
    conn.delete_application(a.id).await?;
    let now = app.clock.now();
    super::audit::deleted(&mut conn, actor, now, &a).await?;
    if let Some(id) = a.provider.filter(|_| with_provider) {
        if let Some(row) = conn.provider_by_id(id).await? {
            providers::require(actor, row.provider.kind, Action::Delete)?;
            conn.delete_provider(id).await?;
            super::audit::deleted(&mut conn, actor, now, &row.provider).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `check_access`: may `user` (default: the caller) use the application? Asking about someone
/// else needs `view_user`. `None`: there is no such user (authentik: "User not found").
pub async fn check_access(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    for_user: Option<UserId>,
) -> ServiceResult<Option<Result<(), AppDenial>>> {
    let principal = actor.principal()?;
    let target = match for_user {
        Some(user) if user != principal.user => {
            actor.require(Permission::new(Action::View, Model::User))?;
            user
        }
        _ => principal.user,
    };
    actor.require(VIEW)?;
    let mut conn = app.store.read();
    let a = conn.application_by_slug(slug).await?.ok_or(ServiceError::NotFound)?;
    let Some(subject) = Subject::load(&mut conn, target, !a.access.groups.is_empty()).await? else {
        return Ok(None);
    };
    Ok(Some(subject.decide(&a)))
}

/// What the access rule needs to know about a user, read once: the user, their groups with
/// ancestors (only when some rule names groups), and their unrevoked Plex connections.
pub struct Subject {
    pub user: User,
    pub groups: Vec<GroupId>,
    /// The user's live connections.
    pub connections: Vec<LiveConnection>,
    /// The same relationships by source, as the access rule reads them.
    pub relationships: Vec<(SourceId, Relationship)>,
}

impl Subject {
    pub async fn load<A: Access>(
        conn: &mut Conn<'_, A>,
        user: UserId,
        with_groups: bool,
    ) -> ServiceResult<Option<Subject>> {
        let Some(user) = conn.user_by_id(user).await? else { return Ok(None) };
        let groups = if with_groups { conn.user_group_closure(user.id).await? } else { Vec::new() };
        let connections = conn.live_connections(user.id).await?;
        let relationships = connections.iter().map(|c| (c.source, c.relationship.clone())).collect();
        Ok(Some(Subject { user, groups, connections, relationships }))
    }

    /// What an application is told about the user's Plex account: the Plex id and relationships
    /// through the application's source (D26); with no source chosen, the Plex id of the first
    /// connection and no relationships.
    pub fn plex_for(&self, a: Option<&Application>) -> (Option<String>, Vec<&Relationship>) {
        match a.and_then(|a| a.access.source) {
            Some(source) => {
                let through: Vec<&LiveConnection> = self.connections.iter().filter(|c| c.source == source).collect();
                (through.first().map(|c| c.plex_id.clone()), through.iter().map(|c| &c.relationship).collect())
            }
            None => (self.connections.first().map(|c| c.plex_id.clone()), Vec::new()),
        }
    }

    /// Has plex.tv confirmed the user's email address (through one of their live connections)?
    pub fn email_verified(&self) -> bool {
        !self.user.email.is_empty()
            && self.connections.iter().any(|c| c.verified_email.eq_ignore_ascii_case(&self.user.email))
    }

    /// The application's rule for this user.
    pub fn decide(&self, a: &Application) -> Result<(), AppDenial> {
        let facts = UserFacts { active: self.user.is_active, groups: &self.groups, relationships: &self.relationships };
        decide_app_access(a, &facts)
    }
}

/// The application's rule for this user, from what the database knows now.
pub async fn user_access(app: &AppState, user: UserId, a: &Application) -> ServiceResult<Result<(), AppDenial>> {
    let subject = Subject::load(&mut app.store.read(), user, !a.access.groups.is_empty()).await?;
    Ok(subject.map_or(Err(AppDenial::Inactive), |s| s.decide(a)))
}

/// Records that `user` was refused `a` (a `policy_execution` event whose result did not pass,
/// as authentik's policy engine logs one), in a transaction of its own.
pub async fn record_refusal(
    app: &AppState,
    user: UserId,
    a: &Application,
    reason: AppDenial,
    client_ip: &str,
) -> ServiceResult<()> {
    use plexid_core::modes::EventAction;
    let mut event = super::events::NewEvent::new(EventAction::PolicyExecution, "authentik.policies.engine")
        .client_ip(client_ip)
        .context("result", serde_json::json!({"passing": false, "messages": [reason.message()]}))
        .model("authentik_core", "application", a.id.0, &a.name);
    if let Some(user) = app.store.read().user_by_id(user).await? {
        event = event.user(&user);
    }
    super::events::record_alone(app, event).await
}

/// The names an application's rule refers to: its groups', and its Plex source's (for saying
/// the rule in words; names are shown to whoever the application refuses, so no permission).
pub async fn rule_names(app: &AppState, a: &Application) -> ServiceResult<(Vec<String>, Option<String>)> {
    let mut conn = app.store.read();
    let groups = conn.groups_by_ids(&a.access.groups).await?.into_iter().map(|g| g.name).collect();
    let source = match a.access.source {
        Some(id) => conn.source_by_id(id).await?.map(|s| s.name),
        None => None,
    };
    Ok((groups, source))
}
