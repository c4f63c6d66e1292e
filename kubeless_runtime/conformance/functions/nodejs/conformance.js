'use strict';

// The conformance suite's function for Node.js runtimes (Kubeless style:
// module.exports = { handler: (event, context) => ... }).
//
// `kubeless-runtime conformance` deploys this file into the image under test and drives it
// over HTTP.  What it does depends on the request, so one deployment serves every case:
// - no body (a GET): returns GREETING;
// - a raw body (text or bytes): returns it unchanged, so the suite sees whether it arrived intact;
// - a JSON object without a "conformance" key: returns {echo: data, type: ...};
// - a JSON object {conformance: COMMAND, ...}: runs COMMAND (see COMMANDS below).
// No dependency: the "deps" command requires the one the installation phase installs.

const fs = require('fs');
const path = require('path');

const GREETING = 'kubeless-conformance: hello from the function';
const MARKER_DIR = '/tmp';
const TOKEN = /^[0-9a-f]{6,64}$/;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function typeName(value) {
  if (value === null || value === undefined) return 'null';
  if (Buffer.isBuffer(value)) return 'bytes';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isEmpty(data) {
  if (data === null || data === undefined || data === '') return true;
  if (Buffer.isBuffer(data)) return data.length === 0;
  if (typeof data === 'object') return Object.keys(data).length === 0;
  return false;
}

// The side effect the timeout case looks for: a stdout line and a file in /tmp.
function mark(token, stage) {
  console.log(`kubeless-conformance ${stage} ${token}`);
  try {
    fs.writeFileSync(path.join(MARKER_DIR, `kubeless-conformance-${token}.${stage}`), stage);
  } catch (err) {
    // an unwritable /tmp leaves the stdout line as the only evidence
  }
}

const COMMANDS = {
  where: () => ({
    file: __filename,
    module: path.basename(__filename, '.js'),
    install_volume: process.env.KUBELESS_INSTALL_VOLUME || '',
  }),
  event: (data, event) => {
    const fields = ['event-id', 'event-type', 'event-time', 'event-namespace'];
    const out = {};
    for (const name of fields) out[name] = event[name] === undefined ? null : event[name];
    return { event: out, type: typeName(data) };
  },
  context: (data, event, context) => {
    const fields = ['function-name', 'timeout', 'runtime', 'memory-limit'];
    const out = {};
    for (const name of fields) out[name] = context[name] === undefined ? null : context[name];
    return { context: out };
  },
  raise: () => {
    throw new Error('kubeless-conformance: a deliberate exception (the 500 case)');
  },
  sleep: async (data) => {
    const seconds = data.seconds === undefined ? 1 : Number(data.seconds);
    await sleep(seconds * 1000);
    return { slept: seconds };
  },
  late: async (data) => {
    const token = String(data.token || '');
    if (!TOKEN.test(token)) throw new Error('token must be 6-64 lowercase hex digits');
    mark(token, 'start');
    await sleep((data.seconds === undefined ? 5 : Number(data.seconds)) * 1000);
    mark(token, 'done');
    return 'kubeless-conformance: finished after the deadline';
  },
  deps: () => {
    const name = 'is-number';
    const file = require.resolve(name);
    const version = require(`${name}/package.json`).version;
    return { name, version, file, works: require(name)(42) === true };
  },
};

module.exports = {
  handler: (event, context) => {
    const data = event ? event.data : undefined;
    if (data && typeof data === 'object' && !Buffer.isBuffer(data) && 'conformance' in data) {
      const command = COMMANDS[data.conformance];
      if (!command) throw new Error(`unknown conformance command ${JSON.stringify(data.conformance)}`);
      return command(data, event, context);
    }
    if (isEmpty(data)) return GREETING;
    if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
    return { echo: data, type: typeName(data) };
  },
};
