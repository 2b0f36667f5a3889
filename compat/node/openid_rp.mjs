// An OpenID Connect relying party built with openid-client (the certified, strict relying-party
// library for Node), against plexid's provider.
//
//     node compat/node/openid_rp.mjs --url URL --slug APP --client-id ID --client-secret SECRET \
//         --redirect-uri URI --plex-token TOKEN --source SLUG
//     node compat/node/openid_rp.mjs --url URL --slug APP --client-id ID --client-secret SECRET \
//         --refresh REFRESH_TOKEN --expect-refused
//
// The first form signs the Plex account in to plexid (`redeem_token`, as the login page does),
// discovers the issuer, runs the authorization code flow with PKCE (S256) and a nonce, has
// openid-client validate the ID token (with the signature checked against the JWKS), calls
// userinfo, refreshes once, and prints the newest refresh token as its last line
// ("refresh_token=…"). The second form refreshes and expects the provider to refuse with
// invalid_grant (the person lost access). Exits 1 on any failure.

import * as client from "openid-client";

const args = {};
for (let i = 2; i < process.argv.length; i++) {
    const name = process.argv[i].replace(/^--/, "");
    const next = process.argv[i + 1];
    if (next === undefined || next.startsWith("--")) {
        args[name] = true;
    } else {
        args[name] = next;
        i++;
    }
}

function fail(message) {
    console.log(`FAIL: ${message}`);
    process.exit(1);
}

const issuer = new URL(`${args.url}/application/o/${args.slug}/`);
const config = await client.discovery(issuer, args["client-id"], undefined, client.ClientSecretBasic(args["client-secret"]), {
    execute: [client.allowInsecureRequests],
});
client.enableNonRepudiationChecks(config);
console.log(`discovered ${config.serverMetadata().issuer}`);

if (args.refresh) {
    try {
        await client.refreshTokenGrant(config, args.refresh);
    } catch (error) {
        if (error.error !== "invalid_grant") fail(`refused, but not with invalid_grant: ${error}`);
        console.log("refresh refused: invalid_grant");
        process.exit(0);
    }
    fail("the refresh was accepted");
}

// The browser: signed in to plexid through redeem_token; its session cookie goes along.
const redeemed = await fetch(`${args.url}/api/v3/sources/plex/redeem_token/?slug=${args.source}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ plex_token: args["plex-token"] }),
});
if (redeemed.status !== 200) fail(`redeem_token answered ${redeemed.status}: ${await redeemed.text()}`);
const cookie = redeemed.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");

const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizeUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: args["redirect-uri"],
    scope: "openid profile email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
});
const authorized = await fetch(authorizeUrl, { headers: { cookie }, redirect: "manual" });
const location = authorized.headers.get("location") ?? "";
if (!location.startsWith(args["redirect-uri"])) fail(`authorize answered ${authorized.status} to ${location}`);

const tokens = await client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
});
const claims = tokens.claims();
console.log("code exchanged with PKCE");
console.log(
    `ID token valid: sub=${claims.sub} preferred_username=${claims.preferred_username} ` +
        `plex_relationship=${JSON.stringify(claims.plex_relationship)}`,
);

const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
if (info.preferred_username !== claims.preferred_username) fail(`userinfo: ${JSON.stringify(info)}`);
console.log("userinfo matches the ID token");

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
if (!refreshed.refresh_token || refreshed.refresh_token === tokens.refresh_token) fail("the refresh token was not rotated");
if (refreshed.claims()?.sub !== claims.sub) fail("the refreshed ID token names someone else");
console.log("refreshed, with a new refresh token and ID token");
console.log(`refresh_token=${refreshed.refresh_token}`);
