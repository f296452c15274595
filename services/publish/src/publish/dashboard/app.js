// Newsflow operations dashboard: polls /v1/ops/snapshot with the admin key and renders it.
// Every value from the snapshot goes in as text (never as markup): headlines and errors come
// from outside.
"use strict";
(function () {
  const KEY = "newsflow.adminKey";
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  let timer = null;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : String(child ?? ""));
    }
    return node;
  }

  function cell(label, value, attrs) {
    return el("td", Object.assign({ "data-label": label }, attrs || {}), value);
  }

  function fmtNum(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en"); }
  function fmtRate(r) { return r === null || r === undefined ? "-" : (r >= 10 ? r.toFixed(0) : r.toFixed(2)); }
  function fmtAge(s) {
    if (s === null || s === undefined) return "-";
    if (s < 60) return s.toFixed(0) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function fmtTime(ms) {
    return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "-";
  }

  function sparkline(series, name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 120 24");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const known = series.filter((v) => v !== null);
    const max = Math.max(1e-9, ...known);
    svg.setAttribute("aria-label", name + " rate over the last 15 minutes, peak " + fmtRate(known.length ? max : null) + "/s");
    const step = 116 / Math.max(1, series.length - 1);  // 2 units of margin: the dot fits
    const base = document.createElementNS(SVG, "line");
    base.setAttribute("x1", "0"); base.setAttribute("x2", "120");
    base.setAttribute("y1", "23"); base.setAttribute("y2", "23");
    base.setAttribute("class", "base");
    svg.append(base);
    const points = [];
    series.forEach((v, i) => {
      if (v !== null) points.push([2 + i * step, 21 - (v / max) * 19]);
    });
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
    svg.append(line);
    if (points.length) {  // the latest value, visible even when it is the only one
      const [x, y] = points[points.length - 1];
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x.toFixed(1)); dot.setAttribute("cy", y.toFixed(1));
      dot.setAttribute("r", "2");
      svg.append(dot);
    }
    return svg;
  }

  function fill(tableId, rows, emptyText, columns) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" },
      el("td", { colspan: columns }, emptyText))]));
  }

  function render(snap) {
    const order = { red: 2, amber: 1, ok: 0 };
    let worst = "ok";
    const reasons = [];
    const stageRows = snap.stages.map((s) => {
      if (order[s.status] > order[worst]) worst = s.status;
      s.reasons.forEach((r) => reasons.push(el("li", { class: s.status }, s.name + ": " + r)));
      const consuming = s.replicas.filter((r) => r.consuming).length;
      return el("tr", { class: s.status, "data-stage": s.name },
        el("th", { scope: "row" }, s.name),
        cell("Status", el("span", { class: "badge " + s.status, "data-field": "status" }, s.status)),
        cell("Rate /s", el("span", { class: "rate" }, el("span", { "data-field": "rate" }, fmtRate(s.rate_per_s)),
          sparkline(s.series, s.name)), { class: "num" }),
        cell("Through", fmtNum(s.through), { class: "num", "data-field": "through" }),
        cell("Lag", s.group ? fmtNum(s.lag) : "-", { class: "num", "data-field": "lag" }),
        cell("Pending", s.group ? fmtNum(s.pending) : "-", { class: "num", "data-field": "pending" }),
        cell("Oldest pending", fmtAge(s.oldest_pending_age_s), { class: "num", "data-field": "oldest-pending" }),
        cell("Replicas consuming", s.group ? consuming + " of " + s.replicas.length : "-",
          { class: "num", "data-field": "replicas" }),
        cell("Dead letters", s.group ? fmtNum(s.dead_letters) : "-", { class: "num", "data-field": "dead-letters" }));
    });
    $("stages").tBodies[0].replaceChildren(...stageRows);
    $("reasons").replaceChildren(...reasons);

    const deadRows = [];
    const replicaRows = [];
    snap.stages.forEach((s) => {
      s.latest_dead.forEach((d) => deadRows.push(el("tr", { "data-stage": s.name },
        el("th", { scope: "row" }, s.name), cell("When", fmtTime(d.time_ms)),
        cell("Attempts", d.attempts, { class: "num" }), cell("Story", d.subject || "-", { class: "wrap" }),
        cell("Reason", d.error, { class: "wrap", "data-field": "reason" }))));
      s.replicas.forEach((r) => replicaRows.push(el("tr", { "data-stage": s.name },
        el("th", { scope: "row" }, s.name), cell("Replica", r.name, { class: "wrap" }),
        cell("Pending", fmtNum(r.pending), { class: "num" }),
        cell("Idle", fmtAge(r.idle_s) + (r.consuming ? "" : " (not consuming)"), { class: "num" }))));
    });
    fill("dead-letters", deadRows, "no dead letters", 5);
    fill("replicas", replicaRows, "no replica has joined a consumer group", 4);

    fill("webhooks", snap.webhooks.map((w) => el("tr", { class: w.status, "data-subscription": w.subscription },
      el("th", { scope: "row", class: "wrap" }, w.subscription, w.url ? el("br") : "", w.url || ""),
      cell("State", el("span", { class: "badge " + (w.disabled === null ? "" : w.disabled ? "red" : "ok") },
        w.disabled === null ? "unknown" : w.disabled ? "disabled" + (w.disabled_reason ? " (" + w.disabled_reason + ")" : "") : "enabled")),
      cell("Success (1 h)", w.success_rate === null ? "-" : (w.success_rate * 100).toFixed(1) + " %", { class: "num" }),
      cell("Delivered (1 h)", fmtNum(w.delivered_1h), { class: "num" }),
      cell("Dead (1 h)", fmtNum(w.dead_1h), { class: "num" }),
      cell("Queued", fmtNum(w.queued), { class: "num" }),
      cell("Dead total", fmtNum(w.dead), { class: "num" }),
      cell("Last error", w.last_error ? w.last_error + " (" + fmtTime(w.last_error_ms) + ")" : "-", { class: "wrap" }))),
      "no webhook subscriptions", 8);

    fill("latest", snap.latest.map((s) => el("tr", { "data-uri": s.uri },
      el("th", { scope: "row" }, fmtTime(s.time_ms)),
      cell("Headline", (s.type.endsWith("killed") ? "[killed] " : "") + (s.headline || s.uri), { class: "wrap" }),
      cell("Topics", s.topics.join("; ") || "-", { class: "wrap" }),
      cell("Entities", s.entities.join("; ") || "-", { class: "wrap" }))),
      "nothing published yet", 4);

    const hooks = { red: [], amber: [] };
    snap.webhooks.forEach((w) => {
      if (hooks[w.status]) hooks[w.status].push("webhook " + w.subscription);
      if (order[w.status] > order[worst]) worst = w.status;
    });
    $("sse-clients").textContent = snap.sse_clients === null ? "-" : fmtNum(snap.sse_clients);
    const overall = $("overall");
    overall.className = "badge " + worst;
    const named = (status) => snap.stages.filter((s) => s.status === status).map((s) => s.name)
      .concat(hooks[status]).join(", ");
    overall.textContent = worst === "ok" ? "all ok" : worst === "red"
      ? "attention: " + named("red") : "watch: " + named("amber");
    const updated = $("updated");
    updated.textContent = fmtTime(snap.time_ms);
    updated.setAttribute("datetime", new Date(snap.time_ms).toISOString());
  }

  function askForKey(message) {
    sessionStorage.removeItem(KEY);
    $("key-form").hidden = false;
    $("forget-key").hidden = true;
    $("key-error").textContent = message || "";
    $("admin-key").focus();
  }

  async function poll() {
    clearTimeout(timer);
    const key = sessionStorage.getItem(KEY);
    if (!key) { askForKey(); return; }
    try {
      const response = await fetch("/v1/ops/snapshot", {
        headers: { Authorization: "Bearer " + key }, cache: "no-store" });
      if (response.status === 401 || response.status === 503) {
        const body = await response.json().catch(() => ({}));
        askForKey((body.error && body.error.message) || "the key was refused");
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      $("key-form").hidden = true;
      $("forget-key").hidden = false;
      render(await response.json());
    } catch (err) {
      const overall = $("overall");
      overall.className = "badge red";
      overall.textContent = "cannot reach publish: " + err.message;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const initial = $("initial-snapshot").textContent.trim();
    if (initial) render(JSON.parse(initial));
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("admin-key");
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      poll();
    });
    $("forget-key").addEventListener("click", () => { clearTimeout(timer); askForKey(); });
    if (sessionStorage.getItem(KEY)) poll(); else if (!initial) askForKey();
  });
})();
