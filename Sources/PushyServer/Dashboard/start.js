// Start-a-job form: resolves a search like `pushy job start --search`, then POSTs the job.
'use strict';
(() => {
  // "10" → 10, "25%" → "25%", "" → undefined; anything else is an error naming the field.
  function amount(id, label) {
    const v = document.getElementById(id).value.trim();
    if (!v) return undefined;
    if (/^\d+$/.test(v)) return Number(v);
    if (/^\d+(\.\d+)?%$/.test(v)) return v;
    throw new Error(`${label} must be a whole number or a percentage such as 25%, not '${v}'`);
  }

  async function submit(ev) {
    ev.preventDefault();
    const button = document.getElementById('submit');
    button.disabled = true;
    Pushy.showError('error', null);
    try {
      const command = document.getElementById('command').value.trim();
      const search = document.getElementById('search').value.trim();
      let nodes = document.getElementById('nodes').value.split(/[\s,]+/).filter(Boolean);
      if (search && nodes.length) throw new Error('give either a search or node names, not both');
      if (!search && !nodes.length) throw new Error('name the nodes, or give a search that finds them');
      if (search) {
        const { data } = await Pushy.call('GET', `search/node?q=${encodeURIComponent(search)}`);
        nodes = data.rows.map(r => r.name);
        document.getElementById('matched').textContent = `search found ${nodes.length} node(s)`;
        if (!nodes.length) throw new Error(`no node matches the search '${search}'`);
      }
      const body = { command, nodes };
      const quorum = amount('quorum', 'Quorum');
      if (quorum !== undefined) body.quorum = quorum;
      const timeout = document.getElementById('timeout').value.trim();
      if (timeout) body.run_timeout = Number(timeout);
      if (document.getElementById('capture').checked) body.capture_output = true;
      const rate = { max_concurrency: amount('max-concurrency', 'Max concurrency'), max_errors: amount('max-errors', 'Max errors'),
        batch_size: amount('batch-size', 'Batch size') };
      const wait = document.getElementById('batch-wait').value.trim();
      if (wait) rate.batch_wait = Number(wait);
      for (const [k, v] of Object.entries(rate)) if (v !== undefined) body[k] = v;
      const { data } = await Pushy.call('POST', 'pushy/jobs', body);
      const id = data.id || String(data.uri || "").split("/").pop();
      location.href = `/dashboard/job?id=${encodeURIComponent(id)}`;
    } catch (e) {
      Pushy.showError('error', e);
      button.disabled = false;
    }
  }

  // Templates: the ones this user may read, each parameter as a field, run with the template's own rules.
  let templates = [];

  function showTemplate() {
    const { el } = Pushy;
    const t = templates.find(x => x.name === document.getElementById('template').value);
    document.getElementById('template-run').disabled = !t;
    const box = document.getElementById('template-params');
    if (!t) { box.replaceChildren(); document.getElementById('template-info').textContent = ''; return; }
    const target = t.search ? `search ${t.search}` : `nodes ${(t.nodes || []).join(', ')}`;
    document.getElementById('template-info').textContent = `${t.description || ''} — command '${t.command}' on ${target}`;
    box.replaceChildren(...Object.entries(t.parameters || {}).map(([name, p]) => {
      const hint = [p.type, p.pattern && `/${p.pattern}/`, p.values && p.values.join(' | '),
        p.min !== undefined && `≥ ${p.min}`, p.max !== undefined && `≤ ${p.max}`, p.required && 'required'].filter(Boolean).join(', ');
      return el('div', {}, el('label', { for: `param-${name}` }, name), el('div', { class: 'hint' }, hint),
        el('input', { type: 'text', id: `param-${name}`, 'data-param': name, 'data-type': p.type,
          placeholder: p.default !== undefined ? String(p.default) : '' }));
    }));
  }

  async function runTemplate(ev) {
    ev.preventDefault();
    Pushy.showError('error', null);
    const name = document.getElementById('template').value;
    const parameters = {};
    for (const input of document.querySelectorAll('#template-params input')) {
      const v = input.value.trim();
      if (!v) continue;
      const type = input.dataset.type;
      parameters[input.dataset.param] = type === 'integer' && /^-?\d+$/.test(v) ? Number(v)
        : type === 'boolean' && (v === 'true' || v === 'false') ? v === 'true' : v;
    }
    try {
      const { data } = await Pushy.call('POST', `pushy/templates/${encodeURIComponent(name)}/run`, { parameters });
      const id = data.id || String(data.uri || '').split('/').pop();
      location.href = `/dashboard/job?id=${encodeURIComponent(id)}`;
    } catch (e) { Pushy.showError('error', e); }
  }

  async function loadTemplates() {
    try {
      const { data } = await Pushy.call('GET', 'pushy/templates');
      templates = data || [];
      if (!templates.length) return;
      const select = document.getElementById('template');
      for (const t of templates) select.append(Pushy.el('option', { value: t.name }, t.description ? `${t.name} — ${t.description}` : t.name));
      select.addEventListener('change', showTemplate);
      document.getElementById('template-form').addEventListener('submit', runTemplate);
      document.getElementById('template-form').hidden = false;
    } catch (e) { /* no templates to offer */ }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    const s = await Pushy.init('start');
    if (!s.can_write) Pushy.showError('error', new Error(`${s.user} may read but not start ad-hoc jobs here (not a job writer); the server will refuse them. Templates you may run still work.`));
    document.getElementById('start').addEventListener('submit', submit);
    loadTemplates();
    const q = Pushy.params().get('search');
    if (q) document.getElementById('search').value = q;
  });
})();
