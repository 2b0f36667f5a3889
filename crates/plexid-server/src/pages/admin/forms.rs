//! Reading submitted forms and writing form fields with their errors.

use plexid_core::FieldErrors;

use crate::pages::escape;

/// A submitted `application/x-www-form-urlencoded` body (names may repeat: checkboxes).
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// The form's fields, NUL characters dropped (no field of plexid's forms can hold one, and
    /// PostgreSQL refuses them in text).
    pub fn parse(body: &[u8]) -> Self {
        let clean = |text: std::borrow::Cow<'_, str>| text.replace('\0', "");
        FormData(form_urlencoded::parse(body).map(|(k, v)| (clean(k), clean(v))).collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    /// Every field but those named in `except`, in order (to send a form again after a
    /// question).
    pub fn fields_except(&self, except: &[&str]) -> Vec<(String, String)> {
        self.0.iter().filter(|(n, _)| !except.contains(&n.as_str())).cloned().collect()
    }

    /// A checkbox: present means ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The errors of `field` as a list tied to its input (`aria-describedby`), or nothing.
fn error_list(errors: &FieldErrors, field: &str) -> String {
    let messages = errors.messages(field);
    if messages.is_empty() {
        return String::new();
    }
    let items: String = messages.iter().map(|m| format!("<li>{}</li>", escape(m))).collect();
    format!("<ul class=\"error\" id=\"{field}-errors\">{items}</ul>")
}

/// `aria-invalid` and `aria-describedby` for a field with errors.
fn error_attributes(errors: &FieldErrors, field: &str, hint: bool) -> String {
    let mut described: Vec<String> = Vec::new();
    if hint {
        described.push(format!("{field}-hint"));
    }
    let invalid = errors.has(field);
    if invalid {
        described.push(format!("{field}-errors"));
    }
    let mut out = String::new();
    if invalid {
        out.push_str(" aria-invalid=\"true\"");
    }
    if !described.is_empty() {
        out.push_str(&format!(" aria-describedby=\"{}\"", described.join(" ")));
    }
    out
}

fn hint_html(field: &str, hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("<p class=\"hint\" id=\"{field}-hint\">{}</p>", escape(hint))
    }
}

/// A text input (`kind`: text, password, …) with its label, hint and errors.
pub fn input(kind: &str, field: &str, label: &str, value: &str, hint: &str, errors: &FieldErrors) -> String {
    input_with(kind, field, label, value, hint, errors, "")
}

/// [`input`] with more attributes (`extra`, HTML such as ` data-slug-from="name"`).
pub fn input_with(
    kind: &str,
    field: &str,
    label: &str,
    value: &str,
    hint: &str,
    errors: &FieldErrors,
    extra: &str,
) -> String {
    let autocomplete = if kind == "password" { " autocomplete=\"off\"" } else { "" };
    format!(
        "<div class=\"field\"><label for=\"{field}\">{label}</label>{hint_html}\
         <input type=\"{kind}\" id=\"{field}\" name=\"{field}\" value=\"{value}\"{autocomplete}{extra}{attrs}>{errors_html}</div>",
        label = escape(label),
        hint_html = hint_html(field, hint),
        value = escape(value),
        attrs = error_attributes(errors, field, !hint.is_empty()),
        errors_html = error_list(errors, field),
    )
}

/// A multi-line text area with its label, hint and errors.
pub fn textarea(field: &str, label: &str, value: &str, rows: u32, hint: &str, errors: &FieldErrors) -> String {
    textarea_of(None, field, label, value, rows, hint, errors)
}

/// A textarea that belongs to the form `form` (its `id`) wherever it stands on the page.
pub fn textarea_of(
    form: Option<&str>,
    field: &str,
    label: &str,
    value: &str,
    rows: u32,
    hint: &str,
    errors: &FieldErrors,
) -> String {
    let owner = form.map(|id| format!(" form=\"{}\"", escape(id))).unwrap_or_default();
    format!(
        "<div class=\"field\"><label for=\"{field}\">{label}</label>{hint_html}\
         <textarea id=\"{field}\" name=\"{field}\" rows=\"{rows}\" spellcheck=\"false\"{owner}{attrs}>{value}</textarea>{errors_html}</div>",
        label = escape(label),
        hint_html = hint_html(field, hint),
        value = escape(value),
        attrs = error_attributes(errors, field, !hint.is_empty()),
        errors_html = error_list(errors, field),
    )
}

/// A checkbox with its label and errors.
pub fn checkbox(field: &str, label: &str, checked: bool, hint: &str, errors: &FieldErrors) -> String {
    format!(
        "<div class=\"field check\"><input type=\"checkbox\" id=\"{field}\" name=\"{field}\" value=\"on\"{checked}{attrs}>\
         <label for=\"{field}\">{label}</label>{hint_html}{errors_html}</div>",
        checked = if checked { " checked" } else { "" },
        label = escape(label),
        hint_html = hint_html(field, hint),
        attrs = error_attributes(errors, field, !hint.is_empty()),
        errors_html = error_list(errors, field),
    )
}

/// A `<select>` of (value, label) options.
pub fn select(field: &str, label: &str, options: &[(String, String)], selected: &str, errors: &FieldErrors) -> String {
    select_hinted(field, label, options, selected, "", errors)
}

/// [`select`] with a one-line `hint` under its label.
pub fn select_hinted(
    field: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    hint: &str,
    errors: &FieldErrors,
) -> String {
    let options: String = options
        .iter()
        .map(|(value, text)| {
            let mark = if value == selected { " selected" } else { "" };
            format!("<option value=\"{}\"{mark}>{}</option>", escape(value), escape(text))
        })
        .collect();
    format!(
        "<div class=\"field\"><label for=\"{field}\">{label}</label>{hint_html}<select id=\"{field}\" name=\"{field}\"{attrs}>{options}</select>{errors_html}</div>",
        label = escape(label),
        hint_html = hint_html(field, hint),
        attrs = error_attributes(errors, field, !hint.is_empty()),
        errors_html = error_list(errors, field),
    )
}

/// A group of checkboxes sharing the name `field`: (value, label, checked).
pub fn checkbox_group(
    field: &str,
    legend: &str,
    items: &[(String, String, bool)],
    hint: &str,
    errors: &FieldErrors,
) -> String {
    let boxes: String = items
        .iter()
        .enumerate()
        .map(|(i, (value, text, checked))| {
            format!(
                "<div class=\"check\"><input type=\"checkbox\" id=\"{field}-{i}\" name=\"{field}\" value=\"{value}\"{mark}>\
                 <label for=\"{field}-{i}\">{text}</label></div>",
                value = escape(value),
                text = escape(text),
                mark = if *checked { " checked" } else { "" },
            )
        })
        .collect();
    let empty = if items.is_empty() { "<p class=\"muted\">None.</p>" } else { "" };
    format!(
        "<fieldset class=\"field\" id=\"{field}-group\"{attrs}><legend>{legend}</legend>{hint_html}\
         <div class=\"checks\">{boxes}{empty}</div>{errors_html}</fieldset>",
        legend = escape(legend),
        attrs = error_attributes(errors, field, !hint.is_empty()),
        hint_html = hint_html(field, hint),
        errors_html = error_list(errors, field),
    )
}

/// Errors that belong to no field (`non_field_errors`), as an alert at the top of a form.
pub fn form_errors(errors: &FieldErrors) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let general = error_list(errors, "non_field_errors");
    format!(
        "<div class=\"alert\" role=\"alert\"><p>The form has errors; they are shown next to the fields.</p>{general}</div>"
    )
}

/// The hidden CSRF field of every form.
pub fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(csrf))
}

/// A block of text to copy (a snippet, a secret): the text in `<pre><code id>` and a Copy
/// button (shown by `plexid.js`; without it the text is there to select). `what` names it for
/// screen readers.
pub fn copy_block(id: &str, what: &str, text: &str) -> String {
    format!(
        "<div class=\"copyable\"><button type=\"button\" class=\"secondary small\" data-copy=\"{id}\" \
         aria-label=\"Copy {what}\" hidden>Copy</button><pre><code id=\"{id}\">{text}</code></pre></div>",
        id = escape(id),
        what = escape(what),
        text = escape(text),
    )
}

/// A short value to copy (an address, an id): `<code id>` and a Copy button after it.
pub fn copy_inline(id: &str, what: &str, text: &str) -> String {
    format!(
        "<code id=\"{id}\">{text}</code> <button type=\"button\" class=\"secondary small\" data-copy=\"{id}\" \
         aria-label=\"Copy {what}\" hidden>Copy</button>",
        id = escape(id),
        what = escape(what),
        text = escape(text),
    )
}
