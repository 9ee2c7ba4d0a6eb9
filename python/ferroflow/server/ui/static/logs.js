// ferroflow web UI: following a run's logs (the logs page's "Follow" box).
//
// While the box is ticked, the lines after the last one shown are asked for every 2 s
// (at once again while more are waiting) at the table's data-tail URL, with the
// cursor of the last line (data-after), and appended: the server renders and escapes
// them. Following stops once the run ended and a poll brought nothing new.
"use strict";

(function () {
  function start() {
    var table = document.getElementById("log-lines");
    var box = document.getElementById("follow");
    var status = document.getElementById("follow-status");
    if (!table || !box) return;
    var timer = null;

    function say(text) { if (status) status.textContent = text; }
    function schedule(ms) {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(tick, ms);
    }
    function atBottom() {
      return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
    }
    function tick() {
      timer = null;
      if (!box.checked) return;
      if (document.hidden) { schedule(2000); return; }
      var url = table.getAttribute("data-tail");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(table.getAttribute("data-after") || "");
      window.ferroflow.fragment(url).then(function (content) {
          var body = content && content.querySelector("tbody");
          if (!body) { schedule(4000); return; }
          var rows = Array.prototype.slice.call(body.rows);
          var follow = atBottom();
          var target = table.tBodies[0];
          rows.forEach(function (row) { target.appendChild(row); });
          if (rows.length) {
            window.ferroflow.localTimes(target);
            var none = document.getElementById("no-lines");
            if (none) none.remove();
            if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
          }
          if (body.getAttribute("data-after")) table.setAttribute("data-after", body.getAttribute("data-after"));
          if (body.getAttribute("data-ended") === "1" && rows.length === 0) {
            table.setAttribute("data-ended", "1");
            box.checked = false;
            say("The run is over: no more lines will come.");
            return;
          }
          say("Following…");
          schedule(body.getAttribute("data-more") === "1" ? 50 : 2000);
        });
    }

    box.addEventListener("change", function () {
      if (box.checked) { say("Following…"); schedule(0); } else { say(""); if (timer) window.clearTimeout(timer); }
    });
    if (box.checked) { say("Following…"); schedule(2000); }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
