//! Issue 18's last check: one table of sign-in scenarios, run through the real plexid login
//! against two plex.tv stand-ins — `fake-plex` and `compat/plex_standin` (Python, written only
//! from the public descriptions of plex.tv in `plex-tv-wire.md`, sharing no code with plexid) —
//! on the same database engine. Every scenario's outcome (HTTP status, error code,
//! `Retry-After`, where the browser goes next, whether anything was written, the relationship
//! stored on the connection) must be the same against both stand-ins and equal the outcome the
//! table expects. The stand-in serves plex.tv, clients.plex.tv and community.plex.tv on three
//! ports, so the hosts plexid asks are checked too; faults on it can be limited to one account's
//! calls (the person's or the owner's).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use fake_plex::{Account, FakePlex, Fault, Resource, Server, GRAPHQL_PATH};
use plexid_core::login::Relationship;
use plexid_server::config::Settings;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Backend, TestApp};
use crate::login::{Cookies, FRIEND, MEMBER, OWNER, SERVER_ID, STRANGER};
use crate::plex_tv::{CLAIMER, INVITED, KID, REQUESTER};
use crate::process::Group;

/// A full account in the owner's Plex Home the owner shares nothing with.
const HOUSEMATE: u64 = 1014;
/// A full account in the owner's Plex Home with an accepted share of the allowed server.
const HOUSEMATE_MEMBER: u64 = 1015;
/// A member whose share the owner removes before the sweep.
const LEAVER: u64 = 1016;
/// A member of `OTHER_SERVER`, a server someone else (the stranger) shares with the owner.
const OTHER_MEMBER: u64 = 1017;
/// Someone who registered a server of their own under `OTHER_SERVER`'s identifier.
const MIMIC: u64 = 1018;
/// A managed user in the owner's Plex Home the owner shares nothing with.
const TEEN: u64 = 1019;
/// The stranger's server, shared with the owner and with `OTHER_MEMBER`.
const OTHER_SERVER: &str = "srv-other";

/// The world both stand-ins are given: (Plex id, username or a managed user's title, managed).
const PERSONAS: [(u64, &str, bool); 14] = [
    (OWNER, "owner", false),
    (MEMBER, "member", false),
    (FRIEND, "friend", false),
    (STRANGER, "stranger", false),
    (INVITED, "invited", false),
    (REQUESTER, "requester", false),
    (CLAIMER, "claimer", false),
    (KID, "Kid", true),
    (HOUSEMATE, "housemate", false),
    (HOUSEMATE_MEMBER, "housemember", false),
    (LEAVER, "leaver", false),
    (OTHER_MEMBER, "othermember", false),
    (MIMIC, "mimic", false),
    (TEEN, "Teen", true),
];
/// Accepted shares of the allowed server (the owner's).
const ACCEPTED: [u64; 4] = [MEMBER, KID, HOUSEMATE_MEMBER, LEAVER];
/// Accepted shares of the stranger's server.
const OTHER_ACCEPTED: [u64; 2] = [OWNER, OTHER_MEMBER];
/// Invitations to it not accepted yet.
const PENDING: [u64; 1] = [INVITED];
/// The owner's Plex Home.
const HOME: [u64; 4] = [KID, TEEN, HOUSEMATE, HOUSEMATE_MEMBER];

/// A plex.tv call made to fail, and whose call it is.
#[derive(Clone, Copy, Debug)]
enum Call {
    /// `/api/v2/user` with the person's token.
    PersonUser,
    /// `/api/v2/resources` with the person's token.
    PersonResources,
    /// `/api/v2/user` with the owner's token.
    OwnerUser,
    /// `/api/v2/resources` with the owner's token.
    OwnerResources,
    /// The owner's accepted shares (`clients.plex.tv`) and the older XML list of the server.
    OwnerShares,
    /// The owner's accepted shares (`clients.plex.tv`) only: the XML list answers.
    OwnerSharesJson,
    /// The owner's friends: community GraphQL (`/api/v2/friends` answers 410 anyway).
    OwnerFriends,
}

