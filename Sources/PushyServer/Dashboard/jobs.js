// Jobs page: filtered, paged list, newest first; refreshed when the org's job feed says a job
// started or ended (and every 10 s in case the feed drops).
'use strict';
(() => {
  const { el } = Pushy;
  const rows = 50;
  let start = 0;

  function when(text) {
    if (!text) return '—';
    const d = new Date(text);
    return isNaN(d) ? text : d.toLocaleString();
  }

  async function load() {
    const p = new URLSearchParams({ start, rows });
    for (const k of ['status', 'command', 'requestor']) {
      const v = document.getElementById(k).value.trim();
      if (v) p.set(k, v);
    }
    try {
      const { data, response } = await Pushy.call('GET', `pushy/jobs?${p}`);
      Pushy.showError('error', null);
      const matched = Number(response.headers.get('X-Pushy-Matched') || data.length);
      const tbody = document.querySelector('#jobs tbody');
      tbody.replaceChildren(...data.map(j => el('tr', { 'data-job': j.id },
        el('td', {}, el('a', { href: `/dashboard/job?id=${encodeURIComponent(j.id)}` }, el('code', {}, j.id.slice(0, 12) + '…'))),
        el('td', {}, el('code', {}, j.command)),
        el('td', {}, Pushy.state(j.status)),
        el('td', {}, j.requestor || '—'),
        el('td', {}, when(j.created_at)),
        el('td', {}, when(j.updated_at)))));
      if (data.length === 0) tbody.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No job matches.')));
      document.getElementById('range').textContent = matched === 0 ? '0 jobs' : `${start + 1}–${start + data.length} of ${matched}`;
      document.getElementById('prev').disabled = start === 0;
      document.getElementById('next').disabled = start + rows >= matched;
    } catch (e) { Pushy.showError('error', e); }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Pushy.init('jobs');
    const params = Pushy.params();
    for (const k of ['status', 'command', 'requestor']) if (params.get(k)) document.getElementById(k).value = params.get(k);
    document.getElementById('filter').addEventListener('submit', ev => { ev.preventDefault(); start = 0; load(); });
    document.getElementById('prev').addEventListener('click', () => { start = Math.max(0, start - rows); load(); });
    document.getElementById('next').addEventListener('click', () => { start += rows; load(); });
    await load();
    const refresh = Pushy.throttle(load, 1000);
    const feed = Pushy.feed('pushy/job_status_feed');
    feed.addEventListener('start', refresh);
    feed.addEventListener('job_complete', refresh);
    setInterval(() => { if (!document.hidden) load(); }, 10000);
  });
})();
