//! `/if/admin/groups/`: groups: list with search, a group's page with its members (add by
//! username, remove), create and edit (name, parent, administrators), and deletion after a
//! confirmation naming the source connections that go with it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, GroupId, Permission, UserId};
use plexid_store::groups::GroupFilter;
use plexid_store::listing::{OrderTerm, Window};
use plexid_store::users::UserFilter;
use serde_json::json;

use super::forms::{checkbox, csrf_field, form_errors, input, select, FormData};
use super::paging::Paging;
use super::users::Change;
use super::{admin_page, confirm_delete_page, done, failure, permitted, with_status, Admin, Posted};
use crate::api::read_body;
use crate::pages::{escape, PageError};
use crate::service::groups::{self as service, MemberDetail};
use crate::service::{users, ServiceError};
use crate::state::AppState;

const BASE: &str = "/if/admin/groups/";

fn can(admin: &Admin, action: Action) -> bool {
    admin.actor.can(Permission::new(action, Model::Group))
}

fn group_id(id: &str) -> Result<GroupId, PageError> {
    id.parse::<uuid::Uuid>().map(GroupId).map_err(|_| PageError::not_found())
}

fn group_page(id: GroupId) -> String {
    format!("{BASE}{}/", id.0)
}

/// `GET /if/admin/groups/`.
pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<Paging>) -> Result<Response, PageError> {
    let filter = GroupFilter { search: q.terms(), ..Default::default() };
    let order = [OrderTerm::asc("name")];
    let listed =
        service::list(&state, &admin.actor, &filter, &order, q.window(), MemberDetail::Count).await.map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|v| {
            format!(
                "<tr><td><a href=\"{page}\">{name}</a></td><td>{parent}</td><td>{admin}</td><td>{members}</td></tr>",
                page = group_page(v.group.id),
                name = escape(&v.group.name),
                parent = escape(v.parent_name.as_deref().unwrap_or("")),
                admin = if v.group.is_superuser { "yes" } else { "no" },
                members = v.members.count(),
            )
        })
        .collect();
    let new = super::new_button(can(&admin, Action::Add), &format!("{BASE}new"), "New group");
    let body = format!(
        "<h1>Groups</h1>{new}{search}<p class=\"muted\">{total}.</p>\
         <div class=\"table\"><table><caption class=\"sr-only\">Groups</caption><thead><tr><th scope=\"col\">Name</th>\
         <th scope=\"col\">Parent</th><th scope=\"col\">Administrators</th><th scope=\"col\">Members</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search groups"),
        total = crate::pages::text::count(listed.total, "group", "groups"),
        pager = q.pages(listed.total, BASE),
    );
    Ok(admin_page(&state, &admin, "Groups", BASE, &body, &[]))
}

/// `GET /if/admin/groups/{id}/`: the group, a page of its members (50, by username, with a
/// search), and the actions the admin may use.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<Paging>,
) -> Result<Response, PageError> {
    let view = service::get(&state, &admin.actor, group_id(&id)?, MemberDetail::Count).await.map_err(failure)?;
    let listed =
        service::members(&state, &admin.actor, view.group.id, &q.terms(), q.window()).await.map_err(failure)?;
    let page = group_page(view.group.id);
    let change = can(&admin, Action::Change) && (!view.group.is_superuser || admin.actor.is_superuser());
    let csrf = csrf_field(&admin.csrf);
    let members: String = listed
        .rows
        .iter()
        .map(|u| {
            let remove = if change {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{page}members/{uid}/remove\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\" aria-label=\"Remove {name}\">Remove</button></form>",
                    uid = u.id.0,
                    name = escape(&u.username),
                )
            } else {
                String::new()
            };
            let link = if admin.actor.can(users::VIEW) {
                format!("<a href=\"/if/admin/users/{}/\">{}</a>", u.id.0, escape(&u.username))
            } else {
                escape(&u.username)
            };
            format!("<li>{link} {remove}</li>")
        })
        .collect();
    let members = match (members.is_empty(), view.members.count()) {
        (true, 0) => "<p class=\"muted\">No members.</p>".to_owned(),
        (true, _) => "<p class=\"muted\">No member matches.</p>".to_owned(),
        (false, _) => format!("<ul id=\"members\">{members}</ul>"),
    };
    let search = if view.members.count() > 0 { q.search_form(&page, "Search members") } else { String::new() };
    let pager = q.pages(listed.total, &page);
    let add = if change {
        format!(
            "<form method=\"post\" action=\"{page}members\" class=\"searchbar\">{csrf}<label for=\"username\">Add a member (username)</label>\
             <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"off\"> <button type=\"submit\" class=\"secondary\">Add</button></form>"
        )
    } else {
        String::new()
    };
    let actions = super::edit_delete(
        &page,
        change,
        can(&admin, Action::Delete) && (!view.group.is_superuser || admin.actor.is_superuser()),
    );
    let parent = match (&view.group.parent, &view.parent_name) {
        (Some(id), Some(name)) => format!("<a href=\"{}\">{}</a>", group_page(*id), escape(name)),
        _ => "none".into(),
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Groups</a></p><h1>{name}</h1>{actions}\
         <dl class=\"facts\"><dt>Parent</dt><dd>{parent}</dd><dt>Administrators</dt><dd>{admins}</dd></dl>\
         <section class=\"card\" aria-labelledby=\"members-h\"><h2 id=\"members-h\">Members ({count})</h2>\
         {search}{members}{pager}{add}</section>",
        name = escape(&view.group.name),
        count = view.members.count(),
        admins = if view.group.is_superuser { "yes: members may do everything" } else { "no" },
    );
    Ok(admin_page(&state, &admin, &view.group.name, BASE, &body, &[]))
}

