// The account page: disconnecting a Plex connection (a DELETE with the session's CSRF token).
(function () {
  "use strict";
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-disconnect]"), function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm("Disconnect this Plex account?")) return;
      button.disabled = true;
      fetch("/api/v3/sources/user_connections/plex/" + encodeURIComponent(button.dataset.disconnect) + "/", {
        method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": (cookie("__Host-plexid_csrf") || cookie("plexid_csrf")), "Accept": "application/json" }
      }).then(function (r) {
        if (r.status === 204) { window.location.reload(); } else { button.disabled = false; window.alert("Disconnecting failed (" + r.status + ")."); }
      });
    });
  });
})();
