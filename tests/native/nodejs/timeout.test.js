'use strict';
// Hard timeouts, parallelism and worker isolation of the worker_threads pool.

const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { after, before, describe, it } = require('node:test');
const { metric, sleep, startServer, waitFor } = require('./helpers');

// FUNC_TIMEOUT=1 for all of these. The function's behaviour is chosen by the request path;
// "side effects" are files written into the install volume, named by the query.
const FUNC = `
'use strict';
const fs = require('fs');
const path = require('path');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
fs.appendFileSync(path.join(__dirname, 'loads.log'), 'loaded\\n'); // module-level code
module.exports.handler = async (event) => {
  const { path: p, query } = event.extensions.request;
  const mark = (name) => fs.writeFileSync(path.join(__dirname, name), 'written');
  switch (p) {
    case '/sleep': await sleep(Number(query.ms)); if (query.mark) mark(query.mark); return 'slept ' + query.ms;
    case '/busy': { const end = Date.now() + Number(query.ms); while (Date.now() < end) {} mark(query.mark); return 'busy done'; }
    case '/forever': while (true) {} // eslint-disable-line no-constant-condition
    case '/answer-then-work':
      event.extensions.response.send('answered early');
      await sleep(3000); mark(query.mark); return;
    case '/exit': process.exit(3);
    case '/uncaught': setTimeout(() => { throw new Error('stray async error'); }, 10); await sleep(500); return 'no';
    default: return 'ok';
  }
};
`;

const timed = async (promise) => {
  const start = Date.now();
  const res = await promise;
  return { res, ms: Date.now() - start, text: await res.text() };
};

describe('hard timeouts and the worker pool', () => {
  let srv;
  const call = (p, init) => fetch(`${srv.url}${p}`, init);
  const exists = (name) => fs.existsSync(path.join(srv.dir, name));

  before(async () => {
    srv = await startServer({ files: { 'func.js': FUNC }, env: { FUNC_TIMEOUT: '1', KUBELESS_WORKERS_MIN: '2' } });
  });
  after(() => srv.stop());

  it('runs module-level code once per worker (two warm workers)', () => {
    assert.equal(fs.readFileSync(path.join(srv.dir, 'loads.log'), 'utf8'), 'loaded\nloaded\n');
  });

  it('answers 408 at the deadline and the side effect after it never happens', async (t) => {
    const { res, ms, text } = await timed(call('/sleep?ms=2000&mark=late-sleep'));
    assert.equal(res.status, 408);
    assert.match(text, /timed out after 1s/);
    t.diagnostic(`408 after ${ms} ms (FUNC_TIMEOUT=1)`);
    assert.ok(ms >= 900 && ms < 1800, `answered after ${ms} ms`);
    await sleep(1800); // past the moment the function would have written
    assert.equal(exists('late-sleep'), false, 'the function kept running after its deadline');
  });

  it('stops a busy loop at the deadline', async () => {
    const { res, ms } = await timed(call('/busy?ms=2500&mark=late-busy'));
    assert.equal(res.status, 408);
    assert.ok(ms < 1800, `answered after ${ms} ms`);
    const { res: res2 } = await timed(call('/forever'));
    assert.equal(res2.status, 408);
    await sleep(2000);
    assert.equal(exists('late-busy'), false, 'the busy loop was not stopped');
    const ok = await call('/');
    assert.equal(ok.status, 200, 'the server serves calls after terminating workers');
  });

  it('does not break a concurrent call in another worker when one times out', async () => {
    const [slow, quick] = await Promise.all([
      timed(call('/forever')),
      (async () => { await sleep(200); return timed(call('/sleep?ms=700&mark=quick-done')); })(),
    ]);
    assert.equal(slow.res.status, 408);
    assert.equal(quick.res.status, 200);
    assert.equal(quick.text, 'slept 700');
    assert.ok(exists('quick-done'));
  });

  it('runs 8 one-second calls in parallel', async (t) => {
    const runtime = await startServer({ files: { 'func.js': FUNC }, env: { FUNC_TIMEOUT: '5' } });
    try {
      const start = Date.now();
      const results = await Promise.all(
        Array.from({ length: 8 }, () => fetch(`${runtime.url}/sleep?ms=1000`).then((r) => r.text())),
      );
      const ms = Date.now() - start;
      assert.deepEqual(results, Array(8).fill('slept 1000'));
      t.diagnostic(`8 parallel 1-s calls took ${ms} ms`);
      assert.ok(ms < 2500, `8 parallel 1-s calls took ${ms} ms`);
    } finally {
      await runtime.stop();
    }
  });

  it('answers 500 when the function exits or crashes its worker, and replaces it', async () => {
    for (const p of ['/exit', '/uncaught']) {
      const res = await call(p);
      assert.equal(res.status, 500, p);
      assert.equal(await res.text(), 'Internal Server Error\n');
      const next = await call('/');
      assert.equal(next.status, 200, `after ${p}`);
    }
    assert.match(srv.logs(), /stray async error/);
    assert.match(srv.logs(), /exited with code 3/);
  });

  it('stops a function that answered but keeps running past the deadline', async () => {
    const res = await call('/answer-then-work?mark=after-answer');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'answered early');
    await sleep(3000);
    assert.equal(exists('after-answer'), false);
    assert.match(srv.logs(), /already answered\); its worker was terminated/);
  });

  it('counts timeouts and crashes as failures', async () => {
    const text = await (await call('/metrics')).text();
    assert.ok(metric(text, 'function_failures_total', { method: 'GET' }) >= 6);
  });

  it('keeps the warm minimum after workers were terminated', async () => {
    const workers = async () => metric(await (await call('/metrics')).text(), 'function_workers', {});
    assert.ok(await waitFor(async () => (await workers()) >= 2), `${await workers()} workers`);
  });
});

