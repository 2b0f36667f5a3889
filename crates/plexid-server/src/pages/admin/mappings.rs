//! `/if/admin/mappings/`: Plex property mappings: list, create and edit with syntax errors
//! shown at the expression, a test panel that evaluates the stored expression against sample
//! Plex user JSON (in the same worker processes and limits as a sign-in), and deletion after a
//! confirmation naming the sources that use the mapping.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{Mapping, MappingChanges};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, MappingId, Permission};
use plexid_store::listing::{OrderTerm, Window};
use plexid_store::mappings::MappingFilter;
use serde_json::{Map, Value};

use super::forms::{csrf_field, form_errors, input, textarea, textarea_of, FormData};
use super::{admin_page, confirm_delete_page, done, failure, permitted, with_status, Admin, Posted};
use crate::pages::{escape, PageError};
use crate::service::{mappings as service, ServiceError};
use crate::state::AppState;

const BASE: &str = "/if/admin/mappings/";

/// What a sign-in's `info` looks like (plex.tv's user), prefilled in the test panel.
const SAMPLE_INFO: &str = r#"{
  "id": 1002,
  "uuid": "00000000000003ea",
  "username": "member",
  "title": "Member",
  "email": "member@example.com",
  "thumb": "https://plex.tv/users/00000000000003ea/avatar"
}"#;

/// An error message with its line number as the editor counts (authentik's messages, which the
/// API keeps, count one more: its wrapper's first line).
pub fn as_written(message: &str) -> String {
    let Some(at) = message.rfind(", line ") else { return message.to_owned() };
    let digits: String = message[at + 7..].chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(line) if line > 1 => {
            format!("{}, line {}{}", &message[..at], line - 1, &message[at + 7 + digits.len()..])
        }
        _ => message.to_owned(),
    }
}

/// The form's errors with their line numbers as the editor counts.
fn as_written_errors(errors: &FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::default();
    for field in ["non_field_errors", "name", "expression", "info"] {
        for message in errors.messages(field) {
            out.add(field, as_written(&message));
        }
    }
    out
}

fn can(admin: &Admin, action: Action) -> bool {
    admin.actor.can(Permission::new(action, Model::PlexSourcePropertyMapping))
}

fn mapping_id(id: &str) -> Result<MappingId, PageError> {
    id.parse().map_err(|_| PageError::not_found())
}

/// `GET /if/admin/mappings/`.
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let window = Window::Offset { limit: 500, offset: 0 };
    let listed = service::list(&state, &admin.actor, &MappingFilter::default(), &[OrderTerm::asc("name")], window)
        .await
        .map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|m| {
            format!(
                "<tr><td><a href=\"{BASE}{id}/\">{name}</a></td><td>{managed}</td><td><code>{first}</code></td></tr>",
                id = m.id.0,
                name = escape(&m.name),
                managed = escape(m.managed.as_deref().unwrap_or("—")),
                first = escape(m.expression.lines().next().unwrap_or_default()),
            )
        })
        .collect();
    let new = super::new_button(can(&admin, Action::Add), &format!("{BASE}new"), "New property mapping");
    let body = format!(
        "<h1>Property mappings</h1>{new}<p class=\"muted\">{total}. A source's mappings run at every sign-in \
         through it, in the order listed on the source.</p><div class=\"table\"><table><thead><tr><th scope=\"col\">Name</th>\
         <th scope=\"col\">Managed</th><th scope=\"col\">Expression</th></tr></thead><tbody>{rows}</tbody></table></div>",
        total = crate::pages::text::count(listed.total, "mapping", "mappings"),
    );
    Ok(admin_page(&state, &admin, "Property mappings", BASE, &body, &[]))
}

/// The create or edit form (`id`: the stored mapping's).
/// The `id` of the mapping form (the test panel's fields belong to it).
const FORM_ID: &str = "mapping-form";

fn form_html(admin: &Admin, name: &str, expression: &str, id: Option<MappingId>, errors: &FieldErrors) -> String {
    let errors = &as_written_errors(errors);
    let action = match id {
        Some(id) => format!("{BASE}{}/", id.0),
        None => format!("{BASE}new"),
    };
    format!(
        "{alert}<form method=\"post\" action=\"{action}\" class=\"card\" id=\"{FORM_ID}\" novalidate>{csrf}{name}{expression}\
         <p><button type=\"submit\">{submit}</button> <a href=\"{BASE}\">Cancel</a></p></form>",
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", name, "", errors),
        expression = textarea(
            "expression",
            "Expression",
            expression,
            10,
            "Python-like (Starlark); it gets info (the Plex user), source, properties and request, and returns a dict.",
            errors
        ),
        submit = if id.is_some() { "Save" } else { "Create mapping" },
    )
}

