// The values panel: one table row per instrument codename and per KV key, updated live.
"use strict";
(function () {
  var rows = {};          // id -> {data, cells, history}
  var writableNode = false;
  var HISTORY = 120;

  function stale(row) {
    return row.data.kind === "codename" && row.data.time && Flubber.now() - row.data.time > 10;
  }

  function render(row) {
    var d = row.data, cells = row.cells;
    cells.value.textContent = Flubber.formatValue(d.value);
    if (cells.cal) { cells.cal.textContent = d.value_cal === null || d.value_cal === undefined ? "" : Flubber.formatValue(d.value_cal); }
    if (cells.readings) {
      cells.readings.textContent = d.readings + (d.errors ? " (" + d.errors + " errors)" : "");
      cells.readings.className = d.errors ? "readings error" : "readings";
      cells.readings.title = d.last_error || "";
    }
    Flubber.charts.sparkline(cells.spark, row.history);
    age(row);
  }

  function age(row) {
    row.cells.age.textContent = row.data.time ? Flubber.formatAge(Flubber.now() - row.data.time) : "\u2014";
    row.cells.age.className = stale(row) ? "age stale" : "age";
  }

  function setKey(address, input) {
    var message = document.getElementById("set-message");
    var text = input.value.trim(), value;
    try { value = JSON.parse(text); } catch (error) { value = text; }
    var headers = { "Content-Type": "application/json" };
    if (Flubber.token()) { headers.Authorization = "Bearer " + Flubber.token(); }
    message.className = "message";
    message.textContent = "setting " + address + " \u2026";
    Flubber.api("/api/set", { method: "POST", headers: headers, body: JSON.stringify({ key: address, value: value }) })
      .then(function () {
        message.className = "message good";
        message.textContent = address + " set to " + Flubber.formatValue(value);
      })
      .catch(function (error) {
        message.className = "message bad";
        message.textContent = "not set: " + error.message;
      });
  }

  function makeRow(d) {
    var tbody = document.querySelector(d.kind === "codename" ? "#codename-rows tbody" : "#key-rows tbody");
    var tr = Flubber.element("tr", { "data-row": d.id });
    var cells = {};
    tr.appendChild(Flubber.element("td", { "class": "name", title: d.address }, d.kind === "codename" ? d.name : d.address));
    cells.value = tr.appendChild(Flubber.element("td", { "class": "value" }));
    if (d.kind === "key") { cells.cal = tr.appendChild(Flubber.element("td", { "class": "cal" })); }
    tr.appendChild(Flubber.element("td", { "class": "unit" }, d.unit || ""));
    cells.age = tr.appendChild(Flubber.element("td", { "class": "age" }));
    var sparkCell = tr.appendChild(Flubber.element("td"));
    cells.spark = sparkCell.appendChild(Flubber.element("canvas", { "class": "spark" }));
    if (d.kind === "codename") {
      cells.readings = tr.appendChild(Flubber.element("td", { "class": "readings" }));
    } else {
      var set = tr.appendChild(Flubber.element("td", { "class": "set" }));
      if (d.writable && writableNode) {
        var input = set.appendChild(Flubber.element("input", { type: "text", "data-set": d.address, "aria-label": "new value of " + d.address }));
        var button = set.appendChild(Flubber.element("button", { type: "button", "data-set-button": d.address }, "set"));
        button.addEventListener("click", function () { setKey(d.address, input); });
        input.addEventListener("keydown", function (event) { if (event.key === "Enter") { setKey(d.address, input); } });
      } else {
        set.textContent = "read-only";
        set.title = d.writable ? "the node has no write tokens" : "not listed under web: writable in the node file";
      }
    }
    tbody.appendChild(tr);
    return { data: d, cells: cells, history: (d.history || []).slice(-HISTORY) };
  }

  function snapshot(data) {
    data.rows.forEach(function (d) {
      var row = rows[d.id];
      if (!row) { rows[d.id] = row = makeRow(d); } else { row.data = Object.assign(row.data, d); }
      if (d.time !== null && typeof d.value === "number") {
        var last = row.history[row.history.length - 1];
        if (!last || last[0] < d.time) { row.history.push([d.time, d.value]); }
      }
      render(row);
    });
  }

  function values(data) {
    Object.keys(data.changes).forEach(function (id) {
      var row = rows[id], change = data.changes[id];
      if (!row) { return; }
      row.data.time = change[0]; row.data.value = change[1]; row.data.value_cal = change[2];
      if (row.data.kind === "codename") { row.data.readings = (row.data.readings || 0) + 1; }
      if (typeof change[1] === "number") {
        row.history.push([change[0], change[1]]);
        if (row.history.length > HISTORY) { row.history.shift(); }
      }
      render(row);
    });
  }

  Flubber.panel("values", {
    init: function () {
      var tokenInput = document.getElementById("token");
      tokenInput.value = sessionStorage.getItem("flubber-token") || "";
      tokenInput.addEventListener("change", function () { sessionStorage.setItem("flubber-token", tokenInput.value); });
      Flubber.on("initial", function (data) {
        writableNode = data.writable;
        document.querySelector(".token").style.display = writableNode ? "" : "none";
        data.rows.forEach(function (d) { rows[d.id] = makeRow(d); render(rows[d.id]); });
      });
      Flubber.on("tick", function () { Object.keys(rows).forEach(function (id) { age(rows[id]); }); });
      Flubber.on("status", function (status) {
        (status.instruments || []).forEach(function (i) {
          var row = rows["codename:" + i.codename];
          if (row) { row.data.readings = i.readings; row.data.errors = i.errors; row.data.last_error = i.last_error; render(row); }
        });
      });
    },
    snapshot: snapshot,
    values: values
  });
})();
