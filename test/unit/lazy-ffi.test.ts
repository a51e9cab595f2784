// Commands that make no system call must not load ffi-rs (about 13 ms of every start, issue
// 13): list, spec, features, state and --help. A preloaded hook records every load of it.
import t, { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshRoot, tsrunBuilt, tsrunJs } from '../helpers/tsrun';

if (!tsrunBuilt()) t.fail(`${tsrunJs} is missing: run npm run build first`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-lazy-ffi-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const marker = path.join(work, 'ffi-loaded');
const hook = path.join(work, 'hook.js');
fs.writeFileSync(hook, `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (/(^|[\\\\/])ffi-rs([\\\\/]|$)/.test(request)) require('node:fs').writeFileSync(${JSON.stringify(marker)}, request);
  return load.call(this, request, ...rest);
};
`);

/** Run tsrun with the hook; true when ffi-rs was loaded. */
function loadsFfi(tt: Test, args: string[]): boolean {
  fs.rmSync(marker, { force: true });
  const r = spawnSync(process.execPath, ['-r', hook, tsrunJs, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  tt.not(r.status, null, 'it ran to the end');
  return fs.existsSync(marker);
}

const root = freshRoot();
const bundle = path.join(work, 'bundle');
fs.mkdirSync(bundle);

t.test('the hook sees ffi-rs when it is loaded', async (t) => {
  t.ok(loadsFfi(t, ['--root', root, '--version']), '--version asks libseccomp for its version');
});

for (const args of [['--root', root, 'list'], ['--root', root, 'list', '--format', 'json'], ['spec', '--bundle', bundle], ['features'], ['--root', root, 'state', 'nope'], ['--help']]) {
  t.test(`tsrun ${args.filter((a) => a !== root).join(' ')} does not load ffi-rs`, async (t) => {
    fs.rmSync(path.join(bundle, 'config.json'), { force: true });
    t.notOk(loadsFfi(t, args));
  });
}
