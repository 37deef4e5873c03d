"""The dashboard's one page: markup, style and script, all inline (no CDN, no other request but the
API on the same origin). Every figure on it comes from `GET /v1/usage` and `GET /v1/budgets`."""

STYLE = """
:root { color-scheme: light dark; --bg: #fbfbfd; --fg: #16181d; --muted: #5b6270; --card: #ffffff;
  --line: #d9dce3; --accent: #2f5fd0; --bad: #b3261e; --ok: #1d7a46; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #111318; --fg: #e8eaf0; --muted: #a3aab8; --card: #1a1d24; --line: #2e323c;
    --accent: #8fb0ff; --bad: #ff8a80; --ok: #7fd6a0; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between;
  padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.15rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr)); }
.tiles { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); margin-bottom: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem; min-width: 0; }
.tile .value { font-size: 1.4rem; font-weight: 600; }
.tile .label, .muted, figcaption { color: var(--muted); font-size: .85rem; }
figure { margin: 0; }
svg { width: 100%; height: auto; display: block; }
svg .bar { fill: var(--accent); }
svg .bar.bad { fill: var(--bad); }
svg .axis { stroke: var(--line); }
svg text { fill: var(--muted); font-size: 10px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
label { display: flex; flex-direction: column; gap: .25rem; font-size: .9rem; }
input, select, button { font: inherit; padding: .4rem .6rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); }
button { background: var(--accent); color: var(--bg); border-color: var(--accent); cursor: pointer; }
button.secondary { background: transparent; color: var(--fg); border-color: var(--line); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.error { color: var(--bad); }
.section { margin-top: 1rem; }
[hidden] { display: none !important; }
"""

