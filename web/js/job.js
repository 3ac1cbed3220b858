// A job's page: the round timeline, the schedulers' verdicts, replicas, versions, anchors,
// logs and events (GET /v1/jobs/{id}, GET /v1/jobs/{id}/logs). Text only, as in view.js.
import { formatTook, jobTimeline, schedulerVerdicts } from './timeline.js';
import { badge, decisionRow, el, eventItem, peer, replaceRows } from './view.js';

const $ = (id) => document.getElementById(id);

export function renderJob(job) {
  $('job-detail-name').textContent = job.name;
  $('job-state').replaceChildren(badge(job.state));
  $('job-id').textContent = job.id;
  $('job-answered-by').replaceChildren(...(job.answered_by ? ['answered by ', peer(job.answered_by)] : []));
  $('job-warnings').replaceChildren(...(job.warnings || []).map((w) => el('li', { class: 'warning' }, '⚠ ' + w)));
  renderTimeline($('timeline'), job);
  renderVerdicts($('verdicts'), job);
  replaceRows($('decisions'), (job.decisions || []).map(decisionRow));
  replaceRows($('replicas'), (job.placement || []).map(replicaRow));
  renderVersion($('job-version'), job);
  replaceRows($('anchors'), (job.anchors || []).map(anchorRow));
  $('anchors-none').hidden = (job.anchors || []).length > 0;
  $('events').replaceChildren(...(job.events || []).map(eventItem));
  $('job-stop').disabled = job.state === 'stopped';
}

// Seven steps in a row: done ones with the time they took, the next one marked current while
// the job is still on its way.
function renderTimeline(ol, job) {
  const steps = jobTimeline(job);
  const firstPending = steps.findIndex((s) => !s.done);
  const stuck = ['failed', 'stopped'].includes(job.state);
  ol.replaceChildren(...steps.map((s, i) => el('li', {
    class: 'step ' + (s.done ? 'done' : i === firstPending && !stuck ? 'current' : 'todo'),
    'data-step': s.step, title: s.message || s.what,
  },
  el('span', { class: 'step-name' }, s.step),
  el('span', { class: 'step-took' }, s.done ? (s.took_ms === null ? new Date(s.at).toLocaleTimeString() : '+' + formatTook(s.took_ms)) : '…'),
  el('span', { class: 'step-what' }, s.what))));
  const total = steps.filter((s) => s.done).map((s) => s.at);
  $('timeline-total').textContent = total.length > 1
    ? `${formatTook(total[total.length - 1] - total[0])} from submission to ${steps[total.length - 1].step}` +
      ((job.rounds || []).length > 1 ? ` over ${job.rounds.length} rounds` : '')
    : '';
}

function renderVerdicts(container, job) {
  const rounds = schedulerVerdicts(job);
  if (!rounds.length) {
    container.replaceChildren(el('p', { class: 'muted' }, 'No round has started yet.'));
    return;
  }
  container.replaceChildren(...rounds.slice(-3).map((r) => el('div', { class: 'verdict-round' },
    el('div', { class: 'muted' }, `round ${r.round}`, r.outcome ? ` — ${r.outcome}` : '',
      r.agreed ? el('span', { class: 'mono', title: r.agreed }, ' agreed on ' + r.agreed.slice(0, 16)) : ''),
    el('ul', { class: 'plain verdicts' }, r.schedulers.map((s) => el('li', { class: 'verdict-' + s.verdict, 'data-peer': s.scheduler },
      peer(s.scheduler), ' ',
      s.verdict === 'agreed' ? el('span', { class: 'agreed' }, '✓ agreed')
        : s.verdict === 'disagreed' ? el('span', { class: 'liar' }, '✗ named for disagreeing')
          : el('span', { class: 'muted' }, 'no decision')))))));
}

// "2/3 layers, 1.2 MB of 4.0 MB": how far a node's pull of the replica's image has come (the
// API's placement[].pull, present only while the node pulls).
export function pullText(pull) {
  const layers = `${pull.layers_done}/${pull.layers} layers`;
  return pull.bytes_total > 0 ? `${layers}, ${formatBytes(pull.bytes_done)} of ${formatBytes(pull.bytes_total)}` : layers;
}

// Decimal units, as the engine and `veil` print sizes.
export function formatBytes(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit + 1 < units.length) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function pullCell(pull) {
  const done = pull.bytes_total > 0 ? pull.bytes_done : pull.layers_done;
  const total = pull.bytes_total > 0 ? pull.bytes_total : Math.max(pull.layers, 1);
  return el('div', { class: 'pull', title: 'pulling ' + pull.image },
    el('progress', { max: String(total), value: String(Math.min(done, total)) }),
    el('span', { class: 'muted pull-text' }, 'pulling ' + pullText(pull)));
}

function replicaRow(p) {
  return el('tr', { 'data-replica': p.replica },
    el('td', {}, '#' + p.replica),
    el('td', {}, p.node ? peer(p.node) : el('span', { class: 'muted' }, 'not placed')),
    el('td', {}, badge(p.state), p.pull ? pullCell(p.pull) : null),
    el('td', {}, p.health === undefined ? '' : badge(p.health)),
    el('td', { class: 'mono replica-endpoint' }, p.endpoint || ''),
    el('td', {}, p.exit_code === null || p.exit_code === undefined ? '' : String(p.exit_code)),
    el('td', {}, p.reschedules ?? ''),
    el('td', {}, p.round ?? ''),
    el('td', { class: 'mono muted' }, p.detail || ''));
}

