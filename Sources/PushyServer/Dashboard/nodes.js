// Nodes page: counts by state, search (pushy search syntax), one page of nodes, refreshed live.
'use strict';
(() => {
  const { el } = Pushy;
  const rows = 50;
  let start = 0, matched = 0, query = '', state = '';

  function facts(n) {
    const a = n.automatic || {};
    const keys = ['hostname', 'fqdn', 'platform', 'platform_version', 'ipaddress', 'os', 'kernel', 'cpu', 'memory'];
    const short = keys.filter(k => a[k] !== undefined && typeof a[k] !== 'object').map(k => `${k}: ${a[k]}`);
    const all = Object.entries(a).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
    if (all.length === 0) return el('span', { class: 'muted' }, '—');
    return el('details', { class: 'facts' }, el('summary', {}, short.slice(0, 3).join(' · ') || `${all.length} facts`),
      el('pre', {}, all.join('\n')));
  }

  function renderCounts(c) {
    const box = document.getElementById('counts');
    box.replaceChildren(...['total', 'online', 'offline', 'available', 'unavailable'].map(k => {
      const card = el('div', { class: 'count' + ((state === k) || (k === 'total' && !state) ? ' selected' : ''), 'data-state': k },
        el('b', {}, c[k] ?? 0), k === 'total' ? 'nodes' : k);
      card.addEventListener('click', () => { state = k === 'total' ? '' : k; document.getElementById('state').value = state; start = 0; load(); });
      return card;
    }));
  }

  function render(d) {
    matched = d.matched;
    renderCounts(d.counts);
    const tbody = document.querySelector('#nodes tbody');
    tbody.replaceChildren(...d.rows.map(n => el('tr', { 'data-node': n.name },
      el('td', {}, el('b', {}, n.name)),
      el('td', {}, Pushy.state(n.status)),
      el('td', {}, Pushy.state(n.availability)),
      el('td', { title: n.last_heartbeat || '' }, Pushy.ago(n.seconds_since_heartbeat)),
      el('td', {}, n.chef_environment || '—'),
      el('td', {}, (n.roles || []).map(r => el('span', { class: 'pill' }, r))),
      el('td', {}, (n.tags || []).map(t => el('span', { class: 'pill' }, t))),
      el('td', {}, facts(n)))));
    if (d.rows.length === 0) tbody.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No node matches.')));
    document.getElementById('range').textContent =
      matched === 0 ? '0 nodes' : `${start + 1}–${start + d.rows.length} of ${matched} matching`;
    document.getElementById('prev').disabled = start === 0;
    document.getElementById('next').disabled = start + rows >= matched;
  }

  // One request at a time: a slow answer is not overtaken by the next poll; a change made
  // meanwhile (search, page) is asked for as soon as the answer is in.
  let busy = false, pending = false;
  async function load() {
    if (busy) { pending = true; return; }
    busy = true;
    try { await fetchPage(); } finally { busy = false; }
    if (pending) { pending = false; load(); }
  }

  async function fetchPage() {
    const p = new URLSearchParams({ start, rows });
    if (query) p.set('q', query);
    if (state) p.set('state', state);
    try {
      const { data } = await Pushy.call('GET', `pushy/node_summary?${p}`);
      Pushy.showError('error', null);
      render(data);
    } catch (e) { Pushy.showError('error', e); }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Pushy.init('nodes');
    const params = Pushy.params();
    query = params.get('q') || '';
    document.getElementById('q').value = query;
    document.getElementById('search').addEventListener('submit', ev => {
      ev.preventDefault();
      query = document.getElementById('q').value.trim();
      state = document.getElementById('state').value;
      start = 0;
      load();
    });
    document.getElementById('prev').addEventListener('click', () => { start = Math.max(0, start - rows); load(); });
    document.getElementById('next').addEventListener('click', () => { start += rows; load(); });
    await load();
    // Live: availability and heartbeats change without events, so the page asks again every 2 s.
    setInterval(() => { if (!document.hidden) load(); }, 2000);
  });
})();
