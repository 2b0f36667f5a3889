//! The plex.tv client against `fake-plex` in its harsh settings: answers, failures told apart,
//! retries, friends from GraphQL with `/api/v2/friends` gone, shares with their XML fallback, the
//! owner cache fact by fact, concurrency, and no token in any URL.

use std::time::{Duration, Instant};

use fake_plex::{Account, FakePlex, Fault, Resource as FakeResource, Server};
use plexid_plex::{OwnerQuery, PlexClient, PlexConfig, PlexError};

const CLIENT: &str = "test-client";

async fn setup() -> (FakePlex, PlexClient) {
    let fake = FakePlex::start().await.unwrap();
    fake.add_account(Account::new(1, "owner"));
    fake.add_account(Account::new(2, "member"));
    fake.add_account(Account::new(3, "friend"));
    fake.add_server(Server::new("Home", "srv", 1));
    fake.share_server("srv", 2);
    fake.add_friend(1, 3);
    fake.add_resource(
        2,
        FakeResource { name: "Phone".into(), client_identifier: "phone".into(), provides: "client,player".into() },
    );
    let config = PlexConfig {
        api_url: fake.url(),
        clients_url: fake.url(),
        community_url: fake.url(),
        request_timeout: Duration::from_millis(400),
        max_retry_wait: Duration::from_secs(1),
        ..PlexConfig::default()
    };
    (fake.clone(), PlexClient::new(config).unwrap())
}

fn token(fake: &FakePlex, id: u64) -> String {
    fake.token_of(id).unwrap()
}

#[tokio::test]
async fn reads_users_resources_and_friends() {
    let (fake, plex) = setup().await;
    let member = plex.user(CLIENT, &token(&fake, 2)).await.unwrap();
    assert_eq!((member.id, member.username.as_str()), (2, "member"));
    assert_eq!(member.raw["email"], "member@example.test");
    let resources = plex.resources(CLIENT, &token(&fake, 2)).await.unwrap();
    let servers: Vec<_> = resources.iter().filter(|r| r.is_server()).map(|r| r.client_identifier.as_str()).collect();
    assert_eq!(servers, ["srv"], "the phone is not a server");
    assert!(!resources.iter().find(|r| r.client_identifier == "srv").unwrap().owned);
    assert_eq!(plex.friends(CLIENT, &token(&fake, 1)).await.unwrap(), [3]);
    assert_eq!(plex.accepted_shares(CLIENT, &token(&fake, 1)).await.unwrap(), [("srv".to_owned(), 2)]);
    // Headers as plex.tv wants them; the token only in X-Plex-Token.
    for call in fake.calls() {
        assert_eq!(call.header("accept"), Some("application/json"));
        assert_eq!(call.header("x-plex-client-identifier"), Some(CLIENT));
        assert_eq!(call.header("x-plex-product"), Some("plexid"));
        assert!(call.header("x-plex-token").is_some());
        assert!(!call.query.to_lowercase().contains("token"), "{call:?}");
    }
}

