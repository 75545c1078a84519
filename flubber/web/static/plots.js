// The plots panel: logged series from /api/series, one canvas per codename, drag to zoom.
"use strict";
(function () {
  var view = { since: null, until: null, relative: 600 };   // relative: seconds before now, or null
  var selected = {};
  var zoomStack = [];
  var refreshTimer = null;

  function chosen() { return Object.keys(selected).filter(function (name) { return selected[name]; }); }

  function window_() {
    if (view.relative) { var now = Flubber.now(); return [now - view.relative, now]; }
    return [view.since, view.until];
  }

  function query(format) {
    var range = window_();
    var parts = chosen().map(function (name) { return "codename=" + encodeURIComponent(name); });
    parts.push("since=" + range[0].toFixed(3), "until=" + range[1].toFixed(3));
    var width = document.getElementById("plot-area").clientWidth || 1000;
    parts.push("max_points=" + Math.max(200, Math.min(4000, Math.round(width * 2))));
    if (format) { parts.push("format=" + format); }
    return "/api/series?" + parts.join("&");
  }

  function message(text, bad) {
    var element = document.getElementById("plot-message");
    element.textContent = text;
    element.className = bad ? "message bad" : "message";
  }

  function localInput(unixtime) {
    var date = new Date(unixtime * 1000 - new Date().getTimezoneOffset() * 60000);
    return date.toISOString().slice(0, 19);
  }

  function attachZoom(canvas, mapping) {
    var start = null;
    canvas.onmousedown = function (event) { start = event.offsetX; };
    canvas.onmouseup = function (event) {
      if (start === null) { return; }
      var a = Math.min(start, event.offsetX), b = Math.max(start, event.offsetX);
      start = null;
      if (b - a < 5) { return; }
      function time(x) { return mapping.since + (x - mapping.left) / mapping.width * (mapping.until - mapping.since); }
      zoomStack.push({ since: view.since, until: view.until, relative: view.relative });
      view = { since: Math.max(mapping.since, time(a)), until: Math.min(mapping.until, time(b)), relative: null };
      document.getElementById("plot-reset").disabled = false;
      draw();
    };
  }

  function draw() {
    var names = chosen();
    var area = document.getElementById("plot-area");
    var csv = document.getElementById("plot-csv");
    if (!names.length) { area.textContent = ""; csv.removeAttribute("href"); message("pick a codename to plot"); return; }
    var range = window_();
    document.getElementById("plot-from").value = localInput(range[0]);
    document.getElementById("plot-to").value = localInput(range[1]);
    csv.href = query("csv");
    Flubber.api(query()).then(function (reply) {
      area.textContent = "";
      reply.series.forEach(function (series) {
        var box = area.appendChild(Flubber.element("div", { "class": "plot", "data-codename": series.codename }));
        var canvas = box.appendChild(Flubber.element("canvas", { "data-points": String(series.points.length) }));
        box.appendChild(Flubber.element("div", { "class": "caption" }, series.points.length + " points" +
          (series.decimated ? " (min/max of " + series.raw_points + " logged)" : "")));
        attachZoom(canvas, Flubber.charts.timePlot(canvas, series.points, reply.since, reply.until, series.codename));
      });
      message("");
    }).catch(function (error) { area.textContent = ""; message(error.message, true); });
  }

  function scheduleRefresh() {
    clearInterval(refreshTimer);
    refreshTimer = setInterval(function () { if (view.relative) { draw(); } }, 15000);
  }

  Flubber.panel("plots", {
    init: function (section) {
      section.querySelectorAll("[data-range]").forEach(function (button) {
        button.addEventListener("click", function () {
          view = { since: null, until: null, relative: Number(button.getAttribute("data-range")) };
          zoomStack = []; document.getElementById("plot-reset").disabled = true;
          draw();
        });
      });
      document.getElementById("plot-apply").addEventListener("click", function () {
        var from = Date.parse(document.getElementById("plot-from").value) / 1000;
        var to = Date.parse(document.getElementById("plot-to").value) / 1000;
        if (!(to > from)) { message("pick a 'from' before the 'to'", true); return; }
        view = { since: from, until: to, relative: null };
        draw();
      });
      document.getElementById("plot-reset").addEventListener("click", function () {
        if (zoomStack.length) { view = zoomStack.shift(); zoomStack = []; }
        document.getElementById("plot-reset").disabled = true;
        draw();
      });
      Flubber.on("initial", function (data) {
        var box = document.getElementById("plot-codenames");
        data.rows.filter(function (d) { return d.kind === "codename" && d.logged; }).forEach(function (d, index) {
          var label = box.appendChild(Flubber.element("label"));
          var check = label.appendChild(Flubber.element("input", { type: "checkbox", "data-plot": d.name }));
          label.appendChild(document.createTextNode(" " + d.name + " "));
          check.checked = selected[d.name] = index === 0;
          check.addEventListener("change", function () { selected[d.name] = check.checked; draw(); });
        });
        if (!box.children.length) { message("this node logs nothing, so there is nothing to plot"); return; }
        draw();
        scheduleRefresh();
      });
    }
  });
})();
