#!/usr/bin/env node
'use strict';
/*
 * Installation phase of the Node.js runtime (the init container): `npm install` of the
 * function's package.json ($KUBELESS_DEPS_FILE, default $KUBELESS_INSTALL_VOLUME/package.json)
 * into $KUBELESS_INSTALL_VOLUME/node_modules.
 *
 * NPM_REGISTRY and NPM_SCOPE (`@scope:registry=URL`, as in the Kubeless docs) are validated
 * and handed to npm as environment variables (npm_config_registry or
 * npm_config_@scope:registry); npm is started with an argument array, never through a shell. (Kubeless's own init image
 * ran `sh -c "npm config set $NPM_SCOPE:registry $NPM_REGISTRY"`, so a crafted value ran
 * as a command.)
 *
 * CA bundle: KUBELESS_CA_BUNDLE_FILE or KUBELESS_CA_BUNDLE (e.g. the host bundle mounted
 * read-only) is handed to npm as NODE_EXTRA_CA_CERTS unless that is already set;
 * NODE_EXTRA_CA_CERTS and npm_config_cafile set by the caller pass through.
 * Errors go to stderr and to /dev/termination-log (KUBELESS_TERMINATION_LOG) when writable.
 */

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const TERMINATION_MESSAGE_MAX = 4000; // Kubernetes keeps at most 4096 bytes

class ConfigError extends Error {}

// npm configuration (npm_config_* variables) for NPM_REGISTRY / NPM_SCOPE; throws
// ConfigError on a bad value.
function npmConfig({ NPM_REGISTRY: registry = '', NPM_SCOPE: scope = '' }) {
  if (!registry && !scope) return {};
  if (!registry) {
    throw new ConfigError(`NPM_SCOPE=${JSON.stringify(scope)} needs NPM_REGISTRY: set NPM_REGISTRY to the ` +
      'registry URL serving that scope (e.g. NPM_REGISTRY=https://npm.example.com NPM_SCOPE=@myorg).');
  }
  let url;
  try {
    url = new URL(registry);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || /\s/.test(registry)) {
    throw new ConfigError(`NPM_REGISTRY=${JSON.stringify(registry)} is not an http(s) URL: set it to the ` +
      'registry address, e.g. NPM_REGISTRY=https://npm.example.com/.');
  }
  // url.href is normalised (percent-encoded): no whitespace, no ${VAR} for npm to expand.
  if (!scope) return { npm_config_registry: url.href };
  const name = scope.startsWith('@') ? scope : `@${scope}`;
  if (!/^@[a-z0-9][a-z0-9._~-]*$/i.test(name)) {
    throw new ConfigError(`NPM_SCOPE=${JSON.stringify(scope)} is not an npm scope: use the scope name ` +
      'alone, e.g. NPM_SCOPE=@myorg (its packages then come from NPM_REGISTRY).');
  }
  return { [`npm_config_${name}:registry`]: url.href };
}

function report(message, terminationLog) {
  console.error(message);
  try {
    fs.accessSync(terminationLog, fs.constants.W_OK);
    fs.writeFileSync(terminationLog, `${message.slice(-TERMINATION_MESSAGE_MAX)}\n`);
  } catch { /* not in a pod, or not writable */ }
}

function runNpm(args, options) {
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn('npm', args, { ...options, stdio: ['ignore', 'inherit', 'pipe'] });
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk).slice(-TERMINATION_MESSAGE_MAX);
    });
    child.on('error', (err) => resolve({ code: 127, stderr: `${err.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? 128, signal, stderr }));
  });
}

async function main(env = process.env) {
  const installDir = env.KUBELESS_INSTALL_VOLUME || '/kubeless';
  const depsFile = env.KUBELESS_DEPS_FILE || path.join(installDir, 'package.json');
  const terminationLog = env.KUBELESS_TERMINATION_LOG || '/dev/termination-log';

  if (!fs.existsSync(depsFile) || !fs.readFileSync(depsFile, 'utf8').trim()) {
    console.log(`No dependencies to install (${depsFile} is missing or empty).`);
    return 0;
  }
  let registryConfig;
  try {
    JSON.parse(fs.readFileSync(depsFile, 'utf8'));
    registryConfig = npmConfig(env);
  } catch (err) {
    const why = err instanceof ConfigError ? err.message
      : `The dependencies file ${depsFile} is not valid JSON (${err.message}): give a package.json with --dependencies.`;
    report(why, terminationLog);
    return 2;
  }

  const target = path.join(installDir, 'package.json');
  if (path.resolve(depsFile) !== path.resolve(target)) fs.copyFileSync(depsFile, target);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeless-npm-'));
  try {
    const childEnv = {
      ...env,
      ...registryConfig,
      npm_config_cache: env.npm_config_cache || path.join(tmp, 'cache'), // writable by any uid
      npm_config_update_notifier: 'false',
    };
    const ca = env.KUBELESS_CA_BUNDLE_FILE || env.KUBELESS_CA_BUNDLE;
    if (ca && !childEnv.NODE_EXTRA_CA_CERTS && fs.existsSync(ca) && fs.statSync(ca).size > 0) {
      childEnv.NODE_EXTRA_CA_CERTS = ca;
    }
    console.log(`Installing the dependencies of ${depsFile} into ${path.join(installDir, 'node_modules')}`);
    const { code, signal, stderr } = await runNpm(
      ['install', '--omit=dev', '--no-audit', '--no-fund'], { cwd: installDir, env: childEnv },
    );
    if (code !== 0) {
      report(`npm install of ${depsFile} failed (${signal || `exit code ${code}`}). Check the package names ` +
        `and versions, NPM_REGISTRY/NPM_SCOPE and the CA bundle (KUBELESS_CA_BUNDLE_FILE). npm said:\n${stderr}`,
      terminationLog);
      return code || 1;
    }
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { npmConfig, main };

if (require.main === module) {
  main().then((code) => process.exit(code), (err) => {
    report(`Installing the function's dependencies failed: ${err.stack}`,
      process.env.KUBELESS_TERMINATION_LOG || '/dev/termination-log');
    process.exit(1);
  });
}
