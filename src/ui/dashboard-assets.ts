// The dashboard's share of the inbox's one stylesheet and one script (served
// from /ui/assets/ under the strict CSP; see assets.ts). The page works without
// the script; the script adds the live feed: it follows /ui/dashboard/stream,
// fetches the rendered rows of the newest ids it is sent (server-escaped HTML,
// never the agent's strings as data; one request at a time), and refreshes the
// panels at most every 5 s.

export const DASHBOARD_CSS = `
body[data-page=dashboard] main { max-width:1480px; }
.dash-head { display:flex; flex-wrap:wrap; align-items:center; gap:.5rem 1.25rem; margin-bottom:1rem; }
.dash-head h1 { margin:0; }
.periods { display:flex; gap:0; border:1px solid var(--line); border-radius:8px; overflow:hidden; }
.periods a { padding:.3rem .8rem; text-decoration:none; color:var(--fg); font-size:.9rem; border-right:1px solid var(--line); }
.periods a:last-child { border-right:0; }
.periods a[aria-current=page] { background:var(--accent); color:#fff; font-weight:600; }
.live-badge { margin-left:auto; display:inline-flex; align-items:center; gap:.4rem; font-size:.85rem; color:var(--muted); }
.live-badge .dot { width:.6rem; height:.6rem; border-radius:50%; background:#8c959f; display:inline-block; }
.live-badge .on-text { display:none; } .live-badge .off-text { display:inline; }
body[data-live=on] .live-badge .dot { background:#2da44e; box-shadow:0 0 0 3px #2da44e33; animation:pulse 2s infinite; }
body[data-live=on] .live-badge .on-text { display:inline; color:var(--ok); font-weight:600; }
body[data-live=on] .live-badge .off-text { display:none; }
@keyframes pulse { 50% { box-shadow:0 0 0 6px #2da44e11; } }
.dashboard { display:grid; grid-template-columns:minmax(0,2.2fr) minmax(280px,1fr); gap:1rem; align-items:start; }
.dash-main, .dash-side { min-width:0; }
.panel h2 { margin:0 0 .5rem; font-size:1rem; } .panel h3 { font-size:.9rem; margin:.9rem 0 .35rem; }
.stats { display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:.75rem; margin-bottom:1rem; }
.stat-card { border:1px solid var(--line); border-radius:10px; padding:.6rem .75rem; background:linear-gradient(180deg,#fff, var(--soft)); border-top:4px solid var(--accent); }
.stat-card.ok { border-top-color:#2da44e; } .stat-card.bad { border-top-color:var(--bad); } .stat-card.warn { border-top-color:#d4a72c; } .stat-card.info { border-top-color:#8250df; }
.stat-label { font-size:.78rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
.stat-value { font-size:1.55rem; font-weight:700; font-variant-numeric:tabular-nums; }
.stat-sub { font-size:.8rem; color:var(--muted); }
svg.chart { display:block; }
svg.chart .grid { stroke:#eaeef2; stroke-width:1; }
svg.chart .axis { font-size:11px; fill:var(--muted); }
svg.chart .vol { fill:#0a58ca14; }
svg.chart path.avg { fill:none; stroke:var(--accent); stroke-width:2.5; stroke-linejoin:round; }
svg.chart path.max { fill:none; stroke:var(--bad); stroke-width:1.5; stroke-dasharray:4 3; }
svg.chart .avg-dot { fill:var(--accent); }
.legend .key { display:inline-block; width:1rem; height:.25rem; vertical-align:middle; margin-left:.6rem; }
.legend .key:first-child { margin-left:0; }
.legend .key.avg { background:var(--accent); } .legend .key.max { background:var(--bad); } .legend .key.vol { background:#0a58ca30; height:.6rem; }
table.compact th, table.compact td { padding:.3rem .4rem; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
table.feed td { padding:.4rem .45rem; }
table.feed th, table.feed td.time { white-space:nowrap; }
table.feed td:nth-child(3) { min-width:11rem; }
table.feed td:nth-child(4) { min-width:14rem; }
table.feed .action { overflow-wrap:break-word; }
.feed-scroll { max-height:38rem; overflow:auto; }
table.feed thead th { position:sticky; top:0; background:#fff; z-index:1; box-shadow:0 1px 0 var(--line); }
table.feed tr.fresh { animation:fresh 2.5s ease-out; }
@keyframes fresh { from { background:#fff8c5; } to { background:transparent; } }
.pill { display:inline-block; padding:.05rem .55rem; border-radius:999px; font-size:.78rem; font-weight:600; white-space:nowrap; }
.pill.allow { background:#dafbe1; color:#116329; } .pill.modify { background:#fbefff; color:#6639ba; }
.pill.deny { background:#ffebe9; color:#a40e26; } .pill.require_approval { background:#fff8c5; color:#7d4e00; }
.risk { display:inline-flex; align-items:center; gap:.35rem; font-variant-numeric:tabular-nums; font-size:.85rem; }
.risk-bar { width:3rem; height:.4rem; background:#eaeef2; border-radius:999px; overflow:hidden; display:inline-block; }
.risk-bar span { display:block; height:100%; background:#2da44e; }
.risk.mid .risk-bar span { background:#d4a72c; } .risk.high .risk-bar span { background:var(--bad); }
.gauge { margin:.35rem 0 .55rem; }
.gauge-head { display:flex; justify-content:space-between; font-size:.85rem; gap:.5rem; }
.gauge-track { height:.6rem; background:#eaeef2; border-radius:999px; overflow:hidden; margin-top:.2rem; }
.gauge-track span { display:block; height:100%; background:#2da44e; border-radius:999px; }
.gauge.warn .gauge-track span { background:#d4a72c; } .gauge.warn strong { color:var(--warn); }
.gauge.danger .gauge-track span { background:var(--bad); } .gauge.danger strong { color:var(--bad); }
.gauge-group + .gauge-group { border-top:1px dashed var(--line); }
.gauge-group h3 { overflow-wrap:anywhere; }
.split { display:flex; height:.35rem; margin-top:.2rem; border-radius:999px; overflow:hidden; background:#eaeef2; }
.split .deny { background:var(--bad); } .split .hold { background:#d4a72c; }
.reason-name { font-weight:600; overflow-wrap:anywhere; }
ul.guards { list-style:none; margin:0; padding:0; }
ul.guards li { display:flex; align-items:center; gap:.4rem; padding:.25rem 0; }
ul.guards .dot { width:.55rem; height:.55rem; border-radius:50%; background:#8c959f; }
ul.guards li.on .dot { background:#2da44e; }
ul.guards .guard-name { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.85rem; }
ul.guards .guard-counts { margin-left:auto; color:var(--muted); }
@media (max-width: 960px) { .dashboard { grid-template-columns:1fr; } }
`;

