// plexid's "Sign in with Plex" (D20). The Plex window is opened inside the click handler, so
// browsers that block timer-opened popups (iOS Safari, Firefox) allow it; when it is blocked
// anyway, the whole page goes to Plex and comes back through Plex's forwardUrl. The PIN is
// polled every second; a network error, a 5xx or a 429 is passing (polled again, waiting longer
// each time, up to 8 s), only a 404 means the PIN expired. Polling stops when the PIN expires or
// when the Plex window is closed without approving (after one last look), with a message and a
// retry button that starts a new sign-in in one click. The Plex token goes only to plex.tv
// (headers) and to plexid (a POST body), never into a URL. Without a redeem path (the admin's
// source form) the token is handed to the page as a "plexid-token" event instead.
(function () {
  "use strict";
  var root = document.getElementById("plex-login");
  if (!root) return;
  var plexApi = root.dataset.plexApi, plexApp = root.dataset.plexApp;
  var redeemPath = root.dataset.redeem, next = root.dataset.next || "";
  var statusBox = document.getElementById("plex-status");
  var retry = document.getElementById("plex-retry");
  var STORE = "plexid-pending-pin";
  // Back from Plex's page (the full-page path): an approved PIN has its token at once, so a
  // PIN still unapproved after this long means the sign-in was cancelled there.
  var RESUME_GRACE = 6000;

  function show(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "status" + (kind ? " " + kind : "");
  }
  function headers(clientId) {
    return {
      "Accept": "application/json",
      "X-Plex-Product": "plexid",
      "X-Plex-Version": "1",
      "X-Plex-Device-Vendor": "plexid",
      "X-Plex-Client-Identifier": clientId
    };
  }
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function busy(on) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-plex-source]"), function (b) { b.disabled = on; });
  }

  function createPin(clientId) {
    return fetch(plexApi + "/api/v2/pins?strong=true", { method: "POST", headers: headers(clientId) })
      .then(function (r) { if (r.status !== 201 && r.status !== 200) throw new Error("plex.tv answered " + r.status); return r.json(); });
  }
  function authUrl(clientId, code, forwardUrl) {
    var url = plexApp + "/auth#?clientID=" + encodeURIComponent(clientId) + "&code=" + encodeURIComponent(code) +
      "&context%5Bdevice%5D%5Bproduct%5D=plexid";
    if (forwardUrl) url += "&forwardUrl=" + encodeURIComponent(forwardUrl);
    return url;
  }

  function redeem(slug, token, clientId) {
    // Without a redeem path (the admin's source form) the page takes the token itself.
    if (!redeemPath) {
      busy(false);
      root.dispatchEvent(new CustomEvent("plexid-token", { detail: { token: token, clientId: clientId } }));
      return;
    }
    show("Checking your Plex account…");
    var url = redeemPath + "?slug=" + encodeURIComponent(slug) + (next ? "&next=" + encodeURIComponent(next) : "");
    var h = { "Content-Type": "application/json", "Accept": "application/json" };
    var csrf = (cookie("__Host-plexid_csrf") || cookie("plexid_csrf"));
    if (csrf) h["X-CSRFToken"] = csrf;
    return fetch(url, { method: "POST", headers: h, credentials: "same-origin", body: JSON.stringify({ plex_token: token }) })
      .then(function (r) {
        if (r.status === 204) { window.location.reload(); return; }
        return r.json().then(function (body) {
          if (r.ok && body.to) { show("Signed in. One moment…", "ok"); window.location.assign(body.to); return; }
          var detail = body.detail || (body.plex_token && body.plex_token[0]) || (body.non_field_errors && body.non_field_errors[0]) ||
            "Signing in failed (" + r.status + ").";
          fail(detail);
        });
      })
      .catch(function () { fail("plexid could not be reached. Please try again."); });
  }

  function fail(text) {
    show(text, "error");
    retry.hidden = false;
    busy(false);
  }

  var POLL = 1000, MAX_WAIT = 8000;

  function poll(pin, slug, win) {
    var deadline = pin.deadline, wait = POLL, closedSeen = false;
    function stop(text) {
      sessionStorage.removeItem(STORE);
      if (win && !win.closed) win.close();
      fail(text);
    }
    function again(delay) { setTimeout(tick, delay); }
    function tick() {
      if (Date.now() > deadline) {
        stop(pin.resumed ? "The Plex sign-in was not approved (it was cancelled on Plex's page). Try again when you are ready."
          : "The Plex sign-in expired before it was approved. Please try again.");
        return;
      }
      // The window was closed: one last look (Plex may close it after approving), then stop.
      var closed = win && win.closed;
      fetch(plexApi + "/api/v2/pins/" + encodeURIComponent(pin.id), { headers: headers(pin.clientId) })
        .then(function (r) {
          if (r.status === 404) return { expired: true };
          if (!r.ok) return { transient: true };
          return r.json();
        }, function () { return { transient: true }; })
        .then(function (body) {
          if (body.expired) {
            stop("The Plex sign-in expired before it was approved. Please try again.");
          } else if (body.authToken) {
            sessionStorage.removeItem(STORE);
            if (win && !win.closed) win.close();
            redeem(slug, body.authToken, pin.clientId);
          } else if (closed && !body.transient) {
            if (closedSeen) {
              stop("The Plex window was closed before the sign-in was approved.");
            } else {
              closedSeen = true;
              again(POLL);
            }
          } else if (body.transient) {
            show("Plex is not answering; still trying…");
            wait = Math.min(wait * 2, MAX_WAIT);
            again(wait);
          } else {
            if (wait !== POLL) show("Approve the sign-in in the Plex window…");
            wait = POLL;
            again(POLL);
          }
        })
        .catch(function () {
          wait = Math.min(wait * 2, MAX_WAIT);
          again(wait);
        });
    }
    tick();
  }

  var lastButton = null;

  function start(button) {
    lastButton = button;
    var clientId = button.dataset.clientId, slug = button.dataset.plexSource;
    // Opened now, inside the click, so it is not blocked; pointed at Plex once the PIN exists.
    var win = window.open("", "plexauth", "width=600,height=700");
    busy(true);
    retry.hidden = true;
    show("Opening Plex…");
    createPin(clientId).then(function (pin) {
      var saved = { id: pin.id, code: pin.code, clientId: clientId, slug: slug,
        deadline: Date.now() + (pin.expiresIn || 1800) * 1000 };
      if (win && !win.closed) {
        win.location.href = authUrl(clientId, pin.code, "");
        show("Approve the sign-in in the Plex window…");
        poll(saved, slug, win);
      } else {
        // Popup blocked: go to Plex in this page; Plex sends the browser back here.
        sessionStorage.setItem(STORE, JSON.stringify(saved));
        window.location.assign(authUrl(clientId, pin.code, window.location.href));
      }
    }).catch(function () {
      if (win && !win.closed) win.close();
      fail("plex.tv could not be reached. Please try again.");
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-plex-source]"), function (button) {
    button.addEventListener("click", function () { start(button); });
  });
  // One click starts the sign-in again (inside the click, so the Plex window may open).
  retry.addEventListener("click", function () {
    retry.hidden = true;
    show("");
    busy(false);
    if (lastButton) start(lastButton);
  });

  // Back from Plex with the Back button, the page may come from the browser's cache as it was
  // left ("Opening Plex…", buttons disabled): load it afresh, which checks the PIN once.
  window.addEventListener("pageshow", function (event) { if (event.persisted) window.location.reload(); });

  // Back from Plex after a full-page redirect: finish that PIN.
  var pending = sessionStorage.getItem(STORE);
  if (pending) {
    try {
      var pin = JSON.parse(pending);
      // Forgotten at once: a reload or another visit does not wait for this PIN again.
      sessionStorage.removeItem(STORE);
      pin.resumed = true;
      pin.deadline = Math.min(pin.deadline, Date.now() + RESUME_GRACE);
      lastButton = document.querySelector("[data-plex-source=\"" + pin.slug + "\"]");
      busy(true);
      show("Finishing the Plex sign-in…");
      poll(pin, pin.slug, null);
    } catch (e) { sessionStorage.removeItem(STORE); }
  }
})();
