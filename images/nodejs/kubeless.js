'use strict';
/*
 * Kubeless-compatible Node.js runtime server.
 *
 * Loads $KUBELESS_INSTALL_VOLUME/$MOD_NAME.js and serves module.exports[FUNC_HANDLER]
 * (event, context) on every path, with /healthz, /metrics (prom-client), CORS and
 * morgan 'combined' access logs.
 *
 * Design: calls run in a pool of worker_threads, never on the main thread.
 *  - FUNC_TIMEOUT is a hard limit. When a call passes its deadline the client gets 408
 *    and the worker running it is terminate()d and replaced: whatever the function
 *    would have done after the deadline (a write, a request, a busy loop) never happens.
 *    In-thread execution cannot do this (Kubeless's own runtime had to exit the process).
 *  - One call per worker at a time, so terminating a worker (timeout, process.exit() or
 *    an uncaught exception inside the function -> 500) never takes another caller's call
 *    down with it. Parallelism comes from the pool: it keeps KUBELESS_WORKERS_MIN (2)
 *    workers warm, grows on demand up to KUBELESS_WORKERS_MAX (16, or one per 32 MiB of
 *    FUNC_MEMORY_LIMIT, at least 2), queues calls beyond that, and stops workers idle for KUBELESS_WORKER_IDLE (60) above the
 *    minimum. The deadline counts from the request's arrival, queueing included.
 *
 * Trade-offs of running the function in a worker:
 *  - Module-level code runs once per worker, not once per process (each worker has its
 *    own module cache and globals; state is not shared between concurrent calls).
 *  - event.extensions.request/response cannot be Express's objects (they do not cross a
 *    thread boundary). extensions.request is a plain copy {method, url, path, query,
 *    headers, body, ip, protocol, hostname} with get()/header(); extensions.response is a
 *    shim recording status()/set()/setHeader()/type()/write()/send()/json()/end()/
 *    sendStatus() that this thread replays. Streaming, res.download(), res.redirect(),
 *    socket access and the like are not available.
 *  - Native addons must be worker-safe (N-API addons are); process.chdir() and signal
 *    handlers are not available in a worker; process.env is a per-worker copy.
 *  - An unhandled rejection or uncaught exception from stray async code kills the
 *    worker: the call it was running gets 500 and the worker is replaced.
 */

const fs = require('fs');
const path = require('path');
const { Worker } = require('worker_threads');
const cors = require('cors');
const express = require('express');
const morgan = require('morgan');
const prom = require('prom-client');

const env = process.env;
const installDir = env.KUBELESS_INSTALL_VOLUME || '/kubeless';
const modName = env.MOD_NAME;
const handlerName = env.FUNC_HANDLER;
const modPath = path.join(installDir, `${modName}.js`);
const terminationLog = env.KUBELESS_TERMINATION_LOG || '/dev/termination-log';

function fatal(message) {
  console.error(message);
  try {
    fs.accessSync(terminationLog, fs.constants.W_OK); // only where Kubernetes provides one
    fs.writeFileSync(terminationLog, `${message}\n`);
  } catch { /* not running in a pod, or not writable */ }
  process.exit(1);
}

function numberEnv(name, fallback, { integer = false, min = 0 } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    fatal(`Invalid ${name}=${JSON.stringify(raw)}: expected ${integer ? 'an integer' : 'a number'} >= ${min}.`);
  }
  return value;
}

const timeoutSec = numberEnv('FUNC_TIMEOUT', 180, { min: 0.001 });
const port = numberEnv('FUNC_PORT', 8080, { integer: true });
const bodyLimitMb = numberEnv('REQ_MB_LIMIT', 1, { min: 0.001 });
// Each worker costs ~10 MB: under a memory limit the default maximum is one per 32 MiB.
const UNITS = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const memoryMatch = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(env.FUNC_MEMORY_LIMIT || '');
const memoryLimit = memoryMatch ? Number(memoryMatch[1]) * UNITS[memoryMatch[2] || ''] : Infinity;
const defaultMax = Math.max(2, Math.min(16, Math.floor(memoryLimit / 2 ** 25)));
const maxWorkers = numberEnv('KUBELESS_WORKERS_MAX', defaultMax, { integer: true, min: 1 });
// One meaning in every runtime: MIN workers kept warm (the default 2 lowered to MAX), MAX at
// most; an explicit MIN above MAX is a mistake, refused at start.
const minWorkers = numberEnv('KUBELESS_WORKERS_MIN', Math.min(2, maxWorkers), { integer: true, min: 1 });
if (minWorkers > maxWorkers) {
  fatal(`KUBELESS_WORKERS_MIN=${minWorkers} is above KUBELESS_WORKERS_MAX=${maxWorkers}; lower the minimum or raise the maximum.`);
}
const idleMs = numberEnv('KUBELESS_WORKER_IDLE', 60, { min: 0 }) * 1000;

