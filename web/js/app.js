// The dashboard: polls the node's API and redraws. See docs/node-api.md for the shapes.
import { ApiError, forgetToken, getJson, setToken, takeTokenFromLocation } from './api.js';
import {
  decisionRow, eventItem, jobRow, liarRow, lyingSchedulers, nodeRow, renderNodeFacts, replaceRows,
} from './view.js';

const POLL_MS = 3000;
const MAX_DETAILS = 50;  // job details fetched per refresh, newest first

const $ = (id) => document.getElementById(id);
let selectedJob = null;
let timer = null;

function showLogin(message) {
  $('main').hidden = true;
  $('login').hidden = false;
  setConnection(message, true);
}

function setConnection(text, isError) {
  const c = $('connection');
  c.textContent = text;
  c.classList.toggle('error', Boolean(isError));
}

async function refresh() {
  try {
    const [status, nodes, jobs] = await Promise.all([getJson('/v1/status'), getJson('/v1/nodes'), getJson('/v1/jobs')]);
    jobs.sort((a, b) => (b.submitted_at || 0) - (a.submitted_at || 0));
    const details = await Promise.all(jobs.slice(0, MAX_DETAILS).map((j) =>
      getJson('/v1/jobs/' + encodeURIComponent(j.id)).catch(() => null)));
    draw(status, nodes, jobs, details.filter(Boolean));
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

function draw(status, nodes, jobs, details) {
  $('login').hidden = true;
  $('main').hidden = false;
  renderNodeFacts($('node-facts'), status);

  $('nodes-count').textContent = `(${nodes.filter((n) => n.state === 'alive').length} alive of ${nodes.length})`;
  replaceRows($('nodes'), nodes.map(nodeRow));

  $('jobs-count').textContent = `(${jobs.length})`;
  replaceRows($('jobs'), jobs.map((j) => jobRow(j, j.id === selectedJob, selectJob)));

  const liars = lyingSchedulers(details);
  $('liars-card').hidden = liars.length === 0;
  replaceRows($('liars'), liars.map(liarRow));

  const detail = details.find((d) => d.id === selectedJob);
  $('job-detail').hidden = !detail;
  if (detail) {
    $('job-detail-name').textContent = detail.name;
    replaceRows($('decisions'), (detail.decisions || []).map(decisionRow));
    $('events').replaceChildren(...(detail.events || []).map(eventItem));
  }
}

function selectJob(id) {
  selectedJob = selectedJob === id ? null : id;
  clearTimeout(timer);
  refresh();
}

function start() {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    setToken(token);
    $('login-token').value = '';
    clearTimeout(timer);
    refresh();
  });
  const { token, job } = takeTokenFromLocation();
  selectedJob = job;  // #job=ID opens that job's decisions and events
  if (!token) {
    showLogin('no API token');
    return;
  }
  refresh();
}

start();
