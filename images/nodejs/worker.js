'use strict';
// One function worker (a worker_threads thread started by kubeless.js). It loads the
// function once, then runs one call at a time. Messages from the main thread are
// {event, request}; the worker answers {type:'response'} (or {type:'error'}) as soon
// as the answer is known, then {type:'done'} when the function's promise has settled.
// See the comment block at the top of kubeless.js for why.

const path = require('path');
const { Readable, Writable } = require('stream');
const { pathToFileURL } = require('url');
const { parentPort, workerData } = require('worker_threads');
const typeIs = require('type-is');

const { modPath, handlerName, installDir, context } = workerData;

// event.extensions.response: a Writable stream with the Express helpers functions use.
// send()/json()/sendStatus() (and a function's return value) answer in one message, as
// Express does; write(), end(chunk) and src.pipe(response) stream: the status and headers go
// out first ('head'), then each chunk ('chunk') as it is written, then 'end'. A chunk is
// acknowledged by kubeless.js once the socket took it, so a piped stream cannot outrun the
// client (backpressure across the thread boundary) and no body is held whole in memory.
class ResponseStream extends Writable {
  constructor(post) {
    super();
    this.post = post;
    this.statusCode = 200;
    this.headers = {};
    this.started = false; // head sent: streaming
    this.answered = false; // send()/json() answered, or end() posted
    this.piped = false;
    this.pendingAck = null;
    this.on('pipe', () => { this.piped = true; });
  }

  get headersSent() { return this.started || this.answered; }
  get finished() { return this.answered; }

  status(code) { this.statusCode = Number(code); return this; }

  set(field, value) {
    if (typeof field === 'object') {
      for (const [k, v] of Object.entries(field)) this.set(k, v);
    } else {
      this.headers[field.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
    }
    return this;
  }

  header(field, value) { return this.set(field, value); }
  setHeader(field, value) { return this.set(field, value); }
  get(field) { return this.headers[field.toLowerCase()]; }
  getHeader(field) { return this.get(field); }
  getHeaders() { return { ...this.headers }; }
  hasHeader(field) { return this.get(field) !== undefined; }
  removeHeader(field) { delete this.headers[field.toLowerCase()]; }
  type(contentType) { return this.set('content-type', contentType.includes('/') ? contentType : `application/${contentType}`); }
  writeHead(code, headers) { this.status(code); if (headers) this.set(headers); return this; }
  flushHeaders() { this.startStream(); }

  startStream() {
    if (this.started || this.answered) return;
    this.started = true;
    this.post({ type: 'head', status: this.statusCode, headers: this.headers });
  }

  _write(chunk, encoding, callback) {
    if (this.answered && !this.started) {
      callback(new Error('write after the response was sent with send()/json()'));
      return;
    }
    this.startStream();
    this.pendingAck = callback;
    this.post({ type: 'chunk', data: new Uint8Array(chunk) }); // a copy: only its own bytes cross
  }

  ack() {
    const callback = this.pendingAck;
    this.pendingAck = null;
    if (callback) callback();
  }

  _final(callback) {
    if (!this.answered) {
      this.answered = true;
      if (this.started) this.post({ type: 'end' });
      else this.post({ type: 'response', status: this.statusCode, headers: this.headers, body: undefined, raw: true });
    }
    callback();
  }

  send(body) {
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      return this.json(body);
    }
    if (this.started) { // already streaming: the body is the last chunk
      this.end(body === null ? undefined : body);
      return this;
    }
    if (this.answered) return this;
    this.answered = true;
    const data = body instanceof Uint8Array ? new Uint8Array(body) : body;
    this.post({ type: 'response', status: this.statusCode, headers: this.headers, body: data, raw: false });
    super.end(); // no more writes; _final sees it answered
    return this;
  }

  json(value) {
    if (!this.get('content-type')) this.set('content-type', 'application/json');
    return this.send(JSON.stringify(value));
  }

  sendStatus(code) { return this.status(code).send(String(code)); }
}

// event.extensions.request: a Readable of the request body with the Express helpers
// functions use. A multipart body is not parsed by the server (as in Kubeless): it arrives
// chunk by chunk from kubeless.js ('request-data'/'request-end'); other bodies were parsed
// into event.data and the stream replays their bytes.
class RequestStream extends Readable {
  constructor(info, body) {
    super();
    Object.assign(this, info);
    this.originalUrl = info.url;
    this.body = body;
    this.resumeInput = null;
  }

  _read() {}

  get(name) {
    const key = String(name).toLowerCase();
    if (key === 'referer' || key === 'referrer') return this.headers.referer || this.headers.referrer;
    return this.headers[key];
  }

  header(name) { return this.get(name); }

