// The Sluice dashboard: polls the REST API (docs/http-api.md) every second and follows the
// rows of one sink table through server-sent events. Plain JS, no build step; the chart is
// uPlot (vendored, see vendor/uplot/VERSION).
'use strict';

const state = {
  job: null,
  prevOps: new Map(),   // operator id -> {t, in, out}: rates between two polls
  dlqOffset: 0,
  dlqLimit: 20,
  stream: null,         // AbortController of the open event stream
  chart: null,
  chartTable: '',
};

// With a token the server authenticates the page's requests by the session cookie its
// sign-in form set (same origin: fetch sends it). A 401 means the session is gone (the
// server restarted): reloading shows the sign-in form again.
function signedOut(r) {
  if (r.status !== 401) return false;
  location.reload();
  return true;
}

async function api(path) {
  const r = await fetch(path);
  if (signedOut(r)) throw new Error('401: signed out');
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function fmtRate(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M/s';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k/s';
  return v.toFixed(0) + '/s';
}

function fmtBytes(b) {
  if (b >= 1 << 20) return (b / (1 << 20)).toFixed(1) + ' MiB';
  if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + ' KiB';
  return b + ' B';
}

// ---------------------------------------------------------------- job graph

function drawGraph(plan) {
  const now = performance.now() / 1000;
  const boxW = 210, boxH = 62, gapX = 70, gapY = 14, pad = 10;
  const stages = plan.stages;
  const pos = new Map();  // stage index -> {x, y, h}
  let height = 0;
  stages.forEach((st, i) => {
    const n = st.operators.length + (st.source ? 1 : 0);
    const h = Math.max(1, n) * (boxH + gapY) - gapY;
    pos.set(i, { x: pad + i * (boxW + gapX), y: pad, h });
    height = Math.max(height, h);
  });
  const width = pad * 2 + stages.length * (boxW + gapX) - gapX;
  const root = svg('svg', { width, height: height + pad * 2, 'data-stages': stages.length });
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7b8794' }));
  defs.append(marker);
  root.append(defs);
  const sources = new Map((plan.sources || []).map(s => [s.table, s]));
  stages.forEach((st, i) => {
    const p = pos.get(i);
    let y = p.y;
    const box = (cls, title, lines, id) => {
      const g = svg('g', { class: 'op ' + cls, transform: `translate(${p.x},${y})`, 'data-operator': id || '' });
      g.append(svg('rect', { width: boxW, height: boxH, rx: 4 }));
      g.append(svg('text', { x: 6, y: 14, class: 'kind' }, title));
      lines.forEach((l, k) => g.append(svg('text', { x: 6, y: 29 + k * 13 }, l)));
      root.append(g);
      y += boxH + gapY;
    };
    if (st.source) {
      const s = sources.get(st.source) || { records: 0, dead_lettered: 0, late: 0 };
      const key = 'source:' + st.source;
      const prev = state.prevOps.get(key);
      const rate = prev ? (s.records - prev.out) / Math.max(0.001, now - prev.t) : 0;
      state.prevOps.set(key, { t: now, in: 0, out: s.records });
      box('source', `source ${st.source} ×${st.parallelism}`,
          [`read ${s.records} (${fmtRate(rate)})`, `dlq ${s.dead_lettered}, late ${s.late}`], key);
    }
    for (const op of st.operators) {
      const prev = state.prevOps.get(op.id);
      const dt = prev ? Math.max(0.001, now - prev.t) : 1;
      const rateIn = prev ? (op.records_in - prev.in) / dt : 0;
      const rateOut = prev ? (op.records_out - prev.out) / dt : 0;
      const blocked = prev ? (op.backpressure_seconds - prev.bp) / dt : 0;
      state.prevOps.set(op.id, { t: now, in: op.records_in, out: op.records_out, bp: op.backpressure_seconds });
      const cls = (op.kind === 'sink' ? 'sink' : '') + (blocked > 0.2 ? ' blocked' : '');
      box(cls, `${op.kind} ×${op.instances.length}`, [
        `in ${op.records_in} (${fmtRate(rateIn)})`,
        `out ${op.records_out} (${fmtRate(rateOut)})`,
        `backpressure ${(blocked * 100).toFixed(0)}%` + (op.late ? `, late ${op.late}` : ''),
      ], op.id);
      root.lastChild.append(svg('title', {}, op.id + '\n' + op.describe));
    }
  });
  for (const e of plan.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + boxW, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
    root.append(svg('path', { class: 'edge', d: `M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}` }));
    const label = e.kind + (e.key_columns && e.key_columns.length ? ` [${e.key_columns.join(',')}]` : '');
    root.append(svg('text', { class: 'edge-label', x: (x1 + x2) / 2 - 20, y: (y1 + y2) / 2 - 4 }, label));
  }
  document.getElementById('graph').replaceChildren(root);
}

// ---------------------------------------------------------------- watermarks

function drawWatermarks(wm) {
  const why = document.getElementById('why');
  const open = wm.windows.filter(w => w.open_window_end);
  why.replaceChildren(...(open.length ? open.map(w => el('p', { class: 'why-not-fired' },
    `${w.kind} (instance ${w.instance}): ${w.reason}`)) : [el('p', {}, wm.windows.length ? 'every window has fired' : 'no windowed operator')]));
  const rows = [];
  for (const s of wm.sources) {
    for (const sp of s.splits) {
      rows.push(el('tr', { 'data-split': sp.split }, el('td', {}, sp.table), el('td', {}, sp.split), el('td', {}, sp.reader),
        el('td', { class: 'state-' + sp.state }, sp.state), el('td', {}, sp.watermark || '—')));
    }
  }
  fill(document.querySelector('#splits tbody'), rows);
  fill(document.querySelector('#operator-watermarks tbody'), wm.operators.map(op =>
    el('tr', {}, el('td', { title: op.id }, op.id.length > 40 ? op.id.slice(0, 40) + '…' : op.id), el('td', {}, op.kind), el('td', {}, op.watermark || '—'))));
}

// ---------------------------------------------------------------- checkpoints

function drawCheckpoints(c) {
  document.getElementById('checkpoint-summary').textContent = c.enabled
    ? `${c.completed} completed, ${c.failed} failed` + (c.restored_id ? `, restored from ${c.restored_id}` : '')
    : 'the job does not checkpoint (run it with --checkpoint-dir)';
  fill(document.querySelector('#checkpoints tbody'), c.checkpoints.slice(0, 20).map(k => el('tr', {},
    el('td', {}, k.id), el('td', {}, k.started), el('td', {}, (k.duration_seconds * 1000).toFixed(0) + ' ms'),
    el('td', {}, fmtBytes(k.size_bytes)), el('td', { class: 'state-' + k.state, title: k.error || '' }, k.state),
    el('td', {}, k.savepoint ? 'savepoint' : k.final ? 'final' : ''))));
}

// ---------------------------------------------------------------- DLQ browser

async function loadDlq() {
  if (!state.job) return;
  const kind = document.getElementById('dlq-kind').value;
  const q = `offset=${state.dlqOffset}&limit=${state.dlqLimit}` + (kind ? `&kind=${kind}` : '');
  const d = await api(`/api/v1/jobs/${encodeURIComponent(state.job)}/dlq?${q}`);
  document.getElementById('dlq-info').textContent =
    `${d.total} entries in this run (newest ${d.retained} kept); showing ${d.offset + 1}–${d.offset + d.records.length}`;
  fill(document.querySelector('#dlq tbody'), d.records.map(r => el('tr', {},
    el('td', {}, r.seq), el('td', {}, r.kind), el('td', {}, r.time), el('td', {}, r.source), el('td', {}, r.split),
    el('td', {}, r.line), el('td', {}, r.error + (r.queries ? ` (${r.queries.join(', ')})` : '')),
    el('td', { class: 'raw' }, r.raw + (r.raw_truncated ? ` … (${r.raw_bytes} bytes)` : '')))));
}

// ---------------------------------------------------------------- live chart

// Reads a text/event-stream with fetch (EventSource could too, as the session is a cookie;
// fetch lets the page abort it and see the HTTP status).
async function follow(table) {
  if (state.stream) state.stream.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  const url = `/api/v1/jobs/${encodeURIComponent(state.job)}/stream?table=${encodeURIComponent(table)}`;
  const r = await fetch(url, { signal: ctrl.signal });
  if (signedOut(r)) return;
  if (!r.ok) throw new Error((await r.json()).error);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let event = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event === 'rows') onRows(JSON.parse(data));
      if (event === 'end') document.getElementById('chart-info').textContent += ' (job ended)';
    }
  }
}

