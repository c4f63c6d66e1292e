'use strict';
// HTTP behaviour of the runtime: bodies, event/context, answers, errors, CORS, metrics, limits.

const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { after, before, describe, it } = require('node:test');
const { metric, startServer, tempDir, waitFor } = require('./helpers');

// One function answering according to the request path.
const FUNC = `
'use strict';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
module.exports.handler = async (event, context) => {
  const { request, response } = event.extensions;
  switch (request.path) {
    case '/buffer': return Buffer.from([0, 1, 2, 255]);
    case '/nothing': return undefined;
    case '/string': return 'plain';
    case '/promise': await sleep(20); return { later: true };
    case '/throw': throw new Error('kaboom from the function');
    case '/reject': return Promise.reject(new Error('async kaboom'));
    case '/maybe': if (event.data === 'boom') throw new Error('boom'); return 'fine';
    case '/shim':
      response.status(201).set('X-Answer', '42').json({ via: 'response' });
      return 'ignored';
    case '/shim-end':
      response.setHeader('Content-Type', 'text/csv');
      response.write('a,b\\n');
      response.end('1,2\\n');
      return;
    case '/status-and-return':
      response.status(202).set('X-Extra', 'yes');
      return { accepted: true };
    default:
      return {
        type: typeof event.data,
        isBuffer: Buffer.isBuffer(event.data),
        data: Buffer.isBuffer(event.data) ? event.data.toString('hex') : event.data,
        event: {
          id: event['event-id'], type: event['event-type'],
          time: event['event-time'], namespace: event['event-namespace'],
        },
        context,
        request: {
          method: request.method, path: request.path, url: request.url, query: request.query,
          custom: request.get('X-Custom'), bodyIsData: request.body === event.data,
        },
      };
  }
};
`;

