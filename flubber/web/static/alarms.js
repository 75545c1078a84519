// The alarms panel: every alarm worst first, coloured by severity, live through "alarms" events,
// acknowledged with the write token. Hidden when the node has no alarms (/api/alarms answers 404).
"use strict";
(function () {
  var section = null;

  function ack(name) {
    var message = document.getElementById("alarm-message");
    var headers = { "Content-Type": "application/json" };
    if (Flubber.token()) { headers.Authorization = "Bearer " + Flubber.token(); }
    message.className = "message";
    message.textContent = "acknowledging " + name + " \u2026";
    Flubber.api("/api/ack", { method: "POST", headers: headers, body: JSON.stringify({ name: name }) })
      .then(function (alarm) {
        message.className = "message good";
        message.textContent = "acknowledged " + alarm.name;
        load();
      })
      .catch(function (error) {
        message.className = "message bad";
        message.textContent = "not acknowledged: " + error.message;
      });
  }

  function render(data) {
    section.hidden = false;
    var worst = document.getElementById("alarm-worst");
    worst.textContent = data.worst;
    worst.className = "severity " + data.worst;
    var tbody = document.querySelector("#alarm-rows tbody");
    tbody.textContent = "";
    data.alarms.forEach(function (a) {
      var tr = tbody.appendChild(Flubber.element("tr", { "data-alarm": a.name, "class": "alarm " + a.severity }));
      tr.appendChild(Flubber.element("td", { "class": "name" }, a.name));
      tr.appendChild(Flubber.element("td", { "class": "severity " + a.severity }, a.severity));
      tr.appendChild(Flubber.element("td", { "class": "value" }, Flubber.formatValue(a.value)));
      tr.appendChild(Flubber.element("td", { "class": "value" }, Flubber.formatValue(a.worst)));
      tr.appendChild(Flubber.element("td", { "class": "age" },
        a.severity === "OK" || !a.raised_at ? "\u2014" : Flubber.formatTime(a.raised_at)));
      tr.appendChild(Flubber.element("td", { "class": "why" }, a.message));
      var cell = tr.appendChild(Flubber.element("td", { "class": "ack" }));
      if (a.acknowledged) {
        cell.textContent = "acknowledged";
      } else {
        var button = cell.appendChild(Flubber.element("button", { type: "button", "data-ack": a.name }, "acknowledge"));
        button.addEventListener("click", function () { ack(a.name); });
      }
    });
  }

  function load() {
    Flubber.api("/api/alarms").then(render).catch(function () { section.hidden = true; });
  }

  Flubber.panel("alarms", {
    init: function (element) {
      section = element;
      section.hidden = true;
      load();
      Flubber.follow("alarms");
      Flubber.on("alarms", render);
    }
  });
})();
