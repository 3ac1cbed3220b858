// The dashboard: polls the node's API and redraws the view the fragment names. See
// docs/node-api.md for the shapes and web/README.md for the views.
//   #token=…            moved into this tab's storage (api.js)
//   (nothing)           overview: this node, lying schedulers, slashings, nodes, jobs
//   #job=ID             the job's page
//   #view=submit|cluster|metrics|audit
import { ApiError, forgetToken, getJson, getText, requestJson, setToken, takeTokenFromLocation } from './api.js';
import { anchorRow, renderAudit, renderJob, renderLogs } from './job.js';
import { HISTORY_MS, chartSeries, loadHistory, saveHistory, takeSample } from './metrics.js';
import { slashLines } from './stake.js';
import { setUpSubmitForm } from './submit.js';
import { clusterGraph, lineChart } from './svg.js';
import {
  el, jobRow, liarRow, lyingSchedulers, nodeRow, peer, renderNodeFacts, replaceRows, slashRow,
} from './view.js';

const POLL_MS = 3000;
const SAMPLE_MS = 5000;   // metrics samples: 720 an hour
const MAX_DETAILS = 50;   // job details fetched per refresh, newest first
const VIEWS = ['overview', 'submit', 'job', 'cluster', 'metrics', 'audit'];

const $ = (id) => document.getElementById(id);
let route = { view: 'overview', job: null };
let timer = null;
let samples = [];
let lastSampleAt = 0;
let logReplica = '';  // "NODE|REPLICA" shown in the job page's logs

function showLogin(message) {
  $('main').hidden = true;
  $('nav').hidden = true;
  $('login').hidden = false;
  setConnection(message, true);
}

function setConnection(text, isError) {
  const c = $('connection');
  c.textContent = text;
  c.classList.toggle('error', Boolean(isError));
}

function readRoute() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const job = params.get('job');
  const view = job ? 'job' : params.get('view');
  return { view: VIEWS.includes(view) ? view : 'overview', job };
}

function showRoute() {
  for (const section of document.querySelectorAll('[data-view]')) section.hidden = section.dataset.view !== route.view;
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.nav === route.view);
  }
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [status, nodes, jobs, slashings] = await Promise.all([getJson('/v1/status'), getJson('/v1/nodes'), getJson('/v1/jobs'),
      getJson('/v1/slashings').catch((e) => { if (e instanceof ApiError && e.status === 401) throw e; return []; })]);
    jobs.sort((a, b) => (b.submitted_at || 0) - (a.submitted_at || 0));
    const wanted = jobs.slice(0, MAX_DETAILS);
    const details = (await Promise.all(wanted.map((j) =>
      getJson('/v1/jobs/' + encodeURIComponent(j.id)).catch(() => null)))).filter(Boolean);
    const current = route.view === 'job' ? await jobDetail(route.job, details) : null;
    const logs = current ? await getJson('/v1/jobs/' + encodeURIComponent(current.id) + '/logs?tail=200').catch((e) => e) : null;
    await sampleMetrics(nodes);
    draw(status, nodes, jobs, details, current, logs, slashings);
    setConnection('updated ' + new Date().toLocaleTimeString(), false);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      forgetToken();
      showLogin('the API token was refused');
      return;  // no more polling until a token is given
    }
    setConnection('cannot refresh: ' + e.message, true);
  }
  timer = setTimeout(refresh, POLL_MS);
}

