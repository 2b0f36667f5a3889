#!/usr/bin/env python3
"""Drive plexid through authentik's own generated Python client (2024.6).

Every operation goes through the client's typed methods, so every response is parsed by its
pydantic models: a parse error, a validation error or an unexpected status is a failure.
The only exception is the create call of the Plex connection endpoints, whose 2024.6 request
models cannot carry the `user`/`group`/`source` fields plexid accepts (decision D10): those go
through the client's low-level machinery and their responses are still parsed by the client.

    DIR/bin/python compat/authentik_client_compat.py --url http://127.0.0.1:PORT --token TOKEN \
        [--suite foundation|connections|login|apps|all] [--plex-tokens OWNER,MEMBER,STRANGER --plex-server ID]

The login suite signs in through `redeem_token` with Plex tokens the server's plex.tv (a
`fake-plex` in the test suite) knows: the owner's becomes the source's token, the member's has
access through server ID, the stranger's has none.

The token must belong to a superuser. Names and slugs carry a random suffix, so reruns
against the same server don't collide. Prints one line per check, then "N passed, M failed";
exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import authentik_client as ak
from authentik_client.exceptions import ApiException

REQUEST_TIMEOUT = 30.0
MASKED_TOKEN = "********"
PLEX_ICON = "/static/authentik/sources/plex.svg"
DEFAULT_AUTHENTICATION_FLOW = "default-source-authentication"
DEFAULT_ENROLLMENT_FLOW = "default-source-enrollment"
AVATAR_EXPRESSION = 'return {"attributes": {"avatar": info.get("thumb")}}'
FAILING_EXPRESSION = 'return info["missing"]'
SYNTAX_ERROR_EXPRESSION = "return {"
NOT_FOUND_BODY = {"detail": "Not found."}


# --------------------------------------------------------------------------------------------
# Assertions and calls


class CheckFailed(Exception):
    """An expectation of a check did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def expect_fields(obj: Any, **expected: Any) -> None:
    """Compare attributes of a parsed model (enums compare equal to their string values)."""
    for field, value in expected.items():
        expect_equal(getattr(obj, field), value, f"{type(obj).__name__}.{field}")


def call(method: Callable, *args: Any, status: int = 200, model: Optional[type] = None,
         **kwargs: Any) -> Any:
    """Call a typed client method through its `_with_http_info` twin, check the HTTP status
    and the type of the parsed body, return the parsed body."""
    with_http_info = getattr(method.__self__, method.__name__ + "_with_http_info")
    response = with_http_info(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    expect_equal(response.status_code, status, f"HTTP status of {method.__name__}")
    if model is not None:
        expect(isinstance(response.data, model),
               f"{method.__name__} returned {type(response.data).__name__}, "
               f"expected {model.__name__}")
    return response.data


def call_used_by(method: Callable, key: Any) -> List[ak.UsedBy]:
    entries = call(method, key, model=list)
    expect(all(isinstance(entry, ak.UsedBy) for entry in entries),
           f"{method.__name__} did not return UsedBy objects")
    return entries


def post_untyped(api_client: ak.ApiClient, path: str, body: Dict[str, Any],
                 model: type, status: int = 201) -> ak.ApiResponse:
    """POST a plain dict through the client's low-level machinery (for fields the 2024.6
    request models cannot carry) and parse the response with the client's deserializer
    (`model.from_dict`). Non-2xx statuses raise ApiException like the typed methods."""
    request = api_client.param_serialize(
        method="POST",
        resource_path=path,
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        body=body,
        auth_settings=["authentik"],
    )
    raw = api_client.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
    raw.read()
    response = api_client.response_deserialize(
        response_data=raw,
        response_types_map={str(status): model.__name__, "400": "ValidationError",
                            "403": "GenericError"},
    )
    expect_equal(response.status_code, status, f"HTTP status of POST {path}")
    expect(isinstance(response.data, model),
           f"POST {path} returned {type(response.data).__name__}, expected {model.__name__}")
    return response


def expect_api_error(status: int, action: Callable[[], Any]) -> ApiException:
    try:
        action()
    except ApiException as exc:
        expect_equal(exc.status, status, f"HTTP status (body {exc.body!r})")
        return exc
    raise CheckFailed(f"expected HTTP {status}, but the call succeeded")


def expect_not_found(method: Callable, key: Any) -> None:
    exc = expect_api_error(404, lambda: call(method, key))
    expect_equal(json.loads(exc.body or "null"), NOT_FOUND_BODY, "404 body")


def field_errors(exc: ApiException, *fields: str) -> Dict[str, Any]:
    """The client must have parsed the 400 body as ValidationError, with these fields."""
    expect(isinstance(exc.data, ak.ValidationError),
           f"400 body not parsed as ValidationError: {exc.body!r}")
    errors = exc.data.to_dict()
    missing = [field for field in fields if field not in errors]
    expect(not missing, f"400 body lacks {missing}: {errors!r}")
    return errors


def result_values(page: Any, attribute: str = "pk") -> List[Any]:
    return [getattr(item, attribute) for item in page.results]


def expect_results(page: Any, expected: List[Any], attribute: str = "pk") -> None:
    expect_equal(result_values(page, attribute), expected, f"results by {attribute}")


def expect_pagination(page: Any, **expected: int) -> None:
    for field, value in expected.items():
        expect_equal(getattr(page.pagination, field), value, f"pagination.{field}")


def describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        text = f"HTTP {exc.status} {exc.reason}: {exc.body}"
    elif isinstance(exc, CheckFailed):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())[:800]


# --------------------------------------------------------------------------------------------
# Runner


