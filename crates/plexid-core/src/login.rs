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
    /// As `NotAllowed`, and the person lists an allowed server as their own without being its
    /// owner (D22).
    ServerClaimed,
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
            DenyReason::ServerClaimed => "server_claimed",
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
                 a friend of its owner or its owner. A friend request or a server invitation counts once it is accepted."
            ),
            DenyReason::ServerClaimed => format!(
                "Your Plex account does not have access to {source_name}: a server registered under your own account \
                 does not make you a member of an allowed server; its owner has to share it with you."
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

/// A server as an account's device list (`/api/v2/resources`) shows it: its identifier, whether
/// the account owns it, and for a server shared with the account its owner's Plex id. Only
/// resources that provide `server` (D16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    pub id: String,
    pub owned: bool,
    pub owner_id: Option<u64>,
}

/// The owner's accepted shares of their servers: (server, Plex id), and the servers the list
/// speaks for (`None`: every server the owner owns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareList {
    /// A set shared with the cache it came from: looked up once per connection by the sweep.
    pub accepted: std::sync::Arc<std::collections::BTreeSet<(String, u64)>>,
    pub covers: Option<Vec<String>>,
}

impl ShareList {
    fn shared_with(&self, server: &str, person: u64) -> bool {
        self.accepted.contains(&(server.to_owned(), person))
    }

    fn covers(&self, server: &str) -> bool {
        self.covers.as_ref().is_none_or(|c| c.iter().any(|s| s == server))
    }
}

/// What plex.tv said with the source owner's token. `None`: that call failed (or was not made).
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnerSide<'a> {
    pub id: Option<u64>,
    /// The owner's servers (owned and shared with the owner).
    pub servers: Option<&'a [ServerEntry]>,
    pub shares: Option<&'a ShareList>,
    /// Accepted friends (never a pending request; managed Home users are not friends).
    pub friends: Option<&'a [u64]>,
    /// Members of the owner's Plex Home.
    pub home: Option<&'a [u64]>,
}

/// What plex.tv said about the person: their Plex id (from their own identity call, which must
/// succeed) and their servers (`None`: that call failed or was not made).
#[derive(Clone, Copy, Debug, Default)]
pub struct PersonSide<'a> {
    pub id: u64,
    pub servers: Option<&'a [ServerEntry]>,
}

/// A fact the access rule may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    OwnerIdentity,
    OwnerServers,
    Shares,
    Friends,
    Home,
    PersonServers,
}

/// How a Plex account relates to a source: what the access rule found. Stored with the
/// connection (the access sweep keeps it current) for per-application rules; a connection made
/// through the API stores `{}` (nothing found yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Relationship {
    pub owner: bool,
    /// A member of the owner's Plex Home (a managed Home user included). For application rules:
    /// it does not by itself admit to the source, whose rule is authentik's (owner, friends,
    /// members of allowed servers); a Home member the owner shares an allowed server with is a
    /// member.
    pub home: bool,
    /// An accepted friend of the owner (with `allow_friends`); a managed Home user is not.
    pub friend: bool,
    /// The allowed servers the account is a member of (or owns).
    pub servers: Vec<String>,
}

impl Relationship {
    pub fn grants_access(&self) -> bool {
        self.owner || self.friend || !self.servers.is_empty()
    }

    /// This relationship with the parts `unknown` left undecided taken from `previous` (what the
    /// last check found): a fact plex.tv did not give is never read as "no".
    pub fn keeping(mut self, previous: &Relationship, unknown: &[Fact]) -> Relationship {
        if unknown.contains(&Fact::Home) {
            self.home = previous.home;
        }
        if unknown.contains(&Fact::Friends) {
            self.friend |= previous.friend;
        }
        for server in &previous.servers {
            if !self.servers.contains(server)
                && unknown.iter().any(|f| matches!(f, Fact::Shares | Fact::OwnerServers | Fact::PersonServers))
            {
                self.servers.push(server.clone());
            }
        }
        self
    }
}

/// Why a definite refusal was made, when the facts show something worth telling the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyHint {
    /// The person lists an allowed server as their own but is not its owner: a server
    /// registered under another server's identifier proves nothing (D22).
    ClaimedServer,
}

