// ferroflow web UI: small, plain JavaScript (no framework, no build step).
//
// * <time datetime> elements are shown in the browser's time zone.
// * Live regions: an element with data-live="URL" is replaced, every data-every
//   milliseconds (default 2000), by the HTML fragment the server answers at URL (rendered
//   and escaped there: this script inserts nothing of its own). The fragment's root
//   element carries data-live again while it is still changing; when it does not (the
//   run ended), polling stops. Polling pauses while the tab is hidden.
"use strict";

(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var pad = function (n) { return String(n).padStart(2, "0"); };
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    });
  }

  // A fragment of HTML the server renders at url, parsed: a promise of its
  // DocumentFragment, or null (an error, or no answer within FRAGMENT_TIMEOUT ms: a
  // server that never answers must not stop a page's polling for good). A session that
  // ended (401, or sent to the login page) reloads the page, which then asks to log in.
  var FRAGMENT_TIMEOUT = 15000;
  function fragment(url) {
    var abort = new AbortController();
    var timer = window.setTimeout(function () { abort.abort(); }, FRAGMENT_TIMEOUT);
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" }, signal: abort.signal })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (text) {
        if (text === null) return null;
        var box = document.createElement("template");
        box.innerHTML = text;  // the server's own escaped HTML
        return box.content;
      })
      .catch(function () { return null; })
      .finally(function () { window.clearTimeout(timer); });
  }

  function poll(el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-every") || "2000", 10);
    var timer = null;
    function schedule() { timer = window.setTimeout(tick, every); }
    function tick() {
      if (document.hidden) { schedule(); return; }
      fragment(url).then(function (content) {
        var fresh = content && content.firstElementChild;
        if (!fresh) { schedule(); return; }
        el.replaceWith(fresh);
        localTimes(fresh);
        document.dispatchEvent(new CustomEvent("ferroflow:live", { detail: fresh }));
        if (fresh.hasAttribute("data-live")) poll(fresh);
      });
    }
    schedule();
  }

  function start() {
    localTimes(document);
    document.querySelectorAll("[data-live]").forEach(poll);
  }

  // Buttons that ask first: <button data-confirm="Cancel this run?"> (asked for at the
  // document, so that buttons of live parts put in place later ask too)
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.hasAttribute("data-confirm") && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  window.ferroflow = { poll: poll, fragment: fragment, localTimes: localTimes };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
