// Job page: the job over its SSE feed (without output events), per-node states with reasons,
// counts and progress, one node's output on demand (live over that node's own feed while the job
// runs), grouped output, abort.
'use strict';
(() => {
  const { el } = Pushy;
  const id = Pushy.params().get('id') || '';
  const terminalJob = new Set(['complete', 'quorum_failed', 'aborted', 'timed_out', 'crashed']);
  const okStates = new Set(['succeeded']);
  const runStates = new Set(['new', 'ready', 'running', 'queued']);
  const pageSize = 100;
  let view = null, nodes = [], start = 0, nameFilter = '', stateFilter = '';
  let feed = null, nodeFeed = null, selected = null;

  function when(text) { const d = new Date(text); return isNaN(d) ? (text || '—') : d.toLocaleString(); }

  function fromView(v) {
    const reasons = v.node_reasons || {};
    const list = [];
    for (const [state, names] of Object.entries(v.nodes || {})) for (const n of names) list.push({ name: n, state, reason: reasons[n] || '' });
    list.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return list;
  }

  function renderSummary() {
    const v = view;
    document.getElementById('job-id').textContent = v.id;
    document.getElementById('job-status').replaceChildren(Pushy.state(v.status));
    const rc = v.rate_control ? Object.entries(v.rate_control).map(([k, x]) => `${k} ${x}`).join(', ') : 'all at once';
    const rows = [
      ['Command', el('code', {}, v.command)], ['Status', v.status + (v.status_reason ? ` — ${v.status_reason}` : '')],
      ['Quorum', v.quorum ?? '—'], ['Run timeout', `${v.run_timeout} s`], ['Rate control', rc],
      ['Capture output', v.capture_output ? 'yes' : 'no'], ['Created', when(v.created_at)], ['Updated', when(v.updated_at)],
    ];
    if (v.rerun_of) rows.push(['Re-run of', el('a', { href: `/dashboard/job?id=${v.rerun_of}` }, v.rerun_of)]);
    if (v.template) rows.push(['Template', `${v.template} v${v.template_version}`]);
    document.getElementById('summary').replaceChildren(...rows.flatMap(([k, x]) => [el('div', {}, k), el('div', {}, x)]));

    const total = nodes.length;
    const counts = {};
    for (const n of nodes) counts[n.state] = (counts[n.state] || 0) + 1;
    const ok = nodes.filter(n => okStates.has(n.state)).length;
    const running = nodes.filter(n => runStates.has(n.state)).length;
    const bad = total - ok - running;
    const pct = x => total ? `${(100 * x / total).toFixed(2)}%` : '0%';
    document.getElementById('progress').replaceChildren(
      el('span', { class: 'p-ok', style: null, 'data-w': pct(ok) }), el('span', { class: 'p-bad', 'data-w': pct(bad) }),
      el('span', { class: 'p-run', 'data-w': pct(running) }));
    // Widths through the CSSOM (inline style attributes are refused by the page's CSP).
    for (const s of document.querySelectorAll('#progress span')) s.style.width = s.dataset.w;
    const finished = total - running;
    document.getElementById('progress-text').textContent =
      `${finished} of ${total} nodes finished (${pct(finished)}): ${ok} succeeded, ${bad} did not, ${running} in progress`;
    document.getElementById('counts').replaceChildren(...Object.entries(counts).sort().map(([s, c]) => {
      const card = el('div', { class: 'count' + (stateFilter === s ? ' selected' : ''), 'data-state': s }, el('b', {}, c), Pushy.state(s));
      card.addEventListener('click', () => { stateFilter = stateFilter === s ? '' : s; start = 0; renderSummary(); renderNodes(); });
      return card;
    }));
    document.getElementById('abort').hidden = terminalJob.has(v.status);
    document.getElementById('abort').textContent = Pushy.session.can_write ? 'Abort job' : 'Abort job (needs writer rights)';
    document.getElementById('live').hidden = terminalJob.has(v.status);
  }

  function renderNodes() {
    const shown = nodes.filter(n => (!nameFilter || n.name.includes(nameFilter)) && (!stateFilter || n.state === stateFilter));
    const page = shown.slice(start, start + pageSize);
    document.querySelector('#job-nodes tbody').replaceChildren(...page.map(n => el('tr', { 'data-node': n.name, class: n.name === selected ? 'selected' : null },
      el('td', {}, el('b', {}, n.name)), el('td', {}, Pushy.state(n.state)), el('td', { class: 'muted' }, n.reason),
      el('td', {}, view.capture_output ? el('button', { type: 'button', class: 'secondary', 'data-output': n.name, onclick: () => selectNode(n.name) }, 'Output') : ''))));
    document.getElementById('range').textContent = shown.length ? `${start + 1}–${start + page.length} of ${shown.length}` : 'none';
    document.getElementById('prev').disabled = start === 0;
    document.getElementById('next').disabled = start + pageSize >= shown.length;
  }

  async function load() {
    try {
      const { data } = await Pushy.call('GET', `pushy/jobs/${encodeURIComponent(id)}`);
      view = data;
      nodes = fromView(data);
      Pushy.showError('error', null);
      renderSummary();
      renderNodes();
      if (terminalJob.has(view.status)) {
        if (feed) { feed.close(); feed = null; }
        if (nodeFeed && selected) showFinalOutput(selected);
      }
    } catch (e) { Pushy.showError('error', e); }
  }

  function listenJob() {
    // A job over thousands of nodes is re-read at most every 2 s (its node list is most of it).
    const refresh = Pushy.throttle(load, nodes.length > 2000 ? 2000 : 500);
    feed = Pushy.feed(`pushy/job_status_feed/${encodeURIComponent(id)}?output=none`);
    for (const name of ['start', 'quorum_vote', 'quorum_succeeded', 'run_start', 'run_complete', 'rehab', 'aborted']) {
      feed.addEventListener(name, refresh);
    }
    for (const name of ['job_complete', 'summary']) {
      feed.addEventListener(name, () => { if (feed) { feed.close(); feed = null; } load(); });
    }
  }

  function decode(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }

  function outputBlock(title, text, truncated) {
    return [el('h3', {}, title, truncated ? el('span', { class: 'muted' }, ' (longer than the node could send: the tail)') : ''),
      text === null ? el('p', { class: 'muted' }, 'nothing captured') : el('pre', { 'data-stream': title }, text === '' ? '(empty)' : text)];
  }

  async function showFinalOutput(name) {
    if (nodeFeed) { nodeFeed.close(); nodeFeed = null; }
    try {
      const [out, err] = await Promise.all(['stdout', 'stderr'].map(c =>
        Pushy.bytes(`pushy/jobs/${encodeURIComponent(id)}/output/${encodeURIComponent(name)}/${c}`)));
      if (selected !== name) return;
      Pushy.showError('output-error', null);
      document.getElementById('output').replaceChildren(...outputBlock('stdout', out && out.text, out && out.truncated),
        ...outputBlock('stderr', err && err.text, err && err.truncated));
    } catch (e) { Pushy.showError('output-error', e); }
  }

  // One node's output: live over its own feed while the job runs, then the stored bytes.
  function selectNode(name) {
    selected = name;
    document.getElementById('output-node').textContent = `— ${name}`;
    renderNodes();
    if (nodeFeed) { nodeFeed.close(); nodeFeed = null; }
    if (terminalJob.has(view.status)) { showFinalOutput(name); return; }
    const chunks = { stdout: new Map(), stderr: new Map() };
    const text = s => new TextDecoder().decode(new Uint8Array([...chunks[s].entries()].sort((a, b) => a[0] - b[0]).flatMap(([, b]) => [...b])));
    const render = () => document.getElementById('output').replaceChildren(
      ...outputBlock('stdout', text('stdout'), false), ...outputBlock('stderr', text('stderr'), false),
      el('p', { class: 'live' }, 'live'));
    render();
    nodeFeed = Pushy.feed(`pushy/job_status_feed/${encodeURIComponent(id)}?output=${encodeURIComponent(name)}`);
    nodeFeed.addEventListener('output', ev => {
      const d = JSON.parse(ev.data);
      if (d.node !== name || !chunks[d.stream]) return;
      chunks[d.stream].set(d.offset, d.encoding === 'base64' ? decode(d.data) : new TextEncoder().encode(d.data));
      render();
    });
    for (const n of ['job_complete', 'summary']) nodeFeed.addEventListener(n, () => showFinalOutput(name));
  }

  async function showGroups() {
    selected = null;
    if (nodeFeed) { nodeFeed.close(); nodeFeed = null; }
    document.getElementById('output-node').textContent = '— grouped';
    renderNodes();
    try {
      const { data } = await Pushy.call('GET', `pushy/jobs/${encodeURIComponent(id)}/output?group=true`);
      Pushy.showError('output-error', null);
      const blocks = [];
      for (const stream of ['stdout', 'stderr']) {
        for (const g of data[stream] || []) {
          const names = g.nodes.slice(0, 5).join(', ') + (g.nodes.length > 5 ? `, … ${g.nodes.length - 5} more` : '');
          const body = g.encoding === 'base64' ? new TextDecoder().decode(decode(g.data)) : g.data;
          blocks.push(el('h3', {}, `${stream}: ${g.count} node${g.count === 1 ? '' : 's'} `, el('span', { class: 'muted' }, `(${names})`)),
            el('pre', { 'data-group': stream }, body === '' ? '(empty)' : body));
        }
      }
      if ((data.no_output || []).length) blocks.push(el('p', { class: 'muted' }, `nothing captured: ${data.no_output.length} node(s)`));
      document.getElementById('output').replaceChildren(...blocks);
    } catch (e) { Pushy.showError('output-error', e); }
  }

  async function abort() {
    const result = document.getElementById('abort-result');
    result.textContent = '';
    try {
      await Pushy.call('PUT', `pushy/jobs/${encodeURIComponent(id)}/abort`);
      result.replaceChildren(el('span', { class: 'ok' }, ' Abort requested.'));
      load();
    } catch (e) {
      result.replaceChildren(el('span', { class: 'error', id: 'abort-refused' }, ` Abort refused: ${e.message}`));
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Pushy.init('jobs');
    document.getElementById('abort').addEventListener('click', abort);
    document.getElementById('group').addEventListener('click', showGroups);
    document.getElementById('prev').addEventListener('click', () => { start = Math.max(0, start - pageSize); renderNodes(); });
    document.getElementById('next').addEventListener('click', () => { start += pageSize; renderNodes(); });
    document.getElementById('node-filter').addEventListener('submit', ev => {
      ev.preventDefault(); nameFilter = document.getElementById('node-q').value.trim(); start = 0; renderNodes();
    });
    await load();
    if (view && !terminalJob.has(view.status)) listenJob();
  });
})();
