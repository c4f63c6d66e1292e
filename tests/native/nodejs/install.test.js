'use strict';
// The installation phase (install-deps.js): registry settings never reach a shell, errors
// reach the termination log, and a real install of the hellowithdeps example works.

const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync, spawn } = require('child_process');
const { describe, it } = require('node:test');
const { EXAMPLES, ROOT, cleanEnv, startServer, tempDir, waitExit } = require('./helpers');

const INSTALLER = path.join(ROOT, 'images', 'nodejs', 'install-deps.js');
const { npmConfig } = require(INSTALLER);

// Runs the installer on a fresh install volume; resolves {code, stdout, stderr, termination, dir}.
async function install({ packageJson, env = {}, timeoutMs = 120000 }) {
  const dir = tempDir();
  if (packageJson !== undefined) fs.writeFileSync(path.join(dir, 'package.json'), packageJson);
  const termLog = path.join(dir, 'termination-log');
  fs.writeFileSync(termLog, '');
  const child = spawn(process.execPath, [INSTALLER], {
    env: cleanEnv({
      KUBELESS_INSTALL_VOLUME: dir, KUBELESS_TERMINATION_LOG: termLog,
      npm_config_fetch_retries: '0', npm_config_fetch_timeout: '20000', ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = await waitExit(child, timeoutMs);
  if (!exit) child.kill('SIGKILL');
  return { code: exit && exit.code, stdout, stderr, termination: fs.readFileSync(termLog, 'utf8'), dir };
}

describe('npm registry settings', () => {
  it('maps NPM_REGISTRY and NPM_SCOPE to npm configuration', () => {
    assert.deepEqual(npmConfig({}), {});
    assert.deepEqual(npmConfig({ NPM_REGISTRY: 'https://npm.example.com' }),
      { npm_config_registry: 'https://npm.example.com/' });
    assert.deepEqual(npmConfig({ NPM_REGISTRY: 'http://my-registry.com', NPM_SCOPE: '@myorg' }),
      { 'npm_config_@myorg:registry': 'http://my-registry.com/' });
    assert.deepEqual(npmConfig({ NPM_REGISTRY: 'http://r.test/a', NPM_SCOPE: 'myorg' }),
      { 'npm_config_@myorg:registry': 'http://r.test/a' });
  });

  it('rejects values that are not a URL or a scope name', () => {
    const bad = [
      { NPM_SCOPE: '@myorg' }, // a scope without a registry
      { NPM_REGISTRY: 'my-registry.com' },
      { NPM_REGISTRY: 'file:///etc/passwd' },
      { NPM_REGISTRY: 'http://x.test/ ; touch /tmp/pwned' },
      { NPM_REGISTRY: 'http://x.test/\nscript-shell=/bin/evil' },
      { NPM_REGISTRY: 'http://x.test', NPM_SCOPE: '@x; touch /tmp/pwned' },
      { NPM_REGISTRY: 'http://x.test', NPM_SCOPE: '$(touch /tmp/pwned)' },
      { NPM_REGISTRY: 'http://x.test', NPM_SCOPE: '@x:registry=http://evil.test\n@y' },
    ];
    for (const env of bad) assert.throws(() => npmConfig(env), /NPM_(REGISTRY|SCOPE)=/, JSON.stringify(env));
  });

  it('percent-encodes ${VAR} in a registry URL so npm does not expand it', () => {
    const { npm_config_registry: url } = npmConfig({ NPM_REGISTRY: 'http://127.0.0.1:9/${HOME}' });
    assert.equal(url, 'http://127.0.0.1:9/$%7BHOME%7D');
  });
});

describe('install-deps.js', () => {
  it('does nothing without a dependencies file', async () => {
    const { code, stdout, dir } = await install({});
    assert.equal(code, 0);
    assert.match(stdout, /No dependencies to install/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports an invalid package.json in the termination log', async () => {
    const { code, termination, dir } = await install({ packageJson: '{"dependencies": ' });
    assert.equal(code, 2);
    assert.match(termination, /package\.json is not valid JSON/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('never runs a crafted NPM_SCOPE / NPM_REGISTRY as a command', async () => {
    const marker = path.join(tempDir(), 'pwned');
    for (const env of [
      { NPM_REGISTRY: 'http://127.0.0.1:9', NPM_SCOPE: `@x $(touch ${marker})` },
      { NPM_REGISTRY: `http://127.0.0.1:9/;touch\${IFS}${marker}`, NPM_SCOPE: '@x' },
      { NPM_REGISTRY: `http://127.0.0.1:9/\`touch ${marker}\`` },
    ]) {
      const { code, termination, dir } = await install({
        packageJson: JSON.stringify({ dependencies: { '@x/pkg': '1.0.0', 'some-pkg': '1.0.0' } }),
        env: { npm_config_registry: 'http://127.0.0.1:9/', ...env }, // all traffic stays on loopback
      });
      assert.notEqual(code, 0, JSON.stringify(env));
      assert.ok(termination.length > 0, 'the error is in the termination log');
      assert.equal(fs.existsSync(marker), false, `a shell ran ${JSON.stringify(env)}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.rmSync(path.dirname(marker), { recursive: true, force: true });
  });

  // The registry npm is configured with on this machine, passed as the user would pass theirs.
  const configuredRegistry = () => execFileSync('npm', ['config', 'get', 'registry']).toString().trim();

  it('installs the hellowithdeps example and the runtime serves it', async () => {
    const { code, stderr, termination, dir } = await install({
      packageJson: fs.readFileSync(path.join(EXAMPLES, 'package.json'), 'utf8'),
      env: { NPM_REGISTRY: configuredRegistry() },
    });
    try {
      assert.equal(code, 0, `${stderr}\n${termination}`);
      assert.ok(fs.existsSync(path.join(dir, 'node_modules', 'lodash', 'package.json')));
      const srv = await startServer({ dir, examples: ['hellowithdeps.js'], modName: 'hellowithdeps' });
      try {
        const res = await fetch(`${srv.url}/`, {
          method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'kubeless rocks',
        });
        assert.deepEqual(await res.json(), { words: ['kubeless', 'rocks'], camel: 'kubelessRocks' });
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
