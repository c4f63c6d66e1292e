'use strict';
// Starts the real runtime server (images/nodejs/kubeless.js) as a child process on a free
// loopback port, with a temporary KUBELESS_INSTALL_VOLUME. Every wait here is bounded.

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SERVER = path.join(ROOT, 'images', 'nodejs', 'kubeless.js');
const EXAMPLES = path.join(ROOT, 'examples', 'nodejs');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kubeless-nodejs-test-'));
}

function writeFiles(dir, files) {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

// The host environment without the variables the runtime reads.
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(FUNC_|KUBELESS_|MOD_NAME$|REQ_MB_LIMIT$|NODE_PATH$|NPM_|npm_)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

// Runs the server until it exits (for load errors); resolves {code, stdout, stderr, dir}.
async function runServerToExit({ files = {}, env = {}, modName = 'func', handler = 'handler' } = {}) {
  const dir = tempDir();
  writeFiles(dir, files);
  const termLog = path.join(dir, 'termination-log');
  fs.writeFileSync(termLog, '');
  const child = spawn(process.execPath, [SERVER], {
    env: cleanEnv({
      KUBELESS_INSTALL_VOLUME: dir, MOD_NAME: modName, FUNC_HANDLER: handler,
      FUNC_PORT: String(await freePort()), KUBELESS_TERMINATION_LOG: termLog, ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = await waitExit(child, 10000);
  if (!exit) child.kill('SIGKILL');
  const termination = fs.readFileSync(termLog, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  return { code: exit && exit.code, stdout, stderr, termination };
}

/**
 * Starts a server. `files` are written into the install volume; `examples` names files
 * copied from examples/nodejs. Resolves once /healthz answers 200.
 */
async function startServer({
  files = {}, examples = [], env = {}, modName = 'func', handler = 'handler', dir = tempDir(),
} = {}) {
  for (const name of examples) fs.copyFileSync(path.join(EXAMPLES, name), path.join(dir, name));
  writeFiles(dir, files);
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER], {
    env: cleanEnv({
      KUBELESS_INSTALL_VOLUME: dir, MOD_NAME: modName, FUNC_HANDLER: handler, FUNC_PORT: String(port), ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr += d; });
  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    dir,
    child,
    logs: () => out.stdout + out.stderr,
    out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitExit(child, 5000);
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 200; i++) { // up to ~10 s
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return server;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  await server.stop();
  throw new Error(`server did not become healthy:\n${server.logs()}`);
}

// A metric sample's value from /metrics text (0 when absent).
function metric(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) && want.length === 0) return Number(line.slice(name.length + 1));
    if (!line.startsWith(`${name}{`)) continue;
    const parts = line.slice(name.length + 1, line.indexOf('}')).split(',');
    if (want.every((w) => parts.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

async function waitFor(predicate, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate()) return true;
    await sleep(25);
  }
  return false;
}

module.exports = {
  ROOT, SERVER, EXAMPLES, sleep, freePort, tempDir, cleanEnv, startServer, runServerToExit, metric, waitFor, waitExit,
};
