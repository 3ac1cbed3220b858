// Rendering: plain DOM built with textContent only, so nothing the API returns is ever
// interpreted as HTML.
import { formatEther } from './stake.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replaceRows(table, rows) {
  table.tBodies[0].replaceChildren(...rows);
}

// Peer ids share their first characters (12D3KooW...), so the end tells them apart.
const shortId = (id) => (typeof id === 'string' && id.length > 20 ? id.slice(0, 4) + '…' + id.slice(-8) : String(id ?? ''));

// A peer id shown short, the whole id in its title and in a data attribute for scripts.
export function peer(id) {
  return el('span', { class: 'mono', title: id, 'data-peer': id }, shortId(id));
}

export function badge(state) {
  return el('span', { class: 'badge state-' + String(state).replace(/[^a-z]/g, '') }, state);
}

export function ago(ms) {
  if (!ms) return '';
  const at = typeof ms === 'number' ? ms : Date.parse(ms);
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

export function duration(seconds) {
  const s = Math.floor(seconds || 0);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

export function renderNodeFacts(dl, status) {
  const node = status.node || {}, cluster = status.cluster || {}, committee = cluster.committee || {};
  const members = Array.isArray(committee.members) ? committee.members : [];
  const facts = [
    ['Peer ID', el('span', { class: 'mono', id: 'self-peer' }, node.peer_id)],
    ['Operator', el('span', { class: 'mono' }, node.operator)],
    ['Version', node.version],
    ['Uptime', duration(node.uptime_s)],
    ['Runtime driver', node.driver],
    ['Contract', el('span', { class: 'mono' }, cluster.contract)],
    ['Chain ID', cluster.chain_id],
    ['Committee', `${committee.threshold ?? '?'} of ${members.length}`],
    ['Stake', stakeFact(node.stake)],
  ];
  dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '')]));
}

// "1 ETH bonded (staked; minimum 0.5 ETH)", or "no minimum" when governance set none.
function stakeFact(stake) {
  if (!stake) return '';
  const bonded = stake.bonded_wei ? formatEther(stake.bonded_wei) + ' bonded' : 'bonded stake unknown';
  const minimum = stake.min_stake_wei && stake.min_stake_wei !== '0' ? `; minimum ${formatEther(stake.min_stake_wei)}` : '';
  return el('span', { class: stake.state === 'unstaked' ? 'liar' : '' }, `${bonded} (${stake.state}${minimum})`);
}

export function nodeRow(n) {
  return el('tr', { 'data-peer': n.peer_id },
    el('td', {}, peer(n.peer_id), n.self ? el('span', { class: 'muted' }, ' (this node)') : null),
    el('td', {}, badge(n.state)),
    el('td', {}, n.incarnation),
    el('td', {}, n.registered ? el('span', { class: 'agreed' }, 'registered') : el('span', { class: 'liar' }, 'not registered')),
    el('td', { class: 'mono' }, n.operator || ''),
    el('td', { class: 'stake' }, formatEther(n.stake_wei),
      n.refused === 'unstaked' ? el('span', { class: 'liar' }, ' below the minimum: refused') : null),
    el('td', {}, el('ul', { class: 'plain mono' }, (n.addrs || []).map((a) => el('li', {}, a)))));
}

// One slash (a line of stake.js's slashLines): whose stake, how much, for which job and round,
// who reported it, and the transaction.
export function slashRow(s) {
  return el('tr', { class: 'slash' },
    el('td', { class: 'mono' }, s.operator),
    el('td', {}, s.slashed),
    el('td', {}, el('span', { class: 'mono', title: s.job_id }, shortId(s.job_id)), ` round ${s.round}`),
    el('td', {}, el('span', { class: 'mono' }, s.reporter), ` (${s.reward})`),
    el('td', {}, el('span', { class: 'mono', title: s.tx }, shortId(s.tx)), ` (block ${s.block})`));
}

function placementList(placement) {
  return el('ul', { class: 'plain' }, (placement || []).map((p) =>
    el('li', {}, `#${p.replica} → `, peer(p.node), ' ', badge(p.state),
      p.endpoint ? el('span', { class: 'mono' }, ' ' + p.endpoint) : null)));
}

function anchorCell(anchor) {
  if (!anchor) return el('span', { class: 'muted' }, 'not anchored');
  return el('span', {}, el('span', { class: 'mono', title: anchor.tx }, shortId(anchor.tx)),
    anchor.block !== undefined && anchor.block !== null ? ` (block ${anchor.block})` : '');
}

export function jobRow(job, selected, onSelect) {
  return el('tr', { class: 'clickable' + (selected ? ' selected' : ''), 'data-job': job.id, onclick: () => onSelect(job.id) },
    el('td', {}, el('strong', {}, job.name), el('div', { class: 'muted mono', title: job.id }, shortId(job.id)),
      (job.warnings || []).map((w) => el('div', { class: 'warning' }, '⚠ ' + w))),
    el('td', {}, badge(job.state)),
    el('td', {}, job.replicas),
    el('td', {}, placementList(job.placement)),
    el('td', {}, anchorCell(job.anchor)),
    el('td', {}, ago(job.submitted_at)));
}

// Schedulers that published a decision other than the agreed one, across the given job
// details: from each decision marked agreed:false (with a hash) and any round's liars.
export function lyingSchedulers(details) {
  const found = new Map();
  for (const job of details) {
    for (const d of job.decisions || []) {
      if (d.agreed === false && d.hash) found.set(d.scheduler + '|' + job.id, { scheduler: d.scheduler, job, hash: d.hash });
    }
    for (const round of job.rounds || []) {
      for (const liar of round.liars || []) {
        const key = liar + '|' + job.id;
        if (!found.has(key)) found.set(key, { scheduler: liar, job, hash: '' });
      }
    }
  }
  return [...found.values()];
}

export function liarRow(l) {
  return el('tr', { class: 'liar' },
    el('td', {}, peer(l.scheduler), ' lied'),
    el('td', {}, l.job.name),
    el('td', { class: 'mono' }, shortId(l.hash)));
}

export function decisionRow(d) {
  return el('tr', {},
    el('td', {}, peer(d.scheduler)),
    el('td', { class: 'mono', title: d.hash }, shortId(d.hash) || '(none published)'),
    el('td', {}, d.agreed ? el('span', { class: 'agreed' }, 'agreed') : el('span', { class: 'liar' }, 'DIFFERS: ignored')));
}

export function eventItem(e) {
  const when = typeof e.at === 'number' ? new Date(e.at).toISOString() : String(e.at ?? '');
  return el('li', {}, el('span', { class: 'muted mono' }, when + ' '), e.message);
}
