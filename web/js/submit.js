// Submitting a job: paste or upload a spec, POST /v1/jobs, and follow the job. The node
// validates the spec; an error that names a line ("spec:LINE:COL: message") is shown at that
// line — marked in the gutter, and the line quoted with the message under it — and the caret
// is put there.
import { requestJson } from './api.js';
import { specErrorLocation } from './timeline.js';
import { el } from './view.js';

const $ = (id) => document.getElementById(id);

// Wires the form; `onSubmitted(job)` is called with the accepted job (the 202's body).
export function setUpSubmitForm(onSubmitted) {
  const text = $('spec-text');
  text.addEventListener('input', () => { clearError(); drawGutter(); });
  text.addEventListener('scroll', () => { $('spec-gutter').scrollTop = text.scrollTop; });
  $('spec-file').addEventListener('change', async () => {
    const file = $('spec-file').files[0];
    if (!file) return;
    text.value = await file.text();
    clearError();
    drawGutter();
    setStatus(`loaded ${file.name} (${file.size} bytes)`);
  });
  $('submit-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    if (!text.value.trim()) {
      showError({ message: 'the spec is empty: paste one or choose a file' });
      return;
    }
    $('submit-button').disabled = true;
    setStatus('submitting…');
    try {
      const job = await requestJson('POST', '/v1/jobs', { spec: text.value });
      setStatus(`accepted: ${job.name} (${job.id.slice(0, 12)})`);
      onSubmitted(job);
    } catch (e) {
      setStatus('');
      showError({ message: e.message, code: e.code });  // a refused token: the next refresh asks for one
    } finally {
      $('submit-button').disabled = false;
    }
  });
  drawGutter();
}

function setStatus(message) {
  $('submit-status').textContent = message;
}

function drawGutter(errorLine = 0, message = '') {
  const lines = Math.max(1, $('spec-text').value.split('\n').length);
  const gutter = $('spec-gutter');
  gutter.replaceChildren(...Array.from({ length: lines }, (_, i) => el('li', {
    class: i + 1 === errorLine ? 'error' : null, title: i + 1 === errorLine ? message : null,
  }, String(i + 1))));
  gutter.scrollTop = $('spec-text').scrollTop;
}

function clearError() {
  const box = $('spec-error');
  box.hidden = true;
  box.replaceChildren();
  drawGutter();
}

// An error at its line: the line before, the line, a caret at the column with the message,
// and the line after; an error without a line: the message alone.
function showError({ message, code }) {
  const box = $('spec-error');
  const at = specErrorLocation(message);
  box.hidden = false;
  if (!at) {
    box.replaceChildren(el('div', { class: 'spec-error-message' }, message), code ? el('div', { class: 'muted' }, code) : null);
    return;
  }
  const lines = $('spec-text').value.split('\n');
  const row = (n) => el('div', { class: 'spec-line' + (n === at.line ? ' error' : '') },
    el('span', { class: 'spec-line-number' }, String(n)), el('span', { class: 'spec-line-text' }, lines[n - 1] ?? ''));
  box.replaceChildren(
    el('div', { class: 'spec-error-heading' }, `line ${at.line}, column ${at.column}: ${at.message}`),
    el('div', { class: 'spec-excerpt mono', 'data-line': at.line, 'data-column': at.column },
      at.line > 1 ? row(at.line - 1) : null,
      row(at.line),
      el('div', { class: 'spec-line caret' }, el('span', { class: 'spec-line-number' }, ''),
        el('span', { class: 'spec-line-text' }, ' '.repeat(Math.max(0, at.column - 1)) + '^ ' + at.message)),
      at.line < lines.length ? row(at.line + 1) : null));
  drawGutter(at.line, at.message);
  const text = $('spec-text');
  const offset = lines.slice(0, at.line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, at.column - 1);
  text.focus();
  text.setSelectionRange(offset, offset);
}
