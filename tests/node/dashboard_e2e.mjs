// Drives headless Chromium through the dashboard over the DevTools protocol, for
// dashboard_e2e.sh. Node's own WebSocket (node --experimental-websocket): no npm package.
// Prints one JSON object: {inline_error, timeline, log_line, reverted, stopped, screenshots}.
// Usage: node --experimental-websocket dashboard_e2e.mjs --chromium PATH --url URL#token=…
//          --bad-spec FILE --spec FILE --liar PEER --screenshots DIR --profile DIR
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const log = (...m) => console.error('[e2e]', ...m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const browser = await launch(args.chromium, args.profile);
  try {
    const page = await browser.page();
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
    const base = args.url.split('#')[0];
    const token = new URLSearchParams(args.url.split('#')[1]).get('token');
    const result = { screenshots: [] };
    const shot = async (name) => {
      const file = join(args.screenshots, `dashboard-${name}.png`);
      await screenshot(page, file);
      result.screenshots.push(file);
      log('screenshot', file);
    };

    // 1. The submit form with a spec that has an error: shown at its line.
    await page.send('Page.navigate', { url: `${base}#token=${token}&view=submit` });
    await waitFor(page, `!document.getElementById('main').hidden && !document.querySelector('[data-view="submit"]').hidden`, 30000, 'the submit view');
    await page.eval(`(() => {
      const t = document.getElementById('spec-text');
      t.value = ${JSON.stringify(readFileSync(args['bad-spec'], 'utf8'))};
      t.dispatchEvent(new Event('input'));
      document.getElementById('submit-button').click();
    })()`);
    result.inline_error = await waitFor(page, `(() => {
      const x = document.querySelector('#spec-error .spec-excerpt');
      const marked = document.querySelector('#spec-gutter li.error');
      return x && marked ? { line: x.dataset.line, gutter: marked.textContent,
        heading: document.querySelector('#spec-error .spec-error-heading').textContent } : null;
    })()`, 15000, 'the inline error');
    if (result.inline_error.gutter !== result.inline_error.line) throw new Error('the gutter marks another line: ' + JSON.stringify(result.inline_error));
    log('inline error:', JSON.stringify(result.inline_error));
    await shot('submit-error');

    // 2. The valid spec, uploaded through the file input, and submitted: the page follows the job.
    const doc = await page.send('DOM.getDocument', {});
    const input = await page.send('DOM.querySelector', { nodeId: doc.root.nodeId, selector: '#spec-file' });
    await page.send('DOM.setFileInputFiles', { nodeId: input.nodeId, files: [args.spec] });
    await waitFor(page, `document.getElementById('spec-text').value.includes('replicas: 2') && document.getElementById('spec-error').hidden`, 10000, 'the uploaded spec');
    await page.eval(`document.getElementById('submit-button').click()`);
    const jobId = await waitFor(page, `new URLSearchParams(location.hash.slice(1)).get('job')`, 30000, 'the job page after submitting');
    log('submitted, following job', jobId);
    await waitFor(page, `document.querySelector('#job-state .badge')?.textContent === 'running' &&
      document.querySelectorAll('#timeline .step.done').length === 7`, 300000, 'the job running and anchored');

    // 3. The timeline, and a replica's log line: request its endpoint, httpd -v logs it.
    result.timeline = await page.eval(`[...document.querySelectorAll('#timeline .step')].map((li) => ({
      step: li.dataset.step, done: li.classList.contains('done'), took: li.querySelector('.step-took').textContent }))`);
    log('timeline:', result.timeline.map((s) => `${s.step} ${s.took}`).join(', '));
    const endpoints = await page.eval(`[...document.querySelectorAll('#replicas .replica-endpoint')].map((td) => td.textContent).filter(Boolean)`);
    if (endpoints.length !== 2) throw new Error('expected two replica endpoints, the page shows ' + JSON.stringify(endpoints));
    for (const endpoint of endpoints) {
      const body = await (await fetch(`http://${endpoint}/`)).text();
      if (!body.includes('hello from a veil replica')) throw new Error(`replica at ${endpoint} answered ${body}`);
    }
    result.log_line = await waitFor(page, `(document.getElementById('log-text').textContent.split('\\n').find((l) => l.includes('response:200')))`,
      30000, 'a log line of the replica');
    log('log line:', result.log_line);
    const verdicts = await page.eval(`document.getElementById('verdicts').textContent`);
    if (args.liar && !(await page.eval(`!!document.querySelector('#verdicts li.verdict-disagreed[data-peer="${args.liar}"]')`))) {
      throw new Error('the lying scheduler is not named on the job page: ' + verdicts);
    }
    if (!(await page.eval(`/^0x[0-9a-f]{64}$/.test(document.querySelector('#anchors .anchor-tx')?.textContent || '')`))) {
      throw new Error('no anchor transaction on the job page');
    }
    // The audit view of the job: the node checks its anchor against the chain.
    await page.eval(`document.getElementById('job-audit').click()`);
    result.audit = await waitFor(page, `(() => { const s = document.getElementById('job-audit-status').textContent; return s.startsWith('audit ') ? s : null; })()`,
      30000, 'the audit of the job');
    log('audit:', result.audit);
    if (!result.audit.startsWith('audit OK') || await page.eval(`!!document.querySelector('#job-audit-result .check-failed')`)) {
      throw new Error('the audit of the job failed: ' + await page.eval(`document.getElementById('job-audit-result').textContent`));
    }
    await page.eval(`window.scrollTo(0, 0)`);
    await shot('job');

    // 4. The other views.
    for (const view of ['cluster', 'metrics', 'audit']) {
      await page.eval(`location.hash = 'view=${view}'`);
      const ready = {
        cluster: `document.querySelectorAll('#cluster-graph .node-mark').length === 3 && document.querySelectorAll('#cluster-graph .edge-running').length === 2`,
        metrics: `document.querySelectorAll('#charts svg.chart').length === 5 && document.querySelectorAll('#charts polyline.series').length >= 2`,
        audit: `document.querySelector('#audit tbody tr a')?.textContent === 'web'`,
      }[view];
      await waitFor(page, ready, 20000, `the ${view} view`);
      // --linger S: let the charts gather S seconds more of samples first (for docs/img).
      if (view === 'metrics' && Number(args.linger) > 0) await sleep(Number(args.linger) * 1000);
      await shot(view);
    }
    await page.eval(`location.hash = 'view=overview'`);
    await waitFor(page, `document.querySelectorAll('#jobs tbody tr').length >= 1 && !document.querySelector('[data-view="overview"]').hidden`, 10000, 'the overview');
    await shot('overview');

    // 5. Versions: a changed spec (one replica) submitted through the form is version 2; the
    //    versions table's button reverts to version 1, whose spec runs again as version 3.
    const specV2 = readFileSync(args.spec, 'utf8').replace('replicas: 2', 'replicas: 1');
    await page.eval(`location.hash = 'view=submit'`);
    await waitFor(page, `!document.querySelector('[data-view="submit"]').hidden`, 10000, 'the submit view again');
    await page.eval(`(() => {
      const t = document.getElementById('spec-text');
      t.value = ${JSON.stringify(specV2)};
      t.dispatchEvent(new Event('input'));
      document.getElementById('submit-button').click();
    })()`);
    const v2 = await waitFor(page, `(() => { const id = new URLSearchParams(location.hash.slice(1)).get('job'); return id && id !== '${jobId}' ? id : null; })()`,
      30000, "version 2's page");
    log('version 2:', v2);
    await waitFor(page, `document.querySelector('#job-state .badge')?.textContent === 'running' &&
      !!document.querySelector('#job-versions button.revert[data-version="1"]')`, 120000, 'version 2 running, with a revert button for version 1');
    await page.eval(`document.querySelector('#job-versions button.revert[data-version="1"]').click()`);
    result.reverted = await waitFor(page, `(() => {
      const id = new URLSearchParams(location.hash.slice(1)).get('job');
      const version = document.querySelector('#job-versions tbody tr')?.dataset.version;
      return id === '${jobId}' && version === '3' && document.getElementById('job-detail-name').textContent === 'web' ? version : null;
    })()`, 30000, "version 3 (version 1's spec) after the revert");
    log('reverted: version', result.reverted, 'runs the spec of version 1');
    await waitFor(page, `document.querySelector('#job-state .badge')?.textContent === 'running'`, 120000, 'version 3 running');

    // 6. Stop: the button asks once more, then the job stops.
    await page.eval(`location.hash = 'job=${jobId}'`);
    await waitFor(page, `document.getElementById('job-detail-name').textContent === 'web' && !document.getElementById('job-stop').disabled`, 20000, 'the job page again');
    await page.eval(`document.getElementById('job-stop').click()`);
    await page.eval(`document.getElementById('job-stop').click()`);
    result.stopped = await waitFor(page, `(() => { const s = document.querySelector('#job-state .badge')?.textContent; return s === 'stopped' ? s : null; })()`,
      60000, 'the job stopped');
    console.log(JSON.stringify(result));
  } finally {
    browser.close();
  }
}

