//! Reading a JSON request body the way Django REST framework 3.14 does: every field is checked,
//! all failures are reported together as `{"field": ["message", …]}` in the serializer's field
//! order, with DRF's wording.

use plexid_core::FieldErrors;
use serde_json::{Map, Value};
use uuid::Uuid;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const NULL: &str = "This field may not be null.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const NOT_A_BOOL: &str = "Must be a valid boolean.";
pub const NOT_AN_INT: &str = "A valid integer is required.";
pub const NOT_A_DICT: &str = "Expected a dictionary of items but got type";
/// DRF's `ProhibitNullCharactersValidator` (PostgreSQL cannot store NUL in text).
pub const NUL: &str = "Null characters are not allowed.";

/// Python's name for a JSON value's type, as DRF puts it in messages.
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// How a string field is checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Text {
    pub required: bool,
    pub allow_blank: bool,
    pub max_length: Option<usize>,
}

impl Text {
    pub const REQUIRED: Text = Text { required: true, allow_blank: false, max_length: None };
    pub const OPTIONAL: Text = Text { required: false, allow_blank: false, max_length: None };
    pub const OPTIONAL_BLANK: Text = Text { required: false, allow_blank: true, max_length: None };
    pub fn max(self, n: usize) -> Self {
        Text { max_length: Some(n), ..self }
    }
}

/// A request body being read field by field. `partial` is PATCH: nothing is required.
/// Each reader returns `None` when the field is absent or invalid (the error is recorded).
pub struct Body<'a> {
    object: Option<&'a Map<String, Value>>,
    partial: bool,
    pub errors: FieldErrors,
}

impl<'a> Body<'a> {
    /// A body that is not a JSON object is a `non_field_errors` failure, as in DRF.
    pub fn new(value: &'a Value, partial: bool) -> Result<Self, FieldErrors> {
        match value {
            Value::Object(object) => Ok(Body { object: Some(object), partial, errors: FieldErrors::default() }),
            other => Err(FieldErrors::single(
                "non_field_errors",
                format!("Invalid data. Expected a dictionary, but got {}.", python_type(other)),
            )),
        }
    }

