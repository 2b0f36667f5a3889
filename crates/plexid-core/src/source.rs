//! Plex source values: defaults, the icon, the user path and the generated client id.

use rand::Rng;

pub const DEFAULT_USER_PATH_TEMPLATE: &str = "goauthentik.io/sources/%(slug)s";
pub const PLEX_ICON_FALLBACK: &str = "/static/authentik/sources/plex.svg";
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