describe('runtime server', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      files: { 'func.js': FUNC },
      env: { FUNC_TIMEOUT: '5', FUNC_RUNTIME: 'nodejs20', FUNC_MEMORY_LIMIT: '128Mi', FUNC_NAME: 'my-func' },
    });
  });
  after(() => srv.stop());

  const call = (p, init) => fetch(`${srv.url}${p}`, init);

  it('answers GET with the example helloget', async () => {
    const hello = await startServer({ examples: ['helloget.js'], modName: 'helloget', handler: 'foo' });
    try {
      const res = await fetch(`${hello.url}/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'hello world');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    } finally {
      await hello.stop();
    }
  });

  it('GET without a body gives event.data === ""', async () => {
    const res = await call('/?a=1&b=two');
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.data, '');
    assert.deepEqual(body.request, {
      method: 'GET', path: '/', url: '/?a=1&b=two', query: { a: '1', b: 'two' }, bodyIsData: true,
    });
  });

  it('parses JSON bodies into an object, with or without charset', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/cloudevents+json']) {
      const res = await call('/', { method: 'POST', headers: { 'content-type': type }, body: '{"a":[1,2],"b":"x"}' });
      assert.equal(res.status, 200, type);
      const body = await res.json();
      assert.equal(body.type, 'object');
      assert.deepEqual(body.data, { a: [1, 2], b: 'x' });
    }
  });

  it('answers malformed JSON with 400 that says so', async () => {
    const res = await call('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /Malformed JSON/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  it('passes text bodies as strings', async () => {
    const res = await call('/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'héllo' });
    const body = await res.json();
    assert.equal(body.type, 'string');
    assert.equal(body.data, 'héllo');
  });

  it('passes other bodies as a Buffer', async () => {
    const bytes = Buffer.from([0, 255, 16, 32]);
    const res = await call('/', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const body = await res.json();
    assert.equal(body.isBuffer, true);
    assert.equal(body.data, '00ff1020');
  });

  it('puts the event headers and the context in the call', async () => {
    const res = await call('/', {
      headers: {
        'event-id': 'id-1', 'event-type': 'application/json', 'event-time': '2024-01-01T00:00:00Z',
        'event-namespace': 'kafkatriggers.kubeless.io', 'x-custom': 'custom value',
      },
    });
    const body = await res.json();
    assert.deepEqual(body.event, {
      id: 'id-1', type: 'application/json', time: '2024-01-01T00:00:00Z', namespace: 'kafkatriggers.kubeless.io',
    });
    assert.equal(body.request.custom, 'custom value');
    assert.deepEqual(body.context, {
      'function-name': 'handler', timeout: 5, runtime: 'nodejs20', 'memory-limit': '128Mi',
    });
  });

  it('lets PUT, PATCH and DELETE on any path reach the function', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const res = await call('/some/deep/path', { method });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.request.method, method);
      assert.equal(body.request.path, '/some/deep/path');
    }
  });

  it('sends returned Buffers, strings, promises and undefined', async () => {
    let res = await call('/buffer');
    assert.deepEqual([...Buffer.from(await res.arrayBuffer())], [0, 1, 2, 255]);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    res = await call('/string');
    assert.equal(await res.text(), 'plain');
    res = await call('/promise');
    assert.deepEqual(await res.json(), { later: true });
    res = await call('/nothing');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('replays what the function did with event.extensions.response', async () => {
    let res = await call('/shim');
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-answer'), '42');
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { via: 'response' });
    res = await call('/shim-end');
    assert.equal(res.headers.get('content-type'), 'text/csv');
    assert.equal(await res.text(), 'a,b\n1,2\n');
    res = await call('/status-and-return');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-extra'), 'yes');
    assert.deepEqual(await res.json(), { accepted: true });
  });

  it('answers a throw or a rejection with 500, logs the stack, and serves the next call', async () => {
    for (const p of ['/throw', '/reject']) {
      const res = await call(p, { method: 'POST' });
      assert.equal(res.status, 500);
      assert.equal(await res.text(), 'Internal Server Error\n');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    }
    assert.match(srv.logs(), /Error: kaboom from the function\n\s+at /);
    assert.match(srv.logs(), /async kaboom/);
    let res = await call('/maybe', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'boom' });
    assert.equal(res.status, 500);
    res = await call('/maybe', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'ok' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'fine');
  });

  it('answers CORS preflight and sets Access-Control-Allow-Origin', async () => {
    const res = await call('/anything', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://example.test', 'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-custom',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods'), /PUT/);
    assert.match(res.headers.get('access-control-allow-headers'), /x-custom/);
  });

  it('logs requests in the combined format', async () => {
    await call('/logged-path?q=1', { method: 'PATCH' });
    const line = /\[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "PATCH \/logged-path\?q=1 HTTP\/1\.1" 200 /;
    assert.ok(await waitFor(() => line.test(srv.out.stdout)), srv.out.stdout);
  });

  it('counts calls, failures and durations by method in /metrics', async () => {
    const read = async () => (await call('/metrics')).text();
    const before = await read();
    await call('/string', { method: 'PUT' });
    await call('/throw', { method: 'DELETE' });
    const after = await read();
    const delta = (name, method) => metric(after, name, { method }) - metric(before, name, { method });
    assert.equal(delta('function_calls_total', 'PUT'), 1);
    assert.equal(delta('function_failures_total', 'PUT'), 0);
    assert.equal(delta('function_calls_total', 'DELETE'), 1);
    assert.equal(delta('function_failures_total', 'DELETE'), 1);
    assert.equal(delta('function_duration_seconds_count', 'PUT'), 1);
    assert.match(after, /# TYPE function_duration_seconds histogram/);
  });

  it('answers /healthz', async () => {
    const res = await call('/healthz');
    assert.equal(res.status, 200);
  });
});

describe('runtime server settings', () => {
  it('rejects bodies over REQ_MB_LIMIT with 413', async () => {
    const srv = await startServer({
      files: { 'func.js': 'module.exports.handler = (e) => String(e.data.length);' },
      env: { REQ_MB_LIMIT: '0.01' }, // 10 KiB
    });
    try {
      const post = (size, type) => fetch(`${srv.url}/`, {
        method: 'POST', headers: { 'content-type': type }, body: 'x'.repeat(size),
      });
      for (const type of ['text/plain', 'application/octet-stream']) {
        let res = await post(20 * 1024, type);
        assert.equal(res.status, 413, type);
        assert.match(await res.text(), /REQ_MB_LIMIT/);
        assert.equal(res.headers.get('access-control-allow-origin'), '*');
        res = await post(5 * 1024, type);
        assert.equal(res.status, 200, type);
        assert.equal(await res.text(), String(5 * 1024));
      }
      const res = await fetch(`${srv.url}/`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(20000) }),
      });
      assert.equal(res.status, 413);
    } finally {
      await srv.stop();
    }
  });

  it('names the handler in context as Kubeless does, not the deployment', async () => {
    const files = { 'func.js': "module.exports.foobar = (e, c) => c['function-name'];" };
    const srv = await startServer({
      files, handler: 'foobar', env: { KUBELESS_FUNC_NAME: 'my-deployment', FUNC_NAME: 'my-deployment' },
    });
    try {
      assert.equal(await (await fetch(`${srv.url}/`)).text(), 'foobar');
    } finally {
      await srv.stop();
    }
  });

  it('resolves modules from NODE_PATH inside the worker threads', async () => {
    const libs = tempDir();
    const dep = path.join(libs, 'node_modules', 'only-on-node-path');
    fs.mkdirSync(dep, { recursive: true });
    fs.writeFileSync(path.join(dep, 'index.js'), "module.exports = () => 'found via NODE_PATH';");
    const srv = await startServer({
      files: { 'func.js': "const dep = require('only-on-node-path'); module.exports.handler = () => dep();" },
      env: { NODE_PATH: path.join(libs, 'node_modules') },
    });
    try {
      assert.equal(await (await fetch(`${srv.url}/`)).text(), 'found via NODE_PATH');
    } finally {
      await srv.stop();
      fs.rmSync(libs, { recursive: true, force: true });
    }
  });

  it('resolves modules from $KUBELESS_INSTALL_VOLUME/node_modules', async () => {
    const srv = await startServer({
      files: {
        'node_modules/installed-dep/index.js': "module.exports = 'installed';",
        'func.js': "const d = require('installed-dep'); module.exports.handler = () => d;",
      },
    });
    try {
      assert.equal(await (await fetch(`${srv.url}/`)).text(), 'installed');
    } finally {
      await srv.stop();
    }
  });

  it('loads an ES module function (package.json "type": "module")', async () => {
    const srv = await startServer({
      files: {
        'package.json': '{"type": "module"}',
        'func.js': 'export const handler = async (event) => ({ esm: true });',
      },
    });
    try {
      assert.deepEqual(await (await fetch(`${srv.url}/`)).json(), { esm: true });
    } finally {
      await srv.stop();
    }
  });
});
