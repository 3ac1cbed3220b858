// The charts' data: samples of the node's own /metrics (Prometheus text format 0.0.4) and of
// /v1/nodes, taken by this page and kept in this tab for an hour. The node keeps no history
// (web/README.md says why that is acceptable). Pure functions apart from the storage.

export const HISTORY_MS = 60 * 60 * 1000;
const STORE_KEY = 'veil.metrics.history';

// Prometheus text exposition → Map of "name{labels}" (labels as printed) → value. Comments,
// blank lines and malformed lines are skipped; values NaN/+Inf parse as numbers.
export function parsePrometheus(text) {
  const out = new Map();
  for (const raw of String(text).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // Label values are quoted and may hold braces (route="/v1/jobs/{id}").
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity'));
    if (!Number.isNaN(value) || m[3] === 'NaN') out.set(m[1] + (m[2] || ''), value);
  }
  return out;
}

// The sum of every series of `name` whose labels include all of `labels` ({state: 'suspect'}).
export function metricSum(parsed, name, labels = {}) {
  let sum = 0, found = false;
  for (const [key, value] of parsed) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    const text = brace < 0 ? '' : key.slice(brace);
    if (!Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) continue;
    sum += value;
    found = true;
  }
  return found ? sum : null;
}

// One sample: the raw counters the charts derive from, at time `at` (ms).
export function takeSample(at, metricsText, nodes) {
  const m = parsePrometheus(metricsText);
  const alive = (nodes || []).filter((n) => n.state === 'alive' && n.telemetry_at > 0);
  return {
    at,
    eval_sum: metricSum(m, 'veil_sched_evaluation_seconds_sum'),
    eval_count: metricSum(m, 'veil_sched_evaluation_seconds_count'),
    bootstraps: metricSum(m, 'veil_sched_bootstraps_total'),
    placed: metricSum(m, 'veil_jobs_placed_total'),
    suspect: metricSum(m, 'veil_swim_members', { state: 'suspect' }),
    dead: metricSum(m, 'veil_swim_members', { state: 'dead' }),
    // The oldest telemetry among the alive members, seconds (from /v1/nodes' telemetry_at).
    telemetry_age_s: alive.length ? Math.max(...alive.map((n) => Math.max(0, at - n.telemetry_at))) / 1000 : null,
  };
}

// The charts' series, each [{at, value}] (value null where it cannot be derived):
//   decision_s: mean time of the scheduler evaluations this node finished between two samples
//     (at the first sample: since the node started);
//   bootstraps_per_decision: bootstraps per evaluation over the same span as decision_s;
//   placements_per_min: rounds this node placed in the trailing minute;
//   telemetry_age_s, suspect (and dead): as sampled.
export function chartSeries(samples) {
  const series = { decision_s: [], bootstraps_per_decision: [], placements_per_min: [], telemetry_age_s: [], suspect: [], dead: [] };
  for (let i = 0; i < samples.length; ++i) {
    const s = samples[i], p = samples[i - 1];
    series.telemetry_age_s.push({ at: s.at, value: s.telemetry_age_s });
    series.suspect.push({ at: s.at, value: s.suspect });
    series.dead.push({ at: s.at, value: s.dead });
    if (!p) {  // the first sample: the mean since the node started, the only one there is
      series.decision_s.push({ at: s.at, value: s.eval_count > 0 ? s.eval_sum / s.eval_count : null });
      series.bootstraps_per_decision.push({ at: s.at, value: s.eval_count > 0 && s.bootstraps !== null ? s.bootstraps / s.eval_count : null });
      continue;
    }
    // Over the trailing minute (or the time sampled so far): a placement is one event, and a
    // rate between two samples 5 s apart would show it as a spike of 12 a minute.
    let j = i - 1;
    while (j > 0 && s.at - samples[j - 1].at <= 60000) --j;
    const minutes = (s.at - samples[j].at) / 60000;
    const placed = delta(s.placed, samples[j].placed);
    series.placements_per_min.push({ at: s.at, value: placed === null || minutes <= 0 ? null : placed / Math.max(minutes, 1) });
    const count = delta(s.eval_count, p.eval_count), sum = delta(s.eval_sum, p.eval_sum);
    series.decision_s.push({ at: s.at, value: count > 0 && sum !== null ? sum / count : null });
    const bootstraps = delta(s.bootstraps, p.bootstraps);
    series.bootstraps_per_decision.push({ at: s.at, value: count > 0 && bootstraps !== null ? bootstraps / count : null });
  }
  return series;
}

// A counter's increase. A counter that went down means the node restarted: count from zero;
// one absent before is one the node had not created yet (families appear on first use): zero.
function delta(now, before) {
  if (now === null || now === undefined) return null;
  if (before === null || before === undefined) return now;
  return now >= before ? now - before : now;
}

// This tab's history (sessionStorage, so a reload keeps it), trimmed to the last hour.
export function loadHistory(now) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || '[]');
    return Array.isArray(saved) ? saved.filter((s) => s && now - s.at <= HISTORY_MS) : [];
  } catch (e) {
    return [];
  }
}

export function saveHistory(samples, now) {
  const kept = samples.filter((s) => now - s.at <= HISTORY_MS);
  try { sessionStorage.setItem(STORE_KEY, JSON.stringify(kept)); } catch (e) { /* full: keep it in memory only */ }
  return kept;
}
