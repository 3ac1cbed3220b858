// A job's round timeline, read from its events (GET /v1/jobs/{id}: `events`, written by the
// coordinator, src/node/src/coordinator_role.cc). Pure functions: no DOM, so Node can test them.
// `veil job run --wait` applies the same rules (src/cli/round_timeline.h): change both together.
//
// Each step is marked by the first event, after the previous step's, whose message matches;
// the time a step took is from the previous step's event to its own. A job placed in several
// rounds (a disagreement, a refused assignment) shows its first placement: the steps then span
// the rounds it needed, and `rounds` says how many there were.

export const STEPS = [
  { step: 'submitted', what: 'the coordinator accepted the spec', match: /^submitted\b/ },
  { step: 'schedulers', what: 'schedulers picked, telemetry sampled', match: /^round \d+: .*\bschedulers\b/ },
  { step: 'agreed', what: 'schedulers evaluated on ciphertexts; a quorum agreed', match: /\bagreed by a quorum\b/ },
  { step: 'committee', what: 'the committee decrypted the agreed decision', match: /^replica \d+ placed on / },
  { step: 'placed', what: 'every replica of the round assigned to its node', match: null },
  { step: 'running', what: 'the nodes pulled and started the replicas', match: /^all placed replicas are running\b|^every replica finished\b/ },
  { step: 'anchored', what: 'the commitment anchored on chain', match: /^deployment anchored\b/ },
];

// Returns [{step, what, at, took_ms, done, message}] for `job` (a job detail), in STEPS order.
// `at` is the step's event time (ms since the epoch) or null while it has not happened.
export function jobTimeline(job) {
  const events = (job.events || []).filter((e) => typeof e.at === 'number' && typeof e.message === 'string');
  const out = [];
  let from = 0;          // index of the first event the next step may match
  let previous = null;   // time of the previous step's event
  let previousIndex = -1;
  for (const s of STEPS) {
    let index = -1;
    if (s.step === 'placed') {
      index = lastPlacedEvent(events, previousIndex);
    } else {
      for (let i = from; i < events.length; ++i) {
        if (s.match.test(events[i].message)) { index = i; break; }
      }
    }
    if (index < 0) {
      out.push({ step: s.step, what: s.what, at: null, took_ms: null, done: false, message: '' });
      from = events.length;  // later steps wait for this one
      previousIndex = -1;
      continue;
    }
    const at = events[index].at;
    out.push({ step: s.step, what: s.what, at, took_ms: previous === null ? null : at - previous, done: true,
               message: events[index].message });
    previous = at;
    previousIndex = index;
    from = index + 1;
  }
  return out;
}

// After the committee's first "replica N placed on" (at `first`), the run of such events that
// follows it: the round's last assignment.
function lastPlacedEvent(events, first) {
  if (first < 0) return -1;
  let last = first;
  for (let i = first + 1; i < events.length && STEPS[3].match.test(events[i].message); ++i) last = i;
  return last;
}

// "412 ms", "4.2 s", "3 min 5 s".
export function formatTook(ms) {
  if (ms === null || ms === undefined) return '';
  // Rounded to the unit shown before it is split: 59.97 s is "1 min 0 s", never "60.0 s", and
  // 119.6 s "2 min 0 s", never "1 min 60 s" (the CLI's format_duration does the same).
  if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return (tenths / 10).toFixed(1) + ' s';
  const seconds = Math.round(ms / 1000);
  return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
}

// Which schedulers agreed and which were named for disagreeing, per round (`rounds` of the
// job detail), newest round last. A scheduler that published nothing is `silent`.
export function schedulerVerdicts(job) {
  return (job.rounds || []).map((r) => {
    const agreeing = new Set(r.agreeing || []);
    const liars = new Set(r.liars || []);
    return {
      round: r.round,
      outcome: r.outcome || '',
      agreed: r.agreed || '',
      schedulers: (r.schedulers || []).map((s) => ({
        scheduler: s,
        verdict: liars.has(s) ? 'disagreed' : agreeing.has(s) ? 'agreed' : 'silent',
      })),
    };
  });
}

// The first line of an API error about a spec, "spec:LINE:COL: message", split; null when the
// message names no line. The lines after it (the echoed source line and a caret) are dropped:
// the page shows the message at the line itself.
export function specErrorLocation(message) {
  const m = /^spec:(\d+):(\d+): ([^\n]*)/.exec(String(message || ''));
  if (!m) return null;
  return { line: Number(m[1]), column: Number(m[2]), message: m[3] };
}