/// What the form shows.
#[derive(Default)]
struct GroupForm {
    name: String,
    parent: String,
    is_superuser: bool,
}

impl GroupForm {
    fn submitted(form: &FormData) -> Self {
        GroupForm {
            name: form.get("name").unwrap_or_default().trim().to_owned(),
            parent: form.get("parent").unwrap_or_default().to_owned(),
            is_superuser: form.get("is_superuser").is_some(),
        }
    }

    /// The changes, read by the API's reader (its validation and wording). Only a superuser
    /// sees, and so sends, the administrators box.
    fn input(&self, admin: &Admin, partial: bool) -> (service::GroupInput, FieldErrors) {
        let parent = if self.parent.is_empty() { json!(null) } else { json!(self.parent) };
        let mut body = json!({"name": self.name, "parent": parent});
        if admin.actor.is_superuser() {
            body["is_superuser"] = json!(self.is_superuser);
        }
        read_body(&body, partial, crate::api::groups::read_group)
    }
}

/// Where a form posts: a new group, or the stored `editing` one.
async fn form_page(
    state: &AppState,
    admin: &Admin,
    editing: Option<GroupId>,
    values: &GroupForm,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let all = service::by_name(state, &admin.actor, 1000).await.map_err(failure)?;
    let parents: Vec<(String, String)> = std::iter::once((String::new(), "None".to_owned()))
        .chain(all.iter().filter(|g| Some(g.id) != editing).map(|g| (g.id.0.to_string(), g.name.clone())))
        .collect();
    let superuser = if admin.actor.is_superuser() {
        checkbox(
            "is_superuser",
            "Administrators (authentik's “superuser” flag)",
            values.is_superuser,
            "Members may do everything in plexid, including making and removing administrators.",
            errors,
        )
    } else {
        String::new()
    };
    let (title, action, submit, cancel) = match editing {
        Some(id) => {
            (format!("Edit {}", values.name), format!("{}edit", group_page(id)), "Save changes", group_page(id))
        }
        None => ("New group".to_owned(), format!("{BASE}new"), "Create group", BASE.to_owned()),
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Groups</a></p><h1>{title_html}</h1>{alert}\
         <form method=\"post\" action=\"{action}\" novalidate>{csrf}{name}{parent}{superuser}\
         <p><button type=\"submit\">{submit}</button> <a href=\"{cancel}\">Cancel</a></p></form>",
        title_html = escape(&title),
        alert = form_errors(errors),
        csrf = csrf_field(&admin.csrf),
        name = input("text", "name", "Name", &values.name, "", errors),
        parent = select("parent", "Parent group", &parents, &values.parent, errors),
    );
    Ok(with_status(admin_page(state, admin, &title, BASE, &body, &[]), errors))
}

/// The saved group's page, or the form again with the service's errors.
async fn saved(
    state: &AppState,
    admin: &Admin,
    editing: Option<GroupId>,
    values: &GroupForm,
    result: Result<service::GroupView, ServiceError>,
) -> Result<Response, PageError> {
    match result {
        Ok(view) => {
            let verb = if editing.is_some() { "Saved" } else { "Created" };
            Ok(done(state, &group_page(view.group.id), &format!("{verb} the group {}.", view.group.name)))
        }
        Err(ServiceError::Invalid(errors)) => form_page(state, admin, editing, values, &errors).await,
        Err(other) => Err(failure(other)),
    }
}

