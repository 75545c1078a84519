// Canvas drawing: sparklines and time plots, no library.
"use strict";
Flubber.charts = (function () {
  function prepare(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    var context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    return { context: context, width: width, height: height };
  }

  function extent(points, index) {
    var low = Infinity, high = -Infinity;
    points.forEach(function (p) { if (p[index] < low) { low = p[index]; } if (p[index] > high) { high = p[index]; } });
    if (low === high) { low -= 0.5; high += 0.5; }
    return [low, high];
  }

  function sparkline(canvas, points) {
    var c = prepare(canvas);
    if (points.length < 2) { return; }
    var x = extent(points, 0), y = extent(points, 1), ctx = c.context;
    ctx.strokeStyle = "#1f6fb2";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    points.forEach(function (p, i) {
      var px = (p[0] - x[0]) / (x[1] - x[0]) * (c.width - 2) + 1;
      var py = c.height - 2 - (p[1] - y[0]) / (y[1] - y[0]) * (c.height - 4);
      if (i === 0) { ctx.moveTo(px, py); } else { ctx.lineTo(px, py); }
    });
    ctx.stroke();
  }

  function niceStep(span, count) {
    var raw = span / count, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return power * (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10);
  }

  function timeLabel(unixtime, span) {
    var date = new Date(unixtime * 1000);
    var time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: span < 600 ? "2-digit" : undefined });
    return span > 2 * 86400 ? date.toLocaleDateString() + " " + time : time;
  }

  // Draw points [[t, v], ...] over [since, until]; returns the mapping used (for zoom selection).
  function timePlot(canvas, points, since, until, label) {
    var c = prepare(canvas), ctx = c.context;
    var left = 64, right = 10, top = 14, bottom = 22;
    var w = c.width - left - right, h = c.height - top - bottom;
    var y = points.length ? extent(points, 1) : [0, 1];
    var pad = (y[1] - y[0]) * 0.05; y = [y[0] - pad, y[1] + pad];
    function px(t) { return left + (t - since) / (until - since) * w; }
    function py(v) { return top + h - (v - y[0]) / (y[1] - y[0]) * h; }
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#d9dee4"; ctx.fillStyle = "#66707c"; ctx.lineWidth = 1;
    var step = niceStep(y[1] - y[0], 4);
    for (var v = Math.ceil(y[0] / step) * step; v <= y[1]; v += step) {
      ctx.beginPath(); ctx.moveTo(left, py(v)); ctx.lineTo(left + w, py(v)); ctx.stroke();
      ctx.textAlign = "right"; ctx.fillText(Flubber.formatValue(Number(v.toPrecision(6))), left - 4, py(v) + 4);
    }
    var tstep = niceStep(until - since, 6);
    for (var t = Math.ceil(since / tstep) * tstep; t <= until; t += tstep) {
      ctx.beginPath(); ctx.moveTo(px(t), top); ctx.lineTo(px(t), top + h); ctx.stroke();
      ctx.textAlign = "center"; ctx.fillText(timeLabel(t, until - since), px(t), c.height - 6);
    }
    ctx.textAlign = "left"; ctx.fillStyle = "#1d232b"; ctx.fillText(label, left + 4, top - 2);
    ctx.strokeStyle = "#1f6fb2"; ctx.lineWidth = 1.3;
    ctx.beginPath();
    points.forEach(function (p, i) { if (i === 0) { ctx.moveTo(px(p[0]), py(p[1])); } else { ctx.lineTo(px(p[0]), py(p[1])); } });
    ctx.stroke();
    if (points.length === 1) { ctx.fillStyle = "#1f6fb2"; ctx.fillRect(px(points[0][0]) - 2, py(points[0][1]) - 2, 4, 4); }
    return { left: left, width: w, since: since, until: until };
  }

  return { sparkline: sparkline, timePlot: timePlot };
})();
