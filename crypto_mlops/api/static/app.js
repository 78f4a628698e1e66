// Dashboard: every number comes from the API of this server (no CDN, no third-party calls).
"use strict";

const COLORS = { calm: "#3b82f6", normal: "#f59e0b", turbulent: "#ef4444", unknown: "#475569" };
const LAYOUT = {
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: { color: "#cbd5e1", size: 11 }, margin: { l: 60, r: 20, t: 10, b: 36 },
  xaxis: { gridcolor: "#222b40", rangeslider: { visible: false } },
  yaxis: { gridcolor: "#222b40" }, legend: { orientation: "h", y: 1.08 },
};
const CONFIG = { displaylogo: false, responsive: true };
const PAIR_COLORS = ["#8b5cf6", "#22c55e", "#f59e0b", "#3b82f6", "#ef4444", "#14b8a6", "#e879f9", "#a3e635"];
const SCREENER_REFRESH_MS = 60_000;
const state = { live: [], source: null, pairs: [] };

const $ = (id) => document.getElementById(id);
const params = () => ({
  symbol: $("symbol").value || "BTC/USDT",
  timeframe: $("timeframe").value,
  limit: Number($("limit").value) || 200,
});
const qs = (o) => new URLSearchParams(o).toString();
const fmt = (x, d = 4) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));
const pct = (x, d = 2) => (x === null || x === undefined ? "–" : (100 * x).toFixed(d) + "%");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const tag = (v) => `<span class="tag ${esc(v)}">${esc(v)}</span>`;

async function api(path, options) {
  const res = await fetch(path, options);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    throw new Error(`${path.split("?")[0]}: ${res.status} ${detail || res.statusText}`);
  }
  return body;
}

