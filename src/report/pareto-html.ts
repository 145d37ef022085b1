// The search report: one self-contained HTML file (inline CSS, inline SVG, a small inline script; no network, no external
// fonts, enforced by a CSP meta tag) showing the Pareto front of mAP vs head MACs, the anchors each front entry keeps,
// and a table of the front. Pure string rendering: writing the file is the caller's job (src/fs.ts writeFileAtomic).
import { fmtHW, fmtStride, levelName } from '../format/levels';

export interface ParetoPoint {
  /** Removed base anchors as global indices over the baseline's base anchors, level-major (the paper's notation). */
  removed: number[];
  keptPerLevel: number[];
  map: number;
  headMacs: number;
  /** Number of boxes (anchors over all locations) the head produces. */
  boxes: number;
  /** Path of the candidate's config file, relative to the report (rendered as a link when it is a relative path). */
  config: string;
  /** Levels (0-based) this candidate removes anchors from that had too few reference detections to score it there. */
  lowEvidence?: number[];
}

export interface ParetoLevel {
  /** [height, width] of the level's feature map. */
  featureMap: [number, number];
  /** [height, width] stride in input pixels. */
  stride: [number, number];
  /** Baseline base-anchor sizes in pixels, in the baseline's order (index = position inside the level). */
  anchors: { w: number; h: number }[];
}

export interface ParetoReport {
  model: string;
  metric: 'coco-map' | 'fidelity-map';
  /** The front; the first entry is the full (unpruned) model. */
  points: ParetoPoint[];
  stats: { candidates: number; seconds: number };
  levels: ParetoLevel[];
  /** Every evaluated candidate, drawn faint behind the front. */
  all?: { map: number; headMacs: number }[];
  /** The full model's detections on the photos per level, and the minimum below which a level's score is not evidence. */
  evidence?: { referenceDetections: number[]; minDetections: number };
}

/** The caption of a level's anchor drawing, in the notation of src/format/levels.ts. */
function levelCaption(l: ParetoLevel, i: number): string {
  return `${levelName(i)} · ${fmtHW(l.featureMap[0], l.featureMap[1])} map · stride ${fmtStride(l.stride)}`;
}

const PLOT = { width: 720, height: 420, left: 70, right: 24, top: 20, bottom: 52 };