const chart = {
  columns: null, xCol: null, yCols: [], points: new Map(), rows: 0, lost: 0, seq: 0, t0: Date.now(),
};

function toNumber(v, type) {
  if (v === null || v === undefined) return null;
  if (type === 'TIMESTAMP') return Date.parse(v) / 1000;
  return typeof v === 'number' ? v : Number(v);
}

function onRows(ev) {
  if (!chart.columns) {
    chart.columns = ev.columns;
    const ts = ev.columns.find(c => c.type === 'TIMESTAMP');
    chart.xCol = ts || null;
    chart.yCols = ev.columns.filter(c => c !== ts && (c.type === 'BIGINT' || c.type === 'DOUBLE')).slice(0, 4);
  }
  chart.seq = ev.seq;
  chart.lost += ev.lost;
  for (const row of ev.rows) {
    chart.rows++;
    // With a time column, a row is the point at its time (an update replaces it, a delete
    // removes it); without, points are numbered in arrival order.
    const x = chart.xCol ? toNumber(row[chart.xCol.name], 'TIMESTAMP') : chart.rows;
    if (x === null) continue;
    if (row.op === '-D' || row.op === '-U') {
      if (row.op === '-D') chart.points.delete(x);
      continue;
    }
    chart.points.set(x, chart.yCols.map(c => toNumber(row[c.name], c.type)));
  }
  // Bounded: the newest 2,000 points.
  if (chart.points.size > 2000) {
    const keys = [...chart.points.keys()].sort((a, b) => a - b);
    for (const k of keys.slice(0, keys.length - 2000)) chart.points.delete(k);
  }
  renderChart();
}