    /// The raw value of a field, if sent.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.object.and_then(|o| o.get(name))
    }

    fn present(&mut self, name: &str, required: bool) -> Option<&'a Value> {
        let value = self.raw(name);
        if value.is_none() && required && !self.partial {
            self.errors.add(name, REQUIRED);
        }
        value
    }

    /// A string (`CharField`): trimmed; numbers are accepted as their text.
    pub fn text(&mut self, name: &str, rules: Text) -> Option<String> {
        match self.present(name, rules.required)? {
            Value::Null => {
                self.errors.add(name, NULL);
                None
            }
            value => self.text_value(name, value, rules),
        }
    }

    /// A string that may also be null (`allow_null=True`): `Some(None)` is an explicit null.
    pub fn nullable_text(&mut self, name: &str, rules: Text) -> Option<Option<String>> {
        match self.present(name, rules.required)? {
            Value::Null => Some(None),
            value => self.text_value(name, value, rules).map(Some),
        }
    }

    fn text_value(&mut self, name: &str, value: &Value, rules: Text) -> Option<String> {
        match check_text(value, rules) {
            Ok(text) => Some(text),
            Err(message) => {
                self.errors.add(name, message);
                None
            }
        }
    }

    /// A boolean (`BooleanField`), with DRF's accepted spellings.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let value = self.present(name, false)?;
        let parsed = match value {
            Value::Null => {
                self.errors.add(name, NULL);
                return None;
            }
            value => parse_bool_value(value),
        };
        if parsed.is_none() {
            self.errors.add(name, NOT_A_BOOL);
        }
        parsed
    }

    /// One of a fixed set of strings (`ChoiceField`).
    pub fn choice(&mut self, name: &str, choices: &[&str]) -> Option<String> {
        self.choice_of(name, choices, false)
    }

    /// A choice that must be sent (unless the body is partial).
    pub fn required_choice(&mut self, name: &str, choices: &[&str]) -> Option<String> {
        self.choice_of(name, choices, true)
    }

    fn choice_of(&mut self, name: &str, choices: &[&str], required: bool) -> Option<String> {
        let value = self.present(name, required)?;
        let text = match value {
            Value::Null => {
                self.errors.add(name, NULL);
                return None;
            }
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if choices.contains(&text.as_str()) {
            Some(text)
        } else {
            self.errors.add(name, format!("\"{text}\" is not a valid choice."));
            None
        }
    }

    /// One of an enum's values (a `ChoiceField` over `names`).
    pub fn mode<T>(&mut self, name: &str, names: &[&str], parse: fn(&str) -> Option<T>) -> Option<T> {
        self.choice(name, names).and_then(|text| parse(&text))
    }

    /// A required enum value.
    pub fn required_mode<T>(&mut self, name: &str, names: &[&str], parse: fn(&str) -> Option<T>) -> Option<T> {
        self.required_choice(name, names).and_then(|text| parse(&text))
    }

    /// A nullable primary-key reference by UUID; existence is checked by the caller.
    pub fn uuid_ref(&mut self, name: &str) -> Option<Option<Uuid>> {
        self.reference(name, parse_uuid_value)
    }

    /// A nullable reference read with `parse`: `Some(None)` for null, `None` when absent or
    /// refused (the error recorded).
    fn reference<T>(&mut self, name: &str, parse: fn(&Value) -> Result<T, String>) -> Option<Option<T>> {
        match self.present(name, false)? {
            Value::Null => Some(None),
            value => match parse(value) {
                Ok(id) => Some(Some(id)),
                Err(message) => {
                    self.errors.add(name, message);
                    None
                }
            },
        }
    }

    /// A required, non-null primary-key reference by UUID.
    pub fn required_uuid(&mut self, name: &str) -> Option<Uuid> {
        match self.present(name, true)? {
            Value::Null => {
                self.errors.add(name, NULL);
                None
            }
            value => match parse_uuid_value(value) {
                Ok(id) => Some(id),
                Err(message) => {
                    self.errors.add(name, message);
                    None
                }
            },
        }
    }

    /// A list of integer primary keys (`PrimaryKeyRelatedField(many=True)` on an integer pk).
    pub fn int_list(&mut self, name: &str) -> Option<Vec<i64>> {
        let items = self.list(name)?;
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            match int_pk(item) {
                Ok(id) => ids.push(id),
                Err(message) => {
                    self.errors.add(name, message);
                    return None;
                }
            }
        }
        Some(ids)
    }

    /// A nullable reference by integer primary key (`PrimaryKeyRelatedField`): a number or a
    /// numeric string; `Some(None)` for null.
    pub fn int_ref(&mut self, name: &str) -> Option<Option<i64>> {
        self.reference(name, int_pk)
    }

    /// A list of UUID references (`ManyRelatedField`): the first bad item is the error.
    pub fn uuid_list(&mut self, name: &str) -> Option<Vec<Uuid>> {
        let items = self.list(name)?;
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            match parse_uuid_value(item) {
                Ok(id) => ids.push(id),
                Err(message) => {
                    self.errors.add(name, message);
                    return None;
                }
            }
        }
        Some(ids)
    }

    /// A list of non-blank strings (`ListField(child=CharField())`): errors per item index.
    pub fn text_list(&mut self, name: &str) -> Option<Vec<String>> {
        let items = self.list(name)?;
        let mut texts = Vec::with_capacity(items.len());
        let mut failed = false;
        for (index, item) in items.iter().enumerate() {
            let checked = if item.is_null() { Err(NULL.to_owned()) } else { check_text(item, Text::REQUIRED) };
            match checked {
                Ok(text) => texts.push(text),
                Err(message) => {
                    failed = true;
                    self.errors.add_item(name, index, message);
                }
            }
        }
        (!failed).then_some(texts)
    }

    fn list(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        match self.present(name, false)? {
            Value::Array(items) => Some(items),
            Value::Null => {
                self.errors.add(name, NULL);
                None
            }
            other => {
                self.errors.add(name, format!("Expected a list of items but got type \"{}\".", python_type(other)));
                None
            }
        }
    }

    /// A JSON object (`JSONField` holding a dict, such as `attributes`).
    pub fn object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.present(name, false)? {
            Value::Object(map) => Some(map.clone()),
            Value::Null => {
                self.errors.add(name, NULL);
                None
            }
            other => {
                self.errors.add(name, format!("{NOT_A_DICT} \"{}\".", python_type(other)));
                None
            }
        }
    }

    /// An integer (`IntegerField`), also accepted as a numeric string.
    pub fn integer(&mut self, name: &str, required: bool) -> Option<i64> {
        let value = self.present(name, required)?;
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.errors.add(name, if value.is_null() { NULL } else { NOT_AN_INT });
        }
        parsed
    }
}

/// An integer primary key as DRF's `PrimaryKeyRelatedField` reads one.
fn int_pk(value: &Value) -> Result<i64, String> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| format!("Incorrect type. Expected pk value, received {}.", python_type(value)))
}

fn check_text(value: &Value, rules: Text) -> Result<String, String> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(NOT_A_STRING.to_owned()),
    };
    if text.is_empty() && !rules.allow_blank {
        return Err(BLANK.to_owned());
    }
    if let Some(max) = rules.max_length {
        if text.chars().count() > max {
            return Err(format!("Ensure this field has no more than {max} characters."));
        }
    }
    if text.contains('\0') {
        return Err(NUL.to_owned());
    }
    Ok(text)
}

