// Talking to the node's API (docs/node-api.md): the bearer token and JSON fetches.
//
// The token arrives in the URL fragment (#token=...), which the browser never sends to a
// server; it is moved into sessionStorage (this tab only) and the fragment is removed from
// the address bar so it is not bookmarked or shared by accident.

const TOKEN_KEY = 'veil.api.token';

// Returns {token, job}: the token (from the fragment, else this tab's storage) and the job
// named by `#job=ID`, if any. Only the token is removed from the fragment.
export function takeTokenFromLocation() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', window.location.pathname + window.location.search + (rest ? '#' + rest : ''));
  }
  return { token: sessionStorage.getItem(TOKEN_KEY), job: params.get('job') };
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// An error the API answered with ({"error":{"code","message"}}) or a network failure.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;  // 0 when the node could not be reached
    this.code = code;
  }
}

// GET `path` and return its JSON body.
export function getJson(path) {
  return requestJson('GET', path);
}

// One request to the node's API, answered with JSON. The server (docs/node-api.md, "Security
// model") takes the token as a bearer header, and anything but GET only as JSON, so every
// other method carries `Content-Type: application/json`, with `body` (if any) serialised.
// The page is served by the API itself: the browser's Host and Origin are the API's own.
export async function requestJson(method, path, body) {
  const text = await request(method, path, body, 'application/json');
  try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
}

// GET `path` and return its body as text (the Prometheus exposition of /metrics).
export function getText(path) {
  return request('GET', path, undefined, 'text/plain');
}

async function request(method, path, body, accept) {
  const headers = { 'Authorization': 'Bearer ' + (sessionStorage.getItem(TOKEN_KEY) || ''), 'Accept': accept };
  if (method !== 'GET' && method !== 'HEAD') headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'the node does not answer (' + e.message + ')');
  }
  const text = await response.text();
  if (!response.ok) {
    let parsed = null;
    try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
    const err = parsed && parsed.error ? parsed.error : { code: 'http_' + response.status, message: text.slice(0, 200) };
    throw new ApiError(response.status, err.code, err.message);
  }
  return text;
}
