// plexid's small helpers on every page (each page works without them): times in the reader's
// own time zone, Copy buttons, slugs that follow names, and the admin menu on narrow screens.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function each(selector, f) { Array.prototype.forEach.call(document.querySelectorAll(selector), f); }

  // <time datetime="…" data-local>2026-01-02 10:00:00 UTC</time>: in local time, UTC kept as a tooltip.
  var format = window.Intl && new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  each("time[data-local]", function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (format && !isNaN(d.getTime())) { t.title = t.textContent; t.textContent = format.format(d); }
  });

  // <button data-copy="id">: copies the text of the element with that id.
  each("button[data-copy]", function (button) {
    var label = button.textContent;
    button.hidden = false;
    function said(text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    function selectIt(source) {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      said(copied ? "Copied" : "Selected: press Ctrl+C");
    }
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      if (!source) return;
      var text = source.textContent;
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { said("Copied"); }, function () { selectIt(source); });
      } else {
        selectIt(source);
      }
    });
  });

  // <input data-slug-from="name">: follows the name field until someone edits it.
  each("input[data-slug-from]", function (slug) {
    var name = document.getElementById(slug.dataset.slugFrom);
    if (!name) return;
    var follows = slug.value === "";
    slug.addEventListener("input", function () { follows = slug.value === ""; });
    name.addEventListener("input", function () {
      if (!follows) return;
      slug.value = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
        .replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50);
    });
  });

  // The admin navigation folds into a Menu button on narrow screens.
  var toggle = document.getElementById("menu-toggle");
  var nav = document.getElementById("admin-nav");
  if (toggle && nav) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
})();
