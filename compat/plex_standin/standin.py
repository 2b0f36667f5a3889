#!/usr/bin/env python3
"""An independent stand-in for plex.tv, clients.plex.tv and community.plex.tv.

Written only from plex-tv-wire.md in the project's shared specifications (the public
descriptions of what plex.tv really sends), in Python with the standard library only, so that it
shares no code and no assumptions with the Rust `fake-plex`. See README.md next to this file.

    python3 standin.py --config world.json [--one-port]

It listens on 127.0.0.1 (ports chosen by the system unless given) and prints one JSON line on
stdout once it answers: {"api": URL, "clients": URL, "community": URL}. Without --one-port each
host has its own port and answers only its own paths; with it one port answers all three.

The world (accounts, servers, shares, friends, Homes) and the fault switches come from the JSON
file; `PUT /_standin/config` on the api port replaces them while running, `GET /_standin/calls`
lists the calls heard (and `DELETE` forgets them), `POST /_standin/pins/{id}/approve` with
`{"account": ID}` approves a PIN as that account would in the Plex window.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import secrets
import string
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import quoteattr

API, CLIENTS, COMMUNITY = "api", "clients", "community"

UNAUTHORIZED = {"code": 1001, "message": "User could not be authenticated", "status": 401}
NO_CLIENT_ID = {"code": 1000, "message": "X-Plex-Client-Identifier is missing", "status": 400}
PIN_NOT_FOUND = {"code": 1020, "message": "Code not found or expired", "status": 404}
GONE_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<Response code="410" status="This endpoint was deprecated and removed"/>\n'


def now_iso(offset: int = 0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    """The configured personas and switches, and the state the stand-in keeps (PINs, calls)."""

    def __init__(self, config: dict):
        self.lock = threading.Lock()
        self.pins: dict[int, dict] = {}
        self.calls: list[dict] = []
        self.fault_uses: dict[int, int] = {}
        self.load(config)

    def load(self, config: dict) -> None:
        with self.lock:
            self.config = config
            self.fault_uses = {}
            self.accounts = {int(a["id"]): a for a in config.get("accounts", [])}
            self.by_token = {a["token"]: a for a in config.get("accounts", []) if a.get("token") and not a.get("revoked")}
            self.switches = config.get("switches", {})

    # --- looking things up -------------------------------------------------------------------

    def account_of(self, token: str | None) -> dict | None:
        return self.by_token.get(token) if token else None

    def account(self, account_id: int) -> dict:
        return self.accounts[int(account_id)]

    def servers(self) -> list[dict]:
        return self.config.get("servers", [])

    def server(self, machine_identifier: str) -> dict | None:
        return next((s for s in self.servers() if s["machineIdentifier"] == machine_identifier), None)

    def shares(self, accepted: bool | None = None) -> list[dict]:
        shares = self.config.get("shares", [])
        return [s for s in shares if accepted is None or bool(s.get("accepted", True)) == accepted]

    def home_of(self, account_id: int) -> dict | None:
        """The Plex Home the account belongs to (as admin or member)."""
        for home in self.config.get("homes", []):
            if home["admin"] == account_id or account_id in home.get("members", []):
                return home
        return None

    def fault_for(self, role: str, path: str, account: dict | None) -> dict | None:
        with self.lock:
            for index, fault in enumerate(self.config.get("faults", [])):
                if fault.get("host") not in (None, role):
                    continue
                if not fnmatch.fnmatchcase(path, fault["path"]):
                    continue
                if "account" in fault and (account is None or int(account["id"]) != int(fault["account"])):
                    continue
                times = fault.get("times")
                if times is not None:
                    used = self.fault_uses.get(index, 0)
                    if used >= times:
                        continue
                    self.fault_uses[index] = used + 1
                return fault
        return None

    def record(self, call: dict) -> None:
        with self.lock:
            self.calls.append(call)


# --- the shapes plex.tv answers ------------------------------------------------------------------


def display_name(account: dict) -> str:
    return account.get("title") or account.get("username") or f"user{account['id']}"


def uuid_of(account: dict) -> str:
    return account.get("uuid") or uuid.uuid5(uuid.NAMESPACE_OID, f"plex-standin-{account['id']}").hex[:16]


def username_of(account: dict, managed_value):
    """Managed Plex Home users have no username: "" in /user, null in friend entries."""
    if account.get("managed"):
        return managed_value
    return account.get("username")


def email_of(account: dict, managed_value):
    if account.get("managed"):
        return managed_value
    return account.get("email")


def user_json(world: World, account: dict, token: str) -> dict:
    account_id = int(account["id"])
    home = world.home_of(account_id)
    return {
        "id": account_id,
        "uuid": uuid_of(account),
        "username": username_of(account, ""),
        "title": display_name(account),
        "email": email_of(account, ""),
        "friendlyName": account.get("friendlyName", ""),
        "locale": None,
        "confirmed": True,
        "joinedAt": 1600000000,
        "emailOnlyAuth": False,
        "hasPassword": not account.get("managed", False),
        "protected": False,
        "thumb": f"https://plex.tv/users/{uuid_of(account)}/avatar?c=1",
        "authToken": token,
        "mailingListStatus": "unsubscribed",
        "mailingListActive": False,
        "scrobbleTypes": "",
        "country": "US",
        "subscription": {"active": False, "subscribedAt": None, "status": "Inactive", "paymentService": None, "plan": None, "features": []},
        "subscriptionDescription": None,
        "restricted": bool(account.get("managed", False)),
        "anonymous": None,
        "home": home is not None,
        "guest": False,
        "homeSize": 1 + len(home.get("members", [])) if home else 1,
        "homeAdmin": bool(home and home["admin"] == account_id),
        "maxHomeSize": 15,
        "rememberExpiresAt": 1900000000,
        "profile": {"autoSelectAudio": True, "defaultAudioLanguage": None, "defaultSubtitleLanguage": None},
        "entitlements": [],
        "roles": [],
        "services": [],
        "adsConsent": None,
        "adsConsentSetAt": None,
        "adsConsentReminderAt": None,
        "experimentalFeatures": False,
        "twoFactorEnabled": False,
        "backupCodesCreated": False,
    }


def connection_details(machine_identifier: str) -> list[dict]:
    host = machine_identifier.replace("_", "-").lower()
    return [
        {"protocol": "https", "address": "10.0.0.5", "port": 32400, "uri": f"https://10-0-0-5.{host}.plex.direct:32400", "local": True, "relay": False, "IPv6": False},
        {"protocol": "https", "address": "203.0.113.7", "port": 32400, "uri": f"https://203-0-113-7.{host}.plex.direct:32400", "local": False, "relay": False, "IPv6": False},
    ]


def resource_json(name: str, client_identifier: str, provides: str, owned: bool, owner: dict | None, home: bool) -> dict:
    server = "server" in provides.split(",")
    return {
        "name": name,
        "product": "Plex Media Server" if server else "Plex Web",
        "productVersion": "1.41.3.9314-a0bfb8370" if server else "4.145.1",
        "platform": "Linux" if server else "Chrome",
        "platformVersion": "6.1" if server else "131.0",
        "device": "PC" if server else "Linux",
        "clientIdentifier": client_identifier,
        "createdAt": "2024-01-02T03:04:05Z",
        "lastSeenAt": now_iso(),
        "provides": provides,
        # Owned devices: owned true and ownerId null (no sourceTitle); shared: the owner's id.
        "ownerId": None if owned else int(owner["id"]),
        "sourceTitle": None if owned else display_name(owner),
        "publicAddress": "203.0.113.7",
        "accessToken": secrets.token_urlsafe(15) if server else None,
        "owned": owned,
        "home": home,
        "synced": False,
        "relay": True,
        "presence": True,
        "httpsRequired": True,
        "publicAddressMatches": False,
        "dnsRebindingProtection": False,
        "natLoopbackSupported": False,
        "connections": connection_details(client_identifier) if server else [],
    }


def resources_json(world: World, account: dict) -> list[dict]:
    account_id = int(account["id"])
    home = world.home_of(account_id)
    items = []
    # The person's own devices (a browser, and whatever they registered, servers included).
    items.append(resource_json("Chrome", f"browser-{account_id}", "client,player", True, None, False))
    for device in world.config.get("devices", []):
        if int(device["account"]) == account_id:
            items.append(resource_json(device.get("name", "Device"), device["clientIdentifier"], device.get("provides", "server"), True, None, False))
    for server in world.servers():
        owner = world.account(server["owner"])
        if int(server["owner"]) == account_id:
            items.append(resource_json(server["name"], server["machineIdentifier"], "server", True, None, False))
            continue
        accepted = any(s["server"] == server["machineIdentifier"] and int(s["with"]) == account_id for s in world.shares(True))
        if accepted:
            same_home = home is not None and home is world.home_of(int(owner["id"]))
            items.append(resource_json(server["name"], server["machineIdentifier"], "server", False, owner, same_home))
    return items


def invited_json(account: dict) -> dict:
    return {
        "id": int(account["id"]),
        "uuid": uuid_of(account),
        "title": display_name(account),
        "username": username_of(account, ""),
        "restricted": bool(account.get("managed", False)),
        "email": email_of(account, ""),
        "thumb": f"https://plex.tv/users/{uuid_of(account)}/avatar?c=1",
        "home": bool(account.get("managed", False)),
    }


def shared_servers_json(world: World, owner: dict, accepted: bool) -> list[dict]:
    owner_id = int(owner["id"])
    items = []
    for index, share in enumerate(world.shares(accepted)):
        server = world.server(share["server"])
        if server is None or int(server["owner"]) != owner_id:
            continue
        invited = world.account(share["with"])
        items.append({
            "id": 5000 + index,
            "ownerId": owner_id,
            "invitedId": int(invited["id"]),
            "invitedEmail": email_of(invited, None) if not accepted else None,
            "serverId": 7000 + world.servers().index(server),
            "accepted": accepted,
            "acceptedAt": "2024-05-06T07:08:09Z" if accepted else None,
            "deletedAt": None,
            "leftAt": None,
            "owned": False,
            "inviteToken": None if accepted else secrets.token_hex(8),
            "machineIdentifier": server["machineIdentifier"],
            "lastSeenAt": now_iso(),
            "numLibraries": 1,
            "allLibraries": False,
            "invited": invited_json(invited),
            "sharingSettings": {"allowSync": False, "allowChannels": False, "allowTuners": 0, "allowSubtitleAdmin": False, "allowCameraUpload": False, "filterMovies": "", "filterTelevision": "", "filterMusic": ""},
            "libraries": [{"id": 9001, "key": 1, "title": "Movies", "type": "movie"}],
        })
    return items


def friend_status(world: World, owner_id: int, entry: dict) -> str:
    status = entry.get("status", "accepted")
    if status != "pending":
        return status
    return "pending_sent" if int(entry["from"]) == owner_id else "pending_received"


def friends_json(world: World, owner: dict, wanted: str | None) -> list[dict]:
    owner_id = int(owner["id"])
    items = []
    for entry in world.config.get("friends", []):
        if owner_id not in (int(entry["from"]), int(entry["to"])):
            continue
        other = world.account(entry["to"] if int(entry["from"]) == owner_id else entry["from"])
        items.append((other, friend_status(world, owner_id, entry)))
    # Managed Plex Home users are listed too (restricted, home, no username).
    home = world.home_of(owner_id)
    if home and home["admin"] == owner_id:
        for member in home.get("members", []):
            account = world.account(member)
            if account.get("managed"):
                items.append((account, "accepted"))
    result = []
    for account, status in items:
        if wanted and status != wanted:
            continue
        managed = bool(account.get("managed"))
        result.append({
            "id": int(account["id"]),
            "uuid": uuid_of(account),
            "title": display_name(account),
            "username": username_of(account, None),
            "restricted": managed,
            "email": email_of(account, None),
            "friendlyName": account.get("friendlyName"),
            "thumb": f"https://plex.tv/users/{uuid_of(account)}/avatar?c=1",
            "home": managed,
            "status": status,
            "sharedSources": [],
            # Reported always empty: membership must not be read from it.
            "sharedServers": [],
        })
    return result


def graphql_friends(world: World, owner: dict) -> list[dict]:
    owner_id = int(owner["id"])
    as_string = world.switches.get("graphql_idraw") == "string"
    result = []
    for entry in world.config.get("friends", []):
        if entry.get("status", "accepted") != "accepted" or owner_id not in (int(entry["from"]), int(entry["to"])):
            continue
        other = world.account(entry["to"] if int(entry["from"]) == owner_id else entry["from"])
        result.append({
            "user": {
                "id": uuid_of(other),
                "idRaw": str(other["id"]) if as_string else int(other["id"]),
                "username": other.get("username") or "",
                "displayName": display_name(other),
                "avatar": f"https://plex.tv/users/{uuid_of(other)}/avatar?c=1",
            },
            "createdAt": "2024-03-04T05:06:07.000Z",
        })
    return result


def home_user_json(world: World, account: dict, admin_id: int) -> dict:
    return {
        "id": int(account["id"]),
        "uuid": uuid_of(account),
        "title": display_name(account),
        "username": username_of(account, ""),
        "email": email_of(account, ""),
        "friendlyName": account.get("friendlyName"),
        "thumb": f"https://plex.tv/users/{uuid_of(account)}/avatar?c=1",
        "hasPassword": not account.get("managed", False),
        "restricted": bool(account.get("managed", False)),
        "updatedAt": 1700000000,
        "restrictionProfile": "older_kid" if account.get("managed") else None,
        "admin": int(account["id"]) == admin_id,
        "guest": False,
        "protected": False,
    }


def home_users(world: World, account: dict) -> tuple[dict | None, list[dict]]:
    home = world.home_of(int(account["id"]))
    if home is None:
        return None, []
    members = [home["admin"], *home.get("members", [])]
    return home, [home_user_json(world, world.account(m), home["admin"]) for m in members]


# --- XML -----------------------------------------------------------------------------------------


def xml_value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def xml_element(tag: str, attributes: dict, children: str = "") -> str:
    attrs = "".join(f" {k}={quoteattr(xml_value(v))}" for k, v in attributes.items() if not isinstance(v, (dict, list)))
    return f"<{tag}{attrs}>{children}</{tag}>" if children else f"<{tag}{attrs}/>"


def xml_document(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def as_xml(tag: str, value) -> str:
    """The XML plex.tv's v2 endpoints answer without `Accept: application/json`."""
    if isinstance(value, list):
        item = tag[:-1] if tag.endswith("s") else "item"
        return xml_element(tag, {"size": len(value)}, "".join(as_xml(item, v) for v in value))
    if isinstance(value, dict):
        children = "".join(as_xml(k, v) for k, v in value.items() if isinstance(v, (dict, list)))
        return xml_element(tag, value, children)
    return xml_element(tag, {"value": value})


