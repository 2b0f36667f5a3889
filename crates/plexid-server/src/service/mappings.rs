//! Property mappings: stored expressions, and their evaluation.

use plexid_core::model::{Mapping, MappingChanges};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, GroupId, MappingId, Permission, SourceId, UserId};
use plexid_mapping::MappingError;
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::mappings::MappingFilter;
use serde_json::{json, Map, Value};

use super::{check, Actor, AppState, ServiceError, ServiceResult};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::PlexSourcePropertyMapping)
}

/// Seeing Plex property mappings.
pub const VIEW: Permission = perm(Action::View);
/// Testing any property mapping.
pub const TEST: Permission = Permission::new(Action::View, Model::PropertyMapping);

pub const FIELD_ORDER: &[&str] = &["name", "expression"];

/// The `Expression Syntax Error: …` message, if the expression does not parse. The parser runs
/// in a mapping worker, after the length and nesting limits: no expression can take the
/// server's stack.
pub async fn syntax_error(app: &AppState, expression: &str, name: Option<&str>) -> ServiceResult<Option<String>> {
    match app.mappings.check_syntax(expression, name).await {
        Ok(()) => Ok(None),
        Err(MappingError::Syntax(message) | MappingError::Limit(message)) => {
            Ok(Some(format!("Expression Syntax Error: {message}")))
        }
        Err(MappingError::Runtime(message)) => Err(ServiceError::Internal(message)),
    }
}

/// The same check in this process, for the command line's import (it has no worker pool): safe
/// there too, since `plexid_mapping::check_bounds` caps the nesting the parser recurses through
/// before it runs.
pub fn syntax_error_here(expression: &str, name: Option<&str>) -> Option<String> {
    plexid_mapping::check_syntax(expression, name).err().map(|e| format!("Expression Syntax Error: {e}"))
}

/// Records what is wrong with a new `expression` (too long, or not parsing) under `expression`.
async fn check_expression(
    app: &AppState,
    expression: &str,
    name: Option<&str>,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    if errors.has("expression") {
        return Ok(());
    }
    if expression.chars().count() > plexid_mapping::MAX_EXPRESSION_CHARS {
        errors.add("expression", plexid_mapping::too_long_message());
    } else if let Some(message) = syntax_error(app, expression, name).await? {
        errors.add("expression", message);
    }
    Ok(())
}

