//! The query parameters every authentik list endpoint shares: `search`, `ordering` and
//! exact-match filters, with django-filter's error wording.

use plexid_store::OrderTerm;

/// At most this many search terms are used (each becomes a bound parameter).
pub const MAX_SEARCH_TERMS: usize = 16;

/// `search`: terms split on whitespace and commas; every term must match some search field
/// (case-insensitively: the store's `Filter::search` normalises them). Repeated terms count once,
/// whatever their case; terms past [`MAX_SEARCH_TERMS`] are ignored.
pub fn search_terms(search: Option<&str>) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for term in search.unwrap_or("").split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
        let term = term.to_owned();
        if !terms.iter().any(|t| t.to_lowercase() == term.to_lowercase()) {
            terms.push(term);
        }
        if terms.len() == MAX_SEARCH_TERMS {
            break;
        }
    }
    terms
}

/// `ordering`: comma-separated terms, `-` for descending; unknown terms are dropped; with none
/// left, `default` applies.
pub fn ordering(param: Option<&str>, allowed: &[&'static str], default: &[OrderTerm]) -> Vec<OrderTerm> {
    let terms: Vec<OrderTerm> = param
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter_map(|raw| {
            let (descending, name) = match raw.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            allowed.iter().find(|a| **a == name).map(|term| OrderTerm { term, descending })
        })
        .collect();
    if terms.is_empty() {
        default.to_vec()
    } else {
        terms
    }
}

/// django-filter's `BooleanFilter`: `true`/`false`/`1`/`0` in any case; anything else is ignored.
pub fn bool_filter(value: Option<&str>) -> Option<bool> {
    match value?.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// django-filter's message for a value outside a `ChoiceFilter`'s choices.
pub fn bad_choice(value: &str) -> String {
    format!("Select a valid choice. {value} is not one of the available choices.")
}

/// django-filter's message for a `ModelChoiceFilter` value that matches nothing.
pub use crate::service::UNKNOWN_CHOICE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_splits_on_whitespace_and_commas() {
        assert_eq!(search_terms(Some(" Plex, test  x")), ["Plex", "test", "x"]);
        assert!(search_terms(None).is_empty());
        assert_eq!(search_terms(Some("a a,A")), ["a"]);
        let many = (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
        assert_eq!(search_terms(Some(&many)).len(), MAX_SEARCH_TERMS);
    }

    #[test]
    fn ordering_drops_unknown_terms() {
        let default = [OrderTerm { term: "name", descending: false }];
        let got = ordering(Some("-slug,bogus,pk"), &["name", "slug", "pk"], &default);
        assert_eq!(got, [OrderTerm { term: "slug", descending: true }, OrderTerm { term: "pk", descending: false }]);
        assert_eq!(ordering(Some("bogus"), &["name"], &default), default);
    }

    #[test]
    fn bool_filters() {
        assert_eq!(bool_filter(Some("TRUE")), Some(true));
        assert_eq!(bool_filter(Some("0")), Some(false));
        assert_eq!(bool_filter(Some("maybe")), None);
    }
}
