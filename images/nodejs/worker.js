'use strict';
// One function worker (a worker_threads thread started by kubeless.js). It loads the
// function once, then runs one call at a time. Messages from the main thread are
// {event, request}; the worker answers {type:'response'} (or {type:'error'}) as soon
// as the answer is known, then {type:'done'} when the function's promise has settled.
// See the comment block at the top of kubeless.js for why.

const path = require('path');
const { pathToFileURL } = require('url');
const { parentPort, workerData } = require('worker_threads');

const { modPath, handlerName, installDir, context } = workerData;

// Records what the function does with event.extensions.response; kubeless.js replays
// it on the real Express response. Covers the Express/Node calls functions use.
class ResponseShim {
  constructor(onFinish) {
    this.statusCode = 200;
    this.headers = {};
    this.chunks = [];
    this.finished = false;
    this.onFinish = onFinish;
  }

  get headersSent() { return this.finished; }
  get writableEnded() { return this.finished; }

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
  removeHeader(field) { delete this.headers[field.toLowerCase()]; }
  type(contentType) { return this.set('content-type', contentType); }
  writeHead(code, headers) { this.status(code); if (headers) this.set(headers); return this; }
  write(chunk) { this.chunks.push(Buffer.from(chunk)); return true; }

  send(body) {
    if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
      return this.finish(body, false);
    }
    return this.json(body);
  }

  json(value) {
    if (!this.get('content-type')) this.set('content-type', 'application/json');
    return this.finish(JSON.stringify(value), false);
  }

  sendStatus(code) { return this.status(code).send(String(code)); }

  end(chunk) {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') this.write(chunk);
    return this.finish(this.chunks.length ? Buffer.concat(this.chunks) : undefined, true);
  }

  finish(body, raw) {
    if (this.finished) return this;
    this.finished = true;
    // Copy buffers so only their own bytes cross the thread boundary.
    const data = body instanceof Uint8Array ? new Uint8Array(body) : body;
    this.onFinish({ status: this.statusCode, headers: this.headers, body: data, raw });
    return this;
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

async function run(fn, msg) {
  let answered = false;
  const answer = (reply) => {
    if (answered) return;
    answered = true;
    parentPort.postMessage(reply);
  };
  const response = new ResponseShim((r) => answer({ type: 'response', ...r }));
  const request = { ...msg.request, body: asBuffer(msg.event.data) };
  request.get = request.header = (name) => request.headers[String(name).toLowerCase()];
  const event = { ...msg.event, data: asBuffer(msg.event.data), extensions: { request, response } };
  try {
    const result = await fn(event, context);
    if (!response.finished) response.send(result);
  } catch (err) {
    const stack = (err && err.stack) || String(err);
    if (answered) console.error(`Function failed after it had answered: ${stack}`);
    answer({ type: 'error', stack });
  }
  parentPort.postMessage({ type: 'done' });
}

load().then(
  (fn) => {
    parentPort.on('message', (msg) => run(fn, msg));
    parentPort.postMessage({ type: 'ready' });
  },
  (err) => parentPort.postMessage({ type: 'load-error', message: describeLoadError(err) }),
);
