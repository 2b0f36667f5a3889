//! The decisions of a Plex sign-in, as plain functions of what plex.tv said and what the
//! database holds: who may sign in through a source (the access rule, D5, D16, D19), which user a
//! Plex account belongs to (spec §4.2 and §4.7 with D6 and D18) and which group a mapped group id
//! belongs to (spec §4.6 with D11). Nothing here does I/O, so every row of the spec's tables is a
//! unit test below.

use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, UserId};
use crate::modes::{GroupMatchingMode, UserMatchingMode};

/// Why a sign-in was refused: a stable code for the API's `code` field and the audit log, and the
/// sentence shown to the person signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The source is disabled (D4).
    SourceDisabled,
    /// plex.tv did not accept the token the browser sent.
    PlexTokenRejected,
    /// Neither the owner, nor a friend (when friends are allowed), nor a member of an allowed
    /// server.
    NotAllowed,
    /// The matching mode refuses a Plex account whose email or username belongs to a user.
    MatchExists,
    /// The matching mode needs an email or username and the mapped properties have none.
    MatchValueMissing,
    /// Several users share the email or username the matching mode looks for (D18).
    MatchAmbiguous,
    /// The user this Plex account belongs to is deactivated (D18).
    UserInactive,
    /// The source has no enrollment flow, so a new user cannot be created.
    NoEnrollmentFlow,
    /// The source has no authentication flow, so an existing user cannot sign in.
    NoAuthenticationFlow,
    /// A property mapping failed or ran out of its limits (D13).
    MappingFailed,
    /// The group matching mode refuses a group of the same name.
    GroupDenied,
    /// A link mode found a superuser whose email or username matches (D24): administrators are
    /// never linked to a Plex account by a match.
    MatchSuperuser,
}

impl DenyReason {
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::SourceDisabled => "source_disabled",
            DenyReason::PlexTokenRejected => "plex_token_invalid",
            DenyReason::NotAllowed => "not_allowed",
            DenyReason::MatchExists => "match_exists",
            DenyReason::MatchValueMissing => "match_value_missing",
            DenyReason::MatchAmbiguous => "match_ambiguous",
            DenyReason::UserInactive => "user_inactive",
            DenyReason::NoEnrollmentFlow => "no_enrollment_flow",
            DenyReason::NoAuthenticationFlow => "no_authentication_flow",
            DenyReason::MappingFailed => "mapping_failed",
            DenyReason::GroupDenied => "group_denied",
            DenyReason::MatchSuperuser => "match_superuser",
        }
    }

    /// What the person signing in reads.
    pub fn message(self, source_name: &str) -> String {
        match self {
            DenyReason::SourceDisabled => format!("Signing in with {source_name} is disabled."),
            DenyReason::PlexTokenRejected => "Plex did not accept this sign-in. Please sign in with Plex again.".to_owned(),
            DenyReason::NotAllowed => format!(
                "Your Plex account does not have access to {source_name}: you are not a member of an allowed server, \
                 a friend of its owner or its owner."
            ),
            DenyReason::MatchExists | DenyReason::MatchAmbiguous | DenyReason::MatchValueMissing => format!(
                "Request to authenticate with {source_name} has been denied. Please authenticate with the source \
                 you've previously signed up with."
            ),
            DenyReason::UserInactive => "This account is deactivated.".to_owned(),
            DenyReason::NoEnrollmentFlow => "Source is not configured for enrollment.".to_owned(),
            DenyReason::NoAuthenticationFlow => "Source is not configured for authentication.".to_owned(),
            DenyReason::MappingFailed => format!(
                "Signing in with {source_name} failed because of a configuration error. The administrator has been told."
            ),
            DenyReason::GroupDenied => "Failed to update groups. Please try again later.".to_owned(),
            DenyReason::MatchSuperuser => format!(
                "Your Plex account matches an administrator's account, which {source_name} never links by a match. \
                 If it is yours, sign in as the administrator and connect your Plex account from your account page."
            ),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The access rule.

/// What plex.tv said about a person, for one source. `None` means that call failed.
#[derive(Clone, Debug, Default)]
pub struct PlexAnswers<'a> {
    /// The person's Plex account id (from their own identity call, which must succeed).
    pub plex_id: u64,
    /// The source owner's Plex id (from the owner's identity call).
    pub owner_id: Option<u64>,
    /// The owner's friends' Plex ids.
    pub friend_ids: Option<&'a [u64]>,
    /// The Plex ids of the owner's Plex Home members.
    pub home_ids: Option<&'a [u64]>,
    /// The client identifiers of the servers the person can reach (owned or shared), already
    /// reduced to resources that provide `server` (D16).
    pub server_ids: Option<&'a [String]>,
}

/// How a Plex account relates to a source: what the access rule found. Stored with the
/// connection (the access sweep keeps it current) for per-application rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    pub owner: bool,
    /// A member of the owner's Plex Home (recorded for application rules; it does not by itself
    /// admit to the source, whose rule is authentik's: owner, friends, allowed servers).
    #[serde(default)]
    pub home: bool,
    pub friend: bool,
    /// The allowed servers the account is a member of (or owns).
    pub servers: Vec<String>,
}