const context = {
  'function-name': handlerName, // as Kubeless's runtime: the handler, not the deployment
  timeout: timeoutSec,
  runtime: env.FUNC_RUNTIME,
  'memory-limit': env.FUNC_MEMORY_LIMIT,
};

class WorkerPool {
  constructor(workerData) {
    this.workerData = workerData;
    this.workers = new Set();
    this.idle = []; // LIFO: hot workers are reused, cold ones age out
    this.queue = [];
    this.starting = 0;
    this.closing = false;
  }

  // Starts the warm workers; rejects with the load error if the function cannot load.
  start() {
    return Promise.all(Array.from({ length: minWorkers }, () => this.spawn()));
  }

  spawn() {
    this.starting++;
    const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: this.workerData });
    this.workers.add(worker);
    const ready = new Promise((resolve, reject) => {
      worker.once('message', (msg) => (msg.type === 'ready' ? resolve() : reject(new Error(msg.message))));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`The worker loading ${modPath} exited with code ${code}.`)));
    });
    worker.on('error', (err) => { worker.lastError = err; });
    worker.on('exit', (code) => this.onExit(worker, code));
    ready.then(() => {
      this.starting--;
      worker.loaded = true;
      worker.on('message', (msg) => this.onMessage(worker, msg));
      this.release(worker);
    }, (err) => {
      this.starting--;
      worker.terminate();
      if (this.queue.length > this.starting) {
        // This worker was started for a queued call: fail that call rather than retry forever.
        console.error(`Could not start a new worker: ${err.message}`);
        const job = this.queue.shift();
        clearTimeout(job.timer); // answered: its deadline must not fire later
        this.settle(job, { type: 'crash' });
      }
    });
    return ready;
  }

  // Queues a call; job.outcome resolves with its first outcome. onStream receives the
  // streamed response's 'head' and 'chunk' messages as they arrive.
  submit(payload, timeoutMs, onStream) {
    const job = { payload, onStream, worker: null, done: false, pending: [] };
    job.outcome = new Promise((resolve) => { job.resolve = resolve; });
    job.timer = setTimeout(() => this.expire(job), timeoutMs);
    this.queue.push(job);
    this.dispatch();
    return job;
  }

  // Sends a message to the worker running job (request body chunks, acks); queued until then.
  send(job, msg) {
    if (!job.worker) job.pending.push(msg);
    else if (this.workers.has(job.worker) && job.worker.job === job) job.worker.postMessage(msg);
  }

  dispatch() {
    while (this.queue.length && this.idle.length) this.assign(this.idle.pop(), this.queue.shift());
    while (!this.closing && this.queue.length > this.starting && this.workers.size < maxWorkers) {
      this.spawn().catch(() => {}); // handled in spawn()
    }
  }

  assign(worker, job) {
    clearTimeout(worker.idleTimer);
    worker.job = job;
    job.worker = worker;
    worker.postMessage(job.payload);
    for (const msg of job.pending.splice(0)) worker.postMessage(msg);
  }

  release(worker) {
    worker.job = null;
    this.idle.push(worker);
    worker.idleTimer = setTimeout(() => {
      if (this.workers.size > minWorkers && !worker.job) this.remove(worker).terminate();
    }, idleMs).unref();
    this.dispatch();
  }

  // Answers a job once (the first outcome wins).
  settle(job, outcome) {
    if (job.done) return;
    job.done = true;
    job.resolve(outcome);
  }

  onMessage(worker, msg) {
    const job = worker.job;
    if (!job || !this.workers.has(worker)) return; // idle, or condemned at a deadline
    if (msg.type === 'done') {
      clearTimeout(job.timer);
      this.release(worker);
    } else if (msg.type === 'head' || msg.type === 'chunk') {
      job.onStream(msg);
    } else {
      this.settle(job, msg);
    }
  }

  expire(job) {
    if (job.done && job.worker) {
      console.error(`Function ${modName}.${handlerName} was still running ${timeoutSec}s after the ` +
        'request arrived (it had already answered); its worker was terminated.');
    }
    this.settle(job, { type: 'timeout' });
    if (job.worker) {
      // Out of the pool now: a 'done' racing the deadline must not make it idle again.
      this.remove(job.worker).terminate();
      this.dispatch();
    } else {
      const idx = this.queue.indexOf(job);
      if (idx !== -1) this.queue.splice(idx, 1); // never another call's place
    }
  }

  remove(worker) {
    this.workers.delete(worker);
    clearTimeout(worker.idleTimer);
    const idx = this.idle.indexOf(worker);
    if (idx !== -1) this.idle.splice(idx, 1);
    return worker;
  }

  onExit(worker, code) {
    this.remove(worker);
    const job = worker.job;
    if (job) {
      clearTimeout(job.timer);
      if (!job.done) {
        const why = worker.lastError ? worker.lastError.stack : `the worker exited with code ${code}`;
        console.error(`Function ${modName}.${handlerName} crashed its worker: ${why}`);
      }
      this.settle(job, { type: 'crash' });
    }
    // Replace a worker that had loaded the function (timed out, crashed) to keep the
    // minimum warm; a worker that failed to load is not retried in a loop.
    if (!this.closing && worker.loaded && this.workers.size < minWorkers) this.spawn().catch(() => {});
    this.dispatch();
  }

  close() {
    this.closing = true;
    return Promise.all([...this.workers].map((w) => w.terminate()));
  }
}

