// The dashboard's pure modules (web/js/timeline.js, web/js/metrics.js, job.js's audit checks) under Node's test
// runner: node --test tests/node/dashboard_js_test.mjs (ctest: node.dashboard_js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chartSeries, metricSum, parsePrometheus, takeSample } from '../../web/js/metrics.js';
import { auditChecks, formatBytes, pullText } from '../../web/js/job.js';
import { formatTook, jobTimeline, schedulerVerdicts, specErrorLocation } from '../../web/js/timeline.js';

const A = '12D3KooWCLwDVjuuHDHNNm8Ufxi3WzqXWy6MroEmjWjxxexVt7Do';
const B = '12D3KooWMxKbqiFNLL3Da9u2wnxydkhyxEnxvy6z64qLkGPvq4NL';
const C = '12D3KooWDzxCW7Dq73nGDVQm7x5yz3puVikFDzTegh2AnGKkeMb9';

// The events of a job placed by a three-node cluster whose scheduler A lied (node.dashboard_e2e).
const EVENTS = [
  [1000, 'submitted (2 replicas of 127.0.0.1:5000/veil-web:1@sha256:0d54)'],
  [1002, `round 1: 2 replica(s) over 3 nodes; schedulers ${A}, ${B}, ${C}`],
  [1408, `scheduler ${A} published decision af885236200ba4aa which disagrees with the quorum's b6fd9c73078eac62; ignored`],
  [1410, "decision b6fd9c73078eac62 agreed by a quorum; asking the committee (2 of 3)"],
  [1834, `replica 0 placed on ${A}`],
  [1838, `replica 1 placed on ${C}`],
  [6010, `replica 1 on ${C}: running at 127.0.0.1:56773 (0aeaa48811a8)`],
  [6240, `replica 0 on ${A}: running at 127.0.0.1:38059 (b87b3a163abe)`],
  [6241, 'all placed replicas are running'],
  [6271, 'deployment anchored: commitment 0x50b3 in tx 0x3371 (block 21)'],
].map(([at, message]) => ({ at, message }));

test('the timeline has seven steps, each with the time since the previous one', () => {
  const steps = jobTimeline({ events: EVENTS });
  assert.deepEqual(steps.map((s) => s.step), ['submitted', 'schedulers', 'agreed', 'committee', 'placed', 'running', 'anchored']);
  assert.deepEqual(steps.map((s) => s.took_ms), [null, 2, 408, 424, 4, 4403, 30]);
  assert.ok(steps.every((s) => s.done));
});

test('a job on its way has its later steps not done, even when an event of theirs came early', () => {
  const steps = jobTimeline({ events: EVENTS.slice(0, 4) });
  assert.deepEqual(steps.map((s) => s.done), [true, true, true, false, false, false, false]);
  // "anchored" before "running" does not count: steps happen in order.
  const odd = jobTimeline({ events: [EVENTS[0], EVENTS[9], EVENTS[1]] });
  assert.deepEqual(odd.map((s) => s.done), [true, true, false, false, false, false, false]);
  assert.deepEqual(jobTimeline({}).map((s) => s.done), [false, false, false, false, false, false, false]);
});

test('a second round: the steps span both, the agreement is the second round\'s', () => {
  const events = [EVENTS[0], EVENTS[1],
    { at: 1500, message: 'round 1: the schedulers do not agree; another round in 2 s' },
    { at: 3500, message: `round 2: 2 replica(s) over 3 nodes; schedulers ${A}, ${B}, ${C}` },
    { at: 3900, message: 'decision b6fd9c73078eac62 agreed by a quorum; asking the committee (2 of 3)' }];
  const steps = jobTimeline({ events });
  assert.equal(steps[2].took_ms, 3900 - 1002);
  assert.equal(steps[3].done, false);
});

test('formatTook', () => {
  assert.equal(formatTook(412), '412 ms');
  assert.equal(formatTook(4403), '4.4 s');
  assert.equal(formatTook(185000), '3 min 5 s');
  assert.equal(formatTook(null), '');
  assert.equal(formatTook(59970), '1 min 0 s');
  assert.equal(formatTook(119600), '2 min 0 s');
});