impl Relationship {
    pub fn grants_access(&self) -> bool {
        self.owner || self.friend || !self.servers.is_empty()
    }
}

/// The access rule's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Granted(Relationship),
    /// Refused. `definite` is true only when every check that could have granted access
    /// answered: a sign-in is refused either way (a failed friends call counts as "not a friend",
    /// D19), but the access sweep revokes only definite refusals (D3).
    Denied {
        definite: bool,
    },
}

/// The access rule of a source (D5, D19): the owner always; with `allow_friends`, the owner's
/// friends; and members of the servers in `allowed_servers` (empty: no server grants access).
pub fn decide_access(answers: &PlexAnswers<'_>, allowed_servers: &[String], allow_friends: bool) -> Access {
    let owner = answers.owner_id == Some(answers.plex_id);
    let friend = allow_friends && answers.friend_ids.is_some_and(|ids| ids.contains(&answers.plex_id));
    let servers: Vec<String> = match answers.server_ids {
        Some(ids) => allowed_servers.iter().filter(|allowed| ids.contains(allowed)).cloned().collect(),
        None => Vec::new(),
    };
    let home = answers.home_ids.is_some_and(|ids| ids.contains(&answers.plex_id));
    let relationship = Relationship { owner, home, friend, servers };
    if relationship.grants_access() {
        return Access::Granted(relationship);
    }
    let owner_known = answers.owner_id.is_some();
    let friends_known = !allow_friends || answers.friend_ids.is_some();
    let servers_known = allowed_servers.is_empty() || answers.server_ids.is_some();
    Access::Denied { definite: owner_known && friends_known && servers_known }
}

// ------------------------------------------------------------------------------------------
// User matching.

/// A user the database holds that a sign-in could belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub user: UserId,
    pub is_active: bool,
    /// A superuser is never linked by a match (D24).
    pub is_superuser: bool,
    /// The user already has a connection to this source (another Plex account: one per user).
    pub has_connection: bool,
}

/// What the database holds for one Plex sign-in.
#[derive(Clone, Debug, Default)]
pub struct UserLookup<'a> {
    /// The user already connected to this Plex account through this source.
    pub connected: Option<Candidate>,
    /// The signed-in user, when someone connects their Plex account from their settings.
    pub signed_in: Option<Candidate>,
    /// The mapped value the matching mode looks for (`email` or `username`); `None` or empty
    /// when the mapping left it out.
    pub value: Option<&'a str>,
    /// The users whose email (case-insensitively, D18) or username equals `value`.
    pub matches: &'a [Candidate],
}

/// What to do with a Plex sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Sign in the user of the existing connection (the token is refreshed).
    Authenticate(UserId),
    /// Connect the Plex account to this existing user, then sign them in (or, when they are
    /// already signed in, just connect it).
    Link(UserId),
    /// Create a user from the mapped properties, connect it and sign it in.
    Enroll,
    Deny(DenyReason),
    /// The signed-in user asked to connect a Plex account that is connected to another user (D6).
    LinkedElsewhere,
    /// The signed-in user asked to connect a second Plex account to a source where they have one.
    AlreadyConnected,
}