// Metrics
const labelNames = ['method'];
const calls = new prom.Counter({ name: 'function_calls_total', help: 'Number of calls to the function', labelNames });
const failures = new prom.Counter({
  name: 'function_failures_total', help: 'Number of calls that threw, crashed or timed out', labelNames,
});
const duration = new prom.Histogram({
  name: 'function_duration_seconds',
  help: 'Duration of calls to the function in seconds',
  labelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
});

new prom.Gauge({
  name: 'function_workers',
  help: 'Worker threads running (or loading) the function',
  collect() { this.set(pool.workers.size); },
});

// The serialisable part of the Express request, for the worker.
function describeRequest(req) {
  const { method, originalUrl: url, path: reqPath, query, headers, ip, protocol, hostname } = req;
  return { method, url, path: reqPath, query: { ...query }, headers, ip, protocol, hostname };
}

function sendReply(res, { status, headers, body, raw }) {
  const data = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body;
  res.status(status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value); // as set, no charset added
  if (raw) res.end(data);
  else res.send(data);
}

const pool = new WorkerPool({ modPath, handlerName, installDir, context });
let inflight = 0;
let shuttingDown = false;
let server;

const app = express();
app.disable('x-powered-by');
app.use(morgan('combined'));
app.use((req, res, next) => {
  if (shuttingDown) res.set('Connection', 'close'); // let keep-alive clients go
  next();
});
app.use(cors()); // Access-Control-Allow-Origin: * on every answer; answers preflight OPTIONS

app.get('/healthz', (req, res) => res.send('OK'));
app.get('/metrics', async (req, res) => {
  res.set('Content-Type', prom.register.contentType).send(await prom.register.metrics());
});

// Parsed bodies become event.data; their bytes are kept so extensions.request can replay them
// as a stream. A multipart body is left unread, as Kubeless does: the function reads
// extensions.request as a stream (busboy and the like), chunk by chunk from this thread.
const limit = `${bodyLimitMb}mb`;
const keepRaw = (req, res, buf) => { req.rawBody = buf; };
const isMultipart = (req) => Boolean(req.is('multipart/*'));
app.use(express.json({ limit, strict: false, type: ['application/json', 'application/*+json'], verify: keepRaw }));
app.use(express.text({ limit, type: 'text/*', verify: keepRaw }));
app.use(express.raw({ limit, type: (req) => !isMultipart(req) }));

app.use(async (req, res) => {
  const labels = { method: req.method };
  calls.inc(labels);
  const stopTimer = duration.startTimer(labels);
  inflight++;
  const streamed = isMultipart(req) && !req.readableEnded;
  const payload = {
    event: {
      data: Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : req.body === undefined ? '' : req.body,
      'event-id': req.get('event-id'),
      'event-type': req.get('event-type'),
      'event-time': req.get('event-time'),
      'event-namespace': req.get('event-namespace'),
    },
    request: describeRequest(req),
    streamed,
    raw: req.rawBody ? new Uint8Array(req.rawBody) : undefined,
  };
  const job = pool.submit(payload, timeoutSec * 1000, (msg) => relay(res, job, msg));
  if (streamed) streamRequest(req, res, job);
  try {
    const outcome = await job.outcome;
    stopTimer();
    if (outcome.type !== 'response' && outcome.type !== 'end') failures.inc(labels);
    if (job.refused) return; // answered 413 while the body streamed in
    if (outcome.type === 'response') sendReply(res, outcome);
    else if (outcome.type === 'end') res.end();
    else if (res.headersSent) {
      // The status went out with the first chunk: all that is left is to cut the answer short.
      const why = outcome.type === 'timeout' ? `timed out after ${timeoutSec}s` : 'failed';
      if (outcome.type === 'error') console.error(`Function ${modName}.${handlerName} failed: ${outcome.stack}`);
      console.error(`Function ${modName}.${handlerName} ${why} while streaming its response; the response was cut short.`);
      res.destroy();
    } else if (outcome.type === 'timeout') res.status(408).send(`Function timed out after ${timeoutSec}s\n`);
    else {
      if (outcome.type === 'error') console.error(`Function ${modName}.${handlerName} failed: ${outcome.stack}`);
      res.status(500).send('Internal Server Error\n');
    }
  } finally {
    inflight--;
  }
});