#[tokio::test]
async fn a_rejected_token_is_not_an_outage() {
    let (fake, plex) = setup().await;
    assert_eq!(plex.user(CLIENT, "bogus").await, Err(PlexError::Unauthorized));
    assert_eq!(fake.calls().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (fake, plex) = setup().await;
    fake.fault_times("/api/v2/user", Fault::Status(500), 1);
    assert!(plex.user(CLIENT, &token(&fake, 2)).await.is_ok(), "one 500 is retried");
    fake.fault("/api/v2/user", Fault::Status(502));
    fake.clear_calls();
    assert!(matches!(plex.user(CLIENT, &token(&fake, 2)).await, Err(PlexError::Unavailable(_))));
    assert_eq!(fake.calls().len(), 3, "first attempt and two retries");
}

#[tokio::test]
async fn rate_limits_are_honoured_or_reported() {
    let (fake, plex) = setup().await;
    fake.fault_times("/api/v2/user", Fault::RateLimited { retry_after_secs: Some(1) }, 1);
    let started = Instant::now();
    assert!(plex.user(CLIENT, &token(&fake, 2)).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(900), "waited as Retry-After said");
    fake.fault("/api/v2/user", Fault::RateLimited { retry_after_secs: Some(120) });
    let error = plex.user(CLIENT, &token(&fake, 2)).await.unwrap_err();
    assert_eq!(error, PlexError::RateLimited { retry_after: Some(Duration::from_secs(120)) });
    // Without Retry-After (as plex.tv answers): retried with the backoff, then reported.
    fake.clear_faults();
    fake.fault("/api/v2/user", Fault::RateLimited { retry_after_secs: None });
    fake.clear_calls();
    assert_eq!(plex.user(CLIENT, &token(&fake, 2)).await, Err(PlexError::RateLimited { retry_after: None }));
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn timeouts_and_garbage_are_outages() {
    let (fake, plex) = setup().await;
    fake.fault("/api/v2/resources", Fault::Timeout);
    let started = Instant::now();
    assert!(matches!(plex.resources(CLIENT, &token(&fake, 2)).await, Err(PlexError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(3), "bounded by the timeouts: {:?}", started.elapsed());
    fake.clear_faults();
    fake.fault("/api/v2/user", Fault::Malformed);
    let error = plex.user(CLIENT, &token(&fake, 2)).await.unwrap_err();
    assert!(matches!(&error, PlexError::Unavailable(m) if !m.contains(&token(&fake, 2))), "{error:?}");
}

fn query(servers: &[String], fresh: bool) -> OwnerQuery<'_> {
    OwnerQuery { servers, friends: true, fresh }
}

#[tokio::test]
async fn owner_facts_are_cached_one_by_one() {
    let (fake, plex) = setup().await;
    let owner = token(&fake, 1);
    let servers = vec!["srv".to_owned()];
    let facts = plex.owner(CLIENT, &owner, query(&servers, false)).await;
    assert_eq!(facts.identity.unwrap().id, 1);
    assert_eq!(facts.friends.unwrap().unwrap(), [3], "from GraphQL, /api/v2/friends being gone");
    assert_eq!(Vec::from_iter(facts.shares.unwrap().unwrap().accepted.iter().cloned()), [("srv".to_owned(), 2)]);
    assert_eq!(facts.servers.unwrap().iter().map(|s| s.client_identifier.as_str()).collect::<Vec<_>>(), ["srv"]);
    assert_eq!(facts.home.unwrap(), Vec::<u64>::new(), "an account without a Home (404) has none");
    fake.clear_calls();
    plex.owner(CLIENT, &owner, query(&servers, false)).await;
    assert!(fake.calls().is_empty(), "served from the cache");
    plex.owner(CLIENT, &owner, query(&servers, true)).await;
    assert_eq!(fake.calls().len(), 5, "fresh asks again: identity, servers, shares, friends, Plex Home");
    // A failing Plex Home call is kept apart (and briefly cached); the other facts stay cached.
    plex.forget_owner(CLIENT, &owner);
    fake.fault("/api/v2/home/users", Fault::Status(500));
    let facts = plex.owner(CLIENT, &owner, query(&servers, false)).await;
    assert!(facts.home.is_err() && facts.identity.is_ok() && facts.friends.unwrap().is_ok());
    fake.clear_calls();
    let facts = plex.owner(CLIENT, &owner, query(&servers, false)).await;
    assert!(facts.home.is_err(), "the failure is reused for a while");
    assert!(fake.calls().is_empty(), "nothing asked again: {:?}", fake.calls());
}

#[tokio::test]
async fn friends_fall_back_and_gone_is_its_own_state() {
    let (fake, plex) = setup().await;
    let owner = token(&fake, 1);
    fake.add_account(Account::new(4, "requester"));
    fake.add_friend_request(4, 1);
    fake.add_account(Account::managed(5, "Kid"));
    fake.add_home_member(1, 5);
    // GraphQL fails, /api/v2/friends is gone: a state of its own, not an outage.
    fake.fault_exact(fake_plex::GRAPHQL_PATH, Fault::Status(500));
    let error = plex.friends(CLIENT, &owner).await.unwrap_err();
    assert!(matches!(&error, PlexError::Gone(m) if m.contains("/api/v2/friends")), "{error:?}");
    // The old JSON while it answers: accepted friends only, never a request or a managed user.
    fake.set_friends_gone(false);
    assert_eq!(plex.friends(CLIENT, &owner).await.unwrap(), [3]);
    let asked = fake.calls().into_iter().rev().find(|c| c.path == "/api/v2/friends").unwrap();
    assert_eq!(asked.query, "status=accepted");
    // Plex Home: the admin and the managed user, in the object or the bare array.
    fake.clear_faults();
    assert_eq!(plex.home_users(CLIENT, &owner).await.unwrap(), [1, 5]);
    fake.set_home_as_array(true);
    assert_eq!(plex.home_users(CLIENT, &owner).await.unwrap(), [1, 5]);
}

#[tokio::test]
async fn shares_fall_back_to_the_xml_list_without_pending_invitations() {
    let (fake, plex) = setup().await;
    let owner = token(&fake, 1);
    fake.add_account(Account::new(4, "invited"));
    fake.invite_to_server("srv", 4);
    assert_eq!(plex.accepted_shares(CLIENT, &owner).await.unwrap(), [("srv".to_owned(), 2)], "pending: not listed");
    assert_eq!(plex.server_shares(CLIENT, &owner, "srv").await.unwrap(), [2], "acceptedAt=0: not accepted");
    fake.fault("/api/v2/shared_servers", Fault::Status(503));
    let servers = vec!["srv".to_owned(), "elsewhere".to_owned()];
    let facts = plex.owner(CLIENT, &owner, query(&servers, true)).await;
    let shares = facts.shares.unwrap().unwrap();
    assert_eq!(Vec::from_iter(shares.accepted.iter().cloned()), [("srv".to_owned(), 2)]);
    assert_eq!(shares.covers, Some(vec!["srv".to_owned()]), "only the servers the XML list answered for");
}

#[tokio::test]
async fn one_sign_in_costs_one_round_trip() {
    let (fake, plex) = setup().await;
    fake.set_latency(Duration::from_millis(100));
    let servers = vec!["srv".to_owned()];
    let started = Instant::now();
    let owner = token(&fake, 1);
    let facts = plex.login_facts(CLIENT, &token(&fake, 2), Some((&owner, query(&servers, false)))).await;
    let elapsed = started.elapsed();
    assert!(facts.user.is_ok() && facts.resources.is_ok());
    assert!(facts.owner.unwrap().shares.unwrap().is_ok());
    assert!(elapsed < Duration::from_millis(280), "the calls ran together: {elapsed:?}");
}