class Context:
    """Client, API objects, the run's unique suffix, counters and deferred cleanups."""

    def __init__(self, url: str, token: str) -> None:
        configuration = ak.Configuration(host=url.rstrip("/") + "/api/v3", access_token=token)
        self.api_client = ak.ApiClient(configuration)
        self.flows = ak.FlowsApi(self.api_client)
        self.sources = ak.SourcesApi(self.api_client)
        self.mappings = ak.PropertymappingsApi(self.api_client)
        self.core = ak.CoreApi(self.api_client)
        self.events = ak.EventsApi(self.api_client)
        self.providers = ak.ProvidersApi(self.api_client)
        self.plex_tokens: List[str] = []
        self.plex_server: Optional[str] = None
        self.suffix = secrets.token_hex(4)
        self.passed = 0
        self.failed = 0
        self._cleanups: List[Tuple[Callable, Tuple[Any, ...]]] = []

    def unique(self, kind: str) -> str:
        return f"compat-{kind}-{self.suffix}"

    def check(self, name: str, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            self.failed += 1
            print(f"FAIL {name}: {describe(exc)}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)

    def defer_delete(self, method: Callable, *args: Any) -> None:
        """Delete this object at the end of the run if a check left it behind."""
        self._cleanups.append((method, args))

    def cleanup(self) -> None:
        while self._cleanups:
            method, args = self._cleanups.pop()
            try:
                method(*args, _request_timeout=REQUEST_TIMEOUT)
            except Exception:  # noqa: BLE001 - best effort; most were deleted by a check
                pass


class Suite:
    """Ordered checks sharing state; a check whose prerequisite failed fails with a note."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state: Dict[str, Any] = {}

    def need(self, key: str) -> Any:
        if self.state.get(key) is None:
            raise CheckFailed(f"skipped: needs '{key}' from an earlier check that failed")
        return self.state[key]

    def checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        raise NotImplementedError

    def run(self) -> None:
        for name, action in self.checks():
            self.ctx.check(name, action)


# --------------------------------------------------------------------------------------------
# Suite "foundation": flows, Plex sources, Plex property mappings


class FoundationSuite(Suite):
    def checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        flows = self.ctx.flows
        sources = self.ctx.sources
        mappings = self.ctx.mappings
        return [
            ("flows_instances_list", self.list_flows),
            (f"flows_instances_list[slug={DEFAULT_AUTHENTICATION_FLOW}]",
             self.find_authentication_flow),
            ("flows_instances_list[designation=enrollment]", self.find_enrollment_flow),
            ("flows_instances_create", self.create_flow),
            ("flows_instances_retrieve", self.retrieve_flow),
            ("flows_instances_update", self.update_flow),
            ("flows_instances_partial_update", self.partial_update_flow),
            ("flows_instances_destroy",
             lambda: call(flows.flows_instances_destroy, self.need("flow").slug, status=204)),
            ("flows_instances_retrieve[after destroy] -> 404",
             lambda: expect_not_found(flows.flows_instances_retrieve, self.need("flow").slug)),

            ("propertymappings_source_plex_create", self.create_mapping),
            ("propertymappings_source_plex_create[syntax error] -> 400",
             self.reject_mapping_syntax_error),
            ("propertymappings_source_plex_list[name]", self.list_mappings_by_name),
            ("propertymappings_source_plex_list[search, ordering]", self.search_mappings),
            ("propertymappings_source_plex_retrieve", self.retrieve_mapping),
            ("propertymappings_source_plex_update", self.update_mapping),
            ("propertymappings_source_plex_partial_update", self.partial_update_mapping),
            ("propertymappings_all_test_create[format_result=False]",
             lambda: self.test_avatar_mapping(format_result=False)),
            ("propertymappings_all_test_create[format_result=True]",
             lambda: self.test_avatar_mapping(format_result=True)),
            ("propertymappings_source_plex_create[failing expression]",
             self.create_failing_mapping),
            ("propertymappings_all_test_create[failing expression]",
             self.test_failing_mapping),

            ("sources_plex_create[minimal]", self.create_minimal_source),
            ("sources_plex_create[full]", self.create_full_source),
            ("sources_plex_retrieve", self.retrieve_full_source),
            ("sources_plex_update[masked plex_token sent back]", self.update_full_source),
            ("sources_plex_partial_update", self.partial_update_minimal_source),
            ("sources_plex_list[search]", self.search_sources),
            ("sources_plex_list[ordering]", self.order_sources),
            ("sources_plex_list[page, page_size]", self.paginate_sources),
            *self.source_filter_checks(),
            ("sources_plex_used_by_list",
             lambda: call_used_by(sources.sources_plex_used_by_list,
                                  self.need("full_source").slug)),
            ("sources_plex_create[duplicate slug] -> 400", self.reject_duplicate_slug),
            ("sources_plex_create[blank name] -> 400", lambda: self.reject_blank_name("")),
            ("sources_plex_create[whitespace name] -> 400",
             lambda: self.reject_blank_name("   ")),

            ("propertymappings_source_plex_used_by_list", self.mapping_used_by_source),
            ("propertymappings_source_plex_destroy",
             lambda: call(mappings.propertymappings_source_plex_destroy,
                          self.need("mapping").pk, status=204)),
            ("propertymappings_source_plex_retrieve[after destroy] -> 404",
             lambda: expect_not_found(mappings.propertymappings_source_plex_retrieve,
                                      self.need("mapping").pk)),
            ("sources_plex_retrieve[mapping removed after its deletion]",
             self.source_forgets_deleted_mapping),
            ("sources_plex_destroy[minimal]",
             lambda: call(sources.sources_plex_destroy, self.need("minimal_source").slug,
                          status=204)),
            ("sources_plex_destroy[full]",
             lambda: call(sources.sources_plex_destroy, self.need("full_source").slug,
                          status=204)),
            ("sources_plex_retrieve[after destroy] -> 404",
             lambda: expect_not_found(sources.sources_plex_retrieve,
                                      self.need("minimal_source").slug)),
        ]

    # flows

    def list_flows(self) -> None:
        page = call(self.ctx.flows.flows_instances_list, ordering="slug",
                    model=ak.PaginatedFlowList)
        expect(page.pagination.count >= 2, f"expected the default flows, got {page.pagination}")

    def find_default_flow(self, slug: str, designation: str, query: Dict[str, str]) -> str:
        """List flows with `query`, check the filter held, return the pk of flow `slug`."""
        page = call(self.ctx.flows.flows_instances_list, model=ak.PaginatedFlowList, **query)
        for field, value in query.items():
            expect(all(getattr(flow, field) == value for flow in page.results),
                   f"filter {field}={value} returned {result_values(page, field)}")
        matches = [flow for flow in page.results if flow.slug == slug]
        expect_equal(len(matches), 1, f"flows with slug {slug}")
        expect_equal(matches[0].designation, designation, f"designation of {slug}")
        return matches[0].pk

    def find_authentication_flow(self) -> None:
        self.state["authentication_flow"] = self.find_default_flow(
            DEFAULT_AUTHENTICATION_FLOW, "authentication", {"slug": DEFAULT_AUTHENTICATION_FLOW})

    def find_enrollment_flow(self) -> None:
        self.state["enrollment_flow"] = self.find_default_flow(
            DEFAULT_ENROLLMENT_FLOW, "enrollment", {"designation": "enrollment"})

    def create_flow(self) -> None:
        slug = self.ctx.unique("flow")
        self.ctx.defer_delete(self.ctx.flows.flows_instances_destroy, slug)
        request = ak.FlowRequest(name=f"Compat flow {self.ctx.suffix}", slug=slug,
                                 title="Compat flow", designation="authentication")
        flow = call(self.ctx.flows.flows_instances_create, request, status=201, model=ak.Flow)
        self.state["flow"] = flow
        expect_fields(flow, slug=slug, title="Compat flow", designation="authentication")

    def retrieve_flow(self) -> None:
        flow = self.need("flow")
        fetched = call(self.ctx.flows.flows_instances_retrieve, flow.slug, model=ak.Flow)
        expect_fields(fetched, pk=flow.pk, name=flow.name)

    def update_flow(self) -> None:
        flow = self.need("flow")
        request = ak.FlowRequest(name=f"Compat flow renamed {self.ctx.suffix}", slug=flow.slug,
                                 title="Compat flow, renamed", designation="authentication")
        updated = call(self.ctx.flows.flows_instances_update, flow.slug, request, model=ak.Flow)
        expect_fields(updated, pk=flow.pk, name=request.name, title=request.title)

    def partial_update_flow(self) -> None:
        flow = self.need("flow")
        patched = call(self.ctx.flows.flows_instances_partial_update, flow.slug,
                       ak.PatchedFlowRequest(title="Compat flow, patched"), model=ak.Flow)
        expect_fields(patched, pk=flow.pk, title="Compat flow, patched")

    # property mappings

    def create_mapping(self) -> None:
        name = self.ctx.unique("avatar")
        mapping = self.create_plex_mapping(name, AVATAR_EXPRESSION)
        self.state["mapping"] = mapping
        expect_fields(mapping, name=name, expression=AVATAR_EXPRESSION, managed=None,
                      component="ak-property-mapping-source-plex-form",
                      meta_model_name="authentik_sources_plex.plexsourcepropertymapping")

    def create_plex_mapping(self, name: str, expression: str) -> ak.PlexSourcePropertyMapping:
        mapping = call(self.ctx.mappings.propertymappings_source_plex_create,
                       ak.PlexSourcePropertyMappingRequest(name=name, expression=expression),
                       status=201, model=ak.PlexSourcePropertyMapping)
        self.ctx.defer_delete(self.ctx.mappings.propertymappings_source_plex_destroy, mapping.pk)
        return mapping

    def reject_mapping_syntax_error(self) -> None:
        request = ak.PlexSourcePropertyMappingRequest(name=self.ctx.unique("broken"),
                                                      expression=SYNTAX_ERROR_EXPRESSION)
        exc = expect_api_error(400, lambda: call(
            self.ctx.mappings.propertymappings_source_plex_create, request, status=201))
        messages = field_errors(exc, "expression")["expression"]
        expect(isinstance(messages, list) and messages
               and str(messages[0]).startswith("Expression Syntax Error: "),
               f"unexpected expression error: {messages!r}")

    def list_mappings_by_name(self) -> None:
        mapping = self.need("mapping")
        page = call(self.ctx.mappings.propertymappings_source_plex_list, name=mapping.name,
                    model=ak.PaginatedPlexSourcePropertyMappingList)
        expect_results(page, [mapping.pk])

    def search_mappings(self) -> None:
        mapping = self.need("mapping")
        page = call(self.ctx.mappings.propertymappings_source_plex_list, search=mapping.name,
                    ordering="-name", page=1, page_size=10,
                    model=ak.PaginatedPlexSourcePropertyMappingList)
        expect_results(page, [mapping.pk])

    def retrieve_mapping(self) -> None:
        mapping = self.need("mapping")
        fetched = call(self.ctx.mappings.propertymappings_source_plex_retrieve, mapping.pk,
                       model=ak.PlexSourcePropertyMapping)
        expect_fields(fetched, pk=mapping.pk, name=mapping.name, expression=AVATAR_EXPRESSION)

    def update_mapping(self) -> None:
        mapping = self.need("mapping")
        request = ak.PlexSourcePropertyMappingRequest(name=mapping.name + "-renamed",
                                                      expression=AVATAR_EXPRESSION)
        updated = call(self.ctx.mappings.propertymappings_source_plex_update, mapping.pk,
                       request, model=ak.PlexSourcePropertyMapping)
        expect_fields(updated, pk=mapping.pk, name=request.name)

    def partial_update_mapping(self) -> None:
        mapping = self.need("mapping")
        patched = call(self.ctx.mappings.propertymappings_source_plex_partial_update,
                       mapping.pk, ak.PatchedPlexSourcePropertyMappingRequest(name=mapping.name),
                       model=ak.PlexSourcePropertyMapping)
        expect_fields(patched, pk=mapping.pk, name=mapping.name, expression=AVATAR_EXPRESSION)

    def run_mapping_test(self, mapping_pk: str, format_result: bool) -> ak.PropertyMappingTestResult:
        return call(self.ctx.mappings.propertymappings_all_test_create, mapping_pk,
                    format_result=format_result,
                    property_mapping_test_request=ak.PropertyMappingTestRequest(
                        context={"info": {"thumb": "x"}}),
                    model=ak.PropertyMappingTestResult)

    def test_avatar_mapping(self, format_result: bool) -> None:
        outcome = self.run_mapping_test(self.need("mapping").pk, format_result)
        expect_equal(outcome.successful, True, f"successful (result {outcome.result!r})")
        expect_equal(json.loads(outcome.result), {"attributes": {"avatar": "x"}}, "result")
        if format_result:
            expect("\n" in outcome.result, f"format_result=True did not indent: {outcome.result!r}")

    def create_failing_mapping(self) -> None:
        self.state["failing_mapping"] = self.create_plex_mapping(self.ctx.unique("failing"),
                                                                 FAILING_EXPRESSION)

    def test_failing_mapping(self) -> None:
        outcome = self.run_mapping_test(self.need("failing_mapping").pk, format_result=False)
        expect_equal(outcome.successful, False, "successful")
        expect(outcome.result.strip() != "", "failure result carries no error message")

    # Plex sources

    def create_source(self, request: ak.PlexSourceRequest) -> ak.PlexSource:
        self.ctx.defer_delete(self.ctx.sources.sources_plex_destroy, request.slug)
        return call(self.ctx.sources.sources_plex_create, request, status=201,
                    model=ak.PlexSource)

    def create_minimal_source(self) -> None:
        request = ak.PlexSourceRequest(name=f"Compat minimal {self.ctx.suffix}",
                                       slug=self.ctx.unique("plex-min"),
                                       plex_token="compat-token-minimal")
        source = self.create_source(request)
        self.state["minimal_source"] = source
        expect_fields(source, name=request.name, slug=request.slug, enabled=True,
                      authentication_flow=None, enrollment_flow=None,
                      user_property_mappings=[], group_property_mappings=[],
                      component="ak-source-plex-form", verbose_name="Plex Source",
                      verbose_name_plural="Plex Sources",
                      meta_model_name="authentik_sources_plex.plexsource",
                      policy_engine_mode="any", user_matching_mode="identifier",
                      group_matching_mode="identifier", managed=None,
                      user_path_template="goauthentik.io/sources/%(slug)s", icon=PLEX_ICON,
                      allowed_servers=[], allow_friends=True, plex_token=MASKED_TOKEN)
        expect(len(source.client_id or "") == 40 and source.client_id.isalnum(),
               f"client_id is not 40 alphanumerics: {source.client_id!r}")

    def create_full_source(self) -> None:
        mapping = self.need("mapping")
        request = ak.PlexSourceRequest(
            name=f"Compat full {self.ctx.suffix}", slug=self.ctx.unique("plex-full"),
            enabled=True,
            authentication_flow=self.need("authentication_flow"),
            enrollment_flow=self.need("enrollment_flow"),
            user_property_mappings=[mapping.pk], group_property_mappings=[],
            policy_engine_mode="all", user_matching_mode="email_link",
            group_matching_mode="name_link", user_path_template="goauthentik.io/sources/compat",
            client_id=f"compat-client-{self.ctx.suffix}",
            allowed_servers=["server-a", "server-b"], allow_friends=False,
            plex_token="compat-token-full")
        source = self.create_source(request)
        self.state["full_source"] = source
        expected = request.to_dict()
        expected["plex_token"] = MASKED_TOKEN
        expect_fields(source, **expected)

    def retrieve_full_source(self) -> None:
        source = self.need("full_source")
        fetched = call(self.ctx.sources.sources_plex_retrieve, source.slug, model=ak.PlexSource)
        expect_fields(fetched, pk=source.pk, plex_token=MASKED_TOKEN,
                      user_property_mappings=[self.need("mapping").pk])

    def update_full_source(self) -> None:
        source = self.need("full_source")
        request = ak.PlexSourceRequest(
            name=f"Compat full renamed {self.ctx.suffix}", slug=source.slug,
            plex_token=MASKED_TOKEN, authentication_flow=self.need("authentication_flow"),
            enrollment_flow=None, user_property_mappings=[self.need("mapping").pk],
            group_property_mappings=[], allowed_servers=["abc123"], allow_friends=True,
            user_matching_mode="username_deny", group_matching_mode="name_deny")
        updated = call(self.ctx.sources.sources_plex_update, source.slug, request,
                       model=ak.PlexSource)
        expect_fields(updated, pk=source.pk, name=request.name, plex_token=MASKED_TOKEN,
                      enrollment_flow=None, allowed_servers=["abc123"], allow_friends=True,
                      user_matching_mode="username_deny", group_matching_mode="name_deny",
                      client_id=source.client_id)

    def partial_update_minimal_source(self) -> None:
        source = self.need("minimal_source")
        patch = ak.PatchedPlexSourceRequest(allow_friends=False, allowed_servers=["only-one"],
                                            enabled=False)
        patched = call(self.ctx.sources.sources_plex_partial_update, source.slug, patch,
                       model=ak.PlexSource)
        expect_fields(patched, pk=source.pk, name=source.name, allow_friends=False,
                      allowed_servers=["only-one"], enabled=False, plex_token=MASKED_TOKEN)

    def list_run_sources(self, **query: Any) -> ak.PaginatedPlexSourceList:
        """List only this run's sources (their names and slugs carry the run suffix)."""
        return call(self.ctx.sources.sources_plex_list, search=self.ctx.suffix,
                    model=ak.PaginatedPlexSourceList, **query)

    def run_source_slugs(self) -> List[str]:
        # "compat-plex-full-…" < "compat-plex-min-…" under any collation
        return [self.need("full_source").slug, self.need("minimal_source").slug]

    def search_sources(self) -> None:
        expected = self.run_source_slugs()
        page = self.list_run_sources()
        expect_equal(sorted(result_values(page, "slug")), expected, "slugs found by search")
        expect(all(source.plex_token == MASKED_TOKEN for source in page.results),
               "plex_token not masked in list")

    def order_sources(self) -> None:
        expected = self.run_source_slugs()
        expect_results(self.list_run_sources(ordering="slug"), expected, "slug")
        expect_results(self.list_run_sources(ordering="-slug"), expected[::-1], "slug")

    def paginate_sources(self) -> None:
        expected = self.run_source_slugs()
        first = self.list_run_sources(ordering="slug", page=1, page_size=1)
        expect_results(first, expected[:1], "slug")
        expect_pagination(first, next=2, previous=0, count=2, current=1, total_pages=2,
                          start_index=1, end_index=1)
        second = self.list_run_sources(ordering="slug", page=2, page_size=1)
        expect_results(second, expected[1:], "slug")
        expect_pagination(second, next=0, previous=1, count=2, current=2, total_pages=2,
                          start_index=2, end_index=2)

    def source_filter_checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        """State at this point: minimal is disabled, friends off, matching `identifier`;
        full is enabled, friends on, matching `username_deny`, with the authentication flow."""
        cases = [
            ("enabled=False", lambda: {"enabled": False}, "minimal_source"),
            ("enabled=True", lambda: {"enabled": True}, "full_source"),
            ("allow_friends=True", lambda: {"allow_friends": True}, "full_source"),
            ("allow_friends=False", lambda: {"allow_friends": False}, "minimal_source"),
            ("user_matching_mode=username_deny",
             lambda: {"user_matching_mode": "username_deny"}, "full_source"),
            ("slug", lambda: {"slug": self.need("minimal_source").slug}, "minimal_source"),
            ("authentication_flow",
             lambda: {"authentication_flow": self.need("authentication_flow")}, "full_source"),
        ]
        return [(f"sources_plex_list[filter {label}]",
                 lambda query=query, source=source: expect_results(
                     self.list_run_sources(**query()), [self.need(source).slug], "slug"))
                for label, query, source in cases]

    def reject_duplicate_slug(self) -> None:
        request = ak.PlexSourceRequest(name="Compat duplicate",
                                       slug=self.need("minimal_source").slug, plex_token="x")
        exc = expect_api_error(400, lambda: call(self.ctx.sources.sources_plex_create, request,
                                                 status=201))
        errors = field_errors(exc, "slug")
        expect_equal(errors["slug"], ["source with this slug already exists."], "slug errors")

    def reject_blank_name(self, name: str) -> None:
        # model_construct skips the client-side min_length check so the server's is tested
        slug = self.ctx.unique(f"plex-blank{len(name)}")
        self.ctx.defer_delete(self.ctx.sources.sources_plex_destroy, slug)
        request = ak.PlexSourceRequest.model_construct(name=name, slug=slug, plex_token="x")
        exc = expect_api_error(400, lambda: call(self.ctx.sources.sources_plex_create, request,
                                                 status=201))
        errors = field_errors(exc, "name")
        expect_equal(errors["name"], ["This field may not be blank."], "name errors")

    def mapping_used_by_source(self) -> None:
        source = self.need("full_source")
        entries = call_used_by(self.ctx.mappings.propertymappings_source_plex_used_by_list,
                               self.need("mapping").pk)
        expect(any(entry.pk == source.pk for entry in entries),
               f"source {source.pk} not in used_by: {[entry.to_dict() for entry in entries]}")

    def source_forgets_deleted_mapping(self) -> None:
        source = self.need("full_source")
        fetched = call(self.ctx.sources.sources_plex_retrieve, source.slug, model=ak.PlexSource)
        expect(self.need("mapping").pk not in (fetched.user_property_mappings or []),
               f"deleted mapping still listed: {fetched.user_property_mappings}")


# --------------------------------------------------------------------------------------------
# Suite "connections": users, groups, tokens, user and group Plex connections


USER_CONNECTIONS_PATH = "/sources/user_connections/plex/"
GROUP_CONNECTIONS_PATH = "/sources/group_connections/plex/"
GROUP_CONNECTION_IDENTIFIER = "plex-group-1"


class ConnectionsSuite(Suite):
    def checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        core = self.ctx.core
        sources = self.ctx.sources
        return [
            ("sources_plex_create[for connections]", self.create_source),

            ("core_users_me_retrieve", self.retrieve_me),
            ("core_users_create", lambda: self.create_user("user", "a", is_active=True)),
            ("core_users_create[inactive]",
             lambda: self.create_user("inactive_user", "b", is_active=False)),
            ("core_users_list[username]", lambda: self.expect_users(
                {"username": self.need("user").username}, ["user"])),
            ("core_users_list[email]", lambda: self.expect_users(
                {"email": self.need("user").email}, ["user"])),
            ("core_users_list[is_active=True]", lambda: self.expect_users(
                {"is_active": True, "search": self.ctx.suffix}, ["user"])),
            ("core_users_list[is_active=False]", lambda: self.expect_users(
                {"is_active": False, "search": self.ctx.suffix}, ["inactive_user"])),
            ("core_users_list[search, ordering]", lambda: self.expect_users(
                {"search": self.ctx.suffix, "ordering": "-username"},
                ["inactive_user", "user"])),
            ("core_users_retrieve", self.retrieve_user),
            ("core_users_update", self.update_user),
            ("core_users_partial_update", self.partial_update_user),
            ("core_users_used_by_list",
             lambda: call_used_by(core.core_users_used_by_list, self.need("user").pk)),

            ("core_groups_create", self.create_group),
            ("core_groups_list[name]", self.list_groups_by_name),
            ("core_groups_retrieve", self.retrieve_group),
            ("core_groups_update", self.update_group),
            ("core_groups_partial_update", self.partial_update_group),
            ("core_groups_add_user_create",
             lambda: self.change_membership(core.core_groups_add_user_create, member=True)),
            ("core_groups_remove_user_create",
             lambda: self.change_membership(core.core_groups_remove_user_create, member=False)),

            ("core_tokens_create", self.create_token),
            ("core_tokens_list[identifier]", self.list_tokens),
            ("core_tokens_retrieve", self.retrieve_token),
            ("core_tokens_view_key_retrieve", self.view_token_key),
            ("core_tokens_destroy", lambda: call(core.core_tokens_destroy,
                                                 self.need("token").identifier, status=204)),
            ("core_tokens_retrieve[after destroy] -> 404",
             lambda: expect_not_found(core.core_tokens_retrieve, self.need("token").identifier)),

            ("sources_user_connections_plex_create[low-level, user+source]",
             self.create_user_connection),
            ("sources_user_connections_plex_list[user]", lambda: self.expect_connections(
                sources.sources_user_connections_plex_list,
                ak.PaginatedUserPlexSourceConnectionList, "user_connection",
                user=self.need("user").pk)),
            ("sources_user_connections_plex_list[source__slug]", lambda: self.expect_connections(
                sources.sources_user_connections_plex_list,
                ak.PaginatedUserPlexSourceConnectionList, "user_connection",
                source__slug=self.need("source").slug)),
            ("sources_user_connections_plex_retrieve", lambda: self.expect_connection(
                sources.sources_user_connections_plex_retrieve, "user_connection")),
            ("sources_user_connections_plex_update", self.update_user_connection),
            ("sources_user_connections_plex_partial_update", self.partial_update_user_connection),
            ("sources_user_connections_plex_used_by_list",
             lambda: call_used_by(sources.sources_user_connections_plex_used_by_list,
                                  self.need("user_connection").pk)),
            ("sources_user_connections_plex_destroy",
             lambda: call(sources.sources_user_connections_plex_destroy,
                          self.need("user_connection").pk, status=204)),
            ("sources_user_connections_plex_retrieve[after destroy] -> 404",
             lambda: expect_not_found(sources.sources_user_connections_plex_retrieve,
                                      self.need("user_connection").pk)),

            ("sources_group_connections_plex_create[low-level, group+source]",
             self.create_group_connection),
            ("sources_group_connections_plex_list[group]", lambda: self.expect_connections(
                sources.sources_group_connections_plex_list,
                ak.PaginatedGroupPlexSourceConnectionList, "group_connection",
                group=self.need("group").pk)),
            ("sources_group_connections_plex_list[source__slug]", lambda: self.expect_connections(
                sources.sources_group_connections_plex_list,
                ak.PaginatedGroupPlexSourceConnectionList, "group_connection",
                source__slug=self.need("source").slug)),
            ("sources_group_connections_plex_retrieve", lambda: self.expect_connection(
                sources.sources_group_connections_plex_retrieve, "group_connection")),
            ("sources_group_connections_plex_update", lambda: self.expect_connection(
                sources.sources_group_connections_plex_update, "group_connection")),
            ("sources_group_connections_plex_partial_update", lambda: self.expect_connection(
                sources.sources_group_connections_plex_partial_update, "group_connection")),
            ("sources_group_connections_plex_used_by_list",
             lambda: call_used_by(sources.sources_group_connections_plex_used_by_list,
                                  self.need("group_connection").pk)),
            ("sources_group_connections_plex_create[duplicate] -> 400",
             self.reject_duplicate_group_connection),
            ("sources_group_connections_plex_destroy",
             lambda: call(sources.sources_group_connections_plex_destroy,
                          self.need("group_connection").pk, status=204)),
            ("sources_group_connections_plex_retrieve[after destroy] -> 404",
             lambda: expect_not_found(sources.sources_group_connections_plex_retrieve,
                                      self.need("group_connection").pk)),

            ("core_groups_destroy",
             lambda: call(core.core_groups_destroy, self.need("group").pk, status=204)),
            ("core_users_destroy",
             lambda: call(core.core_users_destroy, self.need("user").pk, status=204)),
            ("core_users_destroy[inactive]",
             lambda: call(core.core_users_destroy, self.need("inactive_user").pk, status=204)),
            ("core_users_retrieve[after destroy] -> 404",
             lambda: expect_not_found(core.core_users_retrieve, self.need("user").pk)),
            ("sources_plex_destroy[for connections]",
             lambda: call(sources.sources_plex_destroy, self.need("source").slug, status=204)),
        ]

    # setup

    def create_source(self) -> None:
        slug = self.ctx.unique("plex-conn")
        self.ctx.defer_delete(self.ctx.sources.sources_plex_destroy, slug)
        request = ak.PlexSourceRequest(name=f"Compat connections {self.ctx.suffix}", slug=slug,
                                       plex_token="compat-token-connections")
        self.state["source"] = call(self.ctx.sources.sources_plex_create, request, status=201,
                                    model=ak.PlexSource)

    # users

    def retrieve_me(self) -> None:
        session = call(self.ctx.core.core_users_me_retrieve, model=ak.SessionUser)
        expect_equal(session.user.is_superuser, True, "the token's user is_superuser")

    def create_user(self, key: str, letter: str, is_active: bool) -> None:
        # usernames differ only in their last letter, so ordering is collation-proof
        username = f"compat-{self.ctx.suffix}-{letter}"
        request = ak.UserRequest(username=username, name=f"Compat user {letter}",
                                 email=f"{username}@example.com", is_active=is_active,
                                 path="users/compat", attributes={"compat/run": self.ctx.suffix})
        user = call(self.ctx.core.core_users_create, request, status=201, model=ak.User)
        self.state[key] = user
        self.ctx.defer_delete(self.ctx.core.core_users_destroy, user.pk)
        expect_fields(user, username=username, name=request.name, email=request.email,
                      is_active=is_active, path="users/compat", attributes=request.attributes)

    def expect_users(self, query: Dict[str, Any], keys: List[str]) -> None:
        page = call(self.ctx.core.core_users_list, model=ak.PaginatedUserList, **query)
        expect_results(page, [self.need(key).pk for key in keys])

    def retrieve_user(self) -> None:
        user = self.need("user")
        fetched = call(self.ctx.core.core_users_retrieve, user.pk, model=ak.User)
        expect_fields(fetched, pk=user.pk, username=user.username, uuid=user.uuid)

    def update_user(self) -> None:
        user = self.need("user")
        request = ak.UserRequest(username=user.username, name="Compat user renamed",
                                 email=user.email, is_active=True, path="users/compat",
                                 attributes={"compat/run": self.ctx.suffix, "updated": True})
        updated = call(self.ctx.core.core_users_update, user.pk, request, model=ak.User)
        expect_fields(updated, pk=user.pk, name=request.name, attributes=request.attributes)

    def partial_update_user(self) -> None:
        user = self.need("user")
        patched = call(self.ctx.core.core_users_partial_update, user.pk,
                       ak.PatchedUserRequest(name="Compat user patched"), model=ak.User)
        expect_fields(patched, pk=user.pk, name="Compat user patched", username=user.username)

    # groups

    def create_group(self) -> None:
        request = ak.GroupRequest(name=self.ctx.unique("group"),
                                  attributes={"compat/run": self.ctx.suffix})
        group = call(self.ctx.core.core_groups_create, request, status=201, model=ak.Group)
        self.state["group"] = group
        self.ctx.defer_delete(self.ctx.core.core_groups_destroy, group.pk)
        expect_fields(group, name=request.name, attributes=request.attributes)

    def list_groups_by_name(self) -> None:
        group = self.need("group")
        page = call(self.ctx.core.core_groups_list, name=group.name, model=ak.PaginatedGroupList)
        expect_results(page, [group.pk])

    def retrieve_group(self) -> None:
        group = self.need("group")
        fetched = call(self.ctx.core.core_groups_retrieve, group.pk, model=ak.Group)
        expect_fields(fetched, pk=group.pk, name=group.name, num_pk=group.num_pk)

    def update_group(self) -> None:
        group = self.need("group")
        request = ak.GroupRequest(name=group.name + "-renamed",
                                  attributes={"compat/run": self.ctx.suffix, "updated": True})
        updated = call(self.ctx.core.core_groups_update, group.pk, request, model=ak.Group)
        expect_fields(updated, pk=group.pk, name=request.name, attributes=request.attributes)

    def partial_update_group(self) -> None:
        group = self.need("group")
        patched = call(self.ctx.core.core_groups_partial_update, group.pk,
                       ak.PatchedGroupRequest(name=group.name), model=ak.Group)
        expect_fields(patched, pk=group.pk, name=group.name)

    def change_membership(self, method: Callable, member: bool) -> None:
        group, user = self.need("group"), self.need("user")
        call(method, group.pk, ak.UserAccountRequest(pk=user.pk), status=204)
        fetched = call(self.ctx.core.core_groups_retrieve, group.pk, model=ak.Group)
        expect_equal(user.pk in (fetched.users or []), member,
                     f"user {user.pk} in group users {fetched.users}")

    # tokens

    def create_token(self) -> None:
        user = self.need("user")
        identifier = self.ctx.unique("token")
        request = ak.TokenRequest(identifier=identifier, intent="api", expiring=False,
                                  user=user.pk, description="plexid compat test")
        self.ctx.defer_delete(self.ctx.core.core_tokens_destroy, identifier)
        token = call(self.ctx.core.core_tokens_create, request, status=201, model=ak.Token)
        self.state["token"] = token
        expect_fields(token, identifier=identifier, intent="api", expiring=False, user=user.pk)
        expect_equal(token.user_obj.pk, user.pk, "Token.user_obj.pk")

    def list_tokens(self) -> None:
        token = self.need("token")
        page = call(self.ctx.core.core_tokens_list, identifier=token.identifier,
                    model=ak.PaginatedTokenList)
        expect_results(page, [token.identifier], "identifier")

    def retrieve_token(self) -> None:
        token = self.need("token")
        fetched = call(self.ctx.core.core_tokens_retrieve, token.identifier, model=ak.Token)
        expect_fields(fetched, pk=token.pk, identifier=token.identifier)

    def view_token_key(self) -> None:
        view = call(self.ctx.core.core_tokens_view_key_retrieve, self.need("token").identifier,
                    model=ak.TokenView)
        expect(bool(view.key), "empty token key")

    # Plex connections (shared)

    def create_connection(self, key: str, path: str, body: Dict[str, Any], model: type) -> Any:
        response = post_untyped(self.ctx.api_client, path, body, model)
        connection = self.state[key] = response.data
        expect("plex_token" not in json.loads(response.raw_data),
               "plex_token echoed in the response")
        self.expect_base_source(connection.source)
        expect_equal(connection.identifier, body["identifier"], "identifier")
        return connection

    def expect_base_source(self, nested: ak.Source) -> None:
        """Connections nest the base Source shape, not the PlexSource one."""
        source = self.need("source")
        expect_fields(nested, pk=source.pk, slug=source.slug,
                      meta_model_name="authentik_core.source")

    def expect_connections(self, list_method: Callable, model: type, key: str,
                           **query: Any) -> None:
        page = call(list_method, model=model, **query)
        expect_results(page, [self.need(key).pk])

    def expect_connection(self, method: Callable, key: str) -> None:
        """retrieve, or an update without body (group connections): the same object back."""
        connection = self.need(key)
        fetched = call(method, connection.pk, model=type(connection))
        expect_fields(fetched, pk=connection.pk, identifier=connection.identifier)
        self.expect_base_source(fetched.source)

    # user Plex connections

    def create_user_connection(self) -> None:
        user, source = self.need("user"), self.need("source")
        body = {"user": user.pk, "source": source.pk, "identifier": f"plex-user-{self.ctx.suffix}",
                "plex_token": "compat-user-token"}
        connection = self.create_connection("user_connection", USER_CONNECTIONS_PATH, body,
                                            ak.UserPlexSourceConnection)
        expect_equal(connection.user, user.pk, "UserPlexSourceConnection.user")

    def update_user_connection(self) -> None:
        connection = self.need("user_connection")
        request = ak.UserPlexSourceConnectionRequest(identifier=connection.identifier,
                                                     plex_token="compat-user-token-2")
        updated = call(self.ctx.sources.sources_user_connections_plex_update, connection.pk,
                       request, model=ak.UserPlexSourceConnection)
        expect_fields(updated, pk=connection.pk, user=connection.user,
                      identifier=connection.identifier)

    def partial_update_user_connection(self) -> None:
        connection = self.need("user_connection")
        patch = ak.PatchedUserPlexSourceConnectionRequest(plex_token="compat-user-token-3")
        patched = call(self.ctx.sources.sources_user_connections_plex_partial_update,
                       connection.pk, patch, model=ak.UserPlexSourceConnection)
        expect_fields(patched, pk=connection.pk, identifier=connection.identifier)

    # group Plex connections

    def group_connection_body(self) -> Dict[str, Any]:
        return {"group": self.need("group").pk, "source": self.need("source").slug,
                "identifier": GROUP_CONNECTION_IDENTIFIER}

    def create_group_connection(self) -> None:
        connection = self.create_connection("group_connection", GROUP_CONNECTIONS_PATH,
                                            self.group_connection_body(),
                                            ak.GroupPlexSourceConnection)
        expect_equal(connection.group, self.need("group").pk, "GroupPlexSourceConnection.group")

    def reject_duplicate_group_connection(self) -> None:
        self.need("group_connection")
        exc = expect_api_error(400, lambda: post_untyped(
            self.ctx.api_client, GROUP_CONNECTIONS_PATH, self.group_connection_body(),
            ak.GroupPlexSourceConnection))
        field_errors(exc)


# --------------------------------------------------------------------------------------------
# Suite "login": redeem_token, redeem_token_authenticated and the audit log


class LoginSuite(Suite):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        if not ctx.plex_tokens:
            raise SystemExit("the login suite needs --plex-tokens and --plex-server")
        self.owner, self.member, self.stranger = ctx.plex_tokens
        # The sign-in itself is anonymous: a caller with a token would link the Plex account to
        # itself instead (authentik's behaviour).
        anonymous = ak.ApiClient(ak.Configuration(host=ctx.api_client.configuration.host))
        self.anonymous_sources = ak.SourcesApi(anonymous)

    def checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        return [
            ("sources_plex_create[for sign-in]", self.create_source),
            ("sources_plex_redeem_token_create[member]", self.member_signs_in),
            ("sources_plex_redeem_token_create[stranger] -> 403", self.stranger_is_refused),
            ("sources_plex_redeem_token_authenticated_create", self.admin_connects),
            ("events_events_list[action=login]", self.list_login_events),
            ("events_events_retrieve", self.retrieve_event),
            ("sources_plex_destroy[sign-in source]",
             lambda: call(self.ctx.sources.sources_plex_destroy, self.need("source").slug, status=204)),
        ]

    def flow_pk(self, slug: str) -> str:
        page = call(self.ctx.flows.flows_instances_list, slug=slug)
        return page.results[0].pk

    def create_source(self) -> None:
        slug = self.ctx.unique("login")
        request = ak.PlexSourceRequest(
            name=slug, slug=slug, plex_token=self.owner, allowed_servers=[self.ctx.plex_server],
            allow_friends=True, authentication_flow=self.flow_pk(DEFAULT_AUTHENTICATION_FLOW),
            enrollment_flow=self.flow_pk(DEFAULT_ENROLLMENT_FLOW))
        source = call(self.ctx.sources.sources_plex_create, request, status=201)
        self.ctx.defer_delete(self.ctx.sources.sources_plex_destroy, source.slug)
        self.state["source"] = source

    def member_signs_in(self) -> None:
        source = self.need("source")
        challenge = call(self.anonymous_sources.sources_plex_redeem_token_create,
                         ak.PlexTokenRedeemRequest(plex_token=self.member), slug=source.slug,
                         model=ak.RedirectChallenge)
        expect_equal(challenge.component, "xak-flow-redirect", "component")
        # Signed in, or (when a user already has the member's username) asked for one.
        expect(challenge.to == "/if/user/" or challenge.to.startswith("/if/flow/"), f"to: {challenge.to}")

    def stranger_is_refused(self) -> None:
        source = self.need("source")
        exc = expect_api_error(403, lambda: self.anonymous_sources.sources_plex_redeem_token_create(
            ak.PlexTokenRedeemRequest(plex_token=self.stranger), slug=source.slug,
            _request_timeout=REQUEST_TIMEOUT))
        body = json.loads(exc.body)
        expect_equal(body.get("code"), "not_allowed", "refusal code")

    def admin_connects(self) -> None:
        source = self.need("source")
        call(self.ctx.sources.sources_plex_redeem_token_authenticated_create,
             ak.PlexTokenRedeemRequest(plex_token=self.owner), slug=source.slug, status=204)

    def list_login_events(self) -> None:
        page = call(self.ctx.events.events_events_list, action="login", ordering="-created",
                    model=ak.PaginatedEventList)
        expect(len(page.results) >= 1, "a login event")
        expect_equal(page.results[0].action, ak.EventActions.LOGIN, "action")
        self.state["event"] = page.results[0]

    def retrieve_event(self) -> None:
        event = self.need("event")
        got = call(self.ctx.events.events_events_retrieve, event.pk, model=ak.Event)
        expect_equal(got.pk, event.pk, "pk")


# --------------------------------------------------------------------------------------------
# Suite "apps": applications, OAuth2/OpenID and proxy (forward-auth) providers


AUTHORIZATION_FLOW = "default-provider-authorization-implicit-consent"


class AppsSuite(Suite):
    def checks(self) -> List[Tuple[str, Callable[[], Any]]]:
        return [
            ("providers_oauth2_create", self.create_oauth2),
            ("providers_oauth2_create[missing fields] -> 400", self.oauth2_missing_fields),
            ("providers_oauth2_retrieve[secret masked]", self.retrieve_oauth2),
            ("providers_oauth2_list", self.list_oauth2),
            ("providers_oauth2_partial_update", self.update_oauth2),
            ("providers_proxy_create", self.create_proxy),
            ("providers_proxy_list", lambda: call(self.ctx.providers.providers_proxy_list,
                                                   model=ak.PaginatedProxyProviderList)),
            ("core_applications_create", self.create_application),
            ("core_applications_create[bad slug] -> 400", self.application_bad_slug),
            ("core_applications_retrieve", self.retrieve_application),
            ("core_applications_list", self.list_applications),
            ("core_applications_partial_update", self.update_application),
            ("core_applications_check_access_retrieve", self.check_access),
            ("providers_oauth2_setup_urls_retrieve", self.setup_urls),
            ("providers_oauth2_used_by_list", lambda: call_used_by(
                self.ctx.providers.providers_oauth2_used_by_list, self.need("oauth2").pk)),
            ("core_applications_destroy", lambda: call(
                self.ctx.core.core_applications_destroy, self.need("application").slug, status=204)),
            ("providers_proxy_destroy", lambda: call(
                self.ctx.providers.providers_proxy_destroy, self.need("proxy").pk, status=204)),
            ("providers_oauth2_destroy", lambda: call(
                self.ctx.providers.providers_oauth2_destroy, self.need("oauth2").pk, status=204)),
        ]

    def authorization_flow(self) -> str:
        return call(self.ctx.flows.flows_instances_list, slug=AUTHORIZATION_FLOW).results[0].pk

    def create_oauth2(self) -> None:
        request = ak.OAuth2ProviderRequest(
            name=self.ctx.unique("oidc"), authorization_flow=self.authorization_flow(),
            client_type=ak.ClientTypeEnum.CONFIDENTIAL, redirect_uris="https://app.example.com/cb")
        provider = call(self.ctx.providers.providers_oauth2_create, request, status=201,
                        model=ak.OAuth2Provider)
        self.ctx.defer_delete(self.ctx.providers.providers_oauth2_destroy, provider.pk)
        expect_equal(len(provider.client_secret), 128, "a new secret in full")
        expect_equal(provider.assigned_application_slug, "", "no application yet")
        self.state["oauth2"] = provider

    def oauth2_missing_fields(self) -> None:
        exc = expect_api_error(400, lambda: self.ctx.providers.providers_oauth2_create(
            ak.OAuth2ProviderRequest.model_construct(), _request_timeout=REQUEST_TIMEOUT))
        field_errors(exc, "name", "authorization_flow")

    def retrieve_oauth2(self) -> None:
        provider = call(self.ctx.providers.providers_oauth2_retrieve, self.need("oauth2").pk,
                        model=ak.OAuth2Provider)
        expect(provider.client_secret.startswith(MASKED_TOKEN), "the secret is masked after creation")

    def list_oauth2(self) -> None:
        page = call(self.ctx.providers.providers_oauth2_list, name=self.need("oauth2").name,
                    model=ak.PaginatedOAuth2ProviderList)
        expect_results(page, [self.need("oauth2").pk])

    def update_oauth2(self) -> None:
        provider = call(self.ctx.providers.providers_oauth2_partial_update, self.need("oauth2").pk,
                        ak.PatchedOAuth2ProviderRequest(access_token_validity="minutes=30"),
                        model=ak.OAuth2Provider)
        expect_equal(provider.access_token_validity, "minutes=30", "access_token_validity")

    def create_proxy(self) -> None:
        request = ak.ProxyProviderRequest(
            name=self.ctx.unique("fa"), authorization_flow=self.authorization_flow(),
            external_host=f"https://{self.ctx.unique('fa')}.example.com",
            mode=ak.ProxyMode.FORWARD_SINGLE)
        provider = call(self.ctx.providers.providers_proxy_create, request, status=201, model=ak.ProxyProvider)
        self.ctx.defer_delete(self.ctx.providers.providers_proxy_destroy, provider.pk)
        expect_equal(provider.mode, ak.ProxyMode.FORWARD_SINGLE, "mode")
        self.state["proxy"] = provider

    def create_application(self) -> None:
        slug = self.ctx.unique("app")
        request = ak.ApplicationRequest(name=slug, slug=slug, provider=self.need("oauth2").pk,
                                        meta_launch_url="https://app.example.com/")
        application = call(self.ctx.core.core_applications_create, request, status=201, model=ak.Application)
        self.ctx.defer_delete(self.ctx.core.core_applications_destroy, application.slug)
        expect_equal(application.provider_obj.assigned_application_slug, slug, "provider_obj names it")
        self.state["application"] = application

    def application_bad_slug(self) -> None:
        exc = expect_api_error(400, lambda: self.ctx.core.core_applications_create(
            ak.ApplicationRequest.model_construct(name="x", slug="Not A Slug"), _request_timeout=REQUEST_TIMEOUT))
        field_errors(exc, "slug")

    def retrieve_application(self) -> None:
        application = call(self.ctx.core.core_applications_retrieve, self.need("application").slug,
                           model=ak.Application)
        expect_equal(application.launch_url, "https://app.example.com/", "launch_url")

    def list_applications(self) -> None:
        page = call(self.ctx.core.core_applications_list, slug=self.need("application").slug,
                    model=ak.PaginatedApplicationList)
        expect_results(page, [self.need("application").pk])

    def update_application(self) -> None:
        application = call(self.ctx.core.core_applications_partial_update, self.need("application").slug,
                           ak.PatchedApplicationRequest(meta_publisher="plexid"), model=ak.Application)
        expect_equal(application.meta_publisher, "plexid", "meta_publisher")

    def check_access(self) -> None:
        result = call(self.ctx.core.core_applications_check_access_retrieve, self.need("application").slug,
                      model=ak.PolicyTestResult)
        expect(result.passing, "an application without rules admits its superuser")

    def setup_urls(self) -> None:
        urls = call(self.ctx.providers.providers_oauth2_setup_urls_retrieve, self.need("oauth2").pk,
                    model=ak.OAuth2ProviderSetupURLs)
        expect(urls.issuer.endswith(f"/application/o/{self.need('application').slug}/"), f"issuer {urls.issuer}")


SUITES = {"foundation": [FoundationSuite], "connections": [ConnectionsSuite], "login": [LoginSuite],
          "apps": [AppsSuite], "all": [FoundationSuite, ConnectionsSuite, LoginSuite, AppsSuite]}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compatibility test of plexid against authentik's generated Python client.")
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:9000")
    parser.add_argument("--token", required=True, help="API token of a superuser")
    parser.add_argument("--suite", choices=sorted(SUITES), default="all")
    parser.add_argument("--plex-tokens", help="OWNER,MEMBER,STRANGER Plex tokens (login suite)")
    parser.add_argument("--plex-server", help="client identifier of the member's server (login suite)")
    args = parser.parse_args(argv)

    ctx = Context(args.url, args.token)
    ctx.plex_tokens = args.plex_tokens.split(",") if args.plex_tokens else []
    ctx.plex_server = args.plex_server
    try:
        for suite in SUITES[args.suite]:
            suite(ctx).run()
    finally:
        ctx.cleanup()
    print(f"{ctx.passed} passed, {ctx.failed} failed", flush=True)
    return 1 if ctx.failed else 0


if __name__ == "__main__":
    sys.exit(main())
