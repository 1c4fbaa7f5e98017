// The inbox's one stylesheet and one script, served from /ui/assets/ with a
// strict Content-Security-Policy (no inline script). The pages work without
// the script; it adds countdowns and live updates over /ui/stream (the
// dashboard's own share is in dashboard-assets.ts).
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard-assets.ts';

export const CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#fff; --soft:#f6f8fa; --accent:#0a58ca;
  --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg); line-height:1.45; }
a { color:var(--accent); }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:#fff; padding:4px 8px; z-index:10; }
header.top { display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; align-items:center; padding:.6rem 1rem; border-bottom:1px solid var(--line); background:var(--soft); }
header.top .brand { font-weight:700; text-decoration:none; color:var(--fg); }
header.top nav { display:flex; gap:1rem; flex-wrap:wrap; }
header.top nav a[aria-current=page] { font-weight:700; text-decoration:none; color:var(--fg); }
header.top .who { margin-left:auto; color:var(--muted); font-size:.9rem; display:flex; gap:.75rem; align-items:center; }
main { padding:1rem; max-width:1200px; margin:0 auto; }
h1 { font-size:1.4rem; margin:.2rem 0 1rem; } h2 { font-size:1.1rem; margin:1.5rem 0 .5rem; }
form.filters { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:end; margin-bottom:1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); }
input, select, textarea, button { font:inherit; }
input, select, textarea { border:1px solid var(--line); border-radius:6px; padding:.35rem .5rem; background:#fff; color:var(--fg); }
button, .button { border:1px solid var(--line); border-radius:6px; padding:.4rem .9rem; background:var(--soft); cursor:pointer; color:var(--fg); text-decoration:none; display:inline-block; }
button.approve { background:var(--ok); border-color:var(--ok); color:#fff; }
button.reject { background:var(--bad); border-color:var(--bad); color:#fff; }
:focus-visible { outline:3px solid #f0b400; outline-offset:2px; }
table.list { border-collapse:collapse; width:100%; }
table.list th, table.list td { text-align:left; padding:.5rem; border-bottom:1px solid var(--line); vertical-align:top; }
table.list th { font-size:.85rem; color:var(--muted); font-weight:600; }
.muted { color:var(--muted); } .small { font-size:.85rem; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; border:1px solid var(--line); background:var(--soft); }
.badge.pending { color:var(--warn); border-color:#d4a72c; } .badge.approved, .badge.completed, .badge.executing { color:var(--ok); border-color:#4ac26b; }
.badge.rejected, .badge.failed, .badge.expired, .badge.cancelled { color:var(--bad); border-color:#ff8182; }
.left.soon { color:var(--bad); font-weight:600; }
dl.params { margin:0; display:grid; grid-template-columns:max-content 1fr; gap:.15rem .75rem; }
dl.params dt { font-weight:600; color:var(--muted); } dl.params dd { margin:0; overflow-wrap:anywhere; }
dl.params dl.params { padding-left:.5rem; border-left:2px solid var(--line); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.85rem; }
ul.reasons { margin:0; padding-left:1.1rem; }
.flash { padding:.6rem .8rem; border-radius:6px; margin:0 0 1rem; border:1px solid var(--line); background:var(--soft); }
.flash.error { border-color:#ff8182; background:#ffebe9; } .flash.ok { border-color:#4ac26b; background:#dafbe1; }
.grid2 { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:1.5rem; }
.card { border:1px solid var(--line); border-radius:8px; padding:1rem; margin-bottom:1rem; }
.card > h2:first-child { margin-top:0; }
.decide textarea { width:100%; min-height:4rem; } .decide .actions { display:flex; gap:.75rem; margin-top:.5rem; }
ol.audit { list-style:none; padding:0; margin:0; } ol.audit li { padding:.4rem 0; border-bottom:1px solid var(--line); }
.chain.ok { color:var(--ok); font-weight:600; } .chain.broken { color:var(--bad); font-weight:600; }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr)); gap:1rem; }
.stat { font-size:1.6rem; font-weight:700; }
.login { max-width:420px; margin:3rem auto; } .login input { width:100%; }
.button.sso { background:var(--accent); border-color:var(--accent); color:#fff; font-weight:600; }
.live-note { position:fixed; bottom:0; left:0; right:0; text-align:center; }
${DASHBOARD_CSS}
@media (max-width: 720px) {
  .grid2 { grid-template-columns: 1fr; }
  table.list thead { display:none; }
  table.list tr { display:block; border:1px solid var(--line); border-radius:8px; margin-bottom:.75rem; padding:.25rem .5rem; }
  table.list td { display:block; border:0; padding:.2rem 0; }
  table.list td[data-label]::before { content: attr(data-label) ": "; font-weight:600; color:var(--muted); }
  header.top .who { margin-left:0; }
}
`;

export const JS = `
(() => {
  'use strict';
  const fmt = (s) => {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60); if (m < 60) return m + ' min';
    const h = Math.floor(m / 60); if (h < 24) return m % 60 ? h + ' h ' + (m % 60) + ' min' : h + ' h';
    const d = Math.floor(h / 24); return h % 24 ? d + ' d ' + (h % 24) + ' h' : d + ' d';
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-expires]')) {
      const ms = Date.parse(el.getAttribute('data-expires')) - Date.now();
      el.textContent = ms <= 0 ? 'deadline passed' : fmt(ms / 1000) + ' left';
      el.classList.toggle('soon', ms < 5 * 60 * 1000);
    }
  };
  tick(); setInterval(tick, 1000);

  const page = document.body.dataset.page;
  // The dashboard follows its own stream (DASHBOARD_JS below), not the audit chain's.
  if (!page || page === 'dashboard' || !window.EventSource) return;
  const live = document.getElementById('live');
  const say = (text) => { if (live) live.textContent = text; };
  const fetchHtml = async (url) => {
    const r = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } });
    if (r.status === 401) { location.reload(); return null; }
    return { status: r.status, html: r.status === 200 ? await r.text() : '' };
  };
  const fromHtml = (html) => { const t = document.createElement('template'); t.innerHTML = html.trim(); return t.content.firstElementChild; };

  async function onInbox(approvals) {
    const body = document.querySelector('#inbox tbody');
    if (!body) return;
    for (const a of approvals) {
      const res = await fetchHtml('/ui/fragments/inbox-row/' + encodeURIComponent(a.id) + location.search);
      if (!res) return;
      const old = document.getElementById('row-' + a.id);
      if (res.status !== 200) {
        if (old) { old.remove(); say(a.action + ' is ' + a.status + (a.decided_by ? ' by ' + a.decided_by : '')); }
        continue;
      }
      const row = fromHtml(res.html);
      if (old) { old.replaceWith(row); continue; }
      const key = row.dataset.sort;
      const after = [...body.querySelectorAll('tr[data-sort]')].find((r) => r.dataset.sort > key);
      body.insertBefore(row, after || null);
      say('New request: ' + a.action + ' from ' + a.agent_id);
    }
    const empty = document.getElementById('inbox-empty');
    if (empty) empty.hidden = body.querySelector('tr[data-sort]') !== null;
    const count = document.getElementById('inbox-count');
    if (count) count.textContent = String(body.querySelectorAll('tr[data-sort]').length);
    tick();
  }

  async function onDetail(approvals) {
    const id = document.body.dataset.id;
    if (!approvals.some((a) => a.id === id)) return;
    const res = await fetchHtml('/ui/fragments/approval/' + encodeURIComponent(id));
    if (!res || res.status !== 200) return;
    const area = document.getElementById('approval-live');
    const typed = area && area.querySelector('textarea');
    const keep = typed ? typed.value : '';
    const focused = document.activeElement && area.contains(document.activeElement) ? document.activeElement.id || document.activeElement.getAttribute('value') : null;
    const fresh = fromHtml(res.html);
    area.replaceWith(fresh);
    const ta = fresh.querySelector('textarea');
    if (ta && keep) ta.value = keep;
    // Whoever was typing or about to click keeps their place.
    const back = focused && (fresh.querySelector('#' + CSS.escape(focused)) || fresh.querySelector('button[value="' + focused + '"]'));
    if (back) back.focus();
    const a = approvals.find((x) => x.id === id);
    say('This request is now ' + a.status + (a.decided_by ? ' (by ' + a.decided_by + ')' : ''));
    tick();
  }

  const es = new EventSource('/ui/stream');
  let chain = Promise.resolve();
  es.addEventListener('change', (e) => {
    const { approvals } = JSON.parse(e.data);
    chain = chain.then(() => page === 'inbox' ? onInbox(approvals) : page === 'detail' ? onDetail(approvals) : null).catch(() => {});
    if (page !== 'inbox' && page !== 'detail') { const n = document.getElementById('stale'); if (n) n.hidden = false; }
  });
  es.addEventListener('reset', () => location.reload());
  // The server ends a stream at its lifetime (the browser reconnects by itself, resuming from the last id)
  // or when the sign-in is no longer good: then the page reloads and lands on the sign-in form.
  es.addEventListener('end', (e) => { if (JSON.parse(e.data).reason === 'unauthorized') { es.close(); location.reload(); } });
  es.addEventListener('ready', () => document.body.setAttribute('data-live', 'on'));
  es.onerror = () => document.body.setAttribute('data-live', 'off');
})();
${DASHBOARD_JS}`;
