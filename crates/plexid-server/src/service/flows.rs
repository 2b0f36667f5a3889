//! Flows as named objects that sources reference.

use plexid_core::model::{Flow, FlowChanges};
use plexid_core::modes::FlowDesignation;
use plexid_core::permission::{Action, Model};
use plexid_core::{rules, FieldErrors, Permission, SourceId};
use plexid_store::flows::FlowFilter;
use plexid_store::listing::{Listed, OrderTerm, Window};

use super::{check, Actor, AppState, ServiceError, ServiceResult};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::Flow)
}

/// Seeing flows.
pub const VIEW: Permission = perm(Action::View);

pub const FIELD_ORDER: &[&str] = &[
    "name",
    "slug",
    "title",
    "designation",
    "policy_engine_mode",
    "compatibility_mode",
    "layout",
    "denied_action",
    "authentication",
];

fn apply(mut f: Flow, c: FlowChanges) -> Flow {
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { f.$field = v; } )*};
    }
    take!(
        name,
        slug,
        title,
        designation,
        policy_engine_mode,
        compatibility_mode,
        layout,
        denied_action,
        authentication
    );
    f
}

fn check_slug(slug: Option<&String>, errors: &mut FieldErrors) {
    for message in slug.map(|s| rules::slug_errors(s)).unwrap_or_default() {
        errors.add("slug", message);
    }
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &FlowFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Flow>> {
    actor.require(perm(Action::View))?;
    Ok(app.store.read().list_flows(filter, ordering, window).await?)
}

pub async fn get(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<Flow> {
    actor.require(perm(Action::View))?;
    app.store.read().flow_by_slug(slug).await?.ok_or(ServiceError::NotFound)
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    changes: FlowChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Flow> {
    actor.require(perm(Action::Add))?;
    check_slug(changes.slug.as_ref(), &mut errors);
    check(errors, FIELD_ORDER)?;
    let flow = apply(Flow::new("", "", "", FlowDesignation::Authentication), changes);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.insert_flow(&flow).await?;
    super::audit::created(&mut conn, actor, app.clock.now(), &flow).await?;
    tx.commit().await?;
    Ok(flow)
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    slug: &str,
    changes: FlowChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Flow> {
    get(app, actor, slug).await?;
    actor.require(perm(Action::Change))?;
    check_slug(changes.slug.as_ref(), &mut errors);
    check(errors, FIELD_ORDER)?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let before = conn.flow_for_update(slug).await?.ok_or(ServiceError::NotFound)?;
    let flow = apply(before.clone(), changes);
    conn.update_flow(&flow).await?;
    super::audit::updated(&mut conn, actor, app.clock.now(), &before, &flow).await?;
    tx.commit().await?;
    Ok(flow)
}

pub async fn delete(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<()> {
    let flow = get(app, actor, slug).await?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.delete_flow(flow.id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &flow).await?;
    tx.commit().await?;
    Ok(())
}

/// What references the flow: sources (if the actor may view sources; their reference is
/// cleared on delete) and providers (if the actor may view them; deleting the flow deletes
/// the providers it authorizes, as in authentik).
pub struct FlowUsage {
    pub sources: Vec<(SourceId, String)>,
    pub providers: Vec<(plexid_core::ProviderId, String, plexid_core::modes::ProviderKind)>,
}

pub async fn usage(app: &AppState, actor: &Actor, slug: &str) -> ServiceResult<FlowUsage> {
    let flow = get(app, actor, slug).await?;
    let mut conn = app.store.read();
    let sources = if actor.can(Permission::new(Action::View, Model::PlexSource)) {
        conn.sources_using_flow(flow.id).await?
    } else {
        Vec::new()
    };
    let mut providers = conn.providers_using_flow(flow.id).await?;
    providers.retain(|(_, _, kind)| actor.can(Permission::new(Action::View, super::providers::model(*kind))));
    Ok(FlowUsage { sources, providers })
}