// A streamed response: status and headers first, then each chunk as the function writes it.
// The worker writes the next chunk once this one is acknowledged (the socket took it).
function relay(res, job, msg) {
  const ack = once(() => pool.send(job, { type: 'ack' }));
  if (job.refused || res.destroyed) {
    if (msg.type === 'chunk') ack();
  } else if (msg.type === 'head') {
    res.status(msg.status);
    for (const [name, value] of Object.entries(msg.headers)) res.setHeader(name, value);
    res.flushHeaders();
  } else if (msg.type === 'chunk') {
    const data = msg.data;
    if (res.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength))) ack();
    else {
      res.once('drain', ack);
      res.once('close', ack);
    }
  }
}

function once(fn) {
  let called = false;
  return () => { if (!called) { called = true; fn(); } };
}

// A multipart body goes to the worker chunk by chunk; REQ_MB_LIMIT still applies.
function streamRequest(req, res, job) {
  const max = bodyLimitMb * 1024 * 1024;
  let size = 0;
  req.on('data', (chunk) => {
    if (job.refused) return;
    size += chunk.length;
    if (size > max) {
      job.refused = true;
      pool.send(job, { type: 'request-error', message: `request body larger than the ${bodyLimitMb} MB limit (REQ_MB_LIMIT)` });
      if (!res.headersSent) {
        res.set('Connection', 'close').status(413).send(`Request body larger than the ${bodyLimitMb} MB limit (REQ_MB_LIMIT)\n`);
      } else res.destroy();
      return;
    }
    pool.send(job, { type: 'request-data', data: new Uint8Array(chunk) });
  });
  req.on('end', () => { if (!job.refused) pool.send(job, { type: 'request-end' }); });
  req.on('error', (err) => pool.send(job, { type: 'request-error', message: err.message }));
}

// Body-parser and other errors, with CORS headers already set by cors().
app.use((err, req, res, next) => {
  if (res.headersSent) return next(err);
  if (err.type === 'entity.parse.failed') {
    return res.status(400).send(`Malformed JSON in the request body: ${err.message}\n`);
  }
  if (err.type === 'entity.too.large') {
    return res.status(413).send(`Request body larger than the ${bodyLimitMb} MB limit (REQ_MB_LIMIT)\n`);
  }
  const status = err.status || err.statusCode || 500;
  if (status >= 500) console.error(err.stack);
  return res.status(status).send(err.expose ? `${err.message}\n` : 'Internal Server Error\n');
});

function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`${signal} received: not accepting new connections, finishing ${inflight} call(s) in flight`);
  server.close(async () => {
    await pool.close();
    process.exit(0);
  });
  server.closeIdleConnections();
  // Calls end by their deadline; after that only stalled uploads and the like remain.
  setTimeout(() => server.closeAllConnections(), (timeoutSec + 5) * 1000).unref();
}

async function main() {
  if (!modName || !handlerName) {
    fatal('MOD_NAME and FUNC_HANDLER must be set: for --handler test.foobar the runtime loads ' +
      `${path.join(installDir, 'test.js')} (MOD_NAME=test) and calls its export foobar (FUNC_HANDLER=foobar).`);
  }
  if (!fs.existsSync(modPath)) {
    fatal(`The function file ${modPath} does not exist. MOD_NAME (${modName}) must be the name of a .js file ` +
      `in KUBELESS_INSTALL_VOLUME (${installDir}): check that the --handler prefix (the part before the dot) ` +
      'matches the file given with --from-file, and that the installation volume is mounted there.');
  }
  // Worker threads read NODE_PATH when they start, from their copy of process.env.
  if (!env.NODE_PATH) env.NODE_PATH = path.join(installDir, 'node_modules');
  try {
    await pool.start();
  } catch (err) {
    fatal(err.message);
  }
  server = app.listen(port, () => {
    console.log(`Serving ${modName}.${handlerName} from ${modPath} on port ${server.address().port} ` +
      `(timeout ${timeoutSec}s, ${minWorkers}-${maxWorkers} workers)`);
  });
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main();