/** Render the report as one HTML document. All text from `data` is escaped; nothing is fetched when it is opened. */
export function renderParetoReport(data: ParetoReport): string {
  const metricLabel =
    data.metric === 'coco-map' ? 'COCO mAP@[.50:.95]' : 'fidelity mAP (vs the full model\u2019s detections)';
  const pts = data.points;
  const rate = data.stats.seconds > 0 ? data.stats.candidates / data.stats.seconds : 0;
  const summary =
    `${pts.length} Pareto-optimal configuration${pts.length === 1 ? '' : 's'} out of ${fmtInt(data.stats.candidates)} evaluated ` +
    `candidates in ${fmtNum(data.stats.seconds, 1)} s${rate > 0 ? ` (${fmtNum(rate, 1)} candidates/s)` : ''}. Metric: ${metricLabel}.`;
  const options = pts.map((p, i) => `<option value="${i}">${esc(pointLabel(p, i))}</option>`).join('');
  const ev = data.evidence;
  const weak = ev ? ev.referenceDetections.map((n, l) => ({ n, l })).filter((x) => x.n < ev.minDetections) : [];
  const flagged = pts.filter((p) => p.lowEvidence?.length).length;
  const evidence = ev
    ? `<p class="evidence">Reference detections per level (the full model\u2019s on these images): ${ev.referenceDetections.map((n, l) => `${levelName(l)}: ${esc(fmtInt(n))}`).join(', ')}.` +
      (weak.length
        ? ` <strong class="warn">${weak.map((w) => levelName(w.l)).join(', ')} ha${weak.length > 1 ? 've' : 's'} fewer than ${ev.minDetections}: ${flagged} configuration${flagged === 1 ? '' : 's'} marked \u26a0 remove anchors there, and their score is not evidence for ${weak.length > 1 ? 'those levels' : 'that level'}.</strong>`
        : ` Every level has at least ${ev.minDetections}.`) +
      '</p>'
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>prunedet search \u2014 ${esc(data.model)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Anchor-pruning search: <span class="model">${esc(data.model)}</span></h1>
<p class="summary">${esc(summary)}</p>
${evidence}
</header>
<main>
<section class="plot-panel">
<h2>Pareto front</h2>
${renderPlot(data, metricLabel)}
<p class="controls"><label for="point-select">Configuration</label> <select id="point-select">${options}</select></p>
<p class="legend"><span class="key front"></span> front (click a point) <span class="key cand"></span> other evaluated candidates</p>
</section>
<section class="anchors-panel">
<h2>Base anchors of <span id="sel-title">\u2014</span></h2>
<div id="anchors" class="levels"><noscript>Enable JavaScript to draw the anchors of a configuration.</noscript></div>
<p class="legend"><span class="key kept"></span> kept <span class="key removed"></span> removed <span class="key cell"></span> one stride cell, anchors centred on it</p>
</section>
<section class="table-panel">
<h2>Front</h2>
${renderTable(pts)}
</section>
</main>
<script type="application/json" id="report-data">${jsonForScript({ points: pts, levels: data.levels.map((l, i) => ({ ...l, caption: levelCaption(l, i), ...(ev ? { reference: ev.referenceDetections[i] } : {}) })) })}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function pointLabel(p: ParetoPoint, i: number): string {
  const head = i === 0 ? '#0 full model' : `#${i} \u2212${p.removed.length} anchors`;
  const weak = p.lowEvidence?.length
    ? ` \u00b7 \u26a0 weak evidence on ${p.lowEvidence.map(levelName).join(', ')}`
    : '';
  return `${head} \u00b7 mAP ${fmtNum(p.map, 4)} \u00b7 ${fmtNum(p.headMacs / 1e9, 3)} GMACs${weak}`;
}

function renderPlot(data: ParetoReport, metricLabel: string): string {
  const { width: W, height: H, left: L, right: R, top: T, bottom: B } = PLOT;
  const finite = (p: { map: number; headMacs: number }) => Number.isFinite(p.map) && Number.isFinite(p.headMacs);
  const front = data.points.map((p, i) => ({ p, i })).filter(({ p }) => finite(p));
  const all = (data.all ?? []).filter(finite);
  const xs = [...front.map(({ p }) => p.headMacs / 1e9), ...all.map((p) => p.headMacs / 1e9)];
  const ys = [...front.map(({ p }) => p.map), ...all.map((p) => p.map)];
  const [x0, x1] = paddedRange(xs);
  const [y0, y1] = paddedRange(ys);
  const sx = (v: number) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const sy = (v: number) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [];
  out.push(
    `<svg id="plot" class="pareto" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${metricLabel} against head GMACs`)}">`,
  );
  // Grid and axes.
  const xt = ticks(x0, x1),
    yt = ticks(y0, y1);
  out.push('<g class="grid">');
  for (const t of xt) out.push(`<line x1="${r2(sx(t))}" y1="${T}" x2="${r2(sx(t))}" y2="${H - B}"/>`);
  for (const t of yt) out.push(`<line x1="${L}" y1="${r2(sy(t))}" x2="${W - R}" y2="${r2(sy(t))}"/>`);
  out.push('</g><g class="axis">');
  out.push(
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`,
  );
  for (const t of xt)
    out.push(`<text x="${r2(sx(t))}" y="${H - B + 18}" text-anchor="middle">${esc(tickText(t, xt))}</text>`);
  for (const t of yt)
    out.push(`<text x="${L - 8}" y="${r2(sy(t)) + 4}" text-anchor="end">${esc(tickText(t, yt))}</text>`);
  out.push(`<text class="title" x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">head GMACs</text>`);
  out.push(
    `<text class="title" transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(metricLabel)}</text>`,
  );
  out.push('</g>');
  // Every evaluated candidate: one path of zero-length round-capped segments (dots), cheap for thousands of points.
  if (all.length) {
    out.push(
      `<path class="cand-points" d="${all.map((p) => `M${r2(sx(p.headMacs / 1e9))} ${r2(sy(p.map))}h0`).join('')}"/>`,
    );
  }
  const line = [...front]
    .sort((a, b) => a.p.headMacs - b.p.headMacs)
    .map(({ p }) => `${r2(sx(p.headMacs / 1e9))},${r2(sy(p.map))}`);
  if (line.length > 1) out.push(`<polyline class="front-line" points="${line.join(' ')}"/>`);
  out.push('<g class="front">');
  for (const { p, i } of front) {
    const cx = r2(sx(p.headMacs / 1e9)),
      cy = r2(sy(p.map));
    out.push(
      `<circle class="front-point${i === 0 ? ' full' : ''}" data-index="${i}" cx="${cx}" cy="${cy}" r="5.5" tabindex="0">` +
        `<title>${esc(pointLabel(p, i))}</title></circle>`,
    );
    if (data.points.length <= 40) out.push(`<text class="point-label" x="${r2(cx + 7)}" y="${r2(cy - 7)}">${i}</text>`);
  }
  out.push('</g></svg>');
  return out.join('\n');
}

function renderTable(pts: ParetoPoint[]): string {
  const base = pts[0]?.boxes ?? 0;
  const rows = pts.map((p, i) => {
    const removedPct = base > 0 ? (1 - p.boxes / base) * 100 : NaN;
    const weak = p.lowEvidence?.length ? p.lowEvidence.map(levelName).join(', ') : '';
    return (
      `<tr data-index="${i}"${weak ? ' class="low-evidence"' : ''}>` +
      `<td class="num">${i}</td>` +
      `<td class="removed">${p.removed.length ? esc(`{${p.removed.join(', ')}}`) : 'none'}</td>` +
      `<td class="kept">${esc(p.keptPerLevel.join(' \u00b7 '))}</td>` +
      `<td class="num">${fmtNum(p.map, 4)}</td>` +
      `<td class="num" title="${esc(fmtInt(p.headMacs))} MACs">${fmtNum(p.headMacs / 1e9, 3)}</td>` +
      `<td class="num">${fmtInt(p.boxes)}</td>` +
      `<td class="num">${fmtNum(removedPct, 1)}</td>` +
      `<td>${configLink(p.config)}</td>` +
      `<td class="evidence-cell">${weak ? `\u26a0 ${esc(weak)}` : ''}</td>` +
      '</tr>'
    );
  });
  return (
    '<table id="front-table"><thead><tr><th>#</th><th>removed anchors</th><th>kept per level</th><th>mAP</th>' +
    '<th>head GMACs</th><th>boxes</th><th>% boxes removed</th><th>config</th><th title="levels whose anchors this removes with too few reference detections to score it">weak evidence</th></tr></thead>' +
    `<tbody>${rows.join('\n')}</tbody></table>`
  );
}

/** A link for a relative path; anything with a scheme or a network-path prefix is shown as text only. */
function configLink(config: string): string {
  if (!config) return '';
  const path = config.replace(/\\/g, '/');
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('//') || path.startsWith('/'))
    return `<span class="config">${esc(config)}</span>`;
  const href = path
    .split('/')
    .map((seg) => (seg === '.' || seg === '..' ? seg : encodeURIComponent(seg)))
    .join('/');
  return `<a class="config" href="${esc(href)}">${esc(config)}</a>`;
}

