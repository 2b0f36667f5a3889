//! Validation failures by field, in the order the fields are declared: what every operation
//! reports when a command is not acceptable, and what the API shows as authentik's 400 body
//! `{"field": ["message", …]}` (list fields nest per item index).

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One field's errors: a flat list, or (for list fields) errors per item index.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldError {
    Messages(Vec<String>),
    Items(Vec<(usize, Vec<String>)>),
}

/// Field errors in the order the fields were declared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors {
    entries: Vec<(String, FieldError)>,
}

impl FieldErrors {
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.entries.iter_mut().find(|(name, _)| name == field) {
            Some((_, FieldError::Messages(list))) => list.push(message),
            Some((_, items)) => *items = FieldError::Messages(vec![message]),
            None => self.entries.push((field.to_owned(), FieldError::Messages(vec![message]))),
        }
    }

    pub fn add_item(&mut self, field: &str, index: usize, message: impl Into<String>) {
        let message = message.into();
        match self.entries.iter_mut().find(|(name, _)| name == field) {
            Some((_, FieldError::Items(items))) => items.push((index, vec![message])),
            Some(_) => {}
            None => self.entries.push((field.to_owned(), FieldError::Items(vec![(index, vec![message])]))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.entries.iter().any(|(name, _)| name == field)
    }

    /// Messages of one field (flat errors only), for tests and logs.
    pub fn messages(&self, field: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(name, _)| name == field)
            .flat_map(|(_, e)| match e {
                FieldError::Messages(m) => m.clone(),
                FieldError::Items(items) => items.iter().flat_map(|(_, m)| m.clone()).collect(),
            })
            .collect()
    }

    /// Puts the fields in declaration order; fields not in `order` go last.
    pub fn sort_by(&mut self, order: &[&str]) {
        let rank = |name: &str| order.iter().position(|o| *o == name).unwrap_or(usize::MAX);
        self.entries.sort_by_key(|(name, _)| rank(name));
    }

    /// Adds every error of `other` (messages of a field already present are appended).
    pub fn extend(&mut self, other: FieldErrors) {
        for (name, error) in other.entries {
            match error {
                FieldError::Messages(messages) => messages.into_iter().for_each(|m| self.add(&name, m)),
                FieldError::Items(items) => {
                    for (index, messages) in items {
                        messages.into_iter().for_each(|m| self.add_item(&name, index, m));
                    }
                }
            }
        }
    }

    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, error) in &self.entries {
            match error {
                FieldError::Messages(messages) => map.serialize_entry(name, messages)?,
                FieldError::Items(items) => map.serialize_entry(name, &ItemErrors(items))?,
            }
        }
        map.end()
    }
}

struct ItemErrors<'a>(&'a [(usize, Vec<String>)]);

impl Serialize for ItemErrors<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (index, messages) in self.0 {
            map.serialize_entry(&index.to_string(), messages)?;
        }
        map.end()
    }
}

/// The message for a reference to a missing object.
pub fn does_not_exist(value: impl std::fmt::Display) -> String {
    format!("Invalid pk \"{value}\" - object does not exist.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_sort_by_declaration() {
        let mut e = FieldErrors::default();
        e.add("b", "x");
        e.add("a", "y");
        e.sort_by(&["a", "b"]);
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"a":["y"],"b":["x"]}"#);
    }

    #[test]
    fn item_errors_nest_by_index_and_merge() {
        let mut e = FieldErrors::default();
        e.add_item("s", 1, "bad");
        e.add("t", "x");
        let mut other = FieldErrors::single("u", "y");
        other.add("t", "z");
        e.extend(other);
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"s":{"1":["bad"]},"t":["x","z"],"u":["y"]}"#);
        assert!(e.has("u"));
        assert_eq!(e.messages("s"), ["bad"]);
    }
}
