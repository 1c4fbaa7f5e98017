// The dashboard's risk-over-time chart: an inline SVG rendered on the server
// (nothing for the CSP to block, no script), with a table that says the same
// for screen readers and for copying. Pure function of its props.
import type { FC } from 'hono/jsx';
import type { RiskPoint } from '../db/dashboard.ts';
import { PERIODS, type Period } from './dashboard-data.ts';

const risk = (r: number | null) => (r === null ? '—' : r.toFixed(2));

const W = 720;
const H = 220;
const PAD = { l: 38, r: 12, t: 12, b: 30 };

function tickLabel(at: Date, period: Period): string {
  const iso = at.toISOString();
  if (period === '7d') return `${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][at.getUTCDay()]} ${iso.slice(11, 13)}h`;
  return iso.slice(11, 16);
}

/** Average and maximum risk per bucket as an SVG chart, calls per bucket as faint bars; a table says the same. */
export const RiskChart: FC<{ points: RiskPoint[]; period: Period }> = ({ points, period }) => {
  const n = Math.max(1, points.length);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const slot = iw / n;
  const x = (i: number) => PAD.l + slot * i + slot / 2;
  const y = (v: number) => PAD.t + ih * (1 - v);
  const most = Math.max(1, ...points.map((p) => p.n));
  const line = (pick: (p: RiskPoint) => number | null) => {
    let d = '';
    let pen = false;
    points.forEach((p, i) => {
      const v = pick(p);
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  const every = Math.max(1, Math.ceil(n / 8));
  const seen = points.filter((p) => p.n > 0);
  const summary = seen.length === 0 ? 'no evaluations in this period' : `${seen.length} of ${points.length} intervals had evaluations; highest risk ${risk(Math.max(...seen.map((p) => p.max ?? 0)))}`;
  return (
    <section id="dash-risk" data-panel class="card panel" aria-labelledby="risk-title">
      <h2 id="risk-title">Risk over time</h2>
      <p class="muted small legend">
        <span class="key avg"></span> average <span class="key max"></span> maximum <span class="key vol"></span> evaluations, per {PERIODS[period].stepLabel}
      </p>
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-labelledby="risk-svg-title risk-svg-desc">
        <title id="risk-svg-title">Risk per {PERIODS[period].stepLabel}, {PERIODS[period].label}</title>
        <desc id="risk-svg-desc">{summary}</desc>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} class="grid" />
            <text x={PAD.l - 6} y={y(v) + 4} text-anchor="end" class="axis">
              {v.toFixed(2)}
            </text>
          </g>
        ))}
        {points.map((p, i) =>
          p.n > 0 ? <rect x={x(i) - slot * 0.35} y={PAD.t + ih - (p.n / most) * ih * 0.9} width={slot * 0.7} height={(p.n / most) * ih * 0.9} class="vol" /> : null,
        )}
        <path d={line((p) => p.max)} class="max" />
        <path d={line((p) => p.avg)} class="avg" />
        {points.map((p, i) => (p.avg !== null ? <circle cx={x(i)} cy={y(p.avg)} r="2.5" class="avg-dot" /> : null))}
        {points.map((p, i) =>
          i % every === 0 ? (
            <text x={x(i)} y={H - 10} text-anchor="middle" class="axis">
              {tickLabel(new Date(p.at), period)}
            </text>
          ) : null,
        )}
      </svg>
      <details>
        <summary>The same as a table</summary>
        <table class="list compact" id="risk-table">
          <caption class="skip">Risk per {PERIODS[period].stepLabel}</caption>
          <thead>
            <tr>
              <th scope="col">From (UTC)</th>
              <th scope="col">Evaluations</th>
              <th scope="col">Average risk</th>
              <th scope="col">Maximum risk</th>
              <th scope="col">Denied</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr>
                <td>{new Date(p.at).toISOString().slice(0, 16).replace('T', ' ')}</td>
                <td>{p.n}</td>
                <td>{risk(p.avg)}</td>
                <td>{risk(p.max)}</td>
                <td>{p.denied}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
};
