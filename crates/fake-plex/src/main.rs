//! `fake-plex`: the stand-in for plex.tv, on its own, with the demo accounts.
//!
//! `fake-plex [--listen 127.0.0.1:9100]` — point plexid at it with
//! `PLEXID_PLEX_API_URL` and `PLEXID_PLEX_APP_URL` set to the address it prints.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:9100".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_default(),
            "-h" | "--help" => {
                println!("usage: fake-plex [--listen ADDRESS]   (default 127.0.0.1:9100)");
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                eprintln!("fake-plex: unknown argument {other:?} (try --help)");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let Ok(address) = listen.parse::<SocketAddr>() else {
        eprintln!("fake-plex: {listen:?} is not an address like 127.0.0.1:9100");
        return std::process::ExitCode::FAILURE;
    };
    let fake = match fake_plex::FakePlex::start_on(address).await {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!("fake-plex: cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("fake plex.tv at {}", fake.url());
    for (account, role) in fake.load_demo() {
        println!("  {:<14} token {:<20} {role}", account.username, account.token);
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