  is(...types) {
    return typeIs(this, types.flat());
  }
}

function asBuffer(data) {
  return data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : data;
}

class HandlerError extends Error {}

async function load() {
  let mod;
  try {
    mod = require(modPath);
  } catch (err) {
    if (err.code !== 'ERR_REQUIRE_ESM') throw err;
    mod = await import(pathToFileURL(modPath).href); // "type": "module" functions
  }
  const fn = mod[handlerName];
  if (typeof fn === 'function') return fn;
  const file = path.basename(modPath);
  if (fn === undefined) {
    const names = Object.keys(mod).join(', ') || 'nothing';
    throw new HandlerError(`The function file ${modPath} does not export '${handlerName}' (it exports: ${names}). ` +
      `Set the handler's function part (FUNC_HANDLER, the text after the dot in --handler ` +
      `${path.basename(file, '.js')}.${handlerName}) to an exported name, or add ` +
      `module.exports.${handlerName} = function (event, context) { ... } to ${file}.`);
  }
  throw new HandlerError(`module.exports.${handlerName} in ${modPath} is a ${typeof fn}, not a function. ` +
    `Export a function (event, context) => result under that name, or point FUNC_HANDLER at one.`);
}

function describeLoadError(err) {
  if (err instanceof SyntaxError) {
    const where = String(err.stack).split('\n')[0]; // "/kubeless/f.js:3" for CommonJS
    return `The function file ${modPath} has a syntax error (${where}: ${err.message}). ` +
      `Fix it (\`node --check ${path.basename(modPath)}\` shows the exact spot) and deploy the function again.`;
  }
  if (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND') {
    const name = /module '([^']+)'/i.exec(err.message)?.[1] || err.message;
    return `The function file ${modPath} requires '${name}', which is not installed. ` +
      `Add it to the function's dependencies (the package.json given with --dependencies) so the ` +
      `installation step puts it in ${path.join(installDir, 'node_modules')}, or fix the require() path ` +
      `if it is a file of your own.`;
  }
  if (err instanceof HandlerError) return err.message;
  const where = String(err && err.stack).split('\n').find((line) => line.includes(modPath));
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `The function file ${modPath} threw while loading (${what}${where ? `, ${where.trim()}` : ''}). ` +
    `Fix its module-level code (it runs once in each worker thread at startup) and deploy the function again.`;
}

let current = null; // the call in progress: its request and response streams

async function run(fn, msg) {
  let answered = false;
  const answer = (reply) => {
    if (reply.type === 'response' || reply.type === 'head' || reply.type === 'error') {
      if (answered) return;
      answered = true;
    }
    parentPort.postMessage(reply);
  };
  const response = new ResponseStream(answer);
  const data = asBuffer(msg.event.data);
  const request = new RequestStream(msg.request, data);
  if (!msg.streamed) { // the body was read whole: replay its bytes
    const bytes = msg.raw ? asBuffer(msg.raw) : Buffer.isBuffer(data) ? data : null;
    if (bytes && bytes.length) request.push(bytes);
    request.push(null);
  }
  current = { request, response };
  const event = { ...msg.event, data, extensions: { request, response } };
  try {
    const result = await fn(event, context);
    // As Kubeless: what the function returns ends the response, unless a stream is piped into
    // it; then the call lasts until that stream ends (within FUNC_TIMEOUT).
    if (!response.writableEnded && !response.piped) response.send(result);
    if (!response.answered) await finished(response);
  } catch (err) {
    const stack = (err && err.stack) || String(err);
    if (answered) console.error(`Function failed after it had answered: ${stack}`);
    answered = false; // an error after 'head' still has to reach kubeless.js
    answer({ type: 'error', stack });
  }
  current = null;
  parentPort.postMessage({ type: 'done' });
}

// Resolves when the response has ended; rejects when its stream failed (a piped source
// that errored destroys it).
function finished(response) {
  return new Promise((resolve, reject) => {
    if (response.answered) return resolve();
    response.once('finish', resolve);
    response.once('error', reject);
    response.once('close', () => (response.answered ? resolve() : reject(new Error('the response stream was destroyed before it ended'))));
  });
}

function onMessage(fn, msg) {
  if (msg.type === 'ack') current?.response.ack();
  else if (msg.type === 'request-data') current?.request.push(asBuffer(msg.data));
  else if (msg.type === 'request-end') current?.request.push(null);
  else if (msg.type === 'request-error') current?.request.destroy(new Error(msg.message));
  else run(fn, msg);
}

load().then(
  (fn) => {
    parentPort.on('message', (msg) => onMessage(fn, msg));
    parentPort.postMessage({ type: 'ready' });
  },
  (err) => parentPort.postMessage({ type: 'load-error', message: describeLoadError(err) }),
);