fn changes(form: &FormData) -> (MappingChanges, FieldErrors) {
    let body = serde_json::json!({"name": form.get("name").unwrap_or_default(), "expression": form.get("expression").unwrap_or_default()});
    crate::api::read_body(&body, false, crate::api::mappings::read_mapping)
}

/// `GET /if/admin/mappings/new`.
pub async fn new_form(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Add))?;
    let body =
        format!("<h1>New property mapping</h1>{}", form_html(&admin, "", "return {}", None, &FieldErrors::default()));
    Ok(admin_page(&state, &admin, "New property mapping", BASE, &body, &[]))
}

/// `POST /if/admin/mappings/new`.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let (changes, errors) = changes(&form);
    match service::create(&state, &admin.actor, changes, errors).await {
        Ok(mapping) => Ok(done(
            &state,
            &format!("{BASE}{}/", mapping.id.0),
            &format!("Created the property mapping {}.", mapping.name),
        )),
        Err(ServiceError::Invalid(errors)) => {
            let form_html = form_html(
                &admin,
                form.get("name").unwrap_or_default(),
                form.get("expression").unwrap_or_default(),
                None,
                &errors,
            );
            let body = format!("<h1>New property mapping</h1>{form_html}");
            Ok(with_status(admin_page(&state, &admin, "New property mapping", BASE, &body, &[]), &errors))
        }
        Err(other) => Err(failure(other)),
    }
}

/// The mapping's page: its form (or its expression, read-only), the test panel and the result
/// of the last test.
fn mapping_page(
    state: &AppState,
    admin: &Admin,
    mapping: &Mapping,
    shown: (&str, &str),
    errors: &FieldErrors,
    test: (&str, Option<(bool, String)>),
) -> Response {
    let editing = can(admin, Action::Change) && mapping.managed.is_none();
    let editor = if editing {
        form_html(admin, shown.0, shown.1, Some(mapping.id), errors)
    } else {
        format!("<div class=\"card\"><pre><code>{}</code></pre></div>", escape(&mapping.expression))
    };
    let result = match &test.1 {
        Some((ok, text)) => format!(
            "<div class=\"{class}\" id=\"test-result\" role=\"status\"><h3>{title}</h3><pre><code>{text}</code></pre></div>",
            class = if *ok { "result ok" } else { "result alert" },
            title = if *ok { "Result" } else { "The expression failed" },
            text = escape(text),
        ),
        None => String::new(),
    };
    // With the editor, the sample and the Run button belong to its form (Run posts it to the
    // test address), so the expression is tested as it stands in the editor, saved or not.
    let panel = if admin.actor.can(service::TEST) {
        let test_path = format!("{BASE}{}/test", mapping.id.0);
        let hint = "JSON, as plex.tv answers for the signing-in user.";
        let (heading, form) = if editing {
            let info = textarea_of(Some(FORM_ID), "info", "Sample Plex user (info)", test.0, 9, hint, errors);
            let run = format!(
                "<button type=\"submit\" class=\"secondary\" form=\"{FORM_ID}\" formaction=\"{test_path}#test\">Run</button>"
            );
            ("Test the expression in the editor (unsaved changes included)", format!("{info}{run}"))
        } else {
            let info = textarea("info", "Sample Plex user (info)", test.0, 9, hint, errors);
            let form = format!(
                "<form method=\"post\" action=\"{test_path}#test\" novalidate>{csrf}{info}\
                 <button type=\"submit\" class=\"secondary\">Run</button></form>",
                csrf = csrf_field(&admin.csrf),
            );
            ("Test the saved expression", form)
        };
        format!(
            "<section class=\"card\" aria-labelledby=\"test\"><h2 id=\"test\">{heading}</h2>{form}{result}</section>"
        )
    } else {
        String::new()
    };
    let delete = if can(admin, Action::Delete) && mapping.managed.is_none() {
        format!("<p class=\"actions\"><a class=\"button danger\" href=\"{BASE}{}/delete\">Delete</a></p>", mapping.id.0)
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Property mappings</a></p><h1>{name}</h1>{delete}{editor}{panel}",
        name = escape(&mapping.name)
    );
    with_status(admin_page(state, admin, &mapping.name, BASE, &body, &[]), errors)
}