function renderVersion(dl, job) {
  const facts = [
    ['Version', job.version ?? 1],
    ['Image', el('span', { class: 'mono' }, job.image || '')],
    ['Type', job.type || ''],
    ['Round', job.round ?? ''],
    ['Coordinator', job.coordinator ? peer(job.coordinator) : ''],
    ['Term', job.term ?? ''],
    ['Holders', el('span', {}, (job.holders || []).flatMap((h, i) => (i ? [', ', peer(h)] : [peer(h)])))],
  ];
  dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  // Every version of the name; a revert button on each but this one (POST /v1/jobs/{name}/revert).
  replaceRows($('job-versions'), (job.history || []).slice().reverse().map((v) => el('tr', { 'data-version': v.version },
    el('td', {}, v.version),
    el('td', { class: 'mono', title: v.id }, (v.id || '').slice(0, 12)),
    el('td', {}, v.submitted_at ? new Date(v.submitted_at).toLocaleString() : ''),
    el('td', {}, v.cause || ''),
    el('td', {}, v.version === job.version
      ? el('span', { class: 'muted' }, 'this version')
      : el('button', { type: 'button', class: 'revert', 'data-version': v.version, 'data-name': job.name }, `Revert to ${v.version}`)))));
  $('job-spec').textContent = job.spec || '';
  $('job-handovers').replaceChildren(...(job.handovers || []).map((h) => el('li', {},
    `term ${h.term}: `, peer(h.coordinator), ' took over from ', peer(h.from), ` (${h.why})`)));
}

export function anchorRow(a) {
  return el('tr', { 'data-round': a.round },
    el('td', {}, a.round),
    el('td', {}, badge(a.state)),
    el('td', { class: 'mono wrap' }, a.commitment || ''),
    el('td', { class: 'mono wrap anchor-tx' }, a.tx || ''),
    el('td', {}, a.block ? String(a.block) : ''),
    batchCell(a),
    el('td', { class: 'warning' }, a.error || ''));
}

// A batched anchor's Merkle root and where its commitment sits (docs/chain.md, "Batched
// anchoring"); the proof itself is in the API's JSON, for `veil audit`.
function batchCell(a) {
  if (!a.batch_root) return el('td', { class: 'muted' }, 'alone');
  return el('td', { class: 'anchor-batch' },
    el('div', { class: 'mono wrap' }, a.batch_root),
    el('div', { class: 'muted' }, `leaf ${a.batch_index} of ${a.batch_size}, proof of ${(a.proof || []).length} hashes`));
}

// What the node found when it checked the job's anchors against the chain (GET
// /v1/jobs/{id}/audit, the same report as `veil audit --from-node -o json`): one line per
// check, each passed (✓) or failed (✗). Returns the verdict line.
export function auditChecks(report) {
  const check = (ok, text) => ({ ok: ok === true, text });
  const out = [];
  for (const d of report.deployments || []) {
    out.push(check(d.commitment_consistent, `commitment ${d.assignment_hash} (block ${d.block}) recomputed from its event`));
    out.push(check(d.matches_expected, "it is one of the job's agreed rounds (decision, inputs, schedulers)"));
    out.push(check(d.status !== 'upheld', `its dispute status: ${d.status}`));
  }
  for (const b of report.batched || []) {
    out.push(check(b.matches_expected, `round ${b.round}: commitment ${b.commitment} recomputed from the job's record`));
    out.push(check(b.proof_leads_to_root, `its proof (${b.proof_length} hashes) leads to batch root ${b.batch_root}`));
    out.push(check(b.root_anchored, b.root_anchored ? `the root is anchored: block ${b.block}, ${b.count_on_chain} commitments`
      : 'the root is anchored on chain'));
    out.push(check(b.verify_inclusion, "the contract's verifyInclusion agrees"));
    if (b.error) out.push(check(false, 'error: ' + b.error));
  }
  if (!out.length) out.push(check(false, 'no anchored deployment of this job was found on chain'));
  return out;
}

export function renderAudit(report) {
  $('job-audit-result').replaceChildren(...auditChecks(report).map((c) =>
    el('li', { class: c.ok ? 'check-ok' : 'check-failed' }, (c.ok ? '\u2713 ' : '\u2717 ') + c.text)));
  $('job-audit-status').textContent = (report.ok ? 'audit OK' : 'audit FAILED') +
    ` (the record of ${short(report.answered_by)}, checked by this node at ${new Date().toLocaleTimeString()})`;
}

// The replicas' logs (GET /v1/jobs/{id}/logs): a choice of replica and its last lines.
// `selected` is "NODE|REPLICA" or ''; returns the key shown (the first replica by default).
export function renderLogs(entries, selected) {
  const choices = entries.map((e) => ({ key: e.error ? e.node + '|' : `${e.node}|${e.replica}`, entry: e }));
  const select = $('log-replica');
  const shown = choices.find((c) => c.key === selected) || choices.find((c) => !c.entry.error) || choices[0];
  select.replaceChildren(...choices.map((c) => el('option', { value: c.key, selected: c === shown },
    c.entry.error ? `${short(c.entry.node)}: unanswered` : `replica #${c.entry.replica} on ${short(c.entry.node)}`)));
  const pre = $('log-text');
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  if (!shown) {
    pre.textContent = '';
    $('log-status').textContent = 'no replica has logs yet';
    return '';
  }
  pre.textContent = shown.entry.error ? '' : shown.entry.logs || '';
  $('log-status').textContent = shown.entry.error ? 'the node did not answer: ' + shown.entry.error
    : shown.entry.logs ? `last ${countLines(shown.entry.logs)} line(s), updated ${new Date().toLocaleTimeString()}`
      : 'no output yet';
  if (atBottom) pre.scrollTop = pre.scrollHeight;
  return shown.key;
}

const short = (id) => (typeof id === 'string' && id.length > 12 ? '…' + id.slice(-8) : String(id ?? ''));
const countLines = (text) => text.split('\n').filter((l) => l !== '').length;
