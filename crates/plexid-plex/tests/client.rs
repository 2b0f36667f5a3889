//! The plex.tv client against `fake-plex`: answers, failures told apart, retries, the owner
//! cache, concurrency, and no token in any URL.

use std::time::{Duration, Instant};

use fake_plex::{Account, FakePlex, Fault, Resource as FakeResource, Server};
use plexid_plex::{PlexClient, PlexConfig, PlexError};

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
    let friends = plex.friends(CLIENT, &token(&fake, 1)).await.unwrap();
    assert_eq!(friends.iter().map(|f| f.id).collect::<Vec<_>>(), [3]);
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
    fake.fault_times("/api/v2/user", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    assert!(plex.user(CLIENT, &token(&fake, 2)).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(900), "waited as Retry-After said");
    fake.fault("/api/v2/user", Fault::RateLimited { retry_after_secs: 120 });
    let error = plex.user(CLIENT, &token(&fake, 2)).await.unwrap_err();
    assert_eq!(error, PlexError::RateLimited { retry_after: Some(Duration::from_secs(120)) });
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

#[tokio::test]
async fn the_owner_is_cached_and_a_failed_friends_list_is_kept_apart() {
    let (fake, plex) = setup().await;
    let owner = token(&fake, 1);
    let facts = plex.owner(CLIENT, &owner, false).await.unwrap();
    assert_eq!((facts.user.id, facts.friends.clone().unwrap()), (1, vec![3]));
    fake.clear_calls();
    plex.owner(CLIENT, &owner, false).await.unwrap();
    assert!(fake.calls().is_empty(), "served from the cache");
    plex.owner(CLIENT, &owner, true).await.unwrap();
    assert_eq!(fake.calls().len(), 3, "fresh asks again: identity, friends, Plex Home");
    plex.forget_owner(CLIENT, &owner);
    fake.fault("/api/v2/friends", Fault::Status(500));
    let facts = plex.owner(CLIENT, &owner, false).await.unwrap();
    assert!(facts.friends.is_err(), "the identity is fine, the friends list failed");
}

#[tokio::test]
async fn one_sign_in_costs_one_round_trip() {
    let (fake, plex) = setup().await;
    fake.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    let facts = plex.login_facts(CLIENT, &token(&fake, 2), Some(&token(&fake, 1))).await;
    let elapsed = started.elapsed();
    assert!(facts.user.is_ok() && facts.resources.is_ok());
    assert!(facts.owner.unwrap().is_ok());
    assert!(elapsed < Duration::from_millis(280), "the four calls ran together: {elapsed:?}");
}