/// `GET /if/admin/mappings/{id}/`.
pub async fn show(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<Response, PageError> {
    let mapping = service::get(&state, &admin.actor, mapping_id(&id)?).await.map_err(failure)?;
    let shown = (mapping.name.as_str(), mapping.expression.as_str());
    Ok(mapping_page(&state, &admin, &mapping, shown, &FieldErrors::default(), (SAMPLE_INFO, None)))
}

/// `POST /if/admin/mappings/{id}/`: saves name and expression (a syntax error is shown at the
/// expression and nothing is saved).
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let id = mapping_id(&id)?;
    let (changes, errors) = changes(&form);
    match service::update(&state, &admin.actor, id, changes, errors).await {
        Ok(mapping) => Ok(done(
            &state,
            &format!("{BASE}{}/", mapping.id.0),
            &format!("Saved the property mapping {}.", mapping.name),
        )),
        Err(ServiceError::Invalid(errors)) => {
            let mapping = service::get(&state, &admin.actor, id).await.map_err(failure)?;
            let shown = (form.get("name").unwrap_or_default(), form.get("expression").unwrap_or_default());
            Ok(mapping_page(&state, &admin, &mapping, shown, &errors, (SAMPLE_INFO, None)))
        }
        Err(other) => Err(failure(other)),
    }
}

/// `POST /if/admin/mappings/{id}/test`: evaluates the expression with `info` set to the sample,
/// like a sign-in would: the one in the editor when the form sends it (unsaved edits included,
/// and kept on the page), else the stored one.
pub async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let mapping = service::get(&state, &admin.actor, mapping_id(&id)?).await.map_err(failure)?;
    let sample = form.get("info").unwrap_or_default();
    let edited = form.get("expression");
    let shown = (form.get("name").unwrap_or(&mapping.name), edited.unwrap_or(&mapping.expression));
    let info: Value = match serde_json::from_str(sample) {
        Ok(value @ Value::Object(_)) => value,
        _ => {
            let errors = FieldErrors::single("info", "Enter a JSON object.");
            return Ok(mapping_page(&state, &admin, &mapping, shown, &errors, (sample, None)));
        }
    };
    let mut context = Map::new();
    context.insert("info".into(), info);
    let input = service::TestInput { context, expression: edited.map(str::to_owned), ..Default::default() };
    let outcome = match service::test(&state, &admin.actor, mapping.id, input, FieldErrors::default()).await {
        Ok(outcome) => outcome,
        Err(ServiceError::Invalid(errors)) => {
            return Ok(mapping_page(&state, &admin, &mapping, shown, &errors, (sample, None)));
        }
        Err(other) => return Err(failure(other)),
    };
    let result = match outcome {
        Ok(value) => (true, serde_json::to_string_pretty(&value).unwrap_or_default()),
        Err(error) => (false, as_written(&service::describe(&error))),
    };
    Ok(mapping_page(&state, &admin, &mapping, shown, &FieldErrors::default(), (sample, Some(result))))
}

/// `GET /if/admin/mappings/{id}/delete`.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Delete))?;
    let id = mapping_id(&id)?;
    let mapping = service::get(&state, &admin.actor, id).await.map_err(failure)?;
    let sources = service::usage(&state, &admin.actor, id).await.map_err(failure)?;
    let used = if sources.is_empty() {
        "<p>No source uses it.</p>".to_owned()
    } else {
        let items: String = sources.iter().map(|(_, name)| format!("<li>{}</li>", escape(name))).collect();
        format!("<p>These sources stop using it:</p><ul id=\"cascade\">{items}</ul>")
    };
    Ok(confirm_delete_page(&state, &admin, BASE, &format!("{BASE}{}/", id.0), &mapping.name, &used))
}

/// `POST /if/admin/mappings/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let mapping = service::get(&state, &admin.actor, mapping_id(&id)?).await.map_err(failure)?;
    service::delete(&state, &admin.actor, mapping.id).await.map_err(failure)?;
    Ok(done(&state, BASE, &format!("Deleted the property mapping {}.", mapping.name)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_as_the_editor_counts_them() {
        let message = "Expression Syntax Error: invalid syntax (None, line 2)";
        assert_eq!(super::as_written(message), "Expression Syntax Error: invalid syntax (None, line 1)");
        assert_eq!(super::as_written("x (m, line 12)"), "x (m, line 11)");
        assert_eq!(super::as_written("no line here"), "no line here");
        assert_eq!(super::as_written("x (m, line 1)"), "x (m, line 1)");
    }
}
