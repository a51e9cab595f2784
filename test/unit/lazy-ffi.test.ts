// Commands that make no system call must not load ffi-rs (about 13 ms of every start, issue
// 13): list, spec, features, state and --help; and no command loads yargs (the CLI is
// parsed from src/cli/table.ts), nor, for the cheap ones, the other bundles (dist/cli.js,
// dist/spawning.js). A preloaded hook records every load of them.
import t, { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshRoot, tsrunBuilt, tsrunJs } from '../helpers/tsrun';

if (!tsrunBuilt()) t.fail(`${tsrunJs} is missing: run npm run build first`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-lazy-ffi-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const marker = path.join(work, 'loaded');
const hook = path.join(work, 'hook.js');
fs.writeFileSync(hook, `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  // ffi-rs: the package, or its native addon loaded directly (bindings/load-ffi.ts)
  const m = /(?:^|[\\\\/])(ffi-rs(?=[-.\\\\/]|$)|yargs|cli\\.js|spawning\\.js)(?:[-.][^\\\\/]*)?(?:[\\\\/]|$)/.exec(request);
  if (m) require('node:fs').appendFileSync(${JSON.stringify(marker)}, m[1] + '\\n');
  return load.call(this, request, ...rest);
};
`);

/** Run tsrun with the hook: what it loaded of ffi-rs, yargs, cli.js and spawning.js. */
function loads(tt: Test, args: string[]): string[] {
  fs.rmSync(marker, { force: true });
  const r = spawnSync(process.execPath, ['-r', hook, tsrunJs, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  tt.not(r.status, null, 'it ran to the end');
  return fs.existsSync(marker) ? [...new Set(fs.readFileSync(marker, 'utf8').trim().split('\n'))].sort() : [];
}

const root = freshRoot();
const bundle = path.join(work, 'bundle');
fs.mkdirSync(bundle);

t.test('the hook sees what is loaded', async (t) => {
  t.same(loads(t, ['--root', root, '--version']), ['cli.js', 'ffi-rs'], '--version asks libseccomp for its version');
  t.same(loads(t, ['--root', root, 'pause', 'nope']), ['cli.js'], 'pause is in cli.js');
  t.same(loads(t, ['--root', root, 'create', '--bundle', bundle, 'nope']), ['spawning.js'], 'create is in spawning.js');
});

t.test('yargs is in no bundle', async (t) => {
  const dist = path.dirname(tsrunJs);
  for (const name of fs.readdirSync(dist).filter((n) => n.endsWith('.js'))) {
    t.notMatch(fs.readFileSync(path.join(dist, name), 'utf8'), /yargs/, name);
  }
});

const cheap = [
  ['list'], ['list', '--format', 'json'], ['list', '-q'], ['spec', '--bundle', bundle], ['spec', '--rootless', '-b', bundle], ['features'],
  ['state', 'nope'], ['start', 'nope'], ['kill', 'nope'], ['kill', 'nope', 'KILL'], ['delete', 'nope'], ['delete', '--force', 'nope'],
  ['--help'], ['exec', '--help'], ['frobnicate'], ['list', '--bogus'],
];
for (const args of cheap) {
  t.test(`tsrun ${args.join(' ')} loads none of ffi-rs, yargs, cli.js, spawning.js`, async (t) => {
    fs.rmSync(path.join(bundle, 'config.json'), { force: true });
    t.same(loads(t, ['--root', root, ...args]), []);
  });
}

// Built-ins a bundle imports at its top load at every start of it (issue 13): node:crypto
// cost create 7 ms, a public node:util 1.4 ms. create, run and exec load them only where used.
const builtinMarker = path.join(work, 'builtins');
const builtinHook = path.join(work, 'builtin-hook.js');
fs.writeFileSync(builtinHook, `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (/^(node:)?(crypto|tty|util)$/.test(request)) require('node:fs').appendFileSync(${JSON.stringify(builtinMarker)}, request + '\\n');
  return load.call(this, request, ...rest);
};
`);
for (const args of [['create', '--bundle', bundle, 'nope'], ['run', '--bundle', bundle, 'nope'], ['exec', 'nope', 'true']]) {
  t.test(`tsrun ${args[0]} loads none of node:crypto, node:tty, node:util`, async (t) => {
    fs.rmSync(builtinMarker, { force: true });
    const r = spawnSync(process.execPath, ['-r', builtinHook, tsrunJs, '--root', root, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    t.equal(r.status, 1, 'it fails as it should (no config, no container)');
    t.same(fs.existsSync(builtinMarker) ? fs.readFileSync(builtinMarker, 'utf8').trim().split('\n') : [], []);
  });
}
