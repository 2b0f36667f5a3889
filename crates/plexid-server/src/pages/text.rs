//! How the pages say things: counts with the right plural, times (in the browser's own time zone
//! once `plexid.js` runs), browsers by name instead of user-agent strings, Plex relationships
//! and servers by name, and who an application admits, in words.

use std::collections::HashMap;

use plexid_core::apps::AccessRules;
use plexid_core::login::Relationship;
use plexid_core::modes::{AppRelationship, PolicyEngineMode};
use plexid_core::Timestamp;

use super::escape;
use crate::clock::{iso8601, readable};

/// `1 user`, `2 users`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A moment as HTML: UTC in the page, turned into the reader's local time by `plexid.js`.
pub fn when(at: Timestamp) -> String {
    format!("<time datetime=\"{}\" data-local>{}</time>", iso8601(at), escape(&readable(at)))
}

/// A browser named from its user agent: `Firefox on Windows`, `Safari on iOS`; a program that
/// is no browser by its own name (`curl`).
pub fn browser(user_agent: &str) -> String {
    let has = |part: &str| user_agent.contains(part);
    let name = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else {
        let program = user_agent.split(['/', ' ']).next().unwrap_or_default().trim();
        return if program.is_empty() { "Unknown browser".into() } else { program.chars().take(40).collect() };
    };
    let system = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") {
        "iOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") {
        "Linux"
    } else {
        return name.into();
    };
    format!("{name} on {system}")
}

/// The names of Plex servers by client identifier (as the admin picked them); an identifier
/// without a stored name shows as itself, shortened when long (plex.tv's are 40 characters).
#[derive(Clone, Debug, Default)]
pub struct ServerNames(pub HashMap<String, String>);

impl ServerNames {
    pub fn name(&self, id: &str) -> String {
        match self.0.get(id) {
            Some(name) => name.clone(),
            None if id.chars().count() > 16 => format!("server {}…", id.chars().take(8).collect::<String>()),
            None => id.to_owned(),
        }
    }

    fn names(&self, ids: &[String]) -> String {
        ids.iter().map(|id| self.name(id)).collect::<Vec<_>>().join(", ")
    }
}

/// A connection's Plex relationship in words: `owner; friend; member of Demo Server`.
pub fn relationship(r: &Relationship, servers: &ServerNames) -> String {
    let mut parts = Vec::new();
    if r.owner {
        parts.push("owner".to_owned());
    }
    if r.home {
        parts.push("Plex Home".to_owned());
    }
    if r.friend {
        parts.push("friend".to_owned());
    }
    if !r.servers.is_empty() {
        parts.push(format!("member of {}", servers.names(&r.servers)));
    }
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join("; ")
    }
}

fn relationship_label(r: AppRelationship) -> &'static str {
    match r {
        AppRelationship::Owner => "the Plex server's owner",
        AppRelationship::Home => "the owner's Plex Home",
        AppRelationship::Friend => "the owner's Plex friends",
        AppRelationship::ServerMember => "members of the owner's servers",
    }
}

/// The label of a relationship rule in the forms.
pub fn relationship_choice(r: AppRelationship) -> &'static str {
    relationship_label(r)
}

/// Who an application admits, in words (`groups`: the names of its groups; `source`: the name
/// of the source whose relationships count).
pub fn rule(
    rules: &AccessRules,
    mode: PolicyEngineMode,
    groups: &[String],
    source: Option<&str>,
    servers: &ServerNames,
) -> String {
    let mut parts: Vec<String> = rules
        .relationships
        .iter()
        .map(|r| match r {
            AppRelationship::ServerMember if !rules.servers.is_empty() => {
                format!("members of {}", servers.names(&rules.servers))
            }
            r => relationship_label(*r).to_owned(),
        })
        .collect();
    if !groups.is_empty() {
        let label = if groups.len() == 1 { "members of the group" } else { "members of the groups" };
        parts.push(format!("{label} {}", groups.join(", ")));
    }
    if parts.is_empty() {
        return "everyone who can sign in".into();
    }
    let joined = match (parts.len(), mode) {
        (1, _) => parts.remove(0),
        (_, PolicyEngineMode::All) => format!("only people who are all of: {}", parts.join("; ")),
        (_, PolicyEngineMode::Any) => parts.join("; "),
    };
    match (rules.relationships.is_empty(), source) {
        (false, Some(source)) => format!("{joined} (Plex relationships through {source})"),
        (false, None) => format!("{joined}; no Plex source is chosen, so the Plex relationships admit nobody"),
        (true, _) => joined,
    }
}

