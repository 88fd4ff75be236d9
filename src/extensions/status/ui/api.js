// @ts-check
/** Calls to the status extension's API, with the bearer token kept for this browser tab. */
import { takeSseMessages } from '../../../commands/sse.js';

const TOKEN_KEY = 'otelytics-status-token';

/** @returns {Record<string, string>} */
function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** @type {Promise<void> | undefined} */
let asking;

/** Shows the token dialog once; resolves when a token was entered. */
function askToken() {
  asking ??= new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('token-dialog'));
    const input = /** @type {HTMLInputElement} */ (document.getElementById('token-input'));
    dialog.addEventListener(
      'close',
      () => {
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        asking = undefined;
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
  });
  return asking;
}

/**
 * fetch() against the API, asking for the token on 401 and trying again.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function api(path, init = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
    if (res.status !== 401) return res;
    await askToken();
  }
  throw new Error('not authorised');
}

/**
 * GET as JSON.
 * @param {string} path
 */
export async function getJson(path) {
  const res = await api(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Reads a Server-Sent Events stream with fetch (so the Authorization header can be sent), calling
 * `onEvent(type, data)` for each event, until `signal` aborts or the stream ends.
 * @param {string} path
 * @param {(type: string, data: any) => void} onEvent
 * @param {AbortSignal} signal
 */
export async function readEvents(path, onEvent, signal) {
  const res = await api(path, { signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`${path}: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const { messages, rest } = takeSseMessages(buf + value);
    buf = rest;
    for (const m of messages) onEvent(m.type, m.data);
  }
}
