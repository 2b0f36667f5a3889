// Drives plexid through authentik's own TypeScript API client (`@goauthentik/api` 2024.6, the
// client authentik's web UI uses), every call through its typed methods and models: Plex
// sources, Plex property mappings, user connections (made by a sign-in through the client's
// `redeem_token` method), applications, OAuth2 and proxy providers, and the audit log.
//
//     node compat/node/authentik_client.mjs --url URL --token TOKEN --plex-tokens OWNER,MEMBER \
//         --plex-server ID
//
// The token must be a superuser's. Prints one line per check, then "N passed, M failed"; exits
// 1 if anything failed.

import * as ak from "@goauthentik/api";

const args = Object.fromEntries(
    process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
for (const name of ["url", "token", "plex-tokens", "plex-server"]) {
    if (!args[name]) {
        console.error(`missing --${name}`);
        process.exit(2);
    }
}
const [ownerToken, memberToken] = args["plex-tokens"].split(",");
const suffix = Math.random().toString(36).slice(2, 8);
const admin = new ak.Configuration({ basePath: `${args.url}/api/v3`, accessToken: args.token });
const anonymous = new ak.Configuration({ basePath: `${args.url}/api/v3` });
const sources = new ak.SourcesApi(admin);
const mappings = new ak.PropertymappingsApi(admin);
const core = new ak.CoreApi(admin);
const providers = new ak.ProvidersApi(admin);
const events = new ak.EventsApi(admin);
const flows = new ak.FlowsApi(admin);

let passed = 0;
let failed = 0;
async function check(name, body) {
    try {
        await body();
        passed += 1;
        console.log(`ok   ${name}`);
    } catch (error) {
        failed += 1;
        const detail = error instanceof ak.ResponseError ? `${error.response.status} ${await error.response.text()}` : error?.stack ?? error;
        console.log(`FAIL ${name}: ${detail}`);
    }
}
function expect(condition, message) {
    if (!condition) throw new Error(message);
}
function equal(actual, expected, what) {
    const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
    expect(a === e, `${what}: expected ${e}, got ${a}`);
}
/** The status and JSON body of the ResponseError `action` must throw. */
async function refused(action) {
    try {
        await action();
    } catch (error) {
        expect(error instanceof ak.ResponseError, `not an API error: ${error}`);
        return [error.response.status, await error.response.json()];
    }
    throw new Error("the call was accepted");
}

const state = {};

await check("flows: the default authentication, enrollment and authorization flows", async () => {
    const flow = async (designation, slug) => {
        const page = await flows.flowsInstancesList({ designation, slug });
        equal(page.results.length, 1, `${slug}`);
        return page.results[0].pk;
    };
    state.authentication = await flow("authentication", "default-source-authentication");
    state.enrollment = await flow("enrollment", "default-source-enrollment");
    const authorization = await flows.flowsInstancesList({ designation: "authorization" });
    expect(authorization.results.length > 0, "an authorization flow");
    state.authorization = authorization.results[0].pk;
});

await check("plex sources: create, retrieve, search, patch, used_by", async () => {
    const slug = `ts-plex-${suffix}`;
    const created = await sources.sourcesPlexCreate({
        plexSourceRequest: {
            name: `TS Plex ${suffix}`, slug, clientId: `ts-${suffix}`, plexToken: ownerToken,
            allowedServers: [args["plex-server"]], allowFriends: true,
            authenticationFlow: state.authentication, enrollmentFlow: state.enrollment,
        },
    });
    equal(created.slug, slug, "slug");
    equal(created.plexToken, "********", "the Plex token is masked");
    equal(created.component, "ak-source-plex-form", "component");
    const fetched = await sources.sourcesPlexRetrieve({ slug });
    equal(fetched.pk, created.pk, "pk");
    expect(fetched.userMatchingMode === ak.UserMatchingModeEnum.Identifier, "user matching mode");
    const found = await sources.sourcesPlexList({ search: suffix });
    equal(found.results.map((s) => s.slug), [slug], "search");
    const patched = await sources.sourcesPlexPartialUpdate({ slug, patchedPlexSourceRequest: { allowFriends: false } });
    equal(patched.allowFriends, false, "patched");
    await sources.sourcesPlexPartialUpdate({ slug, patchedPlexSourceRequest: { allowFriends: true } });
    equal(await sources.sourcesPlexUsedByList({ slug }), [], "used_by");
    state.source = slug;
});

await check("plex property mappings: create, list, update, refuse a syntax error, delete", async () => {
    const name = `TS mapping ${suffix}`;
    const created = await mappings.propertymappingsSourcePlexCreate({
        plexSourcePropertyMappingRequest: { name, expression: 'return {"attributes": {"ts": True}}' },
    });
    equal(created.name, name, "name");
    const listed = await mappings.propertymappingsSourcePlexList({ name });
    equal(listed.results.map((m) => m.pk), [created.pk], "listed");
    const updated = await mappings.propertymappingsSourcePlexUpdate({
        pmUuid: created.pk,
        plexSourcePropertyMappingRequest: { name, expression: "return {}" },
    });
    equal(updated.expression, "return {}", "updated");
    const [status, body] = await refused(() =>
        mappings.propertymappingsSourcePlexPartialUpdate({ pmUuid: created.pk, patchedPlexSourcePropertyMappingRequest: { expression: "return {" } }),
    );
    equal(status, 400, "status");
    expect(String(body.expression?.[0]).startsWith("Expression Syntax Error"), JSON.stringify(body));
    await mappings.propertymappingsSourcePlexDestroy({ pmUuid: created.pk });
    await refused(() => mappings.propertymappingsSourcePlexRetrieve({ pmUuid: created.pk }));
});

await check("connections: a sign-in through redeem_token makes one; list, retrieve, delete", async () => {
    const challenge = await new ak.SourcesApi(anonymous).sourcesPlexRedeemTokenCreate({
        slug: state.source,
        plexTokenRedeemRequest: { plexToken: memberToken },
    });
    equal(challenge.component, "xak-flow-redirect", "component");
    const page = await sources.sourcesUserConnectionsPlexList({ sourceSlug: state.source });
    equal(page.pagination.count, 1, "one connection");
    const connection = page.results[0];
    equal(connection.source.slug, state.source, "its source");
    expect(!JSON.stringify(connection).includes(memberToken), "the Plex token is not shown");
    const fetched = await sources.sourcesUserConnectionsPlexRetrieve({ id: connection.pk });
    equal(fetched.identifier, connection.identifier, "identifier");
    expect(fetched.created instanceof Date && !Number.isNaN(fetched.created.getTime()), "created is a date");
    state.member = connection.user;
    state.connection = connection.pk;
    const groups = await sources.sourcesGroupConnectionsPlexList({ sourceSlug: state.source });
    equal(groups.pagination.count, 0, "no group connections");
});

await check("providers: OAuth2 and proxy; names unique across both kinds; filters; setup_urls", async () => {
    const oauth2 = await providers.providersOauth2Create({
        oAuth2ProviderRequest: {
            name: `TS OIDC ${suffix}`, authorizationFlow: state.authorization,
            clientType: ak.ClientTypeEnum.Confidential, redirectUris: "https://ts.example.com/callback",
        },
    });
    expect(oauth2.clientSecret.length > 20, "the new secret is shown once");
    equal(oauth2.assignedApplicationSlug, "", "no application yet");
    const again = await providers.providersOauth2Retrieve({ id: oauth2.pk });
    expect(again.clientSecret.startsWith("********"), "masked afterwards");
    const proxy = await providers.providersProxyCreate({
        proxyProviderRequest: {
            name: `TS FA ${suffix}`, authorizationFlow: state.authorization, externalHost: "https://ts-app.example.com",
            mode: ak.ProxyMode.ForwardSingle,
        },
    });
    equal(proxy.mode, ak.ProxyMode.ForwardSingle, "mode");
    const [status, body] = await refused(() =>
        providers.providersProxyCreate({
            proxyProviderRequest: { name: oauth2.name, authorizationFlow: state.authorization, externalHost: "https://x.example.com" },
        }),
    );
    equal([status, body], [400, { name: ["provider with this name already exists."] }], "a proxy provider named like an OAuth2 one");
    const confidential = await providers.providersOauth2List({ clientType: "confidential", search: suffix });
    equal(confidential.results.map((p) => p.pk), [oauth2.pk], "client_type=confidential");
    const publicOnes = await providers.providersOauth2List({ clientType: "public", search: suffix });
    equal(publicOnes.results.length, 0, "client_type=public");
    const byMode = await providers.providersProxyList({ modeIexact: "FORWARD_SINGLE", search: suffix });
    equal(byMode.results.map((p) => p.pk), [proxy.pk], "mode__iexact");
    const urls = await providers.providersOauth2SetupUrlsRetrieve({ id: oauth2.pk });
    expect(urls.authorize.endsWith("/application/o/authorize/"), `authorize: ${urls.authorize}`);
    state.oauth2 = oauth2.pk;
    state.proxy = proxy.pk;
});

await check("applications: create, list, check_access for a user, for_user, update, used_by", async () => {
    const slug = `ts-app-${suffix}`;
    const created = await core.coreApplicationsCreate({
        applicationRequest: { name: `TS App ${suffix}`, slug, provider: state.oauth2, metaLaunchUrl: "https://ts.example.com/" },
    });
    equal(created.providerObj?.pk, state.oauth2, "provider_obj");
    equal(created.providerObj?.assignedApplicationSlug, slug, "the provider knows its application");
    const fetched = await core.coreApplicationsRetrieve({ slug });
    equal(fetched.launchUrl, "https://ts.example.com/", "launch_url");
    const listed = await core.coreApplicationsList({ search: suffix });
    equal(listed.results.map((a) => a.slug), [slug], "listed");
    const access = await core.coreApplicationsCheckAccessRetrieve({ slug, forUser: state.member });
    equal(access.passing, true, "the member may use it");
    const mine = await core.coreApplicationsList({ forUser: state.member, search: suffix });
    equal(mine.results.map((a) => a.slug), [slug], "for_user");
    const [status, body] = await refused(() => core.coreApplicationsList({ forUser: 999999 }));
    equal([status, body], [400, { for_user: "User not found" }], "for_user naming nobody");
    const updated = await core.coreApplicationsPartialUpdate({ slug, patchedApplicationRequest: { group: "TS" } });
    equal(updated.group, "TS", "patched");
    equal(await core.coreApplicationsUsedByList({ slug }), [], "used_by");
    await core.coreApplicationsDestroy({ slug });
    await providers.providersOauth2Destroy({ id: state.oauth2 });
    await providers.providersProxyDestroy({ id: state.proxy });
});

await check("events: the member's sign-in is in the audit log, with its user", async () => {
    const page = await events.eventsEventsList({ action: "login", username: "member", ordering: "-created" });
    expect(page.results.length >= 1, "a login event");
    const event = await events.eventsEventsRetrieve({ eventUuid: page.results[0].pk });
    equal(event.action, ak.EventActions.Login, "action");
    equal(event.user.username, "member", "user");
    expect(event.created instanceof Date, "created is a date");
    const none = await events.eventsEventsList({ brandName: "nobody" });
    equal(none.pagination.count, 0, "brand_name");
});

await check("clean-up: the connection and the source are deleted", async () => {
    await sources.sourcesUserConnectionsPlexDestroy({ id: state.connection });
    await sources.sourcesPlexDestroy({ slug: state.source });
    const [status] = await refused(() => sources.sourcesPlexRetrieve({ slug: state.source }));
    equal(status, 404, "gone");
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
