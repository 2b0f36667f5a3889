//! `fake-plex`: the stand-in for plex.tv, on its own, with the demo accounts.
//!
//! `fake-plex [--listen 127.0.0.1:9100] [--app-listen 127.0.0.1:9101] [--latency-ms N]` — point
//! plexid at it with `PLEXID_PLEX_API_URL` and `PLEXID_PLEX_APP_URL` set to the two addresses it
//! prints (the app page is on another origin, as app.plex.tv is).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:9100".to_owned();
    let mut app_listen: Option<String> = None;
    let mut members: u64 = 0;
    let mut scale: Option<(u64, u64)> = None;
    let mut faults: Vec<(String, u16)> = Vec::new();
    let mut echo_calls = false;
    let mut latency_ms: u64 = 0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_default(),
            "--app-listen" => app_listen = args.next(),
            "--members" => members = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--scale" => match args.next().and_then(|v| {
                let (servers, members) = v.split_once(':')?;
                Some((servers.parse().ok()?, members.parse().ok()?))
            }) {
                Some(world) => scale = Some(world),
                None => {
                    eprintln!("fake-plex: --scale needs SERVERS:MEMBERS, like 3:100000");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--fault" => match args.next().and_then(|v| {
                let (path, status) = v.split_once('=')?;
                Some((path.to_owned(), status.parse().ok()?))
            }) {
                Some(fault) => faults.push(fault),
                None => {
                    eprintln!("fake-plex: --fault needs PATH=STATUS, like /api/v2/home/users=500");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--log-calls" => echo_calls = true,
            "--latency-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(ms) => latency_ms = ms,
                None => {
                    eprintln!("fake-plex: --latency-ms needs a number of milliseconds");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "-h" | "--help" => {
                println!(
                    "usage: fake-plex [--listen ADDRESS (127.0.0.1:9100)] [--app-listen ADDRESS (the next port)] \
                     [--latency-ms N (added to every API answer)] [--members N (accounts 100000…, tokens \
                     member-<id>-token, the demo server is shared with)] [--scale SERVERS:MEMBERS (owners \
                     scale-owner-N-token of servers scale-server-N, and members 1000000… with tokens \
                     scale-member-ID-token, ID shared with server ID % SERVERS + 1)] [--fault PATH=STATUS (calls under PATH answer STATUS)] \
                     [--log-calls (print every call)]"
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
    let app_address = match app_listen.map(|a| a.parse::<SocketAddr>()) {
        None if address.port() == 0 => address,
        None => SocketAddr::new(address.ip(), address.port().wrapping_add(1)),
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            eprintln!("fake-plex: --app-listen needs an address like 127.0.0.1:9101");
            return std::process::ExitCode::FAILURE;
        }
    };
    let fake = match fake_plex::FakePlex::start_on(address, app_address).await {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!("fake-plex: cannot listen on {address} and {app_address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    fake.set_latency(std::time::Duration::from_millis(latency_ms));
    fake.set_echo_calls(echo_calls);
    for (path, status) in faults {
        fake.fault(&path, fake_plex::Fault::Status(status));
    }
    println!("fake plex.tv at {} (its app page at {})", fake.url(), fake.app_url());
    for (account, role) in fake.load_demo() {
        println!("  {:<15} token {:<22} {role}", account.title, account.token);
    }
    fake.add_demo_members(100_000, members);
    if let Some((servers, members)) = scale {
        fake.add_scale_world(servers, members);
        println!("  {servers} scale owners (scale-owner-N-token) and {members} members (scale-member-ID-token)");
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
