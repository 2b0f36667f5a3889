//! `plexid demo`: the whole sign-in on one machine. It starts `fake-plex` (a local stand-in for
//! plex.tv) with demo accounts, points plexid at it, creates a Plex source for the demo server
//! (through the service layer, as an admin would through the API) and serves.

use std::net::SocketAddr;

use fake_plex::{FakePlex, DEMO_SERVER_ID};
use plexid_core::model::SourceChanges;
use plexid_core::FieldErrors;

use crate::config::Settings;
use crate::service::{sources, Actor, ServiceError};
use crate::{shutdown_signal, Server};

/// The demo source's slug.
pub const SOURCE: &str = "plex";

/// Runs the demo until Ctrl-C. `settings` are `plexid serve`'s; the Plex URLs are replaced by
/// the stand-in's.
pub async fn run(mut settings: Settings, plex_listen: SocketAddr) -> Result<(), String> {
    let app_listen = std::net::SocketAddr::new(plex_listen.ip(), 0);
    let fake = FakePlex::start_on(plex_listen, app_listen)
        .await
        .map_err(|e| format!("cannot start fake-plex on {plex_listen}: {e}"))?;
    let accounts = fake.load_demo();
    settings.plex_api_url = fake.url();
    settings.plex_clients_url = None;
    settings.plex_community_url = None;
    settings.plex_app_url = fake.app_url();
    let token = settings.bootstrap_token.get_or_insert_with(crate::crypto::generate_key).clone();
    let server = Server::bind(settings).await.map_err(|e| e.to_string())?;
    let owner_token = accounts.iter().find(|(a, _)| a.username == "demo-owner").map(|(a, _)| a.token.clone());
    ensure_source(&server, owner_token).await.map_err(|e| format!("creating the demo source: {e}"))?;
    let url = format!("http://{}", server.address);
    crate::announce(&format!("plexid demo: open {url}/ and click \"Sign in with Plex (demo)\"."));
    crate::announce(&format!(
        "A stand-in for plex.tv runs at {}; its sign-in window lets you choose who you are:",
        fake.url()
    ));
    for (account, role) in &accounts {
        let name = if account.username.is_empty() { &account.title } else { &account.username };
        crate::announce(&format!("  {name:<15} {role}"));
    }
    crate::announce(&format!(
        "Admin pages: {url}/if/admin/ (sign in with Plex as demo-owner, who is made an administrator at the first \
         sign-in, or with the API token below); the audit log is at {url}/if/admin/events/."
    ));
    crate::announce(&format!("Admin API: curl -H 'Authorization: Bearer {token}' {url}/api/v3/sources/plex/"));
    crate::announce("Stop with Ctrl-C.");
    server.run(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn ensure_source(server: &Server, owner_token: Option<String>) -> Result<(), ServiceError> {
    let state = &server.state;
    match sources::get(state, &Actor::System, SOURCE).await {
        Ok(_) => return Ok(()),
        Err(ServiceError::NotFound) => {}
        Err(error) => return Err(error),
    }
    let flow = |slug: &'static str| async move { state.store.read().flow_by_slug(slug).await.map(|f| f.map(|f| f.id)) };
    let changes = SourceChanges {
        name: Some("Plex (demo)".into()),
        slug: Some(SOURCE.into()),
        allowed_servers: Some(vec![DEMO_SERVER_ID.into()]),
        allow_friends: Some(true),
        plex_token: owner_token,
        authentication_flow: Some(flow("default-source-authentication").await?),
        enrollment_flow: Some(flow("default-source-enrollment").await?),
        ..Default::default()
    };
    // As the first source's form offers: the demo server's owner becomes an administrator.
    let extras = sources::Extras {
        server_names: vec![(DEMO_SERVER_ID.into(), "Demo Server".into())],
        owner_becomes_admin: true,
    };
    sources::create_with(state, &Actor::System, changes, FieldErrors::default(), extras).await.map(drop)
}