/// DRF's `BooleanField` spellings.
pub fn parse_bool_value(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => parse_bool_text(s),
        _ => None,
    }
}

fn parse_bool_text(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "t" | "T" | "on" | "On" | "ON" | "y" | "Y" | "yes" | "Yes" | "YES" | "1" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "f" | "F" | "off" | "Off" | "OFF" | "n" | "N" | "no" | "No" | "NO" | "0" => {
            Some(false)
        }
        _ => None,
    }
}

fn parse_uuid_value(value: &Value) -> Result<Uuid, String> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    };
    Uuid::parse_str(&text).map_err(|_| format!("“{text}” is not a valid UUID."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_failing_field_in_declaration_order() {
        let body = json!({"name": "", "allowed_servers": "x", "allow_friends": "maybe", "mode": "bogus"});
        let mut b = Body::new(&body, false).unwrap();
        b.text("name", Text::REQUIRED);
        b.text("slug", Text::REQUIRED);
        b.choice("mode", &["a"]);
        b.text_list("allowed_servers");
        b.boolean("allow_friends");
        assert_eq!(
            serde_json::to_string(&b.errors).unwrap(),
            r#"{"name":["This field may not be blank."],"slug":["This field is required."],"mode":["\"bogus\" is not a valid choice."],"allowed_servers":["Expected a list of items but got type \"str\"."],"allow_friends":["Must be a valid boolean."]}"#
        );
    }

    #[test]
    fn partial_bodies_require_nothing() {
        let body = json!({});
        let mut b = Body::new(&body, true).unwrap();
        assert_eq!(b.text("name", Text::REQUIRED), None);
        assert!(b.errors.is_empty());
    }

    #[test]
    fn list_items_are_reported_by_index() {
        let body = json!({"s": ["ok", " ", null]});
        let mut b = Body::new(&body, false).unwrap();
        assert_eq!(b.text_list("s"), None);
        assert_eq!(
            serde_json::to_string(&b.errors).unwrap(),
            r#"{"s":{"1":["This field may not be blank."],"2":["This field may not be null."]}}"#
        );
    }

    #[test]
    fn strings_are_trimmed_and_limited() {
        let body = json!({"a": "  x  ", "b": "abcdef", "c": 5, "d": true});
        let mut b = Body::new(&body, false).unwrap();
        assert_eq!(b.text("a", Text::REQUIRED).as_deref(), Some("x"));
        assert_eq!(b.text("b", Text::REQUIRED.max(3)), None);
        assert_eq!(b.text("c", Text::REQUIRED).as_deref(), Some("5"));
        assert_eq!(b.text("d", Text::REQUIRED), None);
        assert_eq!(b.errors.messages("b"), ["Ensure this field has no more than 3 characters."]);
        assert_eq!(b.errors.messages("d"), [NOT_A_STRING]);
    }

    #[test]
    fn uuids_use_typographic_quotes() {
        let body = json!({"f": "not-a-uuid", "g": null});
        let mut b = Body::new(&body, false).unwrap();
        assert_eq!(b.uuid_ref("f"), None);
        assert_eq!(b.uuid_ref("g"), Some(None));
        assert_eq!(b.errors.messages("f"), ["“not-a-uuid” is not a valid UUID."]);
    }

    #[test]
    fn booleans_accept_drf_spellings() {
        for (v, expected) in
            [(json!("true"), Some(true)), (json!(0), Some(false)), (json!("maybe"), None), (json!(2), None)]
        {
            assert_eq!(parse_bool_value(&v), expected, "{v}");
        }
    }

    #[test]
    fn non_object_bodies_are_rejected() {
        let body = json!([1]);
        let errors = Body::new(&body, false).err().unwrap();
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
        );
    }

    #[test]
    fn required_choices_uuids_and_id_lists() {
        let body = json!({"g": null, "ids": [1, "2", true]});
        let mut b = Body::new(&body, false).unwrap();
        assert_eq!(b.required_choice("d", &["a"]), None);
        assert_eq!(b.required_uuid("g"), None);
        assert_eq!(b.int_list("ids"), None);
        assert_eq!(b.errors.messages("d"), [REQUIRED]);
        assert_eq!(b.errors.messages("g"), [NULL]);
        assert_eq!(b.errors.messages("ids"), ["Incorrect type. Expected pk value, received bool."]);
        let body = json!({"ids": [1, "2"]});
        assert_eq!(Body::new(&body, true).unwrap().int_list("ids"), Some(vec![1, 2]));
    }
}