/// How an evaluation failure reads to an admin.
pub fn describe(error: &MappingError) -> String {
    match error {
        MappingError::Syntax(message) => format!("Expression Syntax Error: {message}"),
        MappingError::Runtime(message) | MappingError::Limit(message) => message.clone(),
    }
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &MappingFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Mapping>> {
    actor.require(perm(Action::View))?;
    let mut conn = app.store.read();
    if !filter.managed.is_empty() {
        let present = conn.managed_mapping_values().await?;
        if let Some(bad) = filter.managed.iter().find(|m| !present.contains(m)) {
            let message = format!("Select a valid choice. {bad} is not one of the available choices.");
            return Err(FieldErrors::single("managed", message).into());
        }
    }
    Ok(conn.list_mappings(filter, ordering, window).await?)
}

pub async fn get(app: &AppState, actor: &Actor, id: MappingId) -> ServiceResult<Mapping> {
    actor.require(perm(Action::View))?;
    app.store.read().mapping_by_id(id).await?.ok_or(ServiceError::NotFound)
}

fn apply(mut m: Mapping, c: MappingChanges) -> Mapping {
    if let Some(name) = c.name {
        m.name = name;
    }
    if let Some(expression) = c.expression {
        m.expression = expression;
    }
    m
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    changes: MappingChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Mapping> {
    actor.require(perm(Action::Add))?;
    if let Some(expression) = &changes.expression {
        check_expression(app, expression, None, &mut errors).await?;
    }
    let blank = Mapping { id: MappingId::random(), name: String::new(), expression: String::new(), managed: None };
    let mapping = apply(blank, changes);
    check(errors, FIELD_ORDER)?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.insert_mapping(&mapping).await?;
    super::audit::created(&mut conn, actor, app.clock.now(), &mapping).await?;
    tx.commit().await?;
    Ok(mapping)
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    id: MappingId,
    changes: MappingChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Mapping> {
    let current = get(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    // Before the transaction: the check waits for a worker, and no row lock (nor SQLite's one
    // writer) should wait with it. The name only labels the message.
    if let Some(expression) = &changes.expression {
        check_expression(app, expression, Some(&current.name), &mut errors).await?;
    }
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let stored = conn.mapping_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    let mapping = apply(stored.clone(), changes);
    check(errors, FIELD_ORDER)?;
    conn.update_mapping(&mapping).await?;
    super::audit::updated(&mut conn, actor, app.clock.now(), &stored, &mapping).await?;
    tx.commit().await?;
    Ok(mapping)
}

pub async fn delete(app: &AppState, actor: &Actor, id: MappingId) -> ServiceResult<()> {
    let mapping = get(app, actor, id).await?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.delete_mapping(mapping.id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &mapping).await?;
    tx.commit().await?;
    Ok(())
}

/// Sources that list the mapping (if the actor may view sources).
pub async fn usage(app: &AppState, actor: &Actor, id: MappingId) -> ServiceResult<Vec<(SourceId, String)>> {
    let mapping = get(app, actor, id).await?;
    if !actor.can(Permission::new(Action::View, Model::PlexSource)) {
        return Ok(Vec::new());
    }
    Ok(app.store.read().sources_using_mapping(mapping.id).await?)
}

/// What a mapping test evaluates with: the given context, plus the user and group it names.
#[derive(Default)]
pub struct TestInput {
    /// Evaluated instead of the stored expression (the admin pages' test of an unsaved edit;
    /// needs the permission to change mappings).
    pub expression: Option<String>,
    pub user: Option<UserId>,
    pub group: Option<GroupId>,
    pub context: Map<String, Value>,
}

/// Evaluates a stored mapping (`authentik_core.view_propertymapping`, plus view permission on
/// the user or group it is given). `Ok(Err(…))` is an evaluation failure, shown to the admin.
pub async fn test(
    app: &AppState,
    actor: &Actor,
    id: MappingId,
    input: TestInput,
    mut errors: FieldErrors,
) -> ServiceResult<Result<Value, MappingError>> {
    actor.require(TEST)?;
    let mut conn = app.store.read();
    let mapping = conn.mapping_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    if input.expression.is_some() {
        actor.require(perm(Action::Change))?;
    }
    if let Some(expression) = &input.expression {
        if expression.chars().count() > plexid_mapping::MAX_EXPRESSION_CHARS {
            errors.add("expression", plexid_mapping::too_long_message());
        }
    }
    let expression = input.expression.unwrap_or(mapping.expression);
    let mut variables = input.context;
    if let Some(id) = input.user {
        actor.require(Permission::new(Action::View, Model::User))?;
        match conn.user_by_id(id).await? {
            Some(u) => {
                let user = json!({
                    "pk": u.id, "username": u.username, "name": u.name, "email": u.email,
                    "is_active": u.is_active, "path": u.path, "attributes": u.attributes,
                });
                variables.insert("user".into(), user);
            }
            None => errors.add("user", plexid_core::errors::does_not_exist(id)),
        }
    }
    if let Some(id) = input.group {
        actor.require(Permission::new(Action::View, Model::Group))?;
        match conn.group_by_id(id).await? {
            Some(g) => {
                let group =
                    json!({"pk": g.id, "name": g.name, "is_superuser": g.is_superuser, "attributes": g.attributes});
                variables.insert("group".into(), group);
            }
            None => errors.add("group", plexid_core::errors::does_not_exist(id)),
        }
    }
    errors.into_result()?;
    variables.entry("request").or_insert(Value::Null);
    Ok(evaluate(app, expression, variables).await)
}

/// Evaluates an expression in a mapping worker process, within the hard limits (the server's
/// memory and runtime are never at stake).
pub async fn evaluate(
    app: &AppState,
    expression: String,
    variables: Map<String, Value>,
) -> Result<Value, MappingError> {
    let result = app.mappings.evaluate(&expression, &variables).await;
    app.metrics.mapping_evaluation(&result);
    result
}