test('scheduler verdicts: agreed, named for disagreeing, silent', () => {
  const [round] = schedulerVerdicts({ rounds: [{ round: 1, schedulers: [A, B, C], agreeing: [B], liars: [A], agreed: 'b6fd', outcome: 'placed' }] });
  assert.deepEqual(round.schedulers.map((s) => s.verdict), ['disagreed', 'agreed', 'silent']);
  assert.equal(round.outcome, 'placed');
});

test('a spec error names its line and column; others name none', () => {
  assert.deepEqual(specErrorLocation("spec:3:11: replicas: 'two' is not an integer\n  3 | replicas: two\n          ^"),
    { line: 3, column: 11, message: "replicas: 'two' is not an integer" });
  assert.equal(specErrorLocation('job web is coordinated by 12D3…; submit it there'), null);
  assert.equal(specErrorLocation(undefined), null);
});

const METRICS = (placed, sum, count, suspect, bootstraps) => `${bootstraps === undefined ? '' : `veil_sched_bootstraps_total ${bootstraps}\n`}# HELP veil_jobs_placed_total Scheduling rounds that ended in a placement.
# TYPE veil_jobs_placed_total counter
veil_jobs_placed_total ${placed}
veil_sched_evaluation_seconds_bucket{le="+Inf"} ${count}
veil_sched_evaluation_seconds_sum ${sum}
veil_sched_evaluation_seconds_count ${count}
veil_swim_members{state="alive"} 3
veil_swim_members{state="suspect"} ${suspect}
veil_api_requests_total{route="/v1/jobs/{id}",code="200"} 7
garbage line
`;

test('Prometheus text: series by name and labels, comments and bad lines skipped', () => {
  const m = parsePrometheus(METRICS(4, 1.5, 3, 1));
  assert.equal(metricSum(m, 'veil_jobs_placed_total'), 4);
  assert.equal(metricSum(m, 'veil_swim_members'), 4);
  assert.equal(metricSum(m, 'veil_swim_members', { state: 'suspect' }), 1);
  assert.equal(metricSum(m, 'veil_api_requests_total', { route: '/v1/jobs/{id}' }), 7);
  assert.equal(metricSum(m, 'veil_sched_evaluation_seconds_bucket', { le: '+Inf' }), 3);
  assert.equal(metricSum(m, 'veil_not_there'), null);
});

test('chart series: rates and means between samples, a restart counts from zero', () => {
  const nodes = [{ state: 'alive', telemetry_at: 9000 }, { state: 'alive', telemetry_at: 7000 }, { state: 'dead', telemetry_at: 1 }];
  const samples = [
    takeSample(10000, METRICS(1, 0.2, 1, 0), nodes),
    takeSample(70000, METRICS(3, 1.0, 3, 1), nodes),    // +2 placements in a minute; 2 evaluations, 0.8 s
    takeSample(100000, METRICS(1, 0.3, 1, 0), nodes),   // restarted: counts from zero
  ];
  assert.equal(samples[0].telemetry_age_s, 3);  // the oldest alive member's record; the dead one is ignored
  const s = chartSeries(samples);
  assert.deepEqual(s.placements_per_min.map((p) => p.value), [2, 1]);  // the restart: 1 since it
  assert.deepEqual(s.decision_s.map((p) => p.value), [0.2, 0.4, 0.3]);
  assert.deepEqual(s.suspect.map((p) => p.value), [0, 1, 0]);
});

test('bootstraps per decision: the counter over the evaluations, as decision time is', () => {
  const samples = [
    takeSample(0, METRICS(1, 0.2, 1, 0, 60), []),
    takeSample(5000, METRICS(1, 1.0, 3, 0, 190), []),   // 2 evaluations, 130 bootstraps
    takeSample(10000, METRICS(1, 1.0, 3, 0, 190), []),  // none since: no value
    takeSample(15000, METRICS(1, 0.3, 1, 0, 70), []),   // restarted: counts from zero
  ];
  assert.deepEqual(chartSeries(samples).bootstraps_per_decision.map((p) => p.value), [60, 65, null, 70]);
  const without = chartSeries([takeSample(0, METRICS(1, 0.2, 1, 0), [])]);
  assert.deepEqual(without.bootstraps_per_decision.map((p) => p.value), [null], 'a node without the counter draws nothing');
});