/// How it fails.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Status500,
    Hang,
    Garbage,
    RateLimited(Option<u64>),
}

#[derive(Clone, Copy, Debug)]
enum How {
    /// `POST redeem_token` with the person's token.
    Redeem,
    /// The PIN flow as the login page runs it: create, approve in "the Plex window", poll, redeem.
    Pin,
    /// Polling a PIN plex.tv never made.
    UnknownPin,
    /// `POST redeem_token` with a token plex.tv does not know.
    InvalidToken,
}

struct Scenario {
    name: String,
    /// The source signed in through: "plex" (the owner's server allowed, friends allowed) or
    /// "shared" (the stranger's server shared with the owner allowed, friends not).
    slug: &'static str,
    who: u64,
    how: How,
    fault: Option<(Call, Mode)>,
    /// Whether `/api/v2/friends` answers (its old JSON) instead of 410.
    friends_v2: bool,
    expect: Outcome,
}

/// What a sign-in came to, as far as the person and the database are concerned.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    status: u16,
    code: Option<String>,
    retry_after: Option<String>,
    /// Where the browser goes next: "user" (signed in), "enrollment" (asked for a username).
    next: Option<&'static str>,
    /// Whether users, connections or sessions changed.
    wrote: bool,
    /// The relationship stored on the connection after a successful sign-in.
    relationship: Option<Relationship>,
}

fn relationship(owner: bool, home: bool, friend: bool, servers: &[&str]) -> Relationship {
    Relationship { owner, home, friend, servers: servers.iter().map(|s| (*s).to_owned()).collect() }
}

/// A member of the allowed server and nothing else.
fn member() -> Relationship {
    relationship(false, false, false, &[SERVER_ID])
}

fn admitted(relationship: Relationship) -> Outcome {
    Outcome {
        status: 200,
        code: None,
        retry_after: None,
        next: Some("user"),
        wrote: true,
        relationship: Some(relationship),
    }
}

fn enrolls() -> Outcome {
    Outcome { status: 200, code: None, retry_after: None, next: Some("enrollment"), wrote: false, relationship: None }
}

fn refused(code: &str) -> Outcome {
    Outcome { status: 403, code: Some(code.into()), retry_after: None, next: None, wrote: false, relationship: None }
}

fn failed(mode: Mode) -> Outcome {
    let (status, code, retry_after) = match mode {
        Mode::RateLimited(after) => (503, "plex_rate_limited", Some(after.unwrap_or(30).to_string())),
        _ => (502, "plex_unavailable", None),
    };
    Outcome { status, code: Some(code.into()), retry_after, next: None, wrote: false, relationship: None }
}