SCRIPT = r"""
"use strict";
const KEY = "edgestack-dashboard-key";
const $ = (id) => document.getElementById(id);
const fmtInt = (n) => Number(n || 0).toLocaleString("en-US");
const fmtUsd = (n) => "$" + Number(n || 0).toFixed(Number(n || 0) < 1 ? 4 : 2);
const fmtMs = (n) => (n === null || n === undefined ? "n/a" : Math.round(n) + " ms");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}
function svgEl(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

async function api(path) {
  const key = sessionStorage.getItem(KEY);
  const reply = await fetch(path, { headers: { authorization: "Bearer " + key }, cache: "no-store" });
  const body = await reply.json();
  if (!reply.ok) {
    const error = new Error((body.error && body.error.message) || "HTTP " + reply.status);
    error.status = reply.status;
    throw error;
  }
  return body;
}

function barChart(container, title, points, series) {
  const width = 560, height = 180, pad = 28;
  const max = Math.max(0, ...points.map((p) => series.reduce((s, [name]) => s + Number(p[name] || 0), 0))) || 1;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": container.id + "-t" });
  const label = svgEl("title", { id: container.id + "-t" });
  label.textContent = `${title}: ${points.length} buckets, peak ${max.toLocaleString("en-US")}`;
  svg.append(label);
  svg.append(svgEl("line", { class: "axis", x1: pad, y1: height - pad, x2: width, y2: height - pad }));
  const step = (width - pad) / Math.max(1, points.length);
  points.forEach((point, index) => {
    let top = height - pad;
    for (const [name, cls] of series) {
      const value = Number(point[name] || 0);
      const h = ((height - 2 * pad) * value) / max;
      top -= h;
      const bar = svgEl("rect", { class: "bar " + cls, x: pad + index * step + 1, y: top, width: Math.max(1, step - 2), height: h });
      const tip = svgEl("title", {});
      tip.textContent = `${point.start}: ${name} ${value}`;
      bar.append(tip);
      svg.append(bar);
    }
  });
  const top = svgEl("text", { x: 2, y: pad }); top.textContent = max < 1 ? max.toPrecision(2) : max.toLocaleString("en-US");
  const zero = svgEl("text", { x: 2, y: height - pad }); zero.textContent = "0";
  svg.append(top, zero);
  if (points.length) {
    const first = svgEl("text", { x: pad, y: height - 8 }); first.textContent = points[0].start.slice(5, 16);
    const last = svgEl("text", { x: width - 80, y: height - 8 }); last.textContent = points[points.length - 1].start.slice(5, 16);
    svg.append(first, last);
  }
  container.replaceChildren(svg);
}

function table(container, columns, rows) {
  const head = el("tr", {}, ...columns.map(([label, , num]) => el("th", { scope: "col", class: num ? "num" : "" }, label)));
  const body = rows.map((row) => el("tr", {}, ...columns.map(([, get, num]) => el("td", { class: num ? "num" : "" }, get(row)))));
  container.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
}

const GROUP_COLUMNS = (name) => [
  [name, (r) => (r[name] === null ? "(none)" : r[name])],
  ["requests", (r) => fmtInt(r.requests), true],
  ["errors", (r) => fmtInt(r.errors), true],
  ["tokens", (r) => fmtInt(r.input_tokens + r.output_tokens), true],
  ["cost", (r) => fmtUsd(r.cost_usd), true],
  ["cache hits", (r) => fmtInt(r.cache_hits), true],
];

function filled(usage) {
  // every bucket of the window, empty ones as zeros, so the time axis is even
  const step = usage.interval === "day" ? 86400000 : 3600000;
  const byStart = new Map(usage.series.map((p) => [Date.parse(p.start), p]));
  const out = [];
  for (let t = Math.floor(Date.parse(usage.since) / step) * step; t < Date.parse(usage.until); t += step) {
    out.push(byStart.get(t) || { start: new Date(t).toISOString().replace(".000Z", "Z"), requests: 0, errors: 0,
      input_tokens: 0, output_tokens: 0, cost_usd: 0, cache_hits: 0 });
  }
  return out;
}

function render(usage, budgets) {
  const t = usage.totals;
  const overall = usage.data[0] || {};
  const tiles = [
    ["requests", fmtInt(t.requests)], ["errors", fmtInt(t.errors)],
    ["tokens", fmtInt(t.input_tokens + t.output_tokens)], ["cost", fmtUsd(t.cost_usd)],
    ["cache hit rate", t.requests ? ((100 * t.cache_hits) / t.requests).toFixed(1) + "%" : "n/a"],
    ["latency p50", fmtMs(overall.latency_ms_p50)], ["latency p95", fmtMs(overall.latency_ms_p95)],
    ["RAG documents", usage.rag ? fmtInt(usage.rag.documents) : "n/a"],
    ["agent messages", usage.agents ? fmtInt(usage.agents.messages) : "n/a"],
  ];
  $("tiles").replaceChildren(...tiles.map(([label, value]) =>
    el("div", { class: "card tile", "data-figure": label }, el("div", { class: "value" }, value), el("div", { class: "label" }, label))));
  const points = filled(usage);
  barChart($("chart-requests"), "Requests and errors per " + usage.interval, points, [["requests", ""], ["errors", "bad"]]);
  barChart($("chart-tokens"), "Tokens per " + usage.interval, points, [["input_tokens", ""], ["output_tokens", "bad"]]);
  barChart($("chart-cost"), "Cost (USD) per " + usage.interval, points, [["cost_usd", ""]]);
  for (const name of ["alias", "provider", "model", "key", "tenant"]) table($("by-" + name), GROUP_COLUMNS(name), usage.breakdowns[name]);
  table($("budgets"), [
    ["budget", (b) => b.budget], ["subject", (b) => b.subject], ["mode", (b) => b.mode], ["window", (b) => b.window],
    ["limit", (b) => fmtUsd(b.limit_usd), true], ["spent", (b) => fmtUsd(b.spent_usd), true],
    ["reserved", (b) => fmtUsd(b.reserved_usd), true], ["remaining", (b) => fmtUsd(b.remaining_usd), true],
    ["window ends", (b) => b.window_end],
  ], budgets.data);
  table($("recent"), [
    ["time", (r) => r.ts.slice(0, 19).replace("T", " ")], ["status", (r) => r.status], ["alias", (r) => r.alias || ""],
    ["provider/model", (r) => (r.provider ? r.provider + "/" + r.model : "")], ["key", (r) => r.key_id || "(anonymous)"],
    ["latency", (r) => fmtMs(r.latency_ms), true], ["cost", (r) => fmtUsd(r.cost_usd), true], ["cache", (r) => r.cache_status],
    ...(usage.recent.some((r) => "request_body" in r) ? [["request", (r) => (r.request_body || "").slice(0, 80)]] : []),
  ], usage.recent);
  $("window").textContent = `${usage.since} to ${usage.until} (${usage.scope === "all" ? "every tenant" : "your tenant"})`;
}

async function load() {
  const hours = Number($("range").value);
  const since = Math.floor(Date.now() / 1000) - hours * 3600;
  const interval = hours > 72 ? "day" : "hour";
  const query = `/v1/usage?scope=tenant&since=${since}&interval=${interval}&group_by=total&breakdowns=alias,provider,model,key,tenant&recent=100&include=rag,agents`;
  try {
    const [usage, budgets] = await Promise.all([api(query), api("/v1/budgets")]);
    render(usage, budgets);
    $("signin").hidden = true;
    $("board").hidden = false;
    $("signout").hidden = false;
    document.body.dataset.loaded = "true";
  } catch (error) {
    sessionStorage.removeItem(KEY);
    $("board").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = error.status === 403 ? "This key is not an admin key." : error.message;
    $("key").focus();
  }
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  load();
});
$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = "";
});
$("range").addEventListener("change", load);
$("refresh").addEventListener("click", load);
if (sessionStorage.getItem(KEY)) load();
"""

