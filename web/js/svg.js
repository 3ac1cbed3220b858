// Hand-written SVG: the cluster graph and the metrics charts. Text goes in as text nodes only,
// as in view.js; colours come from style.css through classes.

const NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const shortPeer = (id) => (typeof id === 'string' && id.length > 16 ? '…' + id.slice(-6) : String(id ?? ''));

// The cluster: members on an outer ring (fill by SWIM state, a double ring for committee
// members, this node in bold), the jobs on an inner ring, and an edge from each node to each
// job it runs a replica of (solid while the replica runs, dashed otherwise).
//   nodes: /v1/nodes; jobs: /v1/jobs; committee: the status' committee member PeerIds.
export function clusterGraph(nodes, jobs, committee) {
  const width = 760, height = 460, cx = width / 2, cy = height / 2;
  const outer = Math.min(cx, cy) - 60, inner = jobs.length > 1 ? outer * 0.42 : 0;
  const at = (i, n, r) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  };
  const nodePos = new Map(nodes.map((n, i) => [n.peer_id, at(i, nodes.length, outer)]));
  const members = new Set(committee || []);
  const edges = [], jobMarks = [];
  jobs.forEach((job, j) => {
    const [x, y] = at(j, jobs.length, inner);
    for (const p of job.placement || []) {
      const from = nodePos.get(p.node);
      if (!from) continue;
      edges.push(svg('line', { x1: from[0], y1: from[1], x2: x, y2: y,
                               class: 'edge' + (p.state === 'running' ? ' edge-running' : ' edge-other'),
                               'data-job': job.id, 'data-peer': p.node },
                     svg('title', {}, `replica ${p.replica} of ${job.name}: ${p.state}`)));
    }
    jobMarks.push(svg('g', { class: 'job-mark state-' + cssState(job.state), 'data-job': job.id },
      svg('rect', { x: x - 52, y: y - 15, width: 104, height: 30, rx: 15 }),
      svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, clip(job.name, 14)),
      svg('title', {}, `${job.name} (${job.state}), ${job.replicas} replica(s)`)));
  });
  const nodeMarks = nodes.map((n) => {
    const [x, y] = nodePos.get(n.peer_id);
    const runs = jobs.flatMap((j) => (j.placement || []).filter((p) => p.node === n.peer_id).map(() => j.name));
    const below = y >= cy - 1;
    return svg('g', { class: 'node-mark swim-' + cssState(n.state) + (n.self ? ' self' : ''), 'data-peer': n.peer_id },
      members.has(n.peer_id) ? svg('circle', { cx: x, cy: y, r: 27, class: 'committee-ring' }) : null,
      svg('circle', { cx: x, cy: y, r: 21 }),
      svg('text', { x, y: y + 4, 'text-anchor': 'middle', class: 'node-state' }, n.state),
      svg('text', { x, y: below ? y + 44 : y - 34, 'text-anchor': 'middle', class: 'node-label' },
        shortPeer(n.peer_id) + (n.self ? ' (this node)' : '')),
      svg('text', { x, y: below ? y + 58 : y - 48, 'text-anchor': 'middle', class: 'node-runs' },
        runs.length ? runs.length + ' replica' + (runs.length > 1 ? 's' : '') : 'idle'),
      svg('title', {}, `${n.peer_id}\nSWIM: ${n.state}, incarnation ${n.incarnation}` +
        (members.has(n.peer_id) ? '\ncommittee member' : '') + (runs.length ? '\nruns: ' + runs.join(', ') : '')));
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'cluster-graph', role: 'img',
                      'aria-label': `${nodes.length} nodes, ${jobs.length} jobs` },
    svg('g', {}, edges), svg('g', {}, nodeMarks), svg('g', {}, jobMarks));
}

const cssState = (s) => String(s).replace(/[^a-z]/g, '');
const clip = (text, n) => (String(text).length > n ? String(text).slice(0, n - 1) + '…' : String(text));

// A line chart of `points` ([{at, value}]) over [from, to] (ms): y from 0 to the largest value
// (rounded up), three grid lines, gaps where a value is null, the last value in the title.
export function lineChart(title, unit, points, from, to) {
  const width = 360, height = 150, left = 44, right = 8, top = 24, bottom = 20;
  const shown = points.filter((p) => p.at >= from && p.at <= to);
  const values = shown.map((p) => p.value).filter((v) => v !== null && Number.isFinite(v));
  const max = niceCeiling(values.length ? Math.max(...values) : 0);
  const x = (t) => left + ((t - from) / (to - from)) * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  const grid = [0, 0.5, 1].map((f) => svg('g', { class: 'grid' },
    svg('line', { x1: left, x2: width - right, y1: y(max * f), y2: y(max * f) }),
    svg('text', { x: left - 4, y: y(max * f) + 4, 'text-anchor': 'end' }, formatValue(max * f))));
  const paths = [];
  let run = [];
  const flush = () => {
    if (run.length === 1) paths.push(svg('circle', { cx: run[0][0], cy: run[0][1], r: 2, class: 'dot' }));
    if (run.length > 1) paths.push(svg('polyline', { points: run.map((p) => p.join(',')).join(' '), class: 'series' }));
    run = [];
  };
  for (const p of shown) {
    if (p.value === null || !Number.isFinite(p.value)) { flush(); continue; }
    run.push([x(p.at).toFixed(1), y(p.value).toFixed(1)]);
  }
  flush();
  const last = values.length ? formatValue(values[values.length - 1]) + ' ' + unit : 'no data yet';
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title },
    svg('text', { x: left, y: 14, class: 'chart-title' }, title),
    svg('text', { x: width - right, y: 14, 'text-anchor': 'end', class: 'chart-last' }, last),
    grid,
    svg('text', { x: left, y: height - 4, class: 'axis' }, '−60 min'),
    svg('text', { x: width - right, y: height - 4, 'text-anchor': 'end', class: 'axis' }, 'now'),
    paths);
}

function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function formatValue(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return Math.round(v).toString();
  if (Math.abs(v) >= 1) return (Math.round(v * 10) / 10).toString();
  return v.toPrecision(2);
}