/// The access rule's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Admitted. `unknown`: facts that could not be obtained; the relationship counts them as
    /// "not found" (see [`Relationship::keeping`]).
    Granted { relationship: Relationship, unknown: Vec<Fact> },
    /// Refused: every fact that could have admitted the person was obtained, and none did.
    Denied(Option<DenyHint>),
    /// Neither: a fact that could have admitted the person is missing. Never a refusal (D9, D19):
    /// a sign-in answers 502/503, the sweep leaves the connection as it was.
    Unknown { missing: Vec<Fact> },
}

/// Whether the person is a member of the allowed server `server`: `Some(true)`, `Some(false)`,
/// or `None` when a missing fact could decide it (pushed to `missing`). D22: a server the owner
/// owns is decided by the owner's accepted shares; a server shared with the owner by the
/// person's own entry for it, shared with them by the same real owner (or owned, by that owner);
/// a server the owner cannot reach proves nothing.
fn member_of(owner: &OwnerSide<'_>, person: &PersonSide<'_>, server: &str, missing: &mut Vec<Fact>) -> Option<bool> {
    if owner.shares.is_some_and(|s| s.shared_with(server, person.id)) {
        return Some(true);
    }
    let Some(servers) = owner.servers else {
        missing.push(Fact::OwnerServers);
        return None;
    };
    let Some(entry) = servers.iter().find(|s| s.id == server) else { return Some(false) };
    if entry.owned {
        if owner.id == Some(person.id) {
            return Some(true);
        }
        if owner.id.is_none() {
            missing.push(Fact::OwnerIdentity);
        }
        return match owner.shares {
            Some(shares) if shares.covers(server) => owner.id.map(|_| false),
            _ => {
                missing.push(Fact::Shares);
                None
            }
        };
    }
    let Some(real_owner) = entry.owner_id else { return Some(false) };
    let Some(mine) = person.servers else {
        missing.push(Fact::PersonServers);
        return None;
    };
    Some(
        mine.iter()
            .any(|s| s.id == server && if s.owned { person.id == real_owner } else { s.owner_id == Some(real_owner) }),
    )
}