function showError(err) {
  const box = $("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = String(err.message || err);
}

function pill(id, text, cls) { const el = $(id); el.textContent = text; el.className = "pill " + (cls || ""); }

// Regime runs -> translucent background rectangles behind the candles.
function regimeShapes(candles, regimes) {
  const shapes = [];
  let start = 0;
  for (let i = 1; i <= regimes.length; i++) {
    if (i === regimes.length || regimes[i] !== regimes[start]) {
      shapes.push({
        type: "rect", xref: "x", yref: "paper", x0: candles[start].time, x1: candles[i - 1].time,
        y0: 0, y1: 1, fillcolor: COLORS[regimes[start]] || COLORS.unknown, opacity: 0.13, line: { width: 0 }, layer: "below",
      });
      start = i;
    }
  }
  return shapes;
}

function drawCandles(chart) {
  const x = chart.candles.map((c) => c.time);
  const candle = {
    type: "candlestick", name: chart.symbol, x,
    open: chart.candles.map((c) => c.open), high: chart.candles.map((c) => c.high),
    low: chart.candles.map((c) => c.low), close: chart.candles.map((c) => c.close),
    increasing: { line: { color: "#22c55e" } }, decreasing: { line: { color: "#ef4444" } },
  };
  const vol = {
    type: "scatter", mode: "lines", name: "vol / hour (24 bars)", x, y: chart.vol_per_hour, yaxis: "y2",
    line: { color: "#a78bfa", width: 1.5 },
  };
  const layout = {
    ...LAYOUT, shapes: regimeShapes(chart.candles, chart.regimes),
    yaxis: { ...LAYOUT.yaxis, title: "price", domain: [0.3, 1] },
    yaxis2: { gridcolor: "#222b40", title: "vol/h", domain: [0, 0.24], tickformat: ".2%" },
  };
  Plotly.react("candles", [candle, vol], layout, CONFIG);
  const counts = chart.regimes.reduce((a, r) => ((a[r] = (a[r] || 0) + 1), a), {});
  $("candles-meta").textContent =
    `${chart.candles.length} candles · source ${chart.source} · last candle ${chart.candle_time} · regimes: ` +
    Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ");
}

function drawVolatility(chart) {
  const pts = chart.volatility;
  const predicted = {
    type: "scatter", mode: "lines+markers", name: `predicted RV24 (${chart.model_type} v${chart.model_version})`,
    x: pts.map((p) => p.time), y: pts.map((p) => p.predicted_rv_24h), line: { color: "#8b5cf6", width: 2 }, marker: { size: 4 },
  };
  const realized = {
    type: "scatter", mode: "lines+markers", name: "realized RV24",
    x: pts.map((p) => p.time), y: pts.map((p) => p.realized_rv_24h), line: { color: "#f59e0b", width: 2 }, marker: { size: 4 },
    connectgaps: false,
  };
  Plotly.react("volchart", [predicted, realized], { ...LAYOUT, yaxis: { ...LAYOUT.yaxis, tickformat: ".1%", title: "RV 24 h" } }, CONFIG);
  const scored = pts.filter((p) => p.realized_rv_24h !== null);
  const mae = scored.length ? scored.reduce((a, p) => a + Math.abs(p.predicted_rv_24h - p.realized_rv_24h), 0) / scored.length : null;
  $("vol-meta").textContent = `${pts.length} forecast origins, ${scored.length} with realized value · MAE ${pct(mae)}`;
}

function renderSignals(cmp) {
  const h = cmp.heuristic, m = cmp.ml, c = cmp.comparison;
  $("heuristic").innerHTML = `
    <div class="big">${fmt(h.risk_score, 2)}</div><div class="meter"><div style="width:${100 * h.risk_score}%"></div></div>
    <div class="row"><span>risk level</span>${tag(h.risk_level)}</div>
    <div class="row"><span>vol regime</span>${tag(h.vol_regime)}</div>
    <div class="row"><span>vol / hour</span><span>${pct(h.volatility, 3)}</span></div>
    <div class="row"><span>candle</span><span>${esc(cmp.candle_time)}</span></div>`;
  $("ml").innerHTML = `
    <div class="big">${pct(m.predicted_rv_24h)}</div><div class="meta">predicted RV over the next 24 h</div>
    <div class="row"><span>per hour</span><span>${pct(m.predicted_volatility, 3)}</span></div>
    <div class="row"><span>risk level</span>${tag(m.risk_level)}</div>
    <div class="row"><span>vol regime</span>${tag(m.vol_regime)}</div>
    <div class="row"><span>confidence</span><span>${fmt(m.confidence, 2)}</span></div>
    <div class="row"><span>model</span><span>${esc(m.model_type)} v${esc(m.model_version)}</span></div>`;
  $("comparison").innerHTML = `
    <div class="row"><span>regime agreement</span>${tag(c.regime_agreement ? "yes" : "no")}</div>
    <div class="row"><span>risk level agreement</span>${tag(c.risk_level_agreement ? "yes" : "no")}</div>
    <div class="row"><span>vol diff (ML − heuristic)</span><span>${pct(c.volatility_diff, 3)}</span></div>
    <div class="row"><span>ML confidence</span><span>${fmt(c.ml_confidence, 2)}</span></div>
    <div class="row"><span>data source</span><span>${esc(cmp.source)}</span></div>`;
}

function metricsTable(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return "";
  const nested = entries.every(([, v]) => v && typeof v === "object" && !Array.isArray(v));
  if (nested) {
    const cols = [...new Set(entries.flatMap(([, v]) => Object.keys(v)))].slice(0, 6);
    return `<table class="model-metrics"><thead><tr><th>model</th>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
      entries.map(([k, v]) => `<tr><td>${esc(k)}</td>${cols.map((c) => `<td>${typeof v[c] === "number" ? fmt(v[c], 4) : esc(v[c])}</td>`).join("")}</tr>`).join("") +
      "</tbody></table>";
  }
  return `<table class="model-metrics"><tbody>` +
    entries.slice(0, 14).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${typeof v === "number" ? fmt(v, 5) : esc(JSON.stringify(v))}</td></tr>`).join("") +
    "</tbody></table>";
}

// Backtest table logged with the champion: one row per model (naive, ewma, garch, har, ..., the candidate).
function backtestTable(backtest, servedType) {
  const rows = Array.isArray(backtest.table) ? backtest.table : null;
  if (!rows || !rows.length) return metricsTable(backtest);
  const wanted = ["qlike", "qlike_vs_har", "mae", "mse", "mz_r2", "dm_t"];
  const cols = wanted.filter((c) => rows.some((r) => typeof r[c] === "number"));
  const best = rows.reduce((a, r) => (typeof r.qlike === "number" && (a === null || r.qlike < a.qlike) ? r : a), null);
  return `<table class="model-metrics"><thead><tr><th>model</th>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr class="${r === best ? "best" : ""}"><td>${esc(r.model)}${r.model === servedType ? " ★" : ""}</td>` +
      cols.map((c) => `<td>${typeof r[c] === "number" ? fmt(r[c], c === "mse" ? 6 : 4) : "–"}</td>`).join("") + "</tr>").join("") +
    "</tbody></table>";
}