export const DASHBOARD_JS = `
(() => {
  'use strict';
  if (document.body.dataset.page !== 'dashboard' || !window.EventSource) return;
  const body = document.querySelector('#feed tbody');
  const board = document.querySelector('.dashboard');
  if (!body || !board) return;
  const period = board.dataset.period;
  const KEEP = 50;
  const live = document.getElementById('live');
  const say = (t) => { if (live) live.textContent = t; };
  const get = async (url) => {
    const r = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } });
    if (r.status === 401) { location.reload(); return null; }
    return r.status === 200 ? r.text() : null;
  };
  const parse = (html) => { const t = document.createElement('template'); t.innerHTML = html; return t.content; };

  // Rows of calls held for a person are re-read when an approval changes (at most once a second).
  let heldTimer = null;
  function refreshHeld() {
    if (heldTimer) return;
    heldTimer = setTimeout(() => refreshHeldNow().catch(() => {}), 1000);
  }
  async function refreshHeldNow() {
    heldTimer = null;
    const ids = [...body.querySelectorAll('tr[data-at][data-held]')].map((r) => r.id.slice(2)).slice(0, 50);
    if (ids.length === 0) return;
    const html = await get('/ui/fragments/decisions?ids=' + ids.map(encodeURIComponent).join(','));
    if (html === null) return;
    for (const row of [...parse('<table><tbody>' + html + '</tbody></table>').querySelectorAll('tr[data-at]')]) {
      const old = document.getElementById(row.id);
      if (!old || old.querySelector('.approval-state').textContent === row.querySelector('.approval-state').textContent) continue;
      old.replaceWith(row);
      row.classList.add('fresh');
      say(row.querySelector('.action').textContent + ': approval ' + row.querySelector('.approval-state').textContent);
    }
  }

  async function addRows(ids) {
    const want = ids.filter((id) => /^[0-9a-f-]{36}$/.test(id) && !document.getElementById('d-' + id));
    let added = 0, last = null;
    for (let i = 0; i < want.length; i += 50) {
      const html = await get('/ui/fragments/decisions?ids=' + want.slice(i, i + 50).map(encodeURIComponent).join(','));
      if (html === null) continue;
      const frag = parse('<table><tbody>' + html + '</tbody></table>');
      for (const row of [...frag.querySelectorAll('tr[data-at]')]) {
        if (document.getElementById(row.id)) continue;
        const at = row.dataset.at;
        const older = [...body.querySelectorAll('tr[data-at]')].find((r) => r.dataset.at < at);
        body.insertBefore(row, older || null);
        row.classList.add('fresh');
        added++; last = row;
      }
    }
    const rows = body.querySelectorAll('tr[data-at]');
    for (let i = KEEP; i < rows.length; i++) rows[i].remove();
    const empty = document.getElementById('feed-empty');
    if (empty) empty.hidden = rows.length > 0;
    if (added === 1 && last) say('New decision: ' + last.querySelector('.pill').textContent + ', ' + last.querySelector('.action').textContent);
    else if (added > 1) say(added + ' new decisions');
    return added;
  }

  // The panels are re-read at most every 5 s while decisions keep coming.
  let timer = null, lastAt = 0;
  function refresh() {
    if (timer) return;
    timer = setTimeout(() => refreshNow().catch(() => {}), Math.max(0, lastAt + 5000 - Date.now()));
  }
  async function refreshNow() {
    timer = null; lastAt = Date.now();
    const html = await get('/ui/fragments/dashboard-summary?period=' + encodeURIComponent(period));
    if (!html) return;
    for (const panel of [...parse(html).querySelectorAll('[data-panel]')]) {
      const old = document.getElementById(panel.id);
      if (!old) continue;
      const open = [...old.querySelectorAll('details')].map((d) => d.open);
      old.replaceWith(panel);
      panel.querySelectorAll('details').forEach((d, i) => { if (open[i]) d.open = true; });
    }
  }

  // One fragment request at a time, for the newest ids only: under a flood the
  // page keeps up by skipping rows it would trim anyway, not by queueing requests.
  let pending = [], draining = false;
  async function drain() {
    draining = true;
    try {
      while (pending.length > 0) {
        const ids = pending.slice(-KEEP);
        pending = [];
        if ((await addRows(ids)) > 0) refresh();
      }
    } catch (e) { /* the next message tries again */ }
    draining = false;
  }
  const es = new EventSource('/ui/dashboard/stream');
  es.addEventListener('decisions', (e) => {
    pending.push(...JSON.parse(e.data).ids);
    if (!draining) drain();
  });
  es.addEventListener('approvals', refreshHeld);
  es.addEventListener('ready', () => document.body.setAttribute('data-live', 'on'));
  es.addEventListener('end', (e) => { if (JSON.parse(e.data).reason === 'unauthorized') { es.close(); location.reload(); } });
  es.onerror = () => document.body.setAttribute('data-live', 'off');
})();
`;