function renderChart() {
  const xs = [...chart.points.keys()].sort((a, b) => a - b);
  const data = [xs, ...chart.yCols.map((_, i) => xs.map(x => chart.points.get(x)[i]))];
  const host = document.getElementById('chart');
  host.dataset.points = String(xs.length);
  host.dataset.rows = String(chart.rows);
  host.dataset.last = xs.length ? JSON.stringify(data.map(s => s[s.length - 1])) : '';
  document.getElementById('chart-info').textContent =
    `${chart.rows} rows received, ${xs.length} points` + (chart.lost ? `, ${chart.lost} batches skipped by the tap` : '');
  if (!state.chart || state.chart._cols !== chart.yCols.length) {
    if (state.chart) state.chart.destroy();
    const colors = ['#4a7fb5', '#3f8f5a', '#b58a3f', '#c0392b'];
    state.chart = new uPlot({
      width: Math.max(400, host.clientWidth - 10), height: 260,
      scales: { x: { time: !!chart.xCol } },
      series: [{ label: chart.xCol ? chart.xCol.name : 'row' },
               ...chart.yCols.map((c, i) => ({ label: c.name, stroke: colors[i % colors.length], width: 2 }))],
    }, data, host);
    state.chart._cols = chart.yCols.length;
  } else {
    state.chart.setData(data);
  }
}

function startChart(table) {
  state.chartTable = table;
  Object.assign(chart, { columns: null, xCol: null, yCols: [], points: new Map(), rows: 0, lost: 0, seq: 0 });
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  const retry = () => setTimeout(() => { if (state.chartTable === table) startChart(table); }, 2000);
  follow(table).then(retry, e => { if (e.name !== 'AbortError') { showError(e); retry(); } });
}

// ---------------------------------------------------------------- polling

function showError(e) {
  document.getElementById('error').textContent = e ? String(e.message || e) : '';
}

async function refresh() {
  try {
    const jobs = (await api('/api/v1/jobs')).jobs;
    const sel = document.getElementById('job');
    const names = jobs.map(j => j.name);
    if ([...sel.options].map(o => o.value).join() !== names.join()) {
      sel.replaceChildren(...names.map(n => el('option', { value: n }, n)));
    }
    if (!state.job || !names.includes(state.job)) state.job = names[0] || null;
    sel.value = state.job || '';
    if (!state.job) return;
    const st = jobs.find(j => j.name === state.job);
    document.getElementById('status').textContent =
      `${st.state} · ${st.records_in} read · dlq ${st.dead_lettered} · late ${st.late} · watermark ${st.watermark || '—'} · ${st.elapsed_seconds.toFixed(0)} s`;
    const base = `/api/v1/jobs/${encodeURIComponent(state.job)}`;
    const [plan, wm, cps] = await Promise.all([api(base + '/plan'), api(base + '/watermarks'), api(base + '/checkpoints')]);
    drawGraph(plan);
    drawWatermarks(wm);
    drawCheckpoints(cps);
    const tsel = document.getElementById('chart-table');
    if ([...tsel.options].map(o => o.value).join() !== plan.sink_tables.join()) {
      tsel.replaceChildren(...plan.sink_tables.map(t => el('option', { value: t }, t)));
    }
    if (!state.chartTable && plan.sink_tables.length) {
      const wanted = new URLSearchParams(location.search).get('table');
      const t = plan.sink_tables.includes(wanted) ? wanted : plan.sink_tables[0];
      tsel.value = t;
      startChart(t);
    }
    await loadDlq();
    showError(null);
  } catch (e) {
    showError(e);
  }
}

document.getElementById('chart-table').addEventListener('change', e => startChart(e.target.value));
document.getElementById('job').addEventListener('change', e => {
  state.job = e.target.value;
  state.chartTable = '';
  state.prevOps.clear();
  refresh();
});
document.getElementById('dlq-kind').addEventListener('change', () => { state.dlqOffset = 0; loadDlq().catch(showError); });
document.getElementById('dlq-prev').addEventListener('click', () => {
  state.dlqOffset = Math.max(0, state.dlqOffset - state.dlqLimit);
  loadDlq().catch(showError);
});
document.getElementById('dlq-next').addEventListener('click', () => {
  state.dlqOffset += state.dlqLimit;
  loadDlq().catch(showError);
});
refresh();
setInterval(refresh, 1000);
