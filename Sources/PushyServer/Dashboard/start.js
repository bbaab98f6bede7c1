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

  document.addEventListener('DOMContentLoaded', async () => {
    const s = await Pushy.init('start');
    if (!s.can_write) Pushy.showError('error', new Error(`${s.user} may read but not start jobs here (not in pushy_job_writers); the server will refuse.`));
    document.getElementById('start').addEventListener('submit', submit);
    const q = Pushy.params().get('search');
    if (q) document.getElementById('search').value = q;
  });
})();