/** Escape text for HTML element content and double- or single-quoted attributes. */
export function esc(s: string): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** JSON safe inside <script>: no "<" (so no "</script" or "<!--"), no "&"/">", no JS line separators. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function paddedRange(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values),
    hi = Math.max(...values);
  if (hi - lo < 1e-12) {
    const pad = Math.abs(lo) > 1e-12 ? Math.abs(lo) * 0.05 : 0.5;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

/** "Nice" ticks (1, 2, 5 x 10^k) inside [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickText(v: number, all: number[]): string {
  const step = all.length > 1 ? Math.abs(all[1]! - all[0]!) : 1;
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

function r2(v: number): number {
  return Math.round(v * 100) / 100;
}

function fmtNum(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '\u2014';
}

function fmtInt(v: number): string {
  return Number.isFinite(v)
    ? Math.round(v)
        .toString()
        .replace(/\B(?=(\d{3})+(?!\d))/g, ',')
    : '\u2014';
}

const CSS = `
:root { --front: #c2410c; --kept: #1d4ed8; --removed: #9ca3af; --cand: #64748b; --ink: #1f2937; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px 40px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 20px; margin: 8px 0 4px; } h1 .model { font-family: ui-monospace, Menlo, Consolas, monospace; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.summary, .legend, .evidence { color: var(--muted); margin: 4px 0; }
.warn { color: #b45309; } tr.low-evidence td.evidence-cell { color: #b45309; white-space: nowrap; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 8px 28px; }
.table-panel { grid-column: 1 / -1; overflow-x: auto; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
svg.pareto { width: 100%; height: auto; background: #fff; }
.grid line { stroke: #e5e7eb; }
.axis line { stroke: #374151; } .axis text { font-size: 12px; fill: #374151; } .axis .title { font-size: 13px; }
.cand-points { stroke: var(--cand); stroke-opacity: 0.28; stroke-width: 5; stroke-linecap: round; fill: none; }
.front-line { fill: none; stroke: var(--front); stroke-width: 1.5; stroke-opacity: 0.6; }
.front-point { fill: var(--front); stroke: #fff; stroke-width: 1.5; cursor: pointer; }
.front-point.full { fill: #7c2d12; }
.front-point:hover, .front-point:focus { stroke: var(--ink); outline: none; }
.front-point.selected { stroke: var(--ink); stroke-width: 3.5; }
.point-label { font-size: 10px; fill: var(--muted); pointer-events: none; }
.controls select { max-width: 100%; font: inherit; }
.key { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 10px; vertical-align: middle; border-radius: 2px; }
.key.front { background: var(--front); } .key.cand { background: var(--cand); opacity: 0.35; }
.key.kept { border: 2px solid var(--kept); } .key.removed { border: 2px dashed var(--removed); } .key.cell { border: 1px dotted var(--ink); }
.levels { display: flex; flex-wrap: wrap; gap: 10px; }
figure.level { margin: 0; width: 150px; }
figure.level svg { width: 150px; height: 150px; background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 4px; }
figure.level figcaption { font-size: 12px; color: var(--muted); }
figure.level.empty svg { opacity: 0.55; }
rect.anchor { fill: none; vector-effect: non-scaling-stroke; }
rect.anchor.kept { stroke: var(--kept); stroke-width: 2; fill: rgba(29, 78, 216, 0.06); }
rect.anchor.removed { stroke: var(--removed); stroke-width: 1.25; stroke-dasharray: 4 3; }
rect.cell { fill: none; stroke: var(--ink); stroke-width: 1; stroke-dasharray: 1 2; vector-effect: non-scaling-stroke; }
circle.centre { fill: var(--ink); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
th { background: #f3f4f6; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.removed { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
tbody tr { cursor: pointer; } tbody tr:hover { background: #fafafa; }
tbody tr.selected { background: #ffedd5; }
`;

// Runs in the page. Plain ES2017, no modules. SVG elements are created in the namespace of the page's own <svg>
// (read from the DOM), so the file carries no namespace URL.
const SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var points = data.points, levels = data.levels;
  var NS = document.getElementById('plot').namespaceURI;
  var select = document.getElementById('point-select');
  var box = document.getElementById('anchors');
  var titleEl = document.getElementById('sel-title');
  var offsets = [], total = 0;
  levels.forEach(function (lv) { offsets.push(total); total += lv.anchors.length; });

  function svg(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function drawAnchors(i) {
    var removed = {};
    points[i].removed.forEach(function (g) { removed[g] = true; });
    box.textContent = '';
    levels.forEach(function (lv, l) {
      var sh = lv.stride[0], sw = lv.stride[1];
      var ext = Math.max(sw, sh);
      lv.anchors.forEach(function (a) { ext = Math.max(ext, a.w, a.h); });
      ext = ext * 1.12;
      var kept = 0;
      var fig = document.createElement('figure');
      fig.className = 'level';
      fig.setAttribute('data-level', String(l));
      var s = svg('svg', { viewBox: (-ext / 2) + ' ' + (-ext / 2) + ' ' + ext + ' ' + ext, role: 'img' }, fig);
      svg('rect', { 'class': 'cell', x: -sw / 2, y: -sh / 2, width: sw, height: sh }, s);
      var order = lv.anchors.map(function (a, k) { return k; });
      // Removed first so kept anchors are drawn on top.
      order.sort(function (p, q) { return (removed[offsets[l] + q] ? 1 : 0) - (removed[offsets[l] + p] ? 1 : 0) || p - q; });
      order.forEach(function (k) {
        var a = lv.anchors[k], g = offsets[l] + k, isRemoved = !!removed[g];
        if (!isRemoved) kept++;
        var r = svg('rect', { 'class': 'anchor ' + (isRemoved ? 'removed' : 'kept'), 'data-anchor': g,
          x: -a.w / 2, y: -a.h / 2, width: a.w, height: a.h }, s);
        svg('title', {}, r).textContent = 'anchor ' + g + ' (' + round(a.w) + ' x ' + round(a.h) + ' px) ' + (isRemoved ? 'removed' : 'kept');
      });
      svg('circle', { 'class': 'centre', cx: 0, cy: 0, r: ext / 120 }, s);
      if (kept === 0) fig.className += ' empty';
      var cap = document.createElement('figcaption');
      cap.textContent = lv.caption + ' \\u00b7 kept ' + kept + '/' + lv.anchors.length +
        (lv.reference === undefined ? '' : ' \\u00b7 ' + lv.reference + ' reference detections');
      fig.appendChild(cap);
      box.appendChild(fig);
    });
  }

  function round(v) { return Math.round(v * 10) / 10; }

  function selectPoint(i) {
    i = Number(i);
    if (!(i >= 0 && i < points.length)) return;
    Array.prototype.forEach.call(document.querySelectorAll('.selected'), function (e) { e.classList.remove('selected'); });
    var dot = document.querySelector('.front-point[data-index="' + i + '"]');
    if (dot) dot.classList.add('selected');
    var row = document.querySelector('#front-table tr[data-index="' + i + '"]');
    if (row) row.classList.add('selected');
    select.value = String(i);
    titleEl.textContent = select.options[i] ? select.options[i].textContent : '#' + i;
    drawAnchors(i);
  }

  document.getElementById('plot').addEventListener('click', function (ev) {
    var t = ev.target.closest ? ev.target.closest('.front-point') : null;
    if (t) selectPoint(t.getAttribute('data-index'));
  });
  document.getElementById('plot').addEventListener('keydown', function (ev) {
    var t = ev.target;
    if ((ev.key === 'Enter' || ev.key === ' ') && t.classList && t.classList.contains('front-point')) {
      ev.preventDefault();
      selectPoint(t.getAttribute('data-index'));
    }
  });
  select.addEventListener('change', function () { selectPoint(select.value); });
  document.getElementById('front-table').addEventListener('click', function (ev) {
    if (ev.target.closest('a')) return;
    var row = ev.target.closest('tr[data-index]');
    if (row) selectPoint(row.getAttribute('data-index'));
  });
  if (points.length) selectPoint(0);
})();
`;
