//! The rules values must obey, with authentik's (Django's) messages, and the superuser guards.

/// Django's slug validator message.
pub const BAD_SLUG: &str = "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens.";
pub const BAD_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
pub const BAD_EMAIL: &str = "Enter a valid email address.";
pub const SLUG_MAX_LENGTH: usize = 50;
pub const USERNAME_MAX_LENGTH: usize = 150;

/// `^[-a-zA-Z0-9_]+$`, Django's slug validator.
pub fn is_slug(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The slug's problems, in Django's order (length first).
pub fn slug_errors(slug: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if slug.chars().count() > SLUG_MAX_LENGTH {
        errors.push(format!("Ensure this field has no more than {SLUG_MAX_LENGTH} characters."));
    }
    if !is_slug(slug) {
        errors.push(BAD_SLUG.to_owned());
    }
    errors
}

/// How long a user's display name may be when it comes from plex.tv (or a mapping): longer
/// ones are cut, so identity headers and pages stay small.
pub const NAME_MAX_LENGTH: usize = 150;
/// Django's `EmailField` limit.
pub const EMAIL_MAX_LENGTH: usize = 254;
/// authentik's group name limit.
pub const GROUP_NAME_MAX_LENGTH: usize = 80;

/// A value plex.tv (or a mapping) sent, as plexid stores it: control characters (NUL among them,
/// which PostgreSQL refuses) removed, trimmed, cut to `max` characters.
pub fn clean_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).collect::<String>().trim().chars().take(max).collect()
}

/// A username plexid would accept through its own API: Django's validator and length.
pub fn is_valid_username(name: &str) -> bool {
    is_username(name) && name.chars().count() <= USERNAME_MAX_LENGTH
}

/// An email address plexid would accept through its own API.
pub fn is_valid_email(email: &str) -> bool {
    is_email(email) && email.chars().count() <= EMAIL_MAX_LENGTH && !email.chars().any(char::is_control)
}

/// Django's username validator: letters, digits and `@.+-_`.
pub fn is_username(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '+' | '-'))
}

/// Django's email check, simplified: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && (domain.contains('.') || domain == "localhost")
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A user path: no leading or trailing slash, no empty segments.
pub fn user_path_error(path: &str) -> Option<&'static str> {
    if path.starts_with('/') || path.ends_with('/') {
        Some("No leading or trailing slashes allowed.")
    } else if path.contains("//") {
        Some("No empty segments in user path allowed.")
    } else {
        None
    }
}

/// Only a superuser may edit (or delete) a superuser.
pub fn may_edit_user(actor_is_superuser: bool, target_is_superuser: bool) -> bool {
    actor_is_superuser || !target_is_superuser
}

/// May the actor create, re-point, re-token or delete a Plex connection that signs `target` in
/// (D27)? Their own connection, or with the rights to edit that user (`change_user`, and a
/// superuser's only as a superuser): whoever controls a connection can sign in as its user.
pub fn may_touch_user_connection(
    actor_is_target: bool,
    actor_may_change_users: bool,
    actor_is_superuser: bool,
    target_is_superuser: bool,
) -> bool {
    actor_is_target || (actor_may_change_users && may_edit_user(actor_is_superuser, target_is_superuser))
}

/// May the actor create, re-point or delete a group source connection to this group (D27)? With
/// the rights to change the group (`change_group`, and a superuser group only as a superuser):
/// a connection decides who joins the group at every sign-in.
pub fn may_touch_group_connection(
    actor_may_change_groups: bool,
    actor_is_superuser: bool,
    group_is_superuser: bool,
) -> bool {
    actor_may_change_groups && (actor_is_superuser || !group_is_superuser)
}

/// Only a superuser may add anyone to, or remove anyone from, a superuser group: `touched` says,
/// for each group whose membership changes, whether it is a superuser group.
pub fn may_change_memberships(actor_is_superuser: bool, touched: impl IntoIterator<Item = bool>) -> bool {
    actor_is_superuser || !touched.into_iter().any(|superuser| superuser)
}

/// Only a superuser may make a group a superuser group, unmake one, or change its members.
pub fn may_save_group(actor_is_superuser: bool, was_superuser: bool, is_superuser: bool, members_change: bool) -> bool {
    actor_is_superuser || !(was_superuser || is_superuser) || (was_superuser == is_superuser && !members_change)
}

/// Why a change is refused that would leave plexid without an active administrator.
pub const LAST_ADMIN: &str =
    "This would leave plexid without an administrator. Make someone else an administrator first.";
/// Why a change is refused that would take the acting administrator's own rights away.
pub const OWN_ADMIN: &str =
    "You cannot take away your own administration rights (you would be locked out). Ask another administrator.";