function renderModel(info) {
  pill("model-pill", `model ${info.model_type || "?"} v${info.model_version || "?"}${info.fallback ? " (baseline fallback)" : ""}`, info.fallback ? "warn" : "ok");
  const metrics = info.metrics || {};
  const gate = Object.fromEntries(Object.entries(metrics).filter(([k]) => k.startsWith("gate.")).map(([k, v]) => [k.slice(5), v]));
  const plain = Object.fromEntries(Object.entries(metrics).filter(([k]) => !k.startsWith("gate.")));
  const details = `
    <div class="row"><span>name</span><span>${esc(info.model_name)}</span></div>
    <div class="row"><span>version</span><span>${esc(info.model_version)}</span></div>
    <div class="row"><span>type</span><span>${esc(info.model_type)}</span></div>
    <div class="row"><span>engine</span><span>${esc(info.engine || "?")}</span></div>
    <div class="row"><span>serving</span><span>${info.fallback ? "HAR baseline (no champion)" : esc(info.model_uri)}</span></div>
    <div class="row"><span>loaded</span><span>${esc(info.load_time)}</span></div>
    ${info.fallback_reason ? `<p class="meta">${esc(info.fallback_reason)}</p>` : ""}
    ${gate.reason ? `<p class="meta">gate: ${esc(gate.reason)}</p>` : ""}
    ${info.last_reload_error ? `<p class="meta">last reload failed: ${esc(info.last_reload_error)}</p>` : ""}`;
  let right = "";
  if (info.backtest) {
    const sp = info.backtest.split || {};
    const window = sp.test_start ? `<p class="meta">out-of-sample window ${esc(sp.test_start)} → ${esc(sp.test_end)} · ${esc(sp.test_origins)} origins · DM vs ${esc(sp.dm_reference || "har")}</p>` : "";
    right = "<h3 class=meta>backtest vs baselines (lower QLIKE is better, ★ = served)</h3>" + backtestTable(info.backtest, info.model_type) + window;
  } else if (Object.keys(plain).length) {
    right = "<h3 class=meta>metrics</h3>" + metricsTable(plain);
  }
  $("model-info").innerHTML = `<div class="model-grid"><div>${details}</div><div>${right}</div></div>`;
  $("model-info").classList.add("signal-card");
}

function renderHistory(signals, preds) {
  $("signals-table").querySelector("tbody").innerHTML = signals.slice().reverse().map((s) =>
    `<tr><td>${esc(s.candle_time)}</td><td>${esc(s.symbol)}</td><td>${fmt(s.risk_score, 3)}</td><td>${tag(s.risk_level)}</td><td>${tag(s.vol_regime)}</td><td>${esc(s.source)}</td></tr>`).join("") ||
    `<tr><td colspan="6" class="meta">no signal recorded yet: press “Generate &amp; record”</td></tr>`;
  $("ml-table").querySelector("tbody").innerHTML = preds.slice().reverse().map((p) => {
    const m = p.ml_prediction || {};
    return `<tr><td>${esc(p.candle_time)}</td><td>${esc(p.symbol)}</td><td>${pct(m.predicted_rv_24h)}</td><td>${tag(m.volatility_regime)}</td><td>${fmt(m.confidence, 2)}</td><td>${esc(m.model_type)} v${esc(m.model_version)}</td></tr>`;
  }).join("") || `<tr><td colspan="6" class="meta">no ML prediction recorded yet</td></tr>`;
}

// The pair selector lists the pairs the system follows (PAIRS), from the API.
async function loadPairs() {
  const { pairs, default_symbol: first } = await api("/v1/dashboard/pairs");
  state.pairs = pairs;
  const select = $("symbol");
  select.innerHTML = pairs.map((p) => `<option value="${esc(p)}">${esc(p)}</option>`).join("");
  select.value = pairs.includes(first) ? first : pairs[0];
}

function markSelected() {
  for (const tr of $("screener-table").querySelectorAll("tbody tr[data-pair]")) {
    tr.classList.toggle("selected", tr.dataset.pair === $("symbol").value);
  }
}

