'use strict';
// Start-up errors (actionable message, termination log, non-zero exit) and SIGTERM.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { runServerToExit, sleep, startServer, waitExit } = require('./helpers');

describe('function load errors', () => {
  const cases = [
    {
      name: 'missing file',
      files: {},
      expect: [/func\.js does not exist/, /--from-file/],
    },
    {
      name: 'syntax error',
      files: { 'func.js': 'module.exports.handler = (event) => {\n  return this is bad;\n};\n' },
      expect: [/func\.js has a syntax error \(.*func\.js:2/, /node --check func\.js/],
    },
    {
      name: 'no such export',
      files: { 'func.js': 'module.exports.other = () => 1;\nmodule.exports.more = 2;' },
      expect: [/func\.js does not export 'handler' \(it exports: other, more\)/, /FUNC_HANDLER/],
    },
    {
      name: 'not a function',
      files: { 'func.js': 'module.exports.handler = "hello";' },
      expect: [/module\.exports\.handler in .*func\.js is a string, not a function/],
    },
    {
      name: 'missing dependency',
      files: { 'func.js': "require('left-pad-not-installed');\nmodule.exports.handler = () => 1;" },
      expect: [/requires 'left-pad-not-installed', which is not installed/, /--dependencies/],
    },
    {
      name: 'throw at load',
      files: { 'func.js': "throw new Error('no config at load');" },
      expect: [/func\.js threw while loading \(Error: no config at load, at .*func\.js:1:7\)/],
    },
  ];
  for (const { name, files, expect } of cases) {
    it(`exits non-zero with an actionable message: ${name}`, async () => {
      const { code, stdout, stderr, termination } = await runServerToExit({ files });
      assert.notEqual(code, 0);
      assert.equal(code, 1);
      for (const re of expect) assert.match(stderr, re);
      assert.equal(termination.trim(), stderr.trim(), 'the termination log holds the same message');
      assert.doesNotMatch(stdout, /Serving/);
    });
  }

  it('exits non-zero without MOD_NAME/FUNC_HANDLER', async () => {
    const { code, stderr } = await runServerToExit({ env: { FUNC_HANDLER: '' } });
    assert.equal(code, 1);
    assert.match(stderr, /MOD_NAME and FUNC_HANDLER must be set/);
  });

  it('exits non-zero on an invalid FUNC_TIMEOUT', async () => {
    const { code, stderr } = await runServerToExit({
      files: { 'func.js': 'module.exports.handler = () => 1;' }, env: { FUNC_TIMEOUT: 'soon' },
    });
    assert.equal(code, 1);
    assert.match(stderr, /Invalid FUNC_TIMEOUT="soon"/);
  });

  it('refuses KUBELESS_WORKERS_MIN above KUBELESS_WORKERS_MAX, as the Python runtime does', async () => {
    const { code, stderr } = await runServerToExit({
      files: { 'func.js': 'module.exports.handler = () => 1;' },
      env: { KUBELESS_WORKERS_MIN: '5', KUBELESS_WORKERS_MAX: '2' },
    });
    assert.equal(code, 1);
    assert.match(stderr, /KUBELESS_WORKERS_MIN=5 is above KUBELESS_WORKERS_MAX=2/);
  });
});

describe('SIGTERM', () => {
  it('stops accepting, finishes the call in flight, and exits 0', async () => {
    const srv = await startServer({
      files: {
        'func.js': `const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
          module.exports.handler = async () => { await sleep(1000); return 'finished'; };`,
      },
    });
    try {
      await fetch(`${srv.url}/healthz`); // leaves an idle keep-alive connection behind
      const inflight = fetch(`${srv.url}/`).then(async (r) => [r.status, await r.text()]);
      await sleep(300);
      srv.child.kill('SIGTERM');
      await sleep(200);
      await assert.rejects(fetch(`${srv.url}/healthz`, { headers: { connection: 'close' } }),
        'a new connection is refused during shutdown');
      assert.deepEqual(await inflight, [200, 'finished']);
      const exit = await waitExit(srv.child, 5000);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.match(srv.out.stdout, /SIGTERM received/);
    } finally {
      await srv.stop();
    }
  });

  it('exits 0 right away when idle', async () => {
    const srv = await startServer({ files: { 'func.js': 'module.exports.handler = () => 1;' } });
    try {
      await fetch(`${srv.url}/`);
      const start = Date.now();
      srv.child.kill('SIGTERM');
      const exit = await waitExit(srv.child, 5000);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - start < 1500, `took ${Date.now() - start} ms`);
    } finally {
      await srv.stop();
    }
  });
});