// The routed job's detail: from this refresh's details when it is among them, else asked for
// (a name or an id prefix works too); null when the node knows no such job.
async function jobDetail(wanted, details) {
  const known = details.find((d) => d.id === wanted || d.name === wanted);
  if (known) return known;
  try {
    return await getJson('/v1/jobs/' + encodeURIComponent(wanted));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

async function sampleMetrics(nodes) {
  const now = Date.now();
  if (now - lastSampleAt < SAMPLE_MS) return;
  lastSampleAt = now;
  try {
    samples.push(takeSample(now, await getText('/metrics'), nodes));
    samples = saveHistory(samples, now);
    $('metrics-status').textContent = `${samples.length} sample(s) kept in this tab, one every ${SAMPLE_MS / 1000} s`;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    $('metrics-status').textContent = 'cannot read /metrics: ' + e.message;
  }
}

function draw(status, nodes, jobs, details, current, logs, slashings) {
  $('login').hidden = true;
  $('main').hidden = false;
  $('nav').hidden = false;
  renderNodeFacts($('node-facts'), status);

  $('nodes-count').textContent = `(${nodes.filter((n) => n.state === 'alive').length} alive of ${nodes.length})`;
  replaceRows($('nodes'), nodes.map(nodeRow));

  $('jobs-count').textContent = `(${jobs.length})`;
  replaceRows($('jobs'), jobs.map((j) => jobRow(j, j.id === route.job, openJob)));

  const liars = lyingSchedulers(details);
  $('liars-card').hidden = liars.length === 0;
  replaceRows($('liars'), liars.map(liarRow));

  const slashes = slashLines(slashings);
  $('slashings-card').hidden = slashes.length === 0;
  replaceRows($('slashings'), slashes.map(slashRow));

  if (route.view === 'job') drawJob(current, logs);
  if (route.view === 'cluster') drawCluster(status, nodes, jobs);
  if (route.view === 'metrics') drawCharts();
  if (route.view === 'audit') drawAudit(details);
}

function drawJob(job, logs) {
  $('job-detail').hidden = !job;
  $('job-missing').hidden = Boolean(job);
  $('job-missing').textContent = job ? '' : `No job '${route.job}' on this node or any live member.`;
  if (!job) return;
  renderJob(job);
  if (logs instanceof Error) {
    $('log-status').textContent = 'cannot read the logs: ' + logs.message;
  } else if (logs) {
    logReplica = renderLogs(logs, logReplica);
  }
}

function drawCluster(status, nodes, jobs) {
  const committee = ((status.cluster || {}).committee || {}).members || [];
  const live = jobs.filter((j) => !['stopped', 'succeeded'].includes(j.state));
  $('cluster-graph').replaceChildren(clusterGraph(nodes, live, committee));
  $('cluster-summary').textContent = `${nodes.length} nodes (${nodes.filter((n) => n.state === 'alive').length} alive), ` +
    `${committee.length} committee members, ${live.length} active jobs`;
}

function drawCharts() {
  const now = Date.now(), from = now - HISTORY_MS;
  const s = chartSeries(samples);
  $('charts').replaceChildren(
    lineChart('Decision time (mean)', 's', s.decision_s, from, now),
    lineChart('Bootstraps per decision', 'PBS', s.bootstraps_per_decision, from, now),
    lineChart('Placements per minute', '/min', s.placements_per_min, from, now),
    lineChart('Telemetry age (oldest)', 's', s.telemetry_age_s, from, now),
    lineChart('SWIM suspicions', 'suspect', s.suspect, from, now));
}

// Every job's anchors as the API returns them, with the round's agreeing schedulers: what
// `veil audit JOB --from-node` recomputes the commitment from.
function drawAudit(details) {
  const rows = [];
  for (const job of details) {
    for (const a of job.anchors || []) {
      const round = (job.rounds || []).find((r) => r.round === a.round) || {};
      const row = anchorRow(a);
      row.prepend(el('td', {}, el('a', { href: '#job=' + encodeURIComponent(job.id) }, job.name)));
      row.append(el('td', {}, (round.agreeing || []).map((s) => el('div', {}, peer(s)))));
      rows.push(row);
    }
  }
  replaceRows($('audit'), rows);
  $('audit-none').hidden = rows.length > 0;
}

function openJob(id) {
  window.location.hash = 'job=' + encodeURIComponent(id);
}

async function stopJob() {
  const button = $('job-stop');
  if (button.dataset.armed !== 'yes') {
    button.dataset.armed = 'yes';
    button.textContent = 'Confirm: stop every replica';
    setTimeout(() => { button.dataset.armed = ''; button.textContent = 'Stop job'; }, 5000);
    return;
  }
  button.dataset.armed = '';
  button.textContent = 'Stop job';
  try {
    const job = await requestJson('DELETE', '/v1/jobs/' + encodeURIComponent(route.job));
    $('job-action-status').textContent = `stop requested: ${job.name} is ${job.state}`;
  } catch (e) {
    $('job-action-status').textContent = 'cannot stop: ' + e.message;
  }
  refresh();
}

// A revert button of the versions table: the name's next version runs that version's spec.
async function revertJob(event) {
  const button = event.target.closest('button.revert');
  if (!button) return;
  const version = Number(button.dataset.version);
  button.disabled = true;
  try {
    const job = await requestJson('POST', '/v1/jobs/' + encodeURIComponent(button.dataset.name) + '/revert', { version });
    $('job-revert-status').textContent = `version ${job.version} submitted with the spec of version ${version}`;
    openJob(job.id);
  } catch (e) {
    $('job-revert-status').textContent = 'cannot revert: ' + e.message;
    button.disabled = false;
  }
  refresh();
}

async function auditJob() {
  const button = $('job-audit');
  button.disabled = true;
  $('job-audit-status').textContent = 'checking the chain…';
  $('job-audit-result').replaceChildren();
  try {
    renderAudit(await getJson('/v1/jobs/' + encodeURIComponent(route.job) + '/audit'));
  } catch (e) {
    $('job-audit-status').textContent = 'cannot audit: ' + e.message;
  } finally {
    button.disabled = false;
  }
}

function start() {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    setToken(token);
    $('login-token').value = '';
    refresh();
  });
  $('job-stop').addEventListener('click', stopJob);
  $('job-audit').addEventListener('click', auditJob);
  $('job-versions').addEventListener('click', revertJob);
  $('log-replica').addEventListener('change', () => { logReplica = $('log-replica').value; refresh(); });
  setUpSubmitForm((job) => openJob(job.id));
  window.addEventListener('hashchange', () => {
    route = readRoute();
    $('job-action-status').textContent = '';
    $('job-audit-status').textContent = '';
    $('job-audit-result').replaceChildren();
    if (!route.job) $('job-revert-status').textContent = '';
    logReplica = '';
    showRoute();
    refresh();
  });
  const { token } = takeTokenFromLocation();
  route = readRoute();
  showRoute();
  samples = loadHistory(Date.now());
  if (!token) {
    showLogin('no API token');
    return;
  }
  refresh();
}

start();