/// `GET /if/admin/groups/new`.
pub async fn new_form(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Add))?;
    form_page(&state, &admin, None, &GroupForm::default(), &FieldErrors::default()).await
}

/// `POST /if/admin/groups/new`.
pub async fn create(State(state): State<AppState>, Posted { admin, form }: Posted) -> Result<Response, PageError> {
    let values = GroupForm::submitted(&form);
    let (input, errors) = values.input(&admin, false);
    let result = service::create(&state, &admin.actor, input, errors).await;
    saved(&state, &admin, None, &values, result).await
}

/// `GET /if/admin/groups/{id}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let view = service::get(&state, &admin.actor, group_id(&id)?, MemberDetail::Count).await.map_err(failure)?;
    permitted(can(&admin, Action::Change))?;
    let values = GroupForm {
        name: view.group.name.clone(),
        parent: view.group.parent.map(|p| p.0.to_string()).unwrap_or_default(),
        is_superuser: view.group.is_superuser,
    };
    form_page(&state, &admin, Some(view.group.id), &values, &FieldErrors::default()).await
}

/// `POST /if/admin/groups/{id}/edit`: name, parent and (for a superuser) the administrators
/// flag; the members stay.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let values = GroupForm::submitted(&form);
    let (input, errors) = values.input(&admin, true);
    let result = service::update(&state, &admin.actor, id, input, errors).await;
    saved(&state, &admin, Some(id), &values, result).await
}

/// `POST /if/admin/groups/{id}/members`: adds the user named in the form; an unknown name is
/// shown as the page's error.
pub async fn add_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let filter = UserFilter { username: Some(username.clone()), ..Default::default() };
    let found = users::list(
        &state,
        &admin.actor,
        &filter,
        &[OrderTerm::asc("username")],
        Window::Offset { limit: 1, offset: 0 },
    )
    .await
    .map_err(failure)?;
    let Some(user) = found.rows.first() else {
        return Err(PageError {
            status: StatusCode::BAD_REQUEST,
            title: "No such user",
            message: format!("There is no user named “{username}”. Go back and check the username."),
        });
    };
    let page = group_page(id);
    let action = format!("{page}members");
    super::users::membership(&state, &admin, user.user.id, id, &form, Change::Add, &action, &page).await
}

/// `POST /if/admin/groups/{id}/members/{user}/remove`.
pub async fn remove_member(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let user = user.parse::<i64>().map(UserId).map_err(|_| PageError::not_found())?;
    let id = group_id(&id)?;
    let page = group_page(id);
    let action = format!("{page}members/{}/remove", user.0);
    super::users::membership(&state, &admin, user, id, &form, Change::Remove, &action, &page).await
}

/// `GET /if/admin/groups/{id}/delete`: what goes with the group.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    permitted(can(&admin, Action::Delete))?;
    let view = service::get(&state, &admin.actor, group_id(&id)?, MemberDetail::Count).await.map_err(failure)?;
    let connections = service::usage(&state, &admin.actor, view.group.id).await.map_err(failure)?;
    let sources = state
        .store
        .read()
        .sources_by_ids(&connections.iter().map(|(_, s)| *s).collect::<Vec<_>>())
        .await
        .map_err(|e| PageError::internal(&e))?;
    let mut consequences = format!(
        "<p>Its {} leave it (their accounts stay); its subgroups lose their parent.</p>",
        crate::pages::text::count(view.members.count() as u64, "member", "members")
    );
    if !connections.is_empty() {
        let items: String = sources.iter().map(|s| format!("<li>{}</li>", escape(&s.name))).collect();
        consequences.push_str(&format!(
            "<p>Its connections to these sources are deleted with it:</p><ul id=\"cascade\">{items}</ul>"
        ));
    }
    Ok(confirm_delete_page(&state, &admin, BASE, &group_page(view.group.id), &view.group.name, &consequences))
}

/// `POST /if/admin/groups/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let id = group_id(&id)?;
    let name = service::get(&state, &admin.actor, id, service::MemberDetail::Count).await.map_err(failure)?.group.name;
    match service::delete(&state, &admin.actor, id).await {
        Ok(()) => Ok(done(&state, BASE, &format!("Deleted the group {name}."))),
        Err(ServiceError::Invalid(errors)) => {
            Ok(super::super::flash::refused(&state, &group_page(id), &errors.messages("non_field_errors").join(" ")))
        }
        Err(other) => Err(failure(other)),
    }
}