/// Whether a change may take administration away: `before` and `after` are the active
/// superusers around the change, `actor` the user making it (none: plexid itself). Refused when
/// administrators existed and none would be left, or when the actor loses their own rights.
pub fn admin_loss_problem(actor: Option<i64>, before: &[i64], after: &[i64]) -> Option<&'static str> {
    if !before.is_empty() && after.is_empty() {
        Some(LAST_ADMIN)
    } else if actor.is_some_and(|me| before.contains(&me) && !after.contains(&me)) {
        Some(OWN_ADMIN)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administration_is_never_lost_by_accident() {
        // Another administrator stays: fine.
        assert_eq!(admin_loss_problem(Some(1), &[1, 2], &[1]), None);
        // Taking one's own rights: refused, even with others left.
        assert_eq!(admin_loss_problem(Some(1), &[1, 2], &[2]), Some(OWN_ADMIN));
        // The last one: refused, whoever does it (themselves too: the more useful reason).
        assert_eq!(admin_loss_problem(Some(3), &[2], &[]), Some(LAST_ADMIN));
        assert_eq!(admin_loss_problem(Some(2), &[2], &[]), Some(LAST_ADMIN));
        assert_eq!(admin_loss_problem(None, &[2], &[]), Some(LAST_ADMIN));
        // Nothing to lose, or gaining: fine.
        assert_eq!(admin_loss_problem(Some(3), &[], &[]), None);
        assert_eq!(admin_loss_problem(Some(3), &[2], &[2, 3]), None);
    }

    #[test]
    fn slugs() {
        assert!(is_slug("plex-test_1"));
        assert!(!is_slug("bad slug!"));
        assert!(!is_slug(""));
        assert_eq!(slug_errors("ok"), Vec::<String>::new());
        assert_eq!(slug_errors(&"x".repeat(51)), ["Ensure this field has no more than 50 characters."]);
        assert_eq!(slug_errors("a b"), [BAD_SLUG]);
    }

    #[test]
    fn usernames_and_emails() {
        assert!(is_username("jane.doe+plex@x"));
        assert!(is_username("jürgen"));
        assert!(!is_username("jane doe"));
        assert!(!is_username(""));
        assert!(is_email("a@b.co"));
        assert!(is_email("root@localhost"));
        assert!(!is_email("a@b"));
        assert!(!is_email("@b.co"));
        assert!(!is_email("a b@c.de"));
        assert!(!is_email("a@.b.c"));
    }

    #[test]
    fn user_paths() {
        assert_eq!(user_path_error("goauthentik.io/sources/plex"), None);
        assert!(user_path_error("/users").is_some());
        assert!(user_path_error("users/").is_some());
        assert!(user_path_error("a//b").is_some());
    }

    #[test]
    fn values_from_plex_are_bounded() {
        assert_eq!(clean_text(" Ann\u{0}ie\n ", 150), "Annie");
        assert_eq!(clean_text(&"x".repeat(300_000), NAME_MAX_LENGTH).chars().count(), NAME_MAX_LENGTH);
        assert!(is_valid_username("ann.e+1@x"));
        assert!(!is_valid_username(&"a".repeat(5000)));
        assert!(!is_valid_username("a\u{0}b"));
        assert!(is_valid_email("a@example.com"));
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(300))));
        assert!(!is_valid_email("not an email"));
    }

    #[test]
    fn connection_guards() {
        // Their own connection: always.
        assert!(may_touch_user_connection(true, false, false, true));
        // Someone else's: only with the rights to edit them.
        assert!(!may_touch_user_connection(false, false, false, false));
        assert!(may_touch_user_connection(false, true, false, false));
        assert!(!may_touch_user_connection(false, true, false, true), "a superuser's only by a superuser");
        assert!(may_touch_user_connection(false, true, true, true));
        assert!(!may_touch_group_connection(false, true, false));
        assert!(may_touch_group_connection(true, false, false));
        assert!(!may_touch_group_connection(true, false, true), "a superuser group only by a superuser");
        assert!(may_touch_group_connection(true, true, true));
    }

    #[test]
    fn superuser_guards() {
        assert!(may_edit_user(true, true));
        assert!(may_edit_user(false, false));
        assert!(!may_edit_user(false, true));
        assert!(may_change_memberships(false, [false, false]));
        assert!(!may_change_memberships(false, [false, true]));
        assert!(may_change_memberships(true, [true]));
        // (actor superuser, was, is, members change)
        assert!(may_save_group(false, false, false, true));
        assert!(may_save_group(false, true, true, false), "renaming a superuser group");
        assert!(!may_save_group(false, true, true, true), "changing its members");
        assert!(!may_save_group(false, false, true, false), "making one");
        assert!(!may_save_group(false, true, false, false), "unmaking one");
        assert!(may_save_group(true, false, true, true));
    }
}