describe('pool limits', () => {
  it('queues calls beyond KUBELESS_WORKERS_MAX and times them out from arrival', async () => {
    const srv = await startServer({
      files: { 'func.js': FUNC }, env: { FUNC_TIMEOUT: '2', KUBELESS_WORKERS_MIN: '1', KUBELESS_WORKERS_MAX: '1' },
    });
    try {
      const start = Date.now();
      const codes = await Promise.all(Array.from({ length: 3 }, () => fetch(`${srv.url}/sleep?ms=800`)
        .then((r) => [r.status, Date.now() - start])));
      // one worker: 0.8 s, 1.6 s, and the third would end at 2.4 s, past its 2-s deadline
      assert.deepEqual(codes.map(([c]) => c).sort(), [200, 200, 408]);
      assert.ok(codes.every(([, ms]) => ms < 2600), JSON.stringify(codes));
    } finally {
      await srv.stop();
    }
  });

  it('a queued call whose new worker failed to load keeps no armed timer', async () => {
    // The second load of the module fails; the first and third succeed.
    const FLAKY_LOAD = `
      const fs = require('fs');
      const count = (fs.existsSync(__dirname + '/loads') ? fs.readFileSync(__dirname + '/loads', 'utf8').length : 0) + 1;
      fs.writeFileSync(__dirname + '/loads', 'x'.repeat(count));
      if (count === 2) throw new Error('the second load fails');
      module.exports.handler = async (event) => {
        const ms = Number(event.extensions.request.query.ms || 0);
        await new Promise((r) => setTimeout(r, ms));
        return 'ok';
      };`;
    const srv = await startServer({
      files: { 'func.js': FLAKY_LOAD }, env: { FUNC_TIMEOUT: '1', KUBELESS_WORKERS_MIN: '1', KUBELESS_WORKERS_MAX: '2' },
    });
    try {
      const busy = fetch(`${srv.url}/?ms=600`).then((r) => r.status);
      await sleep(50);
      const queued = await fetch(`${srv.url}/`); // needs a second worker, whose load fails
      assert.equal(queued.status, 500);
      assert.equal(await busy, 200);
      await sleep(1300); // past the queued call's deadline
      assert.doesNotMatch(srv.logs(), /still running/);
      assert.equal((await fetch(`${srv.url}/`)).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('caps the pool by FUNC_MEMORY_LIMIT unless KUBELESS_WORKERS_MAX is set', async () => {
    for (const [env, expected] of [
      [{ FUNC_MEMORY_LIMIT: '128Mi' }, 4],
      [{ FUNC_MEMORY_LIMIT: '128Mi', KUBELESS_WORKERS_MAX: '6' }, 6],
      [{ FUNC_MEMORY_LIMIT: '32M' }, 2],
    ]) {
      const srv = await startServer({ files: { 'func.js': FUNC }, env: { FUNC_TIMEOUT: '5', ...env } });
      try {
        const calls = Array.from({ length: 8 }, () => fetch(`${srv.url}/sleep?ms=400`).then((r) => r.status));
        await sleep(250);
        const text = await (await fetch(`${srv.url}/metrics`)).text();
        assert.deepEqual(await Promise.all(calls), Array(8).fill(200));
        assert.equal(metric(text, 'function_workers', {}), expected, JSON.stringify(env));
      } finally {
        await srv.stop();
      }
    }
  });

  it('grows on demand and stops idle workers above the minimum', async () => {
    const srv = await startServer({
      files: { 'func.js': FUNC },
      env: { FUNC_TIMEOUT: '5', KUBELESS_WORKERS_MIN: '1', KUBELESS_WORKER_IDLE: '0.3' },
    });
    const workers = async () => metric(await (await fetch(`${srv.url}/metrics`)).text(), 'function_workers', {});
    try {
      assert.equal(await workers(), 1);
      await Promise.all(Array.from({ length: 4 }, () => fetch(`${srv.url}/sleep?ms=300`).then((r) => r.text())));
      assert.equal(await workers(), 4);
      assert.ok(await waitFor(async () => (await workers()) === 1), `${await workers()} workers left`);
    } finally {
      await srv.stop();
    }
  });
});