/// The matching decision of spec §4.2 and §4.7, with D6 (one user per Plex account and source)
/// and D18 (inactive users are never linked, several matches deny).
pub fn decide_user(mode: UserMatchingMode, lookup: &UserLookup<'_>) -> UserAction {
    if let Some(me) = lookup.signed_in {
        return match lookup.connected {
            Some(existing) if existing.user != me.user => UserAction::LinkedElsewhere,
            Some(_) => UserAction::Link(me.user),
            None if me.has_connection => UserAction::AlreadyConnected,
            None => UserAction::Link(me.user),
        };
    }
    if let Some(existing) = lookup.connected {
        return if existing.is_active {
            UserAction::Authenticate(existing.user)
        } else {
            UserAction::Deny(DenyReason::UserInactive)
        };
    }
    let link = match mode {
        UserMatchingMode::Identifier => return UserAction::Enroll,
        UserMatchingMode::EmailLink | UserMatchingMode::UsernameLink => true,
        UserMatchingMode::EmailDeny | UserMatchingMode::UsernameDeny => false,
    };
    if lookup.value.is_none_or(str::is_empty) {
        return UserAction::Deny(DenyReason::MatchValueMissing);
    }
    match lookup.matches {
        [] => UserAction::Enroll,
        _ if !link => UserAction::Deny(DenyReason::MatchExists),
        [only] if only.is_superuser => UserAction::Deny(DenyReason::MatchSuperuser),
        // One Plex account per user and source: a user connected to another account is not linked.
        [only] if only.has_connection => UserAction::Deny(DenyReason::MatchExists),
        [only] if only.is_active => UserAction::Link(only.user),
        [_] => UserAction::Deny(DenyReason::UserInactive),
        _ => UserAction::Deny(DenyReason::MatchAmbiguous),
    }
}

// ------------------------------------------------------------------------------------------
// Group matching.

/// What to do with one group id a mapping named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupAction {
    /// A group connection exists: use its group (its properties are updated).
    Existing(GroupId),
    /// Connect this existing group of the same name (its properties are updated).
    Link(GroupId),
    /// Create the group and its connection.
    Create,
    Deny,
}

/// A group of the name a mapping gave, for `name_link`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedGroup {
    pub group: GroupId,
    pub is_superuser: bool,
}