/// The access rule of a source (D5, D19, D22, D23): the owner always; with `allow_friends`, the
/// owner's accepted friends; and members of the servers in `allowed_servers` (empty: no server
/// grants access), membership proved as [`member_of`] says. Refuses only when every fact that
/// could have admitted the person was obtained.
pub fn decide_access(
    owner: &OwnerSide<'_>,
    person: &PersonSide<'_>,
    allowed_servers: &[String],
    allow_friends: bool,
) -> Access {
    let mut missing = Vec::new();
    let is_owner = owner.id.map(|id| id == person.id);
    if is_owner.is_none() {
        missing.push(Fact::OwnerIdentity);
    }
    let friend = match (allow_friends, owner.friends) {
        (false, _) => Some(false),
        (true, Some(ids)) => Some(ids.contains(&person.id)),
        (true, None) => {
            missing.push(Fact::Friends);
            None
        }
    };
    let mut servers = Vec::new();
    let mut servers_known = true;
    for server in allowed_servers {
        match member_of(owner, person, server, &mut missing) {
            Some(true) => servers.push(server.clone()),
            Some(false) => {}
            None => servers_known = false,
        }
    }
    let home = owner.home.map(|ids| ids.contains(&person.id));
    let mut unknown = missing.clone();
    if home.is_none() {
        unknown.push(Fact::Home);
    }
    unknown.sort_unstable();
    unknown.dedup();
    let relationship =
        Relationship { owner: is_owner == Some(true), home: home == Some(true), friend: friend == Some(true), servers };
    if relationship.grants_access() {
        return Access::Granted { relationship, unknown };
    }
    if is_owner.is_none() || friend.is_none() || !servers_known {
        missing.sort_unstable();
        missing.dedup();
        return Access::Unknown { missing };
    }
    let claimed = person.servers.is_some_and(|mine| mine.iter().any(|s| s.owned && allowed_servers.contains(&s.id)));
    Access::Denied(claimed.then_some(DenyHint::ClaimedServer))
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
    const OTHER: u64 = 50;

    fn entry(id: &str, owned: bool, owner_id: Option<u64>) -> ServerEntry {
        ServerEntry { id: id.into(), owned, owner_id }
    }

    /// The owner owns `own` and has `shared` shared with them by OTHER.
    fn owner_servers() -> Vec<ServerEntry> {
        vec![entry("own", true, None), entry("shared", false, Some(OTHER))]
    }

    fn shares(accepted: &[(&str, u64)]) -> ShareList {
        ShareList {
            accepted: std::sync::Arc::new(accepted.iter().map(|(s, id)| (s.to_string(), *id)).collect()),
            covers: None,
        }
    }

    /// Every fact obtained: the owner's servers, no shares, no friends, no Home.
    fn known<'a>(servers: &'a [ServerEntry], shares: &'a ShareList, friends: &'a [u64]) -> OwnerSide<'a> {
        OwnerSide {
            id: Some(OWNER),
            servers: Some(servers),
            shares: Some(shares),
            friends: Some(friends),
            home: Some(&[]),
        }
    }

    fn granted(access: &Access) -> Option<&Relationship> {
        match access {
            Access::Granted { relationship, .. } => Some(relationship),
            _ => None,
        }
    }

    /// The access sweep decides every connection of a source against one share list: a lookup
    /// in a set, not a scan (the scale run: 33,000 members a source took 9.6 s to sweep when
    /// each decision scanned the list). 30,000 shares, 30,000 decisions: a scan of each would
    /// be 900 million comparisons.
    #[test]
    fn a_large_share_list_is_looked_up() {
        let owner_servers = owner_servers();
        let members: Vec<(String, u64)> = (0..30_000u64).map(|id| ("own".to_owned(), 100_000 + 2 * id)).collect();
        let list = ShareList { accepted: std::sync::Arc::new(members.into_iter().collect()), covers: None };
        let owner = known(&owner_servers, &list, &[]);
        let allowed = servers(&["own"]);
        let mut admitted = 0;
        for id in 100_000..160_000u64 {
            let person = PersonSide { id, servers: None };
            match decide_access(&owner, &person, &allowed, false) {
                Access::Granted { .. } => admitted += 1,
                Access::Denied(_) => {}
                Access::Unknown { missing } => panic!("{id}: unknown, missing {missing:?}"),
            }
        }
        assert_eq!(admitted, 30_000, "every even id from 100000 is shared with, no odd one");
    }

    /// D22: membership of allowed servers, row by row.
    #[test]
    fn membership_table() {
        let owner_servers = owner_servers();
        let none = shares(&[]);
        let mine_shared_by_other = [entry("shared", false, Some(OTHER))];
        let mine_shared_by_someone_else = [entry("shared", false, Some(99))];
        let mine_claimed_own = [entry("own", true, None)];
        let mine_claimed_shared = [entry("shared", true, None)];
        let mine_own_listed_shared = [entry("own", false, Some(OWNER))];
        let allowed = servers(&["own", "shared"]);
        let share_own = shares(&[("own", ME)]);
        // (case, shares, person's servers, person id, expected servers or None for a refusal)
        type Row<'a> = (&'a str, &'a ShareList, Option<&'a [ServerEntry]>, u64, Option<Vec<&'a str>>);
        let rows: Vec<Row> = vec![
            ("shared by the owner, accepted", &share_own, Some(&[]), ME, Some(vec!["own"])),
            ("accepted share counts without the person's devices", &share_own, None, ME, Some(vec!["own"])),
            ("the person lists the owner's server, no share", &none, Some(&mine_own_listed_shared), ME, None),
            ("claimed: an own server with the owner's server's id", &none, Some(&mine_claimed_own), ME, None),
            ("shared with the owner: same real owner", &none, Some(&mine_shared_by_other), ME, Some(vec!["shared"])),
            ("shared with the owner: another owner id", &none, Some(&mine_shared_by_someone_else), ME, None),
            ("shared with the owner: claimed", &none, Some(&mine_claimed_shared), ME, None),
            (
                "shared with the owner: its real owner signs in",
                &none,
                Some(&mine_claimed_shared),
                OTHER,
                Some(vec!["shared"]),
            ),
            ("nothing at all", &none, Some(&[]), ME, None),
        ];
        for (case, shares, mine, id, expected) in rows {
            let owner = known(&owner_servers, shares, &[]);
            let person = PersonSide { id, servers: mine };
            let access = decide_access(&owner, &person, &allowed, true);
            match expected {
                Some(list) => assert_eq!(granted(&access).map(|r| r.servers.clone()), Some(servers(&list)), "{case}"),
                None => assert!(matches!(access, Access::Denied(_)), "{case}: {access:?}"),
            }
        }
    }

    #[test]
    fn a_claimed_server_is_named_in_the_refusal() {
        let owner_servers = owner_servers();
        let none = shares(&[]);
        let claimed = [entry("own", true, None)];
        let access = decide_access(
            &known(&owner_servers, &none, &[]),
            &PersonSide { id: ME, servers: Some(&claimed) },
            &servers(&["own"]),
            true,
        );
        assert_eq!(access, Access::Denied(Some(DenyHint::ClaimedServer)));
        let access = decide_access(
            &known(&owner_servers, &none, &[]),
            &PersonSide { id: ME, servers: Some(&[]) },
            &servers(&["own"]),
            true,
        );
        assert_eq!(access, Access::Denied(None));
    }

    #[test]
    fn servers_the_owner_cannot_reach_prove_nothing() {
        let owner_servers = owner_servers();
        let none = shares(&[]);
        let mine = [entry("elsewhere", false, Some(OTHER)), entry("mine", true, None)];
        let access = decide_access(
            &known(&owner_servers, &none, &[]),
            &PersonSide { id: ME, servers: Some(&mine) },
            &servers(&["elsewhere", "mine"]),
            true,
        );
        assert!(matches!(access, Access::Denied(_)), "{access:?}");
    }

    #[test]
    fn empty_allowed_servers_grant_nothing() {
        let owner_servers = owner_servers();
        let share_own = shares(&[("own", ME)]);
        let owner = known(&owner_servers, &share_own, &[]);
        let person = PersonSide { id: ME, servers: Some(&[]) };
        assert_eq!(decide_access(&owner, &person, &[], true), Access::Denied(None));
        assert!(granted(&decide_access(&owner, &person, &servers(&["own"]), true)).is_some());
    }

    #[test]
    fn the_owner_always_gets_in() {
        let owner = OwnerSide { id: Some(OWNER), ..Default::default() };
        let access = decide_access(&owner, &PersonSide { id: OWNER, servers: None }, &[], true);
        assert!(granted(&access).is_some_and(|r| r.owner), "{access:?}");
        // The owner owns their servers.
        let owner_servers = owner_servers();
        let owner = OwnerSide { id: Some(OWNER), servers: Some(&owner_servers), ..Default::default() };
        let access = decide_access(&owner, &PersonSide { id: OWNER, servers: None }, &servers(&["own"]), false);
        assert_eq!(granted(&access).map(|r| r.servers.clone()), Some(servers(&["own"])));
    }

    #[test]
    fn friends_only_when_allowed_and_accepted() {
        let owner_servers = owner_servers();
        let none = shares(&[]);
        let friends = [ME];
        let owner = known(&owner_servers, &none, &friends);
        let person = PersonSide { id: ME, servers: Some(&[]) };
        assert!(granted(&decide_access(&owner, &person, &[], true)).is_some_and(|r| r.friend));
        assert_eq!(decide_access(&owner, &person, &[], false), Access::Denied(None));
        // Not in the accepted list (a pending request is never in it): refused.
        let owner = known(&owner_servers, &none, &[]);
        assert_eq!(decide_access(&owner, &person, &[], true), Access::Denied(None));
    }

    /// D19: a missing fact is never a refusal; it decides only when it is not needed.
    #[test]
    fn missing_facts_are_unknown_not_refusals() {
        let owner_servers = owner_servers();
        let share_own = shares(&[("own", ME)]);
        let none = shares(&[]);
        let me = PersonSide { id: ME, servers: Some(&[]) };
        let allowed = servers(&["own"]);
        // Friends unknown: a member still gets in; anyone else is unknown (with friends allowed).
        let owner = OwnerSide { friends: None, ..known(&owner_servers, &share_own, &[]) };
        let access = decide_access(&owner, &me, &allowed, true);
        assert!(matches!(&access, Access::Granted { unknown, .. } if unknown == &[Fact::Friends]), "{access:?}");
        let owner = OwnerSide { friends: None, ..known(&owner_servers, &none, &[]) };
        assert_eq!(decide_access(&owner, &me, &allowed, true), Access::Unknown { missing: vec![Fact::Friends] });
        assert_eq!(
            decide_access(&owner, &me, &allowed, false),
            Access::Denied(None),
            "friends not allowed: not needed"
        );
        // Shares unknown.
        let owner = OwnerSide { shares: None, ..known(&owner_servers, &none, &[]) };
        assert_eq!(decide_access(&owner, &me, &allowed, true), Access::Unknown { missing: vec![Fact::Shares] });
        assert_eq!(decide_access(&owner, &me, &[], true), Access::Denied(None), "no server allowed: not needed");
        // Shares answered by the XML list for another server only.
        let partial = ShareList { accepted: Default::default(), covers: Some(vec!["other".into()]) };
        let owner = known(&owner_servers, &partial, &[]);
        assert_eq!(decide_access(&owner, &me, &allowed, true), Access::Unknown { missing: vec![Fact::Shares] });
        // The owner's servers unknown.
        let owner = OwnerSide { servers: None, ..known(&owner_servers, &none, &[]) };
        assert_eq!(decide_access(&owner, &me, &allowed, true), Access::Unknown { missing: vec![Fact::OwnerServers] });
        // The owner's identity unknown: nobody is refused, a member still gets in.
        let owner = OwnerSide { id: None, ..known(&owner_servers, &none, &[]) };
        assert_eq!(decide_access(&owner, &me, &[], true), Access::Unknown { missing: vec![Fact::OwnerIdentity] });
        let owner = OwnerSide { id: None, ..known(&owner_servers, &share_own, &[]) };
        assert!(granted(&decide_access(&owner, &me, &allowed, true)).is_some());
        // The person's servers unknown: needed only for servers shared with the owner.
        let nobody = PersonSide { id: ME, servers: None };
        let owner = known(&owner_servers, &none, &[]);
        assert_eq!(decide_access(&owner, &nobody, &allowed, true), Access::Denied(None));
        assert_eq!(
            decide_access(&owner, &nobody, &servers(&["shared"]), true),
            Access::Unknown { missing: vec![Fact::PersonServers] }
        );
    }

    /// Managed Home users are the Home relationship: it does not admit to the source by itself,
    /// and a missing Home list never refuses.
    #[test]
    fn home_is_a_relationship_not_an_admission() {
        let owner_servers = owner_servers();
        let share_own = shares(&[("own", ME)]);
        let none = shares(&[]);
        let home = [ME];
        let me = PersonSide { id: ME, servers: Some(&[]) };
        let owner = OwnerSide { home: Some(&home), ..known(&owner_servers, &none, &[]) };
        assert_eq!(decide_access(&owner, &me, &servers(&["own"]), true), Access::Denied(None));
        let owner = OwnerSide { home: Some(&home), ..known(&owner_servers, &share_own, &[]) };
        let access = decide_access(&owner, &me, &servers(&["own"]), true);
        assert!(granted(&access).is_some_and(|r| r.home && !r.friend), "{access:?}");
        let owner = OwnerSide { home: None, ..known(&owner_servers, &share_own, &[]) };
        let access = decide_access(&owner, &me, &servers(&["own"]), true);
        assert!(
            matches!(&access, Access::Granted { relationship, unknown } if !relationship.home && unknown == &[Fact::Home])
        );
    }

    #[test]
    fn a_connection_made_through_the_api_has_no_relationship_yet() {
        assert_eq!(serde_json::from_str::<Relationship>("{}").unwrap(), Relationship::default());
    }

    #[test]
    fn unknown_parts_keep_what_was_found_before() {
        let before = Relationship { owner: false, home: true, friend: true, servers: servers(&["a"]) };
        let now = Relationship { owner: false, home: false, friend: false, servers: servers(&["b"]) };
        assert_eq!(now.clone().keeping(&before, &[]), now);
        let kept = now.keeping(&before, &[Fact::Home, Fact::Friends, Fact::Shares]);
        assert_eq!(kept, Relationship { owner: false, home: true, friend: true, servers: servers(&["b", "a"]) });
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
            DenyReason::ServerClaimed,
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
