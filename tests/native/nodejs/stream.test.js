'use strict';
// The live request and response of a call: extensions.request is a readable stream with
// Express's helpers, extensions.response a writable stream whose chunks reach the client as
// they are written (Kubeless's streaming and multipart examples), under hard timeouts.

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');
const { metric, sleep, startServer } = require('./helpers');

const FUNC = `
'use strict';
const { Readable } = require('stream');
const fs = require('fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const readAll = (stream) => new Promise((resolve, reject) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => resolve(Buffer.concat(chunks)));
  stream.on('error', reject);
});
module.exports.handler = async (event, context) => {
  const { request, response } = event.extensions;
  switch (request.path) {
    case '/request': {
      const bytes = await readAll(request);
      return {
        is: { json: request.is('json'), text: request.is('text/*'), multipart: request.is('multipart/*') },
        get: request.get('X-Custom'), header: request.header('x-custom'), headers: request.headers['x-custom'],
        query: request.query, method: request.method, originalUrl: request.originalUrl,
        body: request.body, streamed: bytes.toString(), readable: typeof request.pipe,
      };
    }
    case '/pipe-request': request.pipe(response); return;
    case '/multipart': {
      if (!request.is('multipart/form-data')) return { error: 'not multipart' };
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(request.get('content-type'));
      const text = (await readAll(request)).toString('latin1');
      const parts = text.split('--' + (boundary[1] || boundary[2])).slice(1, -1).map((part) => {
        const [head, ...rest] = part.split('\\r\\n\\r\\n');
        return { name: /name="([^"]+)"/.exec(head)[1], value: rest.join('\\r\\n\\r\\n').slice(0, -2) };
      });
      return { data: event.data, parts };
    }
    case '/write-slowly':
      response.status(202).set('X-Streamed', 'yes').type('text/plain');
      response.write('first\\n');
      await sleep(600);
      response.write('second\\n');
      response.end('last\\n');
      return;
    case '/pipe-generator': {
      const size = Number(request.query.mb) * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      Readable.from((function* () { for (let sent = 0; sent < size; sent += chunk.length) yield chunk; })())
        .pipe(response);
      return; // returns at once: the response ends when the stream does
    }
    case '/pipe-file': fs.createReadStream(__filename).pipe(response); return;
    case '/write-then-return': response.write('partial '); return 'and the return value';
    case '/stream-then-hang': response.write('started\\n'); await sleep(60000); return;
    case '/stream-then-throw': response.write('started\\n'); await sleep(50); throw new Error('mid-stream');
    default: return 'ok';
  }
};
`;

async function readTimed(res) {
  const reader = res.body.getReader();
  const start = Date.now();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push({ at: Date.now() - start, text: Buffer.from(value).toString() });
  }
  return chunks;
}

describe('streams: extensions.request and extensions.response', () => {
  let srv;
  before(async () => {
    srv = await startServer({ files: { 'func.js': FUNC }, env: { FUNC_TIMEOUT: '2', REQ_MB_LIMIT: '1' } });
  });
  after(() => srv.stop());
  const call = (p, init) => fetch(`${srv.url}${p}`, init);

  it('gives a readable request with Express helpers, replaying a parsed body', async () => {
    const res = await call('/request?a=1&b=two', {
      method: 'POST', body: JSON.stringify({ hello: 'world' }),
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'custom value' },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.is, { json: 'json', text: false, multipart: false });
    assert.equal(body.get, 'custom value');
    assert.equal(body.header, 'custom value');
    assert.equal(body.headers, 'custom value');
    assert.deepEqual(body.query, { a: '1', b: 'two' });
    assert.equal(body.method, 'POST');
    assert.equal(body.originalUrl, '/request?a=1&b=two');
    assert.deepEqual(body.body, { hello: 'world' });
    assert.equal(body.streamed, '{"hello":"world"}');
    assert.equal(body.readable, 'function');
  });

  it('pipes the request into the response', async () => {
    const res = await call('/pipe-request', { method: 'POST', body: 'echo me', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'echo me');
  });

  it('leaves a multipart body unparsed and streams it to the function', async () => {
    const form = new FormData();
    form.append('greeting', 'hello');
    form.append('upload', new Blob(['file contents\r\nline two']), 'a.txt');
    const res = await call('/multipart', { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.data, '');
    assert.deepEqual(body.parts, [
      { name: 'greeting', value: 'hello' },
      { name: 'upload', value: 'file contents\r\nline two' },
    ]);
  });

  it('answers 413 to a multipart body over REQ_MB_LIMIT', async () => {
    const form = new FormData();
    form.append('big', new Blob([Buffer.alloc(1024 * 1024 + 1000, 'y')]), 'big.bin');
    const res = await call('/multipart', { method: 'POST', body: form });
    assert.equal(res.status, 413);
    assert.equal((await call('/')).status, 200);
  });

  it('sends chunks to the client as they are written, with status and headers first', async () => {
    const res = await call('/write-slowly');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-streamed'), 'yes');
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const chunks = await readTimed(res);
    assert.equal(chunks.map((c) => c.text).join(''), 'first\nsecond\nlast\n');
    assert.equal(chunks[0].text, 'first\n');
    const last = chunks[chunks.length - 1];
    assert.ok(last.at - chunks[0].at >= 400, `the first chunk came ${last.at - chunks[0].at} ms before the last, not at the end`);
  });

  it('streams a piped response larger than REQ_MB_LIMIT, after the function returned', async () => {
    const res = await call('/pipe-generator?mb=3');
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, 3 * 1024 * 1024);
    assert.ok(body.every((b) => b === 0x78));
  });

  it('runs Kubeless\'s streaming example: a file piped into the response', async () => {
    const res = await call('/pipe-file');
    assert.equal(res.status, 200);
    assert.match(await res.text(), /fs\.createReadStream\(__filename\)\.pipe\(response\)/);
  });

  it('ends a written response with the return value, as Kubeless does', async () => {
    const res = await call('/write-then-return');
    assert.equal(await res.text(), 'partial and the return value');
  });

  it('cuts a streamed response short at the deadline and stops the function', async () => {
    const res = await call('/stream-then-hang');
    assert.equal(res.status, 200);
    const start = Date.now();
    await assert.rejects(res.text());
    assert.ok(Date.now() - start < 5000);
    await sleep(100);
    const metrics = await (await call('/metrics')).text();
    assert.ok(metric(metrics, 'function_failures_total', { method: 'GET' }) >= 1);
    assert.equal(await (await call('/')).text(), 'ok');
    assert.match(srv.logs(), /timed out after 2s while streaming its response/);
  });

  it('cuts a streamed response short when the function throws mid-stream', async () => {
    const res = await call('/stream-then-throw');
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    assert.match(srv.logs(), /mid-stream/);
    assert.equal(await (await call('/')).text(), 'ok');
  });
});