function renderScreener(result) {
  const rows = result.forecasts.map((f) => `
    <tr data-pair="${esc(f.pair)}">
      <td><strong>${esc(f.pair)}</strong></td><td class="num">${pct(f.predicted_rv_24h)}</td>
      <td class="num">${pct(f.q10)}</td><td class="num">${pct(f.q50)}</td><td class="num">${pct(f.q90)}</td>
      <td>${tag(f.volatility_regime)}</td><td class="num">${fmt(f.risk_score, 2)} ${tag(f.risk_level)}</td>
      <td>${esc(f.model_name)} · ${esc(f.model_type)} v${esc(f.model_version)}</td><td>${esc(f.candle_time)}</td>
    </tr>`);
  const skipped = Object.entries(result.skipped || {}).map(([pair, why]) =>
    `<tr class="skipped"><td>${esc(pair)}</td><td colspan="8" class="meta">no forecast: ${esc(why)}</td></tr>`);
  $("screener-table").querySelector("tbody").innerHTML = rows.concat(skipped).join("") ||
    `<tr><td colspan="9" class="meta">no pair to show</td></tr>`;
  markSelected();
  $("screener-meta").textContent = `${result.forecasts.length} pairs · updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

async function refreshScreener() {
  try {
    const query = { timeframe: $("timeframe").value, ...(state.pairs.length ? { symbols: state.pairs.join(",") } : {}) };
    renderScreener(await api(`/v1/crypto/screener?${qs(query)}`));
    document.body.dataset.screener = "yes";
  } catch (err) {
    $("screener-meta").textContent = String(err.message || err);
    document.body.dataset.screener = "error";
  }
}

async function refreshHistory() {
  const [signals, preds] = await Promise.all([api("/v1/crypto/signals/tail?n=10"), api("/v1/crypto/ml-predictions/tail?n=10")]);
  renderHistory(signals, preds);
}

async function refresh() {
  const p = params();
  showError(null);
  document.body.dataset.ready = "loading";
  try {
    const health = await api("/health");
    pill("health-pill", `health ${health.status}`, health.status === "ok" ? "ok" : "warn");
    const [chart, cmp, info] = await Promise.all([
      api(`/v1/dashboard/chart?${qs({ ...p, points: 48 })}`),
      api(`/v1/crypto/signals/compare?${qs(p)}`),
      api("/v1/ml/model/info"),
    ]);
    pill("source-pill", `source ${chart.source}`, chart.source === "synthetic" ? "warn" : "ok");
    drawCandles(chart);
    drawVolatility(chart);
    renderSignals(cmp);
    renderModel(info);
    await refreshHistory();
    document.body.dataset.ready = "yes";
  } catch (err) {
    showError(err);
    document.body.dataset.ready = "error";
  }
}

async function record(kind) {
  const p = params();
  const path = kind === "ml" ? "/v1/crypto/ml-signal" : "/v1/crypto/signal";
  try {
    await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(p) });
    await refreshHistory();
  } catch (err) { showError(err); }
}

// One color per pair: ML predicted vol/h solid, heuristic vol/h dotted (the feed sends every followed pair).
function drawLive() {
  const symbols = [...new Set(state.pairs.concat(state.live.map((e) => e.symbol)))];
  const traces = symbols.flatMap((symbol, i) => {
    const ev = state.live.filter((e) => e.symbol === symbol);
    if (!ev.length) return [];
    const color = PAIR_COLORS[i % PAIR_COLORS.length];
    const x = ev.map((e) => e.timestamp);
    return [
      { type: "scatter", mode: "lines+markers", name: `${symbol} ML vol/h`, x, y: ev.map((e) => e.ml_prediction.predicted_volatility ?? null), line: { color } },
      { type: "scatter", mode: "lines", name: `${symbol} heuristic`, x, y: ev.map((e) => e.heuristic_signal.vol), line: { color, dash: "dot", width: 1 } },
    ];
  });
  Plotly.react("livechart", traces, { ...LAYOUT, yaxis: { ...LAYOUT.yaxis, tickformat: ".2%" } }, CONFIG);
}

function connectLive() {
  const source = new EventSource("/v1/stream/predictions");
  source.addEventListener("hello", (e) => pill("live-state", `live · ${JSON.parse(e.data).feed} feed`, "ok"));
  source.addEventListener("prediction", (e) => {
    const ev = JSON.parse(e.data);
    if (ev.error || !ev.heuristic_signal || !ev.price_data) return;
    ev.ml_prediction = ev.ml_prediction && !ev.ml_prediction.error ? ev.ml_prediction : {};
    state.live.push(ev);
    if (state.live.length > 360) state.live.shift();
    const li = document.createElement("li");
    li.textContent = `${ev.timestamp} ${ev.symbol} price ${fmt(ev.price_data.price, 2)} · risk ${fmt(ev.heuristic_signal.risk_score, 2)} ${ev.heuristic_signal.vol_regime} · ML RV24 ${pct(ev.ml_prediction.predicted_rv_24h)} · ${ev.feed || ""}`;
    $("live-events").prepend(li);
    while ($("live-events").children.length > 50) $("live-events").lastChild.remove();
    drawLive();
  });
  source.onerror = () => pill("live-state", "reconnecting…", "warn");
}

$("controls").addEventListener("submit", (e) => { e.preventDefault(); refresh(); refreshScreener(); });
$("symbol").addEventListener("change", () => { markSelected(); refresh(); });
$("screener-table").addEventListener("click", (e) => {
  const row = e.target.closest("tr[data-pair]");
  if (!row || !state.pairs.includes(row.dataset.pair)) return;
  $("symbol").value = row.dataset.pair;
  markSelected();
  refresh();
});
$("btn-signal").addEventListener("click", () => record("heuristic"));
$("btn-ml").addEventListener("click", () => record("ml"));
loadPairs().catch(showError).finally(() => {
  refresh();
  refreshScreener();
  setInterval(refreshScreener, SCREENER_REFRESH_MS);
  connectLive();
});
