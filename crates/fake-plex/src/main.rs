//! `fake-plex`: the stand-in for plex.tv, on its own, with the demo accounts.
//!
//! `fake-plex [--listen 127.0.0.1:9100] [--latency-ms N]` — point plexid at it with
//! `PLEXID_PLEX_API_URL` and `PLEXID_PLEX_APP_URL` set to the address it prints.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:9100".to_owned();
    let mut latency_ms: u64 = 0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_default(),
            "--latency-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(ms) => latency_ms = ms,
                None => {
                    eprintln!("fake-plex: --latency-ms needs a number of milliseconds");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "-h" | "--help" => {
                println!(
                    "usage: fake-plex [--listen ADDRESS (127.0.0.1:9100)] [--latency-ms N (added to every API answer)]"
                );
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
    fake.set_latency(std::time::Duration::from_millis(latency_ms));
    println!("fake plex.tv at {}", fake.url());
    for (account, role) in fake.load_demo() {
        println!("  {:<14} token {:<20} {role}", account.username, account.token);
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
