//! Plex source values: matching modes, defaults and the generated client id.

use rand::Rng;

pub const POLICY_ENGINE_MODES: &[&str] = &["all", "any"];
pub const USER_MATCHING_MODES: &[&str] = &["identifier", "email_link", "email_deny", "username_link", "username_deny"];
pub const GROUP_MATCHING_MODES: &[&str] = &["identifier", "name_link", "name_deny"];
pub const FLOW_DESIGNATIONS: &[&str] = &[
    "authentication",
    "authorization",
    "invalidation",
    "enrollment",
    "unenrollment",
    "recovery",
    "stage_configuration",
];

pub const DEFAULT_USER_PATH_TEMPLATE: &str = "goauthentik.io/sources/%(slug)s";
pub const PLEX_ICON_FALLBACK: &str = "/static/authentik/sources/plex.svg";
pub const SLUG_MAX_LENGTH: usize = 50;
/// What responses show instead of a stored Plex token (D1).
pub const TOKEN_PLACEHOLDER: &str = "********";

/// 40 random characters from `[A-Za-z0-9]`, like authentik's `generate_id`.
pub fn generate_client_id() -> String {
    random_alphanumeric(40)
}

pub fn random_alphanumeric(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// A Plex source's `icon`: the stored value, else Plex's static icon (never null).
pub fn plex_icon(stored: Option<&str>) -> String {
    match stored {
        Some(icon) if !icon.is_empty() => icon.to_owned(),
        _ => PLEX_ICON_FALLBACK.to_owned(),
    }
}

/// `get_user_path()`: the template with `%(slug)s` substituted; a template that uses any other
/// `%` directive falls back to `users`, as authentik's formatting error does.
pub fn user_path(template: &str, slug: &str) -> String {
    let replaced = template.replace("%(slug)s", slug).replace("%%", "\u{0}");
    if replaced.contains('%') {
        "users".to_owned()
    } else {
        replaced.replace('\u{0}', "%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_40_alphanumerics() {
        let id = generate_client_id();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, generate_client_id());
    }

    #[test]
    fn icon_falls_back_to_plex() {
        assert_eq!(plex_icon(None), PLEX_ICON_FALLBACK);
        assert_eq!(plex_icon(Some("")), PLEX_ICON_FALLBACK);
        assert_eq!(plex_icon(Some("https://x/y.png")), "https://x/y.png");
    }

    #[test]
    fn user_paths() {
        assert_eq!(user_path(DEFAULT_USER_PATH_TEMPLATE, "plex"), "goauthentik.io/sources/plex");
        assert_eq!(user_path("a/%(name)s", "plex"), "users");
        assert_eq!(user_path("100%%/%(slug)s", "p"), "100%/p");
    }
}

/// Flow field choices (authentik's enums).
pub mod flow {
    pub const AUTHENTICATION: &[&str] = &[
        "none",
        "require_authenticated",
        "require_unauthenticated",
        "require_superuser",
        "require_redirect",
        "require_outpost",
    ];
    pub const LAYOUTS: &[&str] = &["stacked", "content_left", "content_right", "sidebar_left", "sidebar_right"];
    pub const DENIED_ACTIONS: &[&str] = &["message_continue", "message", "continue"];
}
