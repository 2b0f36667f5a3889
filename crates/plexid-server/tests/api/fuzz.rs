//! The schema fuzzer: schemathesis (from PyPI, `compat/fuzz/`) generates requests from the
//! vendored authentik OpenAPI subsets, valid and invalid ones (odd types, huge numbers, NUL
//! characters, unknown fields), and sends them to plexid with the superuser's token, on SQLite
//! and on PostgreSQL. No answer may be a 5xx but plexid's documented plex.tv failures (502
//! `plex_unavailable`, 503 `plex_rate_limited`): `compat/fuzz/fuzz_hooks.py`. The seed and the
//! number of examples per operation are fixed, so a run is repeatable and bounded in time.

use std::process::Command;

use serde_json::json;

use crate::both;
use crate::compat::{run, venv_of};
use crate::helpers::{fixtures, TestApp};

/// Examples per API operation and phase.
const EXAMPLES: &str = "15";

async fn schema_fuzzer(app: &TestApp) {
    // Something to find: a source with connections, so not every lookup is a 404.
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.sign_in("plex", crate::login::FRIEND).await;
    let (base, token) = (format!("{}/api/v3", app.base), app.token.clone());
    let output = tokio::task::spawn_blocking(move || {
        let (compat, python) = venv_of("fuzz-venv", Some("fuzz/requirements.txt"));
        let schemathesis = python.with_file_name("schemathesis");
        let mut all = String::new();
        for schema in ["authentik-2024.6-plex-openapi.yaml", "authentik-2024.6-apps-openapi.yaml"] {
            all += &run(Command::new(&schemathesis)
                .arg("run")
                .arg(fixtures().join(schema))
                .args(["--url", &base, "-H", &format!("Authorization: Bearer {token}")])
                .args(["--checks", "no_server_error", "--max-examples", EXAMPLES, "--seed", "17"])
                .args(["--generation-database", "none", "--no-color", "--workers", "2"])
                .current_dir(env!("CARGO_TARGET_TMPDIR"))
                .env("SCHEMATHESIS_HOOKS", "fuzz_hooks")
                .env("PYTHONPATH", compat.join("fuzz")));
        }
        all
    })
    .await
    .unwrap();
    assert!(!output.contains("ST101") && !output.contains("server error"), "{output}");
}
both!(schema_fuzzer, schema_fuzzer);