/// The table. Managed Home users are the `home` relationship (never `friend`); Home alone does
/// not admit to a source (owner, friends, members of allowed servers), a share does.
fn scenarios() -> Vec<Scenario> {
    let plain = |name: &str, slug: &'static str, who: u64, how: How, expect: Outcome| Scenario {
        name: name.into(),
        slug,
        who,
        how,
        fault: None,
        friends_v2: false,
        expect,
    };
    let redeem = |name: &str, who: u64, expect: Outcome| plain(name, "plex", who, How::Redeem, expect);
    let friend = relationship(false, false, true, &[]);
    let mut table = vec![
        redeem("owner", OWNER, admitted(relationship(true, true, false, &[SERVER_ID]))),
        redeem("member by the owner's accepted share", MEMBER, admitted(member())),
        plain("member through the PIN flow", "plex", MEMBER, How::Pin, admitted(member())),
        Scenario {
            expect: Outcome { status: 404, code: Some("1020".into()), ..refused("") },
            ..plain("an unknown PIN is 404", "plex", MEMBER, How::UnknownPin, refused(""))
        },
        plain("a token plex.tv rejects (401)", "plex", STRANGER, How::InvalidToken, refused("plex_token_invalid")),
        redeem("pending share refused", INVITED, refused("not_allowed")),
        redeem("accepted friend from GraphQL, /api/v2/friends 410", FRIEND, admitted(friend.clone())),
        redeem("pending friend request refused", REQUESTER, refused("not_allowed")),
        redeem("server identifier claimed (owned: true) refused", CLAIMER, refused("server_claimed")),
        redeem("managed Home user with a share: asked for a username", KID, enrolls()),
        redeem("Home member without a share refused", HOUSEMATE, refused("not_allowed")),
        redeem("managed Home user without a share refused", TEEN, refused("not_allowed")),
        redeem("Home member with a share", HOUSEMATE_MEMBER, admitted(relationship(false, true, false, &[SERVER_ID]))),
        redeem("stranger refused", STRANGER, refused("not_allowed")),
        plain(
            "member of a server shared with the owner (its real ownerId)",
            "shared",
            OTHER_MEMBER,
            How::Redeem,
            admitted(relationship(false, false, false, &[OTHER_SERVER])),
        ),
        plain(
            "its real owner",
            "shared",
            STRANGER,
            How::Redeem,
            admitted(relationship(false, false, false, &[OTHER_SERVER])),
        ),
        plain("its identifier claimed (owned: true) refused", "shared", MIMIC, How::Redeem, refused("server_claimed")),
        plain("a member of the owner's server refused there", "shared", MEMBER, How::Redeem, refused("not_allowed")),
    ];
    // (what fails, whose sign-in, through which source)
    let calls = [
        (Call::PersonUser, MEMBER, "plex"),
        (Call::PersonResources, OTHER_MEMBER, "shared"),
        (Call::OwnerUser, STRANGER, "plex"),
        (Call::OwnerResources, OTHER_MEMBER, "shared"),
        (Call::OwnerShares, MEMBER, "plex"),
        (Call::OwnerFriends, STRANGER, "plex"),
    ];
    let modes = [Mode::Status500, Mode::Hang, Mode::Garbage, Mode::RateLimited(Some(120)), Mode::RateLimited(None)];
    for (call, who, slug) in calls {
        for mode in modes {
            table.push(Scenario {
                fault: Some((call, mode)),
                ..plain(&format!("{call:?} fails ({mode:?}) for {who}"), slug, who, How::Redeem, failed(mode))
            });
        }
    }
    // A fact that could not have admitted the person does not matter.
    for (call, who, relationship) in [
        (Call::PersonResources, STRANGER, None),
        (Call::OwnerUser, MEMBER, Some(member())),
        (Call::OwnerResources, MEMBER, Some(member())),
        (Call::OwnerFriends, MEMBER, Some(member())),
        (Call::OwnerShares, FRIEND, Some(friend.clone())),
    ] {
        let expect = relationship.map_or_else(|| refused("not_allowed"), admitted);
        let name = format!("{call:?} fails (Status500) for {who}: it could not have admitted them");
        table.push(Scenario { fault: Some((call, Mode::Status500)), ..redeem(&name, who, expect) });
    }
    // The older XML list of the server when clients.plex.tv fails: pending invitations
    // (`acceptedAt="0"`) are not members.
    for (who, expect) in
        [(MEMBER, admitted(member())), (INVITED, refused("not_allowed")), (STRANGER, refused("not_allowed"))]
    {
        let name = format!("OwnerSharesJson fails (Status500), the XML list decides for {who}");
        table.push(Scenario { fault: Some((Call::OwnerSharesJson, Mode::Status500)), ..redeem(&name, who, expect) });
    }
    // GraphQL fails while /api/v2/friends still answers: only accepted friends, no managed Home
    // user (listed there with `home: true`), count.
    for (who, expect) in [
        (FRIEND, admitted(friend.clone())),
        (REQUESTER, refused("not_allowed")),
        (TEEN, refused("not_allowed")),
        (STRANGER, refused("not_allowed")),
    ] {
        let name = format!("OwnerFriends fails (Status500), /api/v2/friends answers for {who}");
        let fault = Some((Call::OwnerFriends, Mode::Status500));
        table.push(Scenario { fault, friends_v2: true, ..redeem(&name, who, expect) });
    }
    table.push(redeem("the member who will leave", LEAVER, admitted(member())));
    table
}

