// The built CLI (dist/tsrun.js) on things that need no root and no container.
// Needs `npm run build` first.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshRoot, tsrun, tsrunBuilt, tsrunJs } from '../helpers/tsrun';
import { validateFeatures, validateSpec } from '../../src/spec/validate';

if (!tsrunBuilt()) {
  t.fail(`${tsrunJs} is missing: run npm run build first`);
  t.end();
} else {
  run();
}

function tempDir(t: { teardown(fn: () => void): void }, prefix = 'tsrun-unit-cli-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh, empty state root for one test. */
function root(t: { teardown(fn: () => void): void }): string {
  const r = freshRoot();
  t.teardown(() => fs.rmSync(r, { recursive: true, force: true }));
  return r;
}

/** The one line of `tsrun: <msg>` an error prints. */
function errorLine(stderr: string): string {
  return stderr.trim().split('\n').pop() ?? '';
}

function run(): void {
  t.test('--version', async (t) => {
    for (const flag of ['--version', '-v']) {
      const r = tsrun([flag], { root: root(t) });
      t.equal(r.status, 0, `${flag} exits 0`);
      t.match(r.stdout, /^tsrun version 0\.1\.0\ncommit: \S+\nspec: 1\.3\.0\ngo: node v\d+\.\d+\.\d+\nlibseccomp: \S+\n$/, flag);
      t.equal(r.stderr, '');
    }
  });

  t.test('--help', async (t) => {
    const r = tsrun(['--help'], { root: root(t) });
    t.equal(r.status, 0);
    for (const cmd of ['create', 'start', 'state', 'kill', 'delete', 'run', 'list', 'spec', 'features']) {
      t.match(r.stdout, new RegExp(`^\\s+tsrun ${cmd}\\b`, 'm'), `lists ${cmd}`);
    }
    t.match(r.stdout, '--root');
    t.match(r.stdout, '--log-format');
    t.notMatch(r.stdout, /^\s*\.\s*$/m, 'no stray "." line (yargs wrapped the usage text)');
    t.match(r.stdout, /^An OCI container runtime in TypeScript, driven like runc\.$/m);
    const sub = tsrun(['spec', '--help'], { root: root(t) });
    t.equal(sub.status, 0, 'spec --help exits 0');
    t.match(sub.stdout, '--bundle');
    t.match(sub.stdout, '--rootless');
  });

  t.test('unknown command, no command, unknown flag: exit 1 with one error line', async (t) => {
    const unknown = tsrun(['frobnicate'], { root: root(t) });
    t.equal(unknown.status, 1);
    t.match(errorLine(unknown.stderr), /^tsrun: .*frobnicate.*\(see tsrun --help\)$/);
    t.equal(unknown.stdout, '', 'no usage dump on stdout');

    const none = tsrun([], { root: root(t) });
    t.equal(none.status, 1);
    t.match(errorLine(none.stderr), /^tsrun: a command is required/);

    const twice = tsrun(['update', '--cpu-share', '1', '--cpu-shares', '2', 'c1'], { root: root(t) });
    t.equal(twice.status, 1);
    t.equal(twice.stderr, 'tsrun: --cpu-share given more than once ("1" and "2"): give it once\n', "docker's spelling is runc's flag");

    const flag = tsrun(['list', '--bogus-flag'], { root: root(t) });
    t.equal(flag.status, 1);
    t.match(errorLine(flag.stderr), /^tsrun: .*bogus-flag/);
  });

  t.test('spec writes a valid config.json and refuses to overwrite it', async (t) => {
    const bundle = tempDir(t);
    const r = tsrun(['spec', '--bundle', bundle], { root: root(t) });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, '');
    const file = path.join(bundle, 'config.json');
    const text = fs.readFileSync(file, 'utf8');
    const spec = JSON.parse(text);
    t.doesNotThrow(() => validateSpec(spec, file), 'passes validateSpec');
    t.equal(spec.ociVersion, '1.3.0');
    t.same(spec.process.args, ['sh']);
    t.equal(spec.root.path, 'rootfs');
    t.ok(spec.linux.namespaces.some((ns: { type: string }) => ns.type === 'network'));
    t.notOk(spec.linux.namespaces.some((ns: { type: string }) => ns.type === 'user'));

    fs.appendFileSync(file, ' ');
    const again = tsrun(['spec', '--bundle', bundle], { root: root(t) });
    t.equal(again.status, 1, 'second spec fails');
    t.match(errorLine(again.stderr), `tsrun: File ${file} exists. Remove it first`);
    t.equal(fs.readFileSync(file, 'utf8'), `${text} `, 'the existing file is untouched');
  });

  t.test('spec in the current directory, and -b', async (t) => {
    const cwd = tempDir(t);
    const r = tsrun(['spec'], { root: root(t), cwd });
    t.equal(r.status, 0, r.stderr);
    t.ok(fs.existsSync(path.join(cwd, 'config.json')));
    const other = tempDir(t);
    t.equal(tsrun(['spec', '-b', other], { root: root(t) }).status, 0);
    t.ok(fs.existsSync(path.join(other, 'config.json')));
  });

  t.test('spec into a missing directory fails cleanly', async (t) => {
    const bundle = path.join(tempDir(t), 'missing');
    const r = tsrun(['spec', '--bundle', bundle], { root: root(t) });
    t.equal(r.status, 1);
    t.match(errorLine(r.stderr), `tsrun: ${path.join(bundle, 'config.json')}: `);
    t.notOk(fs.existsSync(bundle));
  });

  // The global option --rootless (a string: true|false|auto) shadows spec's boolean
  // --rootless: `spec --rootless` (runc's form) gets "" and writes the root config.
  // `spec --rootless=true` happens to work.
  for (const form of [['--rootless'], ['--rootless=true']]) {
    t.test(`spec ${form.join(' ')}`, async (t) => {
      const bundle = tempDir(t);
      const r = tsrun(['spec', ...form, '--bundle', bundle], { root: root(t) });
      t.equal(r.status, 0, r.stderr);
      const file = path.join(bundle, 'config.json');
      const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
      t.doesNotThrow(() => validateSpec(spec, file), 'passes validateSpec');
      const types = spec.linux.namespaces.map((ns: { type: string }) => ns.type);
      t.ok(types.includes('user'), 'a user namespace');
      t.notOk(types.includes('network'), 'no network namespace');
      t.same(spec.linux.uidMappings, [{ containerID: 0, hostID: process.getuid!(), size: 1 }], 'uid mapping');
      t.same(spec.linux.gidMappings, [{ containerID: 0, hostID: process.getgid!(), size: 1 }], 'gid mapping');
      t.equal(spec.linux.resources, undefined, 'no resources');
      const sys = spec.mounts.find((m: { destination: string }) => m.destination === '/sys');
      t.match(sys, { type: 'none', source: '/sys', options: ['rbind'] }, '/sys is a bind mount');
    });
  }

  t.test('features prints JSON valid per validateFeatures', async (t) => {
    const r = tsrun(['features'], { root: root(t) });
    t.equal(r.status, 0, r.stderr);
    let doc: any;
    t.doesNotThrow(() => { doc = JSON.parse(r.stdout); }, 'stdout is JSON');
    t.doesNotThrow(() => validateFeatures(doc, 'features'), 'valid features document');
    t.equal(doc.ociVersionMin, '1.0.0');
    t.equal(doc.ociVersionMax, '1.3.0', 'the spec version the schemas describe');
    t.ok(doc.mountOptions.includes('rbind'), 'mount options listed');
    t.ok(doc.mountOptions.includes('idmap') && doc.mountOptions.includes('ridmap'), 'idmap and ridmap listed');
    t.ok(doc.mountOptions.includes('tmpcopyup') && doc.mountOptions.includes('rro'), 'tmpcopyup and the recursive options listed');
    t.notOk(doc.mountOptions.includes('mode=755'), 'data options not listed');
    t.same(doc.linux.mountExtensions, { idmap: { enabled: true } }, 'idmapped mounts advertised (as runc)');
    t.same([doc.linux.intelRdt, doc.linux.netDevices], [{ enabled: true, schemata: true, monitoring: true }, { enabled: true }], 'intelRdt and netDevices implemented (as runc 1.4)');
    t.ok(doc.linux.memoryPolicy.modes.includes('MPOL_BIND') && doc.linux.memoryPolicy.flags.includes('MPOL_F_STATIC_NODES'), 'memory policy modes and flags listed');
  });

  t.test('list on an empty root prints only the header', async (t) => {
    const r = root(t);
    const table = tsrun(['list'], { root: r });
    t.equal(table.status, 0, table.stderr);
    t.equal(table.stdout, 'ID   PID   STATUS   BUNDLE   CREATED   OWNER\n');
    const json = tsrun(['list', '--format', 'json'], { root: r });
    t.equal(json.status, 0);
    t.same(JSON.parse(json.stdout), []);
    const quiet = tsrun(['list', '-q'], { root: r });
    t.equal(quiet.status, 0);
    t.equal(quiet.stdout, '');
    const missing = tsrun(['list'], { root: path.join(r, 'not-there') });
    t.equal(missing.status, 0, 'a missing root is an empty one');
    t.equal(missing.stdout, 'ID   PID   STATUS   BUNDLE   CREATED   OWNER\n');
  });

  t.test('list shows a container being created and skips junk', async (t) => {
    const r = root(t);
    fs.mkdirSync(path.join(r, 'being-created'));
    fs.writeFileSync(path.join(r, 'not-a-dir'), '');
    const json = tsrun(['list', '--format', 'json'], { root: r });
    t.equal(json.status, 0, json.stderr);
    const states = JSON.parse(json.stdout);
    t.same(states.map((s: { id: string; status: string }) => [s.id, s.status]), [['being-created', 'creating']]);
  });

  t.test('state of an unknown container', async (t) => {
    const r = tsrun(['state', 'nope'], { root: root(t) });
    t.equal(r.status, 1);
    t.equal(r.stdout, '');
    t.equal(errorLine(r.stderr), 'tsrun: container does not exist: nope');
    t.match(r.stderr, 'container does not exist');
  });

  t.test('state: an invalid id', async (t) => {
    const r = tsrun(['state', '../etc'], { root: root(t) });
    t.equal(r.status, 1);
    t.match(errorLine(r.stderr), /^tsrun: invalid container id "\.\.\/etc"/);
  });

  t.test('delete, kill, start of an unknown container', async (t) => {
    const r = root(t);
    const force = tsrun(['delete', '--force', 'nope'], { root: r });
    t.equal(force.status, 0, `delete --force exits 0 (${force.stderr.trim()})`);
    t.equal(force.stderr, '');
    const forceShort = tsrun(['delete', '-f', 'nope'], { root: r });
    t.equal(forceShort.status, 0, 'delete -f exits 0');
    for (const args of [['delete', 'nope'], ['kill', 'nope'], ['kill', 'nope', 'KILL'], ['start', 'nope']]) {
      const res = tsrun(args, { root: r });
      t.equal(res.status, 1, `${args.join(' ')} exits 1`);
      t.match(errorLine(res.stderr), 'container does not exist', args.join(' '));
    }
    t.same(fs.readdirSync(r), [], 'nothing created under --root');
  });

  t.test('--log FILE --log-format json: an error is one JSON line', async (t) => {
    const dir = tempDir(t);
    const log = path.join(dir, 'log.json');
    const before = Date.now();
    const r = tsrun(['state', 'nope'], { root: root(t), globalArgs: ['--log', log, '--log-format', 'json'] });
    t.equal(r.status, 1);
    const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    t.equal(lines.length, 1, 'one line');
    const entry = JSON.parse(lines[0]);
    // runc's three fields (engines read level and msg, and ignore others), and the kind (docs/errors.md).
    t.same(Object.keys(entry).sort(), ['kind', 'level', 'msg', 'time']);
    t.equal(entry.level, 'error');
    t.equal(entry.kind, 'not-found');
    t.equal(entry.msg, 'container does not exist: nope');
    t.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, 'RFC3339');
    t.ok(Math.abs(Date.parse(entry.time) - before) < 60_000, 'time is now');
    t.match(errorLine(r.stderr), 'container does not exist', 'still on stderr');

    // appended, not truncated
    tsrun(['state', 'nope2'], { root: root(t), globalArgs: ['--log', log, '--log-format=json'] });
    const all = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    t.same(all.map((e) => e.msg), ['container does not exist: nope', 'container does not exist: nope2']);
  });

  // Commands off the fast path run in dist/cli.js, which configures its own copy of
  // src/logging; entry.ts logs the error with the copy in tsrun.js, never configured: the
  // error reaches stderr but not --log (containerd then has nothing to show for create).
  t.test('--log: errors of the full CLI (create, usage) are logged too', async (t) => {
    const dir = tempDir(t);
    const cases: [string, string[], string][] = [
      ['usage error', ['frobnicate'], 'frobnicate'],
      ['create error', ['create', '--bundle', path.join(dir, 'no-bundle'), 'c1'], ''],
    ];
    for (const [what, args, word] of cases) {
      const log = path.join(dir, `${what.replace(' ', '-')}.json`);
      const r = tsrun(args, { root: root(t), globalArgs: ['--log', log, '--log-format', 'json'] });
      t.equal(r.status, 1, `${what}: exit 1`);
      t.match(errorLine(r.stderr), new RegExp(`^tsrun: .*${word}`), `${what}: on stderr`);
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      const last = text.trim().split('\n').pop() || '{}';
      t.match(JSON.parse(last), { level: 'error', msg: word ? new RegExp(word) : /./ }, `${what}: in --log`);
    }
  });

  t.test('--log in text format', async (t) => {
    const log = path.join(tempDir(t), 'log.txt');
    const r = tsrun(['state', 'nope'], { root: root(t), globalArgs: ['--log', log] });
    t.equal(r.status, 1);
    t.match(fs.readFileSync(log, 'utf8'), /^time="[^"]+" level=error msg="container does not exist: nope"\n$/);
  });

  t.test('single-dash long flags (go-runc) work end to end', async (t) => {
    // tsrun() puts `--root R` first.
    const plain = tsrun(['-log-format=json', 'state', 'nope'], { root: root(t) });
    t.equal(plain.status, 1, '--root X -log-format=json state nope: exit 1');
    t.equal(errorLine(plain.stderr), 'tsrun: container does not exist: nope');
    const log = path.join(tempDir(t), 'log.json');
    const r = tsrun(['-log-format=json', '--log', log, 'state', 'nope'], { root: root(t) });
    t.equal(r.status, 1);
    t.equal(errorLine(r.stderr), 'tsrun: container does not exist: nope');
    const entry = JSON.parse(fs.readFileSync(log, 'utf8').trim());
    t.equal(entry.msg, 'container does not exist: nope');

    // After two flag values (R and L) normalizeArgs stops converting (see cli-args.test.ts).
    const log2 = path.join(tempDir(t), 'log2.json');
    const r2 = tsrun(['-log', log2, '-log-format=json', 'state', 'nope'], { root: root(t) });
    t.equal(errorLine(r2.stderr), 'tsrun: container does not exist: nope', '--root R -log L -log-format=json');

    const del = tsrun(['delete', '-force', 'nope'], { root: root(t) });
    t.equal(del.status, 0, `delete -force (${del.stderr.trim()})`);
  });
}
