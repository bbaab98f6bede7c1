// Pushy dashboard: shared helpers (session, REST calls through /dashboard/api, DOM building).
// Every call goes to the same REST handlers `pushy` uses; the session cookie stands in for the
// request signature and X-Pushy-CSRF carries the session's token on every change.
'use strict';

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const Pushy = {
  session: null,

  // Loads the session and fills the header; a signed-out page shows how to sign in.
  async init(current) {
    const r = await fetch('/dashboard/api/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (r.status === 401) { location.reload(); throw new ApiError(401, 'not signed in'); }
    Pushy.session = await r.json();
    const s = Pushy.session;
    document.getElementById('who').textContent = `${s.user} @ ${s.organization}` + (s.can_write ? '' : ' (read only)');
    document.getElementById('csrf').value = s.csrf_token;
    const link = document.querySelector(`header a[data-page="${current}"]`);
    if (link) link.classList.add('current');
    return s;
  },

  orgPath(path) {
    return `/dashboard/api/organizations/${encodeURIComponent(Pushy.session.organization)}/${path}`;
  },

  // A JSON call; throws ApiError with the server's own message on failure.
  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-Pushy-CSRF'] = Pushy.session.csrf_token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(Pushy.orgPath(path), {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!r.ok) {
      let msg = data && data.error !== undefined ? data.error : text;
      if (Array.isArray(msg)) msg = msg.join('; ');
      if (r.status === 401) msg += ' — run `pushy dashboard` for a new sign-in link.';
      throw new ApiError(r.status, `${r.status}: ${msg || r.statusText}`);
    }
    return { data, response: r };
  },

  // Raw bytes (a node's output), or null when there is none.
  async bytes(path) {
    const r = await fetch(Pushy.orgPath(path), { credentials: 'same-origin', headers: { Accept: 'application/octet-stream' } });
    if (r.status === 404) return null;
    if (!r.ok) throw new ApiError(r.status, `${r.status}: ${await r.text()}`);
    return { text: await r.text(), truncated: r.headers.get('X-Pushy-Output-Truncated') === 'true' };
  },

  feed(path) { return new EventSource(Pushy.orgPath(path), { withCredentials: true }); },

  // el('td', {class: 'x'}, 'text', childNode, ...): builds DOM without innerHTML.
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  },

  state(name) { return Pushy.el('span', { class: `state s-${name}` }, name); },

  showError(id, err) {
    const box = document.getElementById(id);
    box.textContent = err ? (err.message || String(err)) : '';
  },

  ago(seconds) {
    if (seconds === undefined || seconds === null) return '—';
    if (seconds < 60) return `${seconds.toFixed(1)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  },

  // Calls fn at most every `ms`, and once more after the last request.
  throttle(fn, ms) {
    let timer = null, again = false;
    return () => {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(function tick() {
        if (again) { again = false; fn(); timer = setTimeout(tick, ms); } else timer = null;
      }, ms);
    };
  },

  params() { return new URLSearchParams(location.search); },
};