/// The Python stand-in, running (its process group is killed when this is dropped).
struct Standin {
    _group: Group,
    api: String,
    clients: String,
    community: String,
    world: Value,
    config: PathBuf,
    http: reqwest::Client,
}

impl Standin {
    fn start(world: Value) -> Standin {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../compat/plex_standin/standin.py");
        let config = std::env::temp_dir().join(format!("plex-standin-{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&config, world.to_string()).unwrap();
        let mut command = Command::new("python3");
        command.arg(&script).arg("--config").arg(&config).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut group = Group::spawn(&mut command).expect("python3 starts the stand-in");
        let mut line = String::new();
        BufReader::new(group.child().stdout.take().unwrap()).read_line(&mut line).unwrap();
        let urls: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("the stand-in's first line {line:?}: {e}"));
        let url = |host: &str| urls[host].as_str().unwrap().to_owned();
        Standin {
            api: url("api"),
            clients: url("clients"),
            community: url("community"),
            _group: group,
            world,
            config,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, who: u64) -> String {
        let accounts = self.world["accounts"].as_array().unwrap();
        accounts.iter().find(|a| a["id"] == who).unwrap()["token"].as_str().unwrap().to_owned()
    }

    async fn control(&self, method: Method, path: &str, body: Value) {
        let url = format!("{}/_standin/{path}", self.api);
        let answer = self.http.request(method, url).body(body.to_string()).send().await.unwrap();
        assert!(answer.status().is_success(), "stand-in {path}: {}", answer.status());
    }

    /// Replaces the stand-in's world (the file it started from stays as it was).
    async fn set_world(&mut self, world: Value) {
        self.control(Method::PUT, "config", world.clone()).await;
        self.world = world;
    }

    fn settings(&self, settings: &mut Settings) {
        settings.plex_api_url = self.api.clone();
        settings.plex_clients_url = Some(self.clients.clone());
        settings.plex_community_url = Some(self.community.clone());
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

/// The world as the Python stand-in's JSON.
fn standin_world() -> Value {
    let accounts: Vec<Value> = PERSONAS
        .iter()
        .map(|&(id, name, managed)| {
            let token = format!("standin-{id}-{}", uuid::Uuid::new_v4().simple());
            if managed {
                json!({"id": id, "title": name, "managed": true, "token": token})
            } else {
                json!({"id": id, "username": name, "title": name, "email": format!("{name}@example.test"), "token": token})
            }
        })
        .collect();
    let shares: Vec<Value> = ACCEPTED
        .iter()
        .map(|&who| json!({"server": SERVER_ID, "with": who, "accepted": true}))
        .chain(PENDING.iter().map(|&who| json!({"server": SERVER_ID, "with": who, "accepted": false})))
        .chain(OTHER_ACCEPTED.iter().map(|&who| json!({"server": OTHER_SERVER, "with": who, "accepted": true})))
        .collect();
    json!({
        "accounts": accounts,
        "servers": [
            {"machineIdentifier": SERVER_ID, "name": "Allowed", "owner": OWNER},
            {"machineIdentifier": OTHER_SERVER, "name": "Other", "owner": STRANGER},
        ],
        "devices": [
            {"account": CLAIMER, "name": "Allowed", "clientIdentifier": SERVER_ID, "provides": "server"},
            {"account": MIMIC, "name": "Other", "clientIdentifier": OTHER_SERVER, "provides": "server"},
        ],
        "shares": shares,
        "friends": [
            {"from": OWNER, "to": FRIEND, "status": "accepted"},
            {"from": REQUESTER, "to": OWNER, "status": "pending"},
            {"from": OWNER, "to": INVITED, "status": "pending"},
        ],
        "homes": [{"admin": OWNER, "members": HOME}],
        "switches": {"friends_v2": "gone", "home_shape": "object", "no_home": "404"},
        "faults": [],
    })
}

/// The same world on `fake-plex`.
fn fake_world(plex: &FakePlex) {
    for (id, name, managed) in PERSONAS {
        plex.add_account(if managed { Account::managed(id, name) } else { Account::new(id, name) });
    }
    plex.add_server(Server::new("Allowed", SERVER_ID, OWNER));
    plex.add_server(Server::new("Other", OTHER_SERVER, STRANGER));
    for who in ACCEPTED {
        plex.share_server(SERVER_ID, who);
    }
    for who in OTHER_ACCEPTED {
        plex.share_server(OTHER_SERVER, who);
    }
    for who in PENDING {
        plex.invite_to_server(SERVER_ID, who);
    }
    plex.add_friend(OWNER, FRIEND);
    plex.add_friend_request(REQUESTER, OWNER);
    plex.add_friend_request(OWNER, INVITED);
    for who in HOME {
        plex.add_home_member(OWNER, who);
    }
    for (who, name, server) in [(CLAIMER, "Allowed", SERVER_ID), (MIMIC, "Other", OTHER_SERVER)] {
        let claimed = Resource { name: name.into(), client_identifier: server.into(), provides: "server".into() };
        plex.add_resource(who, claimed);
    }
}

/// One of the two stand-ins, and the plexid talking to it.
enum Plex<'a> {
    Fake(&'a FakePlex),
    Standin(&'a mut Standin),
}

impl Plex<'_> {
    fn name(&self) -> &'static str {
        match self {
            Plex::Fake(_) => "fake-plex",
            Plex::Standin(_) => "plex_standin",
        }
    }

    fn token(&self, who: u64) -> String {
        match self {
            Plex::Fake(plex) => plex.token_of(who).unwrap(),
            Plex::Standin(standin) => standin.token(who),
        }
    }

    fn api(&self) -> String {
        match self {
            Plex::Fake(plex) => plex.url(),
            Plex::Standin(standin) => standin.api.clone(),
        }
    }

    async fn fail(&mut self, call: Call, mode: Mode, who: u64) {
        match self {
            Plex::Fake(plex) => {
                let fault = match mode {
                    Mode::Status500 => Fault::Status(500),
                    Mode::Hang => Fault::Timeout,
                    Mode::Garbage => Fault::Malformed,
                    Mode::RateLimited(after) => Fault::RateLimited { retry_after_secs: after },
                };
                match call {
                    Call::PersonUser => plex.fault_for(who, "/api/v2/user", fault),
                    Call::PersonResources => plex.fault_for(who, "/api/v2/resources", fault),
                    Call::OwnerUser => plex.fault_for(OWNER, "/api/v2/user", fault),
                    Call::OwnerResources => plex.fault_for(OWNER, "/api/v2/resources", fault),
                    Call::OwnerShares => {
                        plex.fault("/api/v2/shared_servers/owned/accepted", fault.clone());
                        plex.fault(&format!("/api/servers/{SERVER_ID}/"), fault);
                    }
                    Call::OwnerSharesJson => plex.fault("/api/v2/shared_servers/owned/accepted", fault),
                    Call::OwnerFriends => plex.fault_exact(GRAPHQL_PATH, fault),
                }
            }
            Plex::Standin(standin) => {
                let mut fault = match mode {
                    Mode::Status500 => json!({"mode": "500"}),
                    Mode::Hang => json!({"mode": "hang", "seconds": 5}),
                    Mode::Garbage => json!({"mode": "garbage"}),
                    Mode::RateLimited(after) => json!({"mode": "429", "retry_after": after}),
                };
                let with = |mut fault: Value, extra: Value| {
                    for (key, value) in extra.as_object().unwrap() {
                        fault[key] = value.clone();
                    }
                    fault
                };
                let faults = match call {
                    Call::PersonUser => vec![with(fault, json!({"path": "/api/v2/user", "account": who}))],
                    Call::PersonResources => vec![with(fault, json!({"path": "/api/v2/resources", "account": who}))],
                    Call::OwnerUser => vec![with(fault, json!({"path": "/api/v2/user", "account": OWNER}))],
                    Call::OwnerResources => vec![with(fault, json!({"path": "/api/v2/resources", "account": OWNER}))],
                    Call::OwnerShares => vec![
                        with(
                            fault.clone(),
                            json!({"path": "/api/v2/shared_servers/owned/accepted", "host": "clients"}),
                        ),
                        with(fault, json!({"path": "/api/servers/*/shared_servers", "host": "api"})),
                    ],
                    Call::OwnerSharesJson => {
                        vec![with(fault, json!({"path": "/api/v2/shared_servers/owned/accepted", "host": "clients"}))]
                    }
                    Call::OwnerFriends => {
                        fault["host"] = json!("community");
                        vec![with(fault, json!({"path": "/api"}))]
                    }
                };
                let mut world = standin.world.clone();
                world["faults"] = json!(faults);
                standin.set_world(world).await;
            }
        }
    }

    /// Whether `/api/v2/friends` answers its old JSON (or 410, as plex.tv today).
    async fn friends_v2(&mut self, answers: bool) {
        match self {
            Plex::Fake(plex) => plex.set_friends_gone(!answers),
            Plex::Standin(standin) => {
                let mut world = standin.world.clone();
                world["switches"]["friends_v2"] = json!(if answers { "answers" } else { "gone" });
                standin.set_world(world).await;
            }
        }
    }

    async fn heal(&mut self) {
        match self {
            Plex::Fake(plex) => plex.clear_faults(),
            Plex::Standin(standin) => {
                let mut world = standin.world.clone();
                world["faults"] = json!([]);
                standin.set_world(world).await;
            }
        }
    }

    /// The owner stops sharing the allowed server with `who`.
    async fn unshare(&mut self, who: u64) {
        match self {
            Plex::Fake(plex) => plex.unshare_server(SERVER_ID, who),
            Plex::Standin(standin) => {
                let mut world = standin.world.clone();
                world["shares"].as_array_mut().unwrap().retain(|s| s["server"] != SERVER_ID || s["with"] != who);
                standin.set_world(world).await;
            }
        }
    }

    /// `who` signs out everywhere at Plex: their token stops working.
    async fn revoke_token(&mut self, who: u64) {
        match self {
            Plex::Fake(plex) => plex.revoke_token(who),
            Plex::Standin(standin) => {
                let mut world = standin.world.clone();
                let accounts = world["accounts"].as_array_mut().unwrap();
                accounts.iter_mut().find(|a| a["id"] == who).unwrap()["revoked"] = json!(true);
                standin.set_world(world).await;
            }
        }
    }

    /// `who` approves the PIN in the Plex window.
    async fn approve(&self, pin: u64, who: u64) {
        match self {
            Plex::Fake(plex) => assert!(plex.approve_pin(pin, who)),
            Plex::Standin(standin) => {
                standin.control(Method::POST, &format!("pins/{pin}/approve"), json!({"account": who})).await
            }
        }
    }
}

/// A call to plex.tv as the login page makes it (JSON, the source's client identifier).
async fn plex_call(plex: &Plex<'_>, client_id: &str, method: Method, path: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .request(method, format!("{}{path}", plex.api()))
        .header("Accept", "application/json")
        .header("X-Plex-Product", "plexid")
        .header("X-Plex-Client-Identifier", client_id)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// One scenario, from nothing cached; `client_id` is the "plex" source's (for the PIN flow).
async fn run(app: &TestApp, plex: &mut Plex<'_>, client_id: &str, scenario: &Scenario) -> Outcome {
    app.state.plex.forget_all();
    plex.friends_v2(scenario.friends_v2).await;
    if let Some((call, mode)) = scenario.fault {
        plex.fail(call, mode, scenario.who).await;
    }
    let before = app.written().await;
    let token = match scenario.how {
        How::Redeem => plex.token(scenario.who),
        How::InvalidToken => "not-a-plex-token".to_owned(),
        How::Pin => {
            let (status, pin) = plex_call(plex, client_id, Method::POST, "/api/v2/pins?strong=true").await;
            if status != 201 || !pin["authToken"].is_null() {
                return Outcome { status, code: Some(format!("PIN created: {pin}")), ..refused("") };
            }
            let id = pin["id"].as_u64().unwrap();
            let path = format!("/api/v2/pins/{id}");
            let (_, waiting) = plex_call(plex, client_id, Method::GET, &path).await;
            assert!(waiting["authToken"].is_null(), "{}: not approved yet: {waiting}", plex.name());
            plex.approve(id, scenario.who).await;
            let (_, approved) = plex_call(plex, client_id, Method::GET, &path).await;
            approved["authToken"].as_str().unwrap_or_default().to_owned()
        }
        How::UnknownPin => {
            let (status, body) = plex_call(plex, client_id, Method::GET, "/api/v2/pins/987654321").await;
            let code = body["errors"][0]["code"].as_u64().map(|c| c.to_string());
            return Outcome { status, code, retry_after: None, next: None, wrote: false, relationship: None };
        }
    };
    let answer = app.redeem_token(&mut Cookies::default(), scenario.slug, &token).await;
    plex.heal().await;
    let status = answer.status.as_u16();
    let next = answer.body["to"].as_str().map(|to| match to {
        "/if/user/" => "user",
        to if to.starts_with("/if/flow/default-source-enrollment/") => "enrollment",
        _ => "elsewhere",
    });
    let relationship = match status {
        200 => app.connection_access_of(scenario.slug, scenario.who).await.map(|a| a.relationship),
        _ => None,
    };
    Outcome {
        status,
        code: answer.body["code"].as_str().map(str::to_owned),
        retry_after: answer.headers.get("retry-after").map(|v| v.to_str().unwrap().to_owned()),
        next,
        wrote: app.written().await != before,
        relationship,
    }
}

/// The sweep after the owner stopped sharing with the leaver, the leaver and a member having
/// both revoked their own tokens at Plex: (connections checked, revoked, undecided; whether the
/// leaver is still signed in; whether their connection is marked revoked; whether the member is
/// still signed in).
type SweepOutcome = (usize, usize, usize, bool, bool, bool);

/// The table's outcomes against one stand-in, and the sweep's.
type TableOutcome = (Vec<Outcome>, SweepOutcome);

async fn sweep_after_unsharing(app: &TestApp, plex: &mut Plex<'_>) -> SweepOutcome {
    app.state.plex.forget_all();
    let mut leaver = app.sign_in_with_token("plex", &plex.token(LEAVER)).await;
    let mut member = app.sign_in_with_token("plex", &plex.token(MEMBER)).await;
    plex.unshare(LEAVER).await;
    plex.revoke_token(LEAVER).await;
    plex.revoke_token(MEMBER).await;
    app.state.plex.forget_all();
    let summary = plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    let leaver_signed_in = app.me(&mut leaver).await.is_some();
    let revoked = app.connection_access_of("plex", LEAVER).await.unwrap().revoked.is_some();
    let member_signed_in = app.me(&mut member).await.is_some();
    (summary.checked, summary.revoked, summary.unknown, leaver_signed_in, revoked, member_signed_in)
}

/// The table against one stand-in: each scenario's outcome, then the sweep's.
async fn run_table(app: &TestApp, plex: &mut Plex<'_>) -> TableOutcome {
    let owner = plex.token(OWNER);
    let source = app.plex_source_with_token("plex", &owner, json!({})).await;
    let shared = json!({"allowed_servers": [OTHER_SERVER], "allow_friends": false});
    app.plex_source_with_token("shared", &owner, shared).await;
    let client_id = source["client_id"].as_str().unwrap();
    let mut outcomes = Vec::new();
    for scenario in scenarios() {
        outcomes.push(run(app, plex, client_id, &scenario).await);
    }
    let sweep = sweep_after_unsharing(app, plex).await;
    (outcomes, sweep)
}

/// What only the stand-in can check, after the table: the hosts and headers of every call
/// plexid made (each host on its own port).
async fn standin_calls(standin: &Standin) -> Vec<String> {
    let mut differences = Vec::new();
    let calls: Vec<Value> =
        standin.http.get(format!("{}/_standin/calls", standin.api)).send().await.unwrap().json().await.unwrap();
    let mut hosts: Vec<&str> = calls.iter().map(|c| c["host"].as_str().unwrap()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    if hosts != ["api", "clients", "community"] {
        differences.push(format!("hosts asked: {hosts:?}"));
    }
    for call in &calls {
        let json = call["accept"].as_str().is_some_and(|a| a.contains("application/json"));
        let identified = call["host"] == "community" || call["client_identifier"].is_string();
        if call["token_in_url"] == true || !json || !identified {
            differences.push(format!("a call without JSON, client identifier or with a token in its URL: {call}"));
        }
    }
    differences
}

fn settings(settings: &mut Settings) {
    settings.plex_timeout = plexid_server::config::Period(jiff::SignedDuration::from_millis(250));
    // Some fifty sign-ins from one address within a minute.
    settings.login_rate_limit = 1000;
}

/// A plexid on `backend` talking to a Python stand-in started with `world`.
async fn app_with_standin(backend: Backend, world: Value) -> (TestApp, Standin) {
    let standin = Standin::start(world);
    let app = TestApp::spawn_with(backend, |s| {
        settings(s);
        standin.settings(s);
    })
    .await;
    (app, standin)
}

async fn one_table_two_stand_ins(app: &TestApp) {
    let sqlite = app.state.settings.db.database.starts_with("sqlite");
    let backend = if sqlite { Backend::Sqlite } else { Backend::Postgres };
    fake_world(&app.plex);
    let fake = run_table(app, &mut Plex::Fake(&app.plex)).await;
    let (other, mut standin) = app_with_standin(backend, standin_world()).await;
    let independent = run_table(&other, &mut Plex::Standin(&mut standin)).await;
    // The shapes the descriptions leave open, which the client must survive either way: `idRaw`
    // as a string, the Home as a bare array.
    let mut world = standin_world();
    world["switches"]["graphql_idraw"] = json!("string");
    world["switches"]["home_shape"] = json!("array");
    let (third, mut shapes) = app_with_standin(backend, world).await;
    let other_shapes = run_table(&third, &mut Plex::Standin(&mut shapes)).await;
    let runs = [("fake-plex", &fake), ("plex_standin", &independent), ("plex_standin, other shapes", &other_shapes)];
    let table = |expected: String, outcome: &dyn Fn(&TableOutcome) -> String| {
        let lines = runs.iter().map(|(name, run)| format!("\n  {name:<27} {}", outcome(run)));
        format!("\n  {:<27} {expected}{}", "expected", lines.collect::<String>())
    };
    let mut differences = Vec::new();
    for (index, scenario) in scenarios().iter().enumerate() {
        if runs.iter().any(|(_, run)| run.0[index] != scenario.expect) {
            let outcome = |run: &TableOutcome| format!("{:?}", run.0[index]);
            differences.push(format!("{}:{}", scenario.name, table(format!("{:?}", scenario.expect), &outcome)));
        }
    }
    // Connections after the table: owner, member, friend, Home member with a share, leaver
    // ("plex"); the other server's member and its owner ("shared").
    let expected_sweep: SweepOutcome = (7, 1, 0, false, true, true);
    if runs.iter().any(|(_, run)| run.1 != expected_sweep) {
        let outcome = |run: &TableOutcome| format!("{:?}", run.1);
        differences.push(format!("sweep after unsharing:{}", table(format!("{expected_sweep:?}"), &outcome)));
    }
    differences.extend(standin_calls(&standin).await);
    differences.extend(standin_calls(&shapes).await);
    assert!(
        differences.is_empty(),
        "{} differences over {} scenarios and the sweep:\n{}",
        differences.len(),
        scenarios().len(),
        differences.join("\n")
    );
}

both!(one_table_two_stand_ins, one_table_two_stand_ins, settings(super::settings));