// Polls `expression` in the page until it is truthy; returns its value.
async function waitFor(page, expression, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await page.eval(expression);
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await sleep(250);
  }
  const state = await page.eval(`document.getElementById('connection').textContent + ' | ' + location.hash`).catch(() => '');
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)}; page: ${state})`);
}

async function screenshot(page, file) {
  const metrics = await page.send('Page.getLayoutMetrics');
  const size = metrics.cssContentSize || metrics.contentSize;
  const shot = await page.send('Page.captureScreenshot', {
    format: 'png', captureBeyondViewport: true,
    clip: { x: 0, y: 0, width: 1280, height: Math.min(Math.ceil(size.height), 2400), scale: 1 },
  });
  writeFileSync(file, Buffer.from(shot.data, 'base64'));
}

// Starts Chromium with a DevTools port and connects to its first page.
async function launch(chromium, profile) {
  mkdirSync(profile, { recursive: true });
  const proc = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--hide-scrollbars', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const portFile = join(profile, 'DevToolsActivePort');
  for (let i = 0; i < 200 && !existsSync(portFile); ++i) await sleep(100);
  if (!existsSync(portFile)) { proc.kill(); throw new Error('chromium did not open a DevTools port: ' + stderr.slice(-2000)); }
  const port = readFileSync(portFile, 'utf8').split('\n')[0];
  return {
    async page() {
      let targets = [];
      for (let i = 0; i < 50 && !targets.some((t) => t.type === 'page'); ++i) {
        targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        await sleep(100);
      }
      const target = targets.find((t) => t.type === 'page');
      if (!target) throw new Error('chromium has no page');
      return connect(target.webSocketDebuggerUrl);
    },
    close() { proc.kill(); },
  };
}

// A DevTools session: send(method, params) → result; eval(expression) → its value (awaited).
function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const pending = new Map();
    let next = 1;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const waiter = message.id && pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
      else waiter.resolve(message.result);
    };
    ws.onerror = () => reject(new Error('cannot connect to chromium at ' + url));
    ws.onopen = () => {
      const send = (method, params = {}) => new Promise((res, rej) => {
        const id = next++;
        pending.set(id, { resolve: res, reject: rej, method });
        ws.send(JSON.stringify({ id, method, params }));
      });
      const evaluate = async (expression) => {
        const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description || r.exceptionDetails.text);
        return r.result.value;
      };
      resolve({ send, eval: evaluate });
    };
  });
}

main().catch((e) => { log('FAIL:', e.message); process.exit(1); });