test('a family that appears between two samples counts from zero', () => {
  const before = takeSample(0, 'veil_swim_members{state="alive"} 3\n', []);
  const after = takeSample(30000, METRICS(1, 0.4, 1, 0), []);
  const s = chartSeries([before, after]);
  assert.deepEqual(s.decision_s.map((p) => p.value), [null, 0.4]);
  assert.deepEqual(s.placements_per_min.map((p) => p.value), [1]);
  assert.equal(before.telemetry_age_s, null);
});

test('placements per minute count the trailing minute', () => {
  const samples = [0, 1, 1, 1, 3].map((placed, i) => takeSample(i * 20000, METRICS(placed, 0, 0, 0), []));
  // 20 s apart: at 20 s one placement (a partial minute counts as a minute), then the window slides.
  assert.deepEqual(chartSeries(samples).placements_per_min.map((p) => p.value), [1, 1, 1, 2]);
});

test('auditChecks: one line per check of the report GET /v1/jobs/{id}/audit returns', () => {
  const batched = {
    round: 1, commitment: '0xc0', batch_root: '0xr0', batch_index: 2, batch_size: 4, proof_length: 2,
    matches_expected: true, proof_leads_to_root: true, root_anchored: true, verify_inclusion: true,
    block: 9, count_on_chain: 4, ok: true,
  };
  const good = auditChecks({ deployments: [], batched: [batched], ok: true });
  assert.equal(good.length, 4);
  assert.ok(good.every((c) => c.ok));
  assert.match(good[2].text, /block 9, 4 commitments/);

  const tampered = auditChecks({ batched: [{ ...batched, proof_leads_to_root: false, verify_inclusion: false }], ok: false });
  assert.deepEqual(tampered.map((c) => c.ok), [true, false, true, false]);

  const alone = auditChecks({
    deployments: [{ assignment_hash: '0xa1', block: 5, commitment_consistent: true, matches_expected: false, status: 'anchored' }],
  });
  assert.deepEqual(alone.map((c) => c.ok), [true, false, true]);

  const none = auditChecks({ deployments: [], batched: [], ok: false });
  assert.equal(none.length, 1);
  assert.equal(none[0].ok, false);
});

test('stake amounts are exact ETH, whatever their size', async () => {
  const { formatEther, slashLines } = await import('../../web/js/stake.js');
  assert.equal(formatEther('1000000000000000000'), '1 ETH');
  assert.equal(formatEther('500000000000000000'), '0.5 ETH');
  assert.equal(formatEther('5000'), '0.000000000000005 ETH');
  assert.equal(formatEther('123456789012345678901234567'), '123456789.012345678901234567 ETH');  // beyond a float's 53 bits
  assert.equal(formatEther('0'), '0 ETH');
  assert.equal(formatEther(''), '');
  assert.equal(formatEther(undefined), '');
  assert.equal(formatEther('lots'), 'lots wei');
  const lines = slashLines([{ block: 3, slashed_wei: '500000000000000000', reward_wei: '50000000000000000' },
    { block: 9, slashed_wei: '250000000000000000', reward_wei: '25000000000000000' }]);
  assert.deepEqual(lines.map((l) => [l.block, l.slashed, l.reward]), [[9, '0.25 ETH', '0.025 ETH'], [3, '0.5 ETH', '0.05 ETH']]);
  assert.deepEqual(slashLines(undefined), []);
});

test('a pull in progress: layers, and bytes once the engine knows sizes', () => {
  assert.equal(pullText({ image: 'r/web:1', layers: 3, layers_done: 1, bytes_done: 1_234_000, bytes_total: 4_000_000 }),
    '1/3 layers, 1.2 MB of 4.0 MB');
  assert.equal(pullText({ image: 'r/web:1', layers: 2, layers_done: 0, bytes_done: 0, bytes_total: 0 }), '0/2 layers');
  assert.deepEqual([812, 4000, 12_100_000, 1_500_000_000].map(formatBytes), ['812 B', '4.0 kB', '12.1 MB', '1.5 GB']);
});