/// The group decision of spec §4.6: an existing connection wins; `identifier` creates; `name_*`
/// look for groups named `name` (empty name: deny; several of the same name: deny rather than
/// pick one at random). A superuser group is never linked by its name (D27): a sign-in joins a
/// superuser group only through a connection a superuser made (only superusers can make one).
pub fn decide_group(
    mode: GroupMatchingMode,
    connected: Option<GroupId>,
    name: Option<&str>,
    same_name: &[NamedGroup],
) -> GroupAction {
    if let Some(group) = connected {
        return GroupAction::Existing(group);
    }
    let link = match mode {
        GroupMatchingMode::Identifier => return GroupAction::Create,
        GroupMatchingMode::NameLink => true,
        GroupMatchingMode::NameDeny => false,
    };
    if name.is_none_or(str::is_empty) {
        return GroupAction::Deny;
    }
    match same_name {
        [] => GroupAction::Create,
        [only] if link && !only.is_superuser => GroupAction::Link(only.group),
        _ => GroupAction::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    const ME: u64 = 7;
    const OWNER: u64 = 1;

    #[test]
    fn empty_allowed_servers_grant_nothing() {
        let mine = servers(&["allowed", "denied"]);
        let answers = PlexAnswers {
            plex_id: ME,
            owner_id: Some(OWNER),
            friend_ids: Some(&[]),
            home_ids: None,
            server_ids: Some(&mine),
        };
        assert_eq!(decide_access(&answers, &[], true), Access::Denied { definite: true });
        let allowed = servers(&["allowed"]);
        assert_eq!(
            decide_access(&answers, &allowed, true),
            Access::Granted(Relationship { owner: false, home: false, friend: false, servers: allowed.clone() })
        );
    }

    #[test]
    fn the_owner_always_gets_in() {
        let answers =
            PlexAnswers { plex_id: OWNER, owner_id: Some(OWNER), friend_ids: None, home_ids: None, server_ids: None };
        assert!(matches!(decide_access(&answers, &[], false), Access::Granted(r) if r.owner));
    }

    #[test]
    fn friends_only_when_allowed() {
        let friends = [ME];
        let answers = PlexAnswers {
            plex_id: ME,
            owner_id: Some(OWNER),
            friend_ids: Some(&friends),
            home_ids: None,
            server_ids: Some(&[]),
        };
        assert!(matches!(decide_access(&answers, &[], true), Access::Granted(r) if r.friend));
        assert_eq!(decide_access(&answers, &[], false), Access::Denied { definite: true });
    }

    #[test]
    fn a_failed_friends_call_is_not_a_friend_and_not_definite() {
        let mine = servers(&["s1"]);
        let answers = PlexAnswers {
            plex_id: ME,
            owner_id: Some(OWNER),
            friend_ids: None,
            home_ids: None,
            server_ids: Some(&mine),
        };
        // The server check still decides (D19).
        assert!(matches!(decide_access(&answers, &mine, true), Access::Granted(r) if r.servers == mine));
        assert_eq!(decide_access(&answers, &servers(&["other"]), true), Access::Denied { definite: false });
        // Friends not allowed: the friends call does not matter.
        assert_eq!(decide_access(&answers, &servers(&["other"]), false), Access::Denied { definite: true });
    }

    #[test]
    fn failed_resources_or_owner_calls_are_not_definite() {
        let answers =
            PlexAnswers { plex_id: ME, owner_id: Some(OWNER), friend_ids: Some(&[]), home_ids: None, server_ids: None };
        assert_eq!(decide_access(&answers, &servers(&["s1"]), true), Access::Denied { definite: false });
        assert_eq!(decide_access(&answers, &[], true), Access::Denied { definite: true });
        let answers =
            PlexAnswers { plex_id: ME, owner_id: None, friend_ids: Some(&[]), home_ids: None, server_ids: Some(&[]) };
        assert_eq!(decide_access(&answers, &[], true), Access::Denied { definite: false });
    }

    fn active(id: i64) -> Candidate {
        Candidate { user: UserId(id), is_active: true, is_superuser: false, has_connection: false }
    }

    fn inactive(id: i64) -> Candidate {
        Candidate { user: UserId(id), is_active: false, is_superuser: false, has_connection: false }
    }

    #[test]
    fn one_plex_account_per_user_and_source() {
        let connected = [Candidate { has_connection: true, ..active(4) }];
        let lookup = UserLookup { value: Some("x"), matches: &connected, ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::EmailLink, &lookup), UserAction::Deny(DenyReason::MatchExists));
        let lookup = UserLookup { signed_in: Some(connected[0]), ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::Identifier, &lookup), UserAction::AlreadyConnected);
        let lookup = UserLookup { signed_in: Some(connected[0]), connected: Some(connected[0]), ..Default::default() };
        assert_eq!(
            decide_user(UserMatchingMode::Identifier, &lookup),
            UserAction::Link(UserId(4)),
            "the same account again"
        );
    }

    #[test]
    fn link_modes_never_link_a_superuser() {
        use UserMatchingMode::*;
        let admin = [Candidate { is_superuser: true, ..active(1) }];
        let lookup = UserLookup { value: Some("akadmin"), matches: &admin, ..Default::default() };
        for mode in [EmailLink, UsernameLink] {
            assert_eq!(decide_user(mode, &lookup), UserAction::Deny(DenyReason::MatchSuperuser), "{mode}");
        }
        assert_eq!(decide_user(UsernameDeny, &lookup), UserAction::Deny(DenyReason::MatchExists));
        assert_eq!(decide_user(Identifier, &lookup), UserAction::Enroll);
        // The administrator's own connection still signs them in, and they may connect their own.
        let lookup = UserLookup { connected: Some(admin[0]), ..Default::default() };
        assert_eq!(decide_user(UsernameLink, &lookup), UserAction::Authenticate(UserId(1)));
        let lookup = UserLookup { signed_in: Some(admin[0]), ..Default::default() };
        assert_eq!(decide_user(UsernameLink, &lookup), UserAction::Link(UserId(1)));
    }

    /// Spec §4.7, row by row, for every mode.
    #[test]
    fn matching_table() {
        use UserMatchingMode::*;
        let modes = [Identifier, EmailLink, EmailDeny, UsernameLink, UsernameDeny];
        // connection exists: AUTH everywhere.
        for mode in modes {
            let lookup = UserLookup {
                connected: Some(active(3)),
                value: Some("x"),
                matches: &[active(4)],
                ..Default::default()
            };
            assert_eq!(decide_user(mode, &lookup), UserAction::Authenticate(UserId(3)), "{mode}");
        }
        // no connection, no match: ENROLL everywhere.
        for mode in modes {
            let lookup = UserLookup { value: Some("x"), ..Default::default() };
            assert_eq!(decide_user(mode, &lookup), UserAction::Enroll, "{mode}");
        }
        // no connection, a match exists.
        let matches = [active(4)];
        let lookup = UserLookup { value: Some("x"), matches: &matches, ..Default::default() };
        assert_eq!(decide_user(Identifier, &lookup), UserAction::Enroll);
        assert_eq!(decide_user(EmailLink, &lookup), UserAction::Link(UserId(4)));
        assert_eq!(decide_user(EmailDeny, &lookup), UserAction::Deny(DenyReason::MatchExists));
        assert_eq!(decide_user(UsernameLink, &lookup), UserAction::Link(UserId(4)));
        assert_eq!(decide_user(UsernameDeny, &lookup), UserAction::Deny(DenyReason::MatchExists));
        // no connection, value missing.
        for value in [None, Some("")] {
            let lookup = UserLookup { value, ..Default::default() };
            assert_eq!(decide_user(Identifier, &lookup), UserAction::Enroll);
            for mode in [EmailLink, EmailDeny, UsernameLink, UsernameDeny] {
                assert_eq!(decide_user(mode, &lookup), UserAction::Deny(DenyReason::MatchValueMissing), "{mode}");
            }
        }
    }

    #[test]
    fn inactive_users_are_never_linked_or_signed_in() {
        let matches = [inactive(4)];
        let lookup = UserLookup { value: Some("x"), matches: &matches, ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::EmailLink, &lookup), UserAction::Deny(DenyReason::UserInactive));
        let lookup = UserLookup { connected: Some(inactive(3)), ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::Identifier, &lookup), UserAction::Deny(DenyReason::UserInactive));
    }

    #[test]
    fn several_matches_deny() {
        let matches = [active(4), active(5)];
        let lookup = UserLookup { value: Some("x"), matches: &matches, ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::EmailLink, &lookup), UserAction::Deny(DenyReason::MatchAmbiguous));
        assert_eq!(decide_user(UserMatchingMode::UsernameDeny, &lookup), UserAction::Deny(DenyReason::MatchExists));
    }

    #[test]
    fn a_signed_in_user_links_unless_the_account_is_someone_elses() {
        let lookup = UserLookup { signed_in: Some(active(9)), ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::UsernameDeny, &lookup), UserAction::Link(UserId(9)));
        let lookup = UserLookup { signed_in: Some(active(9)), connected: Some(active(9)), ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::Identifier, &lookup), UserAction::Link(UserId(9)));
        let lookup = UserLookup { signed_in: Some(active(9)), connected: Some(active(3)), ..Default::default() };
        assert_eq!(decide_user(UserMatchingMode::Identifier, &lookup), UserAction::LinkedElsewhere);
    }

    #[test]
    fn group_matching() {
        use GroupMatchingMode::*;
        let g = GroupId::new();
        let other_id = GroupId::new();
        let other = NamedGroup { group: other_id, is_superuser: false };
        let admins = NamedGroup { group: GroupId::new(), is_superuser: true };
        for mode in [Identifier, NameLink, NameDeny] {
            assert_eq!(decide_group(mode, Some(g), Some("n"), &[other]), GroupAction::Existing(g));
        }
        assert_eq!(decide_group(Identifier, None, Some("n"), &[other]), GroupAction::Create);
        assert_eq!(decide_group(NameLink, None, Some("n"), &[]), GroupAction::Create);
        assert_eq!(decide_group(NameDeny, None, Some("n"), &[]), GroupAction::Create);
        assert_eq!(decide_group(NameLink, None, Some("n"), &[other]), GroupAction::Link(other_id));
        assert_eq!(decide_group(NameLink, None, Some("authentik Admins"), &[admins]), GroupAction::Deny);
        assert_eq!(decide_group(Identifier, None, Some("authentik Admins"), &[admins]), GroupAction::Create);
        assert_eq!(decide_group(NameDeny, None, Some("n"), &[other]), GroupAction::Deny);
        assert_eq!(decide_group(NameLink, None, Some(""), &[]), GroupAction::Deny);
        let g_named = NamedGroup { group: g, is_superuser: false };
        assert_eq!(decide_group(NameLink, None, Some("n"), &[g_named, other]), GroupAction::Deny);
    }

    #[test]
    fn reason_codes_are_distinct() {
        use std::collections::HashSet;
        let all = [
            DenyReason::SourceDisabled,
            DenyReason::PlexTokenRejected,
            DenyReason::NotAllowed,
            DenyReason::MatchExists,
            DenyReason::MatchValueMissing,
            DenyReason::MatchAmbiguous,
            DenyReason::UserInactive,
            DenyReason::NoEnrollmentFlow,
            DenyReason::NoAuthenticationFlow,
            DenyReason::MappingFailed,
            DenyReason::GroupDenied,
            DenyReason::MatchSuperuser,
        ];
        assert_eq!(all.iter().map(|r| r.code()).collect::<HashSet<_>>().len(), all.len());
    }
}
