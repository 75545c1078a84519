// flubber page core: the API, the event stream and the panel registry.
// A panel is registered with Flubber.panel(name, {init, snapshot, values}) and finds its
// section by data-panel="name"; it may also follow any event with Flubber.on(event, fn).
"use strict";
var Flubber = (function () {
  var panels = [];
  var handlers = {};
  var clockOffset = 0;        // node clock minus browser clock, seconds
  var source = null;
  var followed = [];          // extra event names panels follow

  function now() { return Date.now() / 1000 + clockOffset; }

  function api(path, options) {
    return fetch(path, options || {}).then(function (response) {
      return response.text().then(function (text) {
        var body = text ? JSON.parse(text) : {};
        if (!response.ok) { throw new Error(body.error || response.statusText); }
        return body;
      });
    });
  }

  function on(event, handler) { (handlers[event] = handlers[event] || []).push(handler); }

  function emit(event, data) {
    (handlers[event] || []).forEach(function (handler) {
      try { handler(data); } catch (error) { console.warn("flubber: " + event + " handler failed", error); }
    });
  }

  function panel(name, definition) {
    definition.name = name;
    panels.push(definition);
    return definition;
  }

  function setConnection(state, text) {
    var element = document.getElementById("connection");
    element.className = "connection " + state;
    element.textContent = text;
  }

  function connect() {
    source = new EventSource("/api/events");
    source.addEventListener("open", function () { setConnection("live", "live"); });
    source.addEventListener("error", function () { setConnection("lost", "reconnecting"); });
    followed.forEach(listen);
    ["snapshot", "values"].forEach(function (event) {
      source.addEventListener(event, function (message) {
        var data = JSON.parse(message.data);
        clockOffset = data.time - Date.now() / 1000;
        emit(event, data);
      });
    });
  }

  // Follow another named server-sent event (a panel added later, e.g. alarms), now and after reconnects.
  function listen(event) {
    source.addEventListener(event, function (message) { emit(event, JSON.parse(message.data)); });
  }

  function follow(event) {
    if (followed.indexOf(event) >= 0) { return; }
    followed.push(event);
    if (source) { listen(event); }
  }

  function start() {
    panels.forEach(function (p) {
      var element = document.querySelector('[data-panel="' + p.name + '"]');
      if (p.init) { p.init(element); }
      if (p.snapshot) { on("snapshot", p.snapshot); }
      if (p.values) { on("values", p.values); }
    });
    api("/api/values").then(function (data) {
      clockOffset = data.time - Date.now() / 1000;
      document.getElementById("node-name").textContent = data.node;
      document.title = data.node + " - flubber";
      emit("initial", data);
      connect();
    }).catch(function (error) {
      setConnection("lost", "cannot read /api/values: " + error.message);
    });
    setInterval(function () { emit("tick", now()); }, 1000);
  }

  function formatValue(value) {
    if (value === null || value === undefined) { return "\u2014"; }
    if (typeof value === "number") {
      if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) { return value.toExponential(4); }
      return String(Math.round(value * 1e6) / 1e6);
    }
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function formatAge(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) { return "\u2014"; }
    seconds = Math.max(0, seconds);
    if (seconds < 60) { return seconds.toFixed(1) + " s"; }
    if (seconds < 3600) { return (seconds / 60).toFixed(1) + " min"; }
    if (seconds < 86400) { return (seconds / 3600).toFixed(1) + " h"; }
    return (seconds / 86400).toFixed(1) + " d";
  }

  function formatTime(unixtime) {
    return unixtime ? new Date(unixtime * 1000).toLocaleString() : "\u2014";
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function token() { return document.getElementById("token").value.trim(); }

  return { api: api, on: on, emit: emit, panel: panel, follow: follow, start: start, now: now, token: token,
           formatValue: formatValue, formatAge: formatAge, formatTime: formatTime, element: element };
})();
