// The admin's Plex source form: after "Sign in with Plex" (plex-login.js), the token goes into
// the form's token field (sent only when the form is saved) and plexid lists the servers it can
// reach (POST /api/v3/sources/plex/plex_servers/), shown as checkboxes that keep what was ticked.
// Without JavaScript the form still works: paste a token and type server identifiers.
(function () {
  "use strict";
  var root = document.getElementById("plex-login");
  var form = document.getElementById("source-form");
  if (!root || !form) return;
  var button = document.getElementById("plex-signin");
  var clientField = document.getElementById("client_id");
  var tokenField = document.getElementById("plex_token");
  var status = document.getElementById("server-status");
  var group = document.getElementById("allowed_servers-group");

  // The PIN is made with the client identifier the form will save.
  clientField.addEventListener("input", function () { button.dataset.clientId = clientField.value; });

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  function render(servers) {
    var checks = group.querySelector(".checks");
    var ticked = {};
    Array.prototype.forEach.call(group.querySelectorAll("input[name=allowed_servers]"), function (box) {
      if (box.checked) ticked[box.value] = true;
    });
    var listed = {};
    checks.textContent = "";
    function add(value, label, checked) {
      var i = checks.children.length;
      var row = document.createElement("div");
      row.className = "check";
      var box = document.createElement("input");
      box.type = "checkbox"; box.name = "allowed_servers"; box.value = value; box.id = "allowed_servers-" + i;
      box.checked = !!checked;
      var text = document.createElement("label");
      text.htmlFor = box.id; text.textContent = label;
      row.appendChild(box); row.appendChild(text);
      checks.appendChild(row);
    }
    // The servers' names go with the form, so pages show names instead of identifiers.
    var names = document.getElementById("server-names");
    names.textContent = "";
    servers.forEach(function (s) {
      listed[s.clientIdentifier] = true;
      add(s.clientIdentifier, s.name + (s.owned ? " (owned)" : " (shared with you)"), ticked[s.clientIdentifier]);
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "server_names"; hidden.value = s.clientIdentifier + "=" + s.name;
      names.appendChild(hidden);
    });
    Object.keys(ticked).forEach(function (id) { if (!listed[id]) add(id, id + " (not listed by Plex)", true); });
  }

  root.addEventListener("plexid-token", function (event) {
    tokenField.value = event.detail.token;
    document.getElementById("plex-status").textContent = "Signed in with Plex. Save the form to store the new token.";
    status.textContent = "Listing your Plex servers…";
    fetch("/api/v3/sources/plex/plex_servers/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": (cookie("__Host-plexid_csrf") || cookie("plexid_csrf")) },
      body: JSON.stringify({ plex_token: event.detail.token, client_id: event.detail.clientId })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.detail || (body.plex_token && body.plex_token[0]) || ("plexid answered " + r.status));
        render(body);
        status.textContent = body.length + (body.length === 1 ? " server" : " servers") + " listed by Plex.";
      });
    }).catch(function (error) { status.textContent = error.message; });
  });
})();