# --- the HTTP side -------------------------------------------------------------------------------


class Answer(Exception):
    def __init__(self, status: int, body: str | bytes, content_type: str, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or {}


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    world: World
    roles: tuple[str, ...]

    def log_message(self, format, *args):  # noqa: A002 (quiet unless asked)
        if self.server.verbose:
            super().log_message(format, *args)

    # Every method goes through one dispatcher.
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_OPTIONS(self):
        self.send(204, b"", "text/plain", {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE"})

    # --- plumbing ---

    def body(self) -> bytes:
        """The request's body (read once, always: a keep-alive connection goes on after it)."""
        if not hasattr(self, "_body"):
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def wants_json(self) -> bool:
        return "application/json" in (self.headers.get("Accept") or "")

    def send(self, status: int, body, content_type: str, headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def json_or_xml(self, status: int, tag: str, value) -> Answer:
        if self.wants_json():
            return Answer(status, json.dumps(value), "application/json; charset=utf-8")
        return Answer(status, xml_document(as_xml(tag, value)), "application/xml; charset=utf-8")

    def error(self, status: int, error: dict) -> Answer:
        if self.wants_json():
            return Answer(status, json.dumps({"errors": [error]}), "application/json; charset=utf-8")
        body = xml_document(xml_element("errors", {}, xml_element("error", error)))
        return Answer(status, body, "application/xml; charset=utf-8")

    def not_found(self) -> Answer:
        return Answer(404, xml_document('<Response code="404" status="Not Found"/>'), "application/xml; charset=utf-8")

    def token(self, query: dict) -> str | None:
        return self.headers.get("X-Plex-Token") or (query.get("X-Plex-Token") or [None])[0]

    def client_identifier(self, query: dict) -> str | None:
        return self.headers.get("X-Plex-Client-Identifier") or (query.get("X-Plex-Client-Identifier") or [None])[0]

    def dispatch(self, method: str) -> None:
        if hasattr(self, "_body"):
            del self._body
        self.body()
        split = urlsplit(self.path)
        path, query = unquote(split.path), parse_qs(split.query)
        if path.startswith("/_standin/") and API in self.roles:
            self.control(method, path)
            return
        token = self.token(query)
        account = self.world.account_of(token)
        role = self.role_for(method, path)
        self.world.record({
            "host": role or self.roles[0],
            "method": method,
            "path": path,
            "query": split.query,
            "account": int(account["id"]) if account else None,
            "client_identifier": self.client_identifier(query),
            "accept": self.headers.get("Accept"),
            "token_in_url": "token" in split.query.lower(),
        })
        try:
            if role is None:
                raise self.not_found()
            fault = self.world.fault_for(role, path, account)
            if fault is not None:
                self.fault(fault)
            raise self.route(role, method, path, query, token, account)
        except Answer as answer:
            self.send(answer.status, answer.body, answer.content_type, answer.headers)
        except _Hang:
            return

    def role_for(self, method: str, path: str) -> str | None:
        """Which host answers this path (None: not one this listener serves)."""
        if path == "/api" and method == "POST":
            wanted = COMMUNITY
        elif path.startswith("/api/v2/shared_servers/"):
            wanted = CLIENTS
        else:
            wanted = API
        return wanted if wanted in self.roles else None

    def fault(self, fault: dict) -> None:
        mode = str(fault["mode"])
        if mode == "hang":
            time.sleep(float(fault.get("seconds", 30)))
            self.close_connection = True
            raise _Hang()
        if mode == "garbage":
            raise Answer(200, b"\x00\xff<html><body>Bad Gateway</body>{\"not\": json", "application/json")
        if mode == "429":
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
            raise Answer(429, xml_document('<Response code="429" status="Too Many Requests"/>'), "application/xml", headers)
        if mode == "410":
            raise Answer(410, GONE_XML, "application/xml; charset=utf-8")
        if mode == "401":
            raise self.error(401, UNAUTHORIZED)
        raise Answer(int(mode), xml_document(f'<Response code="{mode}" status="Internal Server Error"/>'), "application/xml")

    # --- the paths -----------------------------------------------------------------------------

    def route(self, role: str, method: str, path: str, query: dict, token: str | None, account: dict | None) -> Answer:
        world = self.world
        if role == COMMUNITY:
            return self.graphql(account)
        # plex.tv and clients.plex.tv want a client identifier on every call.
        if not self.client_identifier(query):
            return self.error(400, NO_CLIENT_ID)
        if path == "/api/v2/pins" and method == "POST":
            return self.create_pin(query)
        if path.startswith("/api/v2/pins/") and method == "GET":
            return self.poll_pin(path.rsplit("/", 1)[1], query)
        if method != "GET":
            return self.not_found()
        if account is None:
            return self.error(401, UNAUTHORIZED)
        if path == "/api/v2/user":
            return self.json_or_xml(200, "user", user_json(world, account, token))
        if path == "/api/v2/resources":
            return self.json_or_xml(200, "resources", resources_json(world, account))
        if path == "/api/v2/shared_servers/owned/accepted":
            return self.json_or_xml(200, "sharedServers", shared_servers_json(world, account, True))
        if path == "/api/v2/shared_servers/owned/pending":
            return self.json_or_xml(200, "sharedServers", shared_servers_json(world, account, False))
        if path.startswith("/api/servers/") and path.endswith("/shared_servers"):
            return self.server_shares_xml(account, path[len("/api/servers/"):-len("/shared_servers")])
        if path == "/api/users":
            return self.users_xml(account)
        if path == "/api/v2/friends":
            if world.switches.get("friends_v2", "gone") == "gone":
                return Answer(410, GONE_XML, "application/xml; charset=utf-8")
            wanted = (query.get("status") or [None])[0]
            return self.json_or_xml(200, "friends", friends_json(world, account, wanted))
        if path == "/api/v2/home/users":
            return self.home_v2(account)
        if path == "/api/home/users":
            return self.home_v1(account)
        return self.not_found()

    def create_pin(self, query: dict) -> Answer:
        strong = (query.get("strong") or ["false"])[0] == "true"
        lifetime = int(self.world.switches.get("pin_lifetime", 1800 if strong else 900))
        alphabet = string.ascii_lowercase + string.digits
        code = "".join(secrets.choice(alphabet) for _ in range(25)) if strong else "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))
        with self.world.lock:
            pin_id = 100000 + secrets.randbelow(1000) * 1000 + len(self.world.pins)
            while pin_id in self.world.pins:
                pin_id += 1
            pin = {
                "id": pin_id, "code": code, "product": self.headers.get("X-Plex-Product") or "Plex Web", "trusted": False,
                "qr": f"https://plex.tv/api/v2/pins/qr/{code}", "clientIdentifier": self.client_identifier(query),
                "location": {"code": "US", "european_union_member": False, "continent_code": "NA", "country": "United States",
                             "city": "Springfield", "time_zone": "America/Chicago", "postal_code": "62701",
                             "in_privacy_restricted_country": False, "subdivisions": "Illinois", "coordinates": "39.8, -89.6"},
                "expiresIn": lifetime, "createdAt": now_iso(), "expiresAt": now_iso(lifetime),
                "authToken": None, "newRegistration": None,
                "_expires": time.monotonic() + lifetime,
            }
            self.world.pins[pin_id] = pin
        return self.json_or_xml(201, "pin", {k: v for k, v in pin.items() if not k.startswith("_")})

    def poll_pin(self, raw_id: str, query: dict) -> Answer:
        with self.world.lock:
            pin = self.world.pins.get(int(raw_id)) if raw_id.isdigit() else None
        if pin is None or pin["_expires"] < time.monotonic() or pin["clientIdentifier"] != self.client_identifier(query):
            return self.error(404, PIN_NOT_FOUND)
        shown = {k: v for k, v in pin.items() if not k.startswith("_")}
        shown["expiresIn"] = max(0, int(pin["_expires"] - time.monotonic()))
        return self.json_or_xml(200, "pin", shown)

    def server_shares_xml(self, account: dict, machine_identifier: str) -> Answer:
        server = self.world.server(machine_identifier)
        if server is None or int(server["owner"]) != int(account["id"]):
            return Answer(401, xml_document('<Response code="401" status="Unauthorized"/>'), "application/xml")
        children = []
        for index, share in enumerate(self.world.shares()):
            if share["server"] != machine_identifier:
                continue
            invited = self.world.account(share["with"])
            accepted = bool(share.get("accepted", True))
            section = xml_element("Section", {"id": 9001, "key": 1, "title": "Movies", "type": "movie", "shared": True})
            children.append(xml_element("SharedServer", {
                "id": 5000 + index, "username": username_of(invited, ""), "email": email_of(invited, ""),
                "userID": int(invited["id"]), "accessToken": secrets.token_urlsafe(15), "name": display_name(invited),
                # A pending invitation has not been accepted: acceptedAt 0.
                "acceptedAt": 1700000000 if accepted else 0, "invitedAt": 1690000000,
                "allowSync": False, "allowCameraUpload": False, "allowChannels": False, "allowTuners": 0,
                "allowSubtitleAdmin": False, "owned": False, "allLibraries": False, "filterAll": "",
                "filterMovies": "", "filterMusic": "", "filterPhotos": "", "filterTelevision": "",
            }, section))
        container = xml_element("MediaContainer", {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex",
                                                   "machineIdentifier": machine_identifier, "size": len(children)}, "".join(children))
        return Answer(200, xml_document(container), "application/xml; charset=utf-8")

    def users_xml(self, account: dict) -> Answer:
        owner_id = int(account["id"])
        children = []
        for friend in friends_json(self.world, account, "accepted"):
            servers = [
                xml_element("Server", {"id": 7000 + self.world.servers().index(s), "serverId": 7000 + self.world.servers().index(s),
                                       "machineIdentifier": s["machineIdentifier"], "name": s["name"], "owned": True})
                for s in self.world.servers()
                if int(s["owner"]) == owner_id and any(sh["server"] == s["machineIdentifier"] and int(sh["with"]) == friend["id"] for sh in self.world.shares(True))
            ]
            attributes = {k: friend[k] for k in ("id", "title", "username", "email", "thumb", "restricted", "home")}
            children.append(xml_element("User", attributes, "".join(servers)))
        container = xml_element("MediaContainer", {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex", "size": len(children)}, "".join(children))
        return Answer(200, xml_document(container), "application/xml; charset=utf-8")

    def no_home(self) -> Answer:
        if self.world.switches.get("no_home", "404") == "404":
            return self.error(404, {"code": 1002, "message": "Not found", "status": 404})
        return Answer(200, "[]" if self.wants_json() else xml_document('<MediaContainer size="0"/>'), "application/json" if self.wants_json() else "application/xml")

    def home_v2(self, account: dict) -> Answer:
        home, users = home_users(self.world, account)
        if home is None:
            return self.no_home()
        if self.world.switches.get("home_shape", "object") == "array":
            return self.json_or_xml(200, "users", users)
        admin = self.world.account(home["admin"])
        return self.json_or_xml(200, "home", {
            "id": 40000 + int(admin["id"]), "name": f"{display_name(admin)}'s Home", "guestUserID": None,
            "guestUserUUID": None, "guestEnabled": False, "subscription": False, "users": users,
        })

    def home_v1(self, account: dict) -> Answer:
        home, users = home_users(self.world, account)
        if home is None:
            return self.no_home()
        children = "".join(xml_element("User", u) for u in users)
        container = xml_element("MediaContainer", {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex", "size": len(users)}, children)
        return Answer(200, xml_document(container), "application/xml; charset=utf-8")

    def graphql(self, account: dict | None) -> Answer:
        """community.plex.tv: errors come with status 200."""
        try:
            request = json.loads(self.body() or b"{}")
        except ValueError:
            request = {}
        query = request.get("query") if isinstance(request, dict) else None
        if account is None:
            errors = [{"message": "Unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]
            return Answer(200, json.dumps({"data": None, "errors": errors}), "application/json")
        if not isinstance(query, str) or "allFriendsV2" not in query:
            errors = [{"message": "Cannot query this field in the stand-in", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]
            return Answer(200, json.dumps({"errors": errors}), "application/json")
        return Answer(200, json.dumps({"data": {"allFriendsV2": graphql_friends(self.world, account)}}), "application/json")

    # --- control (tests) -----------------------------------------------------------------------

    def control(self, method: str, path: str) -> None:
        world = self.world
        if path == "/_standin/config" and method == "PUT":
            world.load(json.loads(self.body()))
            self.send(204, b"", "text/plain")
        elif path == "/_standin/config" and method == "GET":
            self.send(200, json.dumps(world.config), "application/json")
        elif path == "/_standin/calls" and method == "GET":
            with world.lock:
                self.send(200, json.dumps(world.calls), "application/json")
        elif path == "/_standin/calls" and method == "DELETE":
            with world.lock:
                world.calls.clear()
            self.send(204, b"", "text/plain")
        elif path.startswith("/_standin/pins/") and path.endswith("/approve") and method == "POST":
            pin_id = int(path.split("/")[3])
            account = world.account(json.loads(self.body())["account"])
            with world.lock:
                pin = world.pins.get(pin_id)
                if pin is not None:
                    pin["authToken"] = account["token"]
            self.send(204 if pin else 404, b"", "text/plain")
        else:
            self.send(404, b"", "text/plain")


class _Hang(Exception):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, world: World, roles: tuple[str, ...], verbose: bool):
        handler = type("BoundHandler", (Handler,), {"world": world, "roles": roles})
        super().__init__(address, handler)
        self.verbose = verbose


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the world: a JSON file (see README.md)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="plex.tv's port (0: any)")
    parser.add_argument("--clients-port", type=int, default=0)
    parser.add_argument("--community-port", type=int, default=0)
    parser.add_argument("--one-port", action="store_true", help="one port answers all three hosts")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as file:
        world = World(json.load(file))
    if args.one_port:
        servers = {API: Server((args.host, args.port), world, (API, CLIENTS, COMMUNITY), args.verbose)}
        servers[CLIENTS] = servers[COMMUNITY] = servers[API]
    else:
        servers = {
            API: Server((args.host, args.port), world, (API,), args.verbose),
            CLIENTS: Server((args.host, args.clients_port), world, (CLIENTS,), args.verbose),
            COMMUNITY: Server((args.host, args.community_port), world, (COMMUNITY,), args.verbose),
        }
    for server in {id(s): s for s in servers.values()}.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    urls = {role: f"http://{args.host}:{server.server_address[1]}" for role, server in servers.items()}
    print(json.dumps(urls), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
