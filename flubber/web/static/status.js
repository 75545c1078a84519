// The status panel: /api/status every few seconds; also emits "status" for other panels.
"use strict";
(function () {
  var INTERVAL = 3000;

  function list(pairs) {
    var dl = Flubber.element("dl", { "class": "status" });
    pairs.forEach(function (pair) {
      if (pair[1] === undefined) { return; }
      dl.appendChild(Flubber.element("dt", {}, pair[0]));
      var dd = dl.appendChild(Flubber.element("dd", pair[2] ? { "class": pair[2] } : {}, String(pair[1])));
      if (pair[3]) { dd.setAttribute("data-status", pair[3]); }
    });
    return dl;
  }

  function group(body, title, pairs) {
    var box = body.appendChild(Flubber.element("div", { "class": "group" }));
    box.appendChild(Flubber.element("h3", {}, title));
    box.appendChild(list(pairs));
  }

  function render(status) {
    var body = document.getElementById("status-body");
    body.textContent = "";
    group(body, "node " + status.node, [["uptime", Flubber.formatAge(status.uptime), "", "uptime"],
      ["KV requests", (status.kv || {}).requests]]);
    (status.instruments || []).forEach(function (i) {
      group(body, "instrument " + i.name, [["last reading", Flubber.formatValue(i.value)], ["readings", i.readings],
        ["errors", i.errors, i.errors ? "down" : ""], ["last error", i.last_error || "none"]]);
    });
    var logger = status.logger;
    if (logger) {
      group(body, "logger", [["database", logger.target],
        [logger.database, "since " + Flubber.formatTime(logger.database_since), logger.database, "database"],
        ["queued", logger.queued], ["written", logger.written], ["spool", logger.spool || "none"],
        ["last error", logger.last_error || "none"]]);
    } else {
      group(body, "logger", [["logging", "off"]]);
    }
    var pairs = [];
    Object.keys(status.sockets || {}).forEach(function (name) {
      var s = status.sockets[name];
      pairs.push([name + " socket", "UDP " + s.port + ", " + s.requests + " requests"]);
    });
    var kv = status.kv || {};
    if (kv.tcp) { pairs.push(["KV over TCP", kv.tcp.address.join(":") + ", " + kv.tcp.clients + " clients"]); }
    if (kv.amqp) { pairs.push(["KV over AMQP", "queue " + kv.amqp.queue]); }
    if (status.web) { pairs.push(["web page", status.web.clients + " live clients, " + status.web.dropped + " updates dropped"]); }
    group(body, "sockets and transports", pairs);
  }

  function poll() {
    Flubber.api("/api/status").then(function (status) { render(status); Flubber.emit("status", status); })
      .catch(function (error) { document.getElementById("status-body").textContent = "no status: " + error.message; });
  }

  Flubber.panel("status", {
    init: function () { poll(); setInterval(poll, INTERVAL); }
  });
})();
