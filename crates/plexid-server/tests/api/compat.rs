//! authentik's own generated Python client (`authentik-client` 2024.6.3) drives every operation
//! against plexid and parses every response with its models (`compat/`).

use std::path::Path;
use std::process::Command;

use crate::both;
use crate::helpers::TestApp;
use crate::login::{MEMBER, OWNER, SERVER_ID, STRANGER};

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

async fn authentik_client(app: &TestApp) {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat-venv");
    app.plex_accounts();
    let (base, token) = (app.base.clone(), app.token.clone());
    let plex_tokens = [OWNER, MEMBER, STRANGER].map(|id| app.plex.token_of(id).unwrap()).join(",");
    let output = tokio::task::spawn_blocking(move || {
        // Both backends' tests may set the virtualenv up at once: flock serialises them.
        let lock = venv.with_extension("lock");
        run(Command::new("flock").arg(&lock).arg("bash").arg(compat.join("setup_venv.sh")).arg(&venv));
        run(Command::new(venv.join("bin/python"))
            .arg(compat.join("authentik_client_compat.py"))
            .args(["--url", &base, "--token", &token, "--suite", "all"])
            .args(["--plex-tokens", &plex_tokens, "--plex-server", SERVER_ID]))
    })
    .await
    .unwrap();
    assert!(output.contains(" passed, 0 failed"), "{output}");
}
both!(authentik_client, authentik_client);