BODY = """
<header>
  <h1>edgestack usage</h1>
  <div><span id="window" class="muted"></span>
  <button id="signout" class="secondary" type="button" hidden>Sign out</button></div>
</header>
<main>
  <section id="signin" class="card" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <p class="muted">Paste an admin key. It is kept in this tab's session storage only.</p>
    <form id="signin-form">
      <label for="key">Admin key <input id="key" name="key" type="password" autocomplete="off" required></label>
      <button type="submit">Sign in</button>
    </form>
    <p id="signin-error" class="error" role="alert"></p>
  </section>
  <div id="board" hidden>
    <form class="section" aria-label="Time range">
      <label for="range">Range <select id="range">
        <option value="24">last 24 hours</option><option value="168">last 7 days</option><option value="720">last 30 days</option>
      </select></label>
      <button id="refresh" type="button" class="secondary">Refresh</button>
    </form>
    <section class="section" aria-label="Totals"><div id="tiles" class="tiles"></div></section>
    <section class="grid" aria-label="Over time">
      <figure class="card"><figcaption>Requests (blue) and errors (red)</figcaption><div id="chart-requests"></div></figure>
      <figure class="card"><figcaption>Tokens: input (blue) and output (red)</figcaption><div id="chart-tokens"></div></figure>
      <figure class="card"><figcaption>Cost (USD)</figcaption><div id="chart-cost"></div></figure>
    </section>
    <section class="section card" aria-labelledby="budgets-title"><h2 id="budgets-title">Budgets</h2><div id="budgets" class="scroll"></div></section>
    <section class="section grid" aria-label="Breakdowns">
      <div class="card"><h2>By route alias</h2><div id="by-alias" class="scroll"></div></div>
      <div class="card"><h2>By provider</h2><div id="by-provider" class="scroll"></div></div>
      <div class="card"><h2>By model</h2><div id="by-model" class="scroll"></div></div>
      <div class="card"><h2>By key</h2><div id="by-key" class="scroll"></div></div>
      <div class="card"><h2>By tenant</h2><div id="by-tenant" class="scroll"></div></div>
    </section>
    <section class="section card" aria-labelledby="recent-title"><h2 id="recent-title">Last 100 requests</h2><div id="recent" class="scroll"></div></section>
  </div>
</main>
"""
