// ferroflow web UI: a run's page. The task table is a live part (ui.js replaces it
// while the run goes on); each row says its task's state (data-task, data-css). The
// graph is drawn once: this copies the new states onto its nodes (elements with
// data-task inside #run-graph) instead of fetching the picture again, and fetches it
// one last time when the header says the run is over (its mapped tasks' bars final),
// or when the table lists a task the graph does not have yet (an eager flow's tasks
// are met as its function calls them).
"use strict";

(function () {
  function recolor(part) {
    var graph = document.getElementById("run-graph");
    if (!graph || !part.querySelectorAll) return;
    var missing = false;
    part.querySelectorAll("tr[data-task]").forEach(function (row) {
      if (!graph.querySelector('[data-task="' + row.getAttribute("data-task") + '"]')) missing = true;
      var css = row.getAttribute("data-css");
      graph.querySelectorAll('[data-task="' + row.getAttribute("data-task") + '"]').forEach(function (node) {
        var classes = (node.getAttribute("class") || "").split(/\s+/).filter(function (c) {
          return c && c.indexOf("st-") !== 0;
        });
        classes.push(css);
        node.setAttribute("class", classes.join(" "));
        node.setAttribute("data-state", row.getAttribute("data-state") || "");
      });
    });
    if (missing && graph.querySelector("svg")) redraw();
  }

  function redraw() {
    var graph = document.getElementById("run-graph");
    var url = graph && graph.getAttribute("data-refresh");
    if (!url || graph.hasAttribute("data-live")) return;
    window.ferroflow.fragment(url).then(function (content) {
      var fresh = content && content.firstElementChild;  // (none: the graph drawn before stays)
      if (fresh && fresh.id === "run-graph") graph.replaceWith(fresh);
    });
  }

  document.addEventListener("ferroflow:live", function (event) {
    var part = event.detail;
    if (!part) return;
    if (part.id === "run-tasks") recolor(part);
    if (part.id === "run-head" && !part.hasAttribute("data-live")) redraw();
  });
})();