/// The human label of one of authentik's choices (`field`, `value`), the value itself for
/// what has none; the value on the wire is unchanged.
pub fn choice_label(field: &str, value: &str) -> String {
    let label = match (field, value) {
        ("user_matching_mode", "identifier") => "A new user for each new Plex account (recommended)",
        ("user_matching_mode", "email_link") => "Link to the user with the same email (only if you trust the emails)",
        ("user_matching_mode", "email_deny") => "Refuse a Plex account whose email a user already has",
        ("user_matching_mode", "username_link") => "Link to the user with the same username",
        ("user_matching_mode", "username_deny") => "Refuse a Plex account whose username a user already has",
        ("group_matching_mode", "identifier") => "A new group for each new group a mapping names (recommended)",
        ("group_matching_mode", "name_link") => "Link to the group with the same name",
        ("group_matching_mode", "name_deny") => "Refuse a group whose name a group already has",
        ("policy_engine_mode", "any") => "Any rule admits",
        ("policy_engine_mode", "all") => "Every rule must admit",
        ("designation", "authentication") => "Signing in",
        ("designation", "authorization") => "Letting an application in",
        ("designation", "enrollment") => "Signing up new users",
        ("designation", "invalidation") => "Signing out",
        ("designation", "unenrollment") => "Deleting one's account",
        ("designation", "recovery") => "Account recovery",
        ("designation", "stage_configuration") => "Setting up a sign-in method",
        ("authentication", "none") => "Anyone",
        ("authentication", "require_authenticated") => "Only signed-in people",
        ("authentication", "require_unauthenticated") => "Only people not signed in",
        ("authentication", "require_superuser") => "Only administrators",
        ("authentication", "require_redirect") => "Only when sent there by an application",
        ("authentication", "require_outpost") => "Only through an outpost",
        _ => return value.to_owned(),
    };
    format!("{label} ({value})")
}

/// The options of a choice field: (wire value, human label).
pub fn choice_options(field: &str, values: &[&str]) -> Vec<(String, String)> {
    values.iter().map(|v| ((*v).to_owned(), choice_label(field, v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_by_name() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(browser(chrome), "Chrome on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(browser(iphone), "Safari on iOS");
        assert_eq!(
            browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"),
            "Firefox on Windows"
        );
        assert_eq!(browser("curl/8.5.0"), "curl");
        assert_eq!(browser(""), "Unknown browser");
    }

    #[test]
    fn counts_and_rules_in_words() {
        assert_eq!(count(1, "sign-in", "sign-ins"), "1 sign-in");
        assert_eq!(count(5, "sign-in", "sign-ins"), "5 sign-ins");
        let servers = ServerNames([("abc".to_owned(), "Demo Server".to_owned())].into_iter().collect());
        let owner = AccessRules { relationships: vec![AppRelationship::Owner], ..Default::default() };
        assert_eq!(
            rule(&owner, PolicyEngineMode::Any, &[], Some("Plex"), &servers),
            "the Plex server's owner (Plex relationships through Plex)"
        );
        let members = AccessRules {
            relationships: vec![AppRelationship::ServerMember],
            servers: vec!["abc".into(), "0123456789abcdef0123".into()],
            ..Default::default()
        };
        assert_eq!(
            rule(&members, PolicyEngineMode::All, &["Family".into()], None, &servers),
            "only people who are all of: members of Demo Server, server 01234567…; members of the group Family; \
             no Plex source is chosen, so the Plex relationships admit nobody"
        );
        assert_eq!(
            rule(&AccessRules::default(), PolicyEngineMode::Any, &[], None, &servers),
            "everyone who can sign in"
        );
    }
}
