// Bad input, table-driven: broken or invalid config.json, bad ids, unknown containers,
// wrong states, bad flags and values, and configs that fail while the container is being
// set up. For every case: exit status 1, stderr names the problem (for config errors the
// file and the JSON path), the last line of `--log FILE --log-format json` is a JSON
// error with the same text and a time, and nothing is left behind (no state dir, no
// mounts, no process still holding the stdio tsrun was given).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bundle, BundleConfig, makeBundle } from '../helpers/bundle';
import { AsyncTsrunOptions, fdHolders, lastLine, readOr, RFC3339, stopTapSpawnHooks, tsrunAsync } from '../helpers/container';
import { forceDelete, freshRoot, residue, tsrun, TsrunResult, uniqueId } from '../helpers/tsrun';

stopTapSpawnHooks(); // run tsrun as engines do, without tap's loader
const topRoot = freshRoot();
t.teardown(() => fs.rmSync(topRoot, { recursive: true, force: true }));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bad-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

interface Ctx {
  /** The container id the case uses (a fresh unique one unless the case sets `id`). */
  id: string;
  bundle: Bundle;
  /** A second, valid container made by `before` (for wrong-state cases). */
  other: string;
}

interface Case {
  name: string;
  /** Mutate the (otherwise valid) config. */
  config?: (c: BundleConfig) => void;
  /** Raw config.json text instead of the config; null: no config.json at all. */
  raw?: string | null;
  /** The command (after the global flags); default: create --bundle B --pid-file P ID. */
  cmd?: (ctx: Ctx) => string[];
  /** Extra global flags. */
  global?: string[];
  /** Replace the default `--log-format json` (the log is then checked as text). */
  logFormat?: string;
  /** The id to use (bad ids). */
  id?: string;
  /** Make a container first: 'created' | 'running' | 'stopped'. Its id is ctx.other. */
  before?: 'created' | 'running' | 'stopped';
  /** What stderr (and the log message) must contain. */
  expect: (string | RegExp)[];
}

const create = (ctx: Ctx, ...extra: string[]) => ['create', '--bundle', ctx.bundle.dir, '--pid-file', path.join(ctx.bundle.dir, 'pid'), ...extra, ctx.id];
const CFG = 'config.json: ';
const withoutNs = (c: BundleConfig, type: string) => (c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== type));
const del = (o: object, k: string) => delete (o as Record<string, unknown>)[k];
const set = (o: object, k: string, v: unknown) => ((o as Record<string, unknown>)[k] = v);

const cases: Case[] = [
  // --- config.json unreadable or not an object
  { name: 'config.json is not JSON', raw: '{"ociVersion": "1.0.2", "process": {', expect: [CFG, 'invalid JSON'] },
  { name: 'config.json is empty', raw: '', expect: [CFG, 'invalid JSON'] },
  { name: 'config.json is an array', raw: '[]', expect: [CFG, 'expected an object'] },
  { name: 'config.json missing', raw: null, expect: [CFG, 'no such file or directory'] },
  { name: 'bundle directory missing', cmd: (c) => ['create', '--bundle', path.join(work, 'no-such-bundle'), c.id], expect: ['no-such-bundle', 'no such file or directory'] },
  // --- wrong types
  { name: 'process.args is a string', config: (c) => set(c.process, 'args', 'sh'), expect: [`${CFG}/process/args`, 'expected an array'] },
  { name: 'process.user.uid is a string', config: (c) => set(c.process.user, 'uid', '0'), expect: [`${CFG}/process/user/uid`] },
  { name: 'process.user.gid is negative', config: (c) => set(c.process.user, 'gid', -1), expect: [`${CFG}/process/user/gid`] },
  { name: 'process.env is an object', config: (c) => set(c.process, 'env', { A: 'b' }), expect: [`${CFG}/process/env`, 'expected an array'] },
  { name: 'process.env entry is a number', config: (c) => set(c.process, 'env', [42]), expect: [`${CFG}/process/env/0`, 'expected a string'] },
  { name: 'process.terminal is a string', config: (c) => set(c.process, 'terminal', 'no'), expect: [`${CFG}/process/terminal`, 'boolean'] },
  { name: 'root.path is a number', config: (c) => set(c.root, 'path', 7), expect: [`${CFG}/root/path`, 'expected a string'] },
  { name: 'root.readonly is a string', config: (c) => set(c.root, 'readonly', 'true'), expect: [`${CFG}/root/readonly`, 'boolean'] },
  { name: 'mounts is an object', config: (c) => set(c, 'mounts', {}), expect: [`${CFG}/mounts`, 'expected an array'] },
  { name: 'mount options is a string', config: (c) => set(c.mounts[0], 'options', 'ro'), expect: [`${CFG}/mounts/0/options`, 'expected an array'] },
  { name: 'hostname is a number', config: (c) => set(c, 'hostname', 5), expect: [`${CFG}/hostname`, 'expected a string'] },
  { name: 'rlimit hard is a string', config: (c) => set(c.process.rlimits![0], 'hard', '1024'), expect: [`${CFG}/process/rlimits/0/hard`] },
  { name: 'ociVersion is a number', config: (c) => set(c, 'ociVersion', 1), expect: [`${CFG}/ociVersion`, 'expected a string'] },
  { name: 'linux.namespaces is a string', config: (c) => set(c.linux, 'namespaces', 'pid'), expect: [`${CFG}/linux/namespaces`, 'expected an array'] },
  // --- missing required fields
  { name: 'no process', config: (c) => del(c, 'process'), expect: [CFG, 'missing required property "process"'] },
  { name: 'no root', config: (c) => del(c, 'root'), expect: [CFG, 'missing required property "root"'] },
  { name: 'no ociVersion', config: (c) => del(c, 'ociVersion'), expect: [CFG, 'missing required property "ociVersion"'] },
  { name: 'no process.args', config: (c) => del(c.process, 'args'), expect: [`${CFG}/process`, 'missing required property "args"'] },
  { name: 'no process.cwd', config: (c) => del(c.process, 'cwd'), expect: [`${CFG}/process`, 'missing required property "cwd"'] },
  { name: 'no mount destination', config: (c) => del(c.mounts[0], 'destination'), expect: [`${CFG}/mounts/0`, 'missing required property "destination"'] },
  // --- invalid values
  { name: 'unknown namespace type', config: (c) => c.linux.namespaces!.push({ type: 'bogus' as never }), expect: [`${CFG}/linux/namespaces/6/type`, 'bogus'] },
  { name: 'unknown rlimit type', config: (c) => set(c.process.rlimits![0], 'type', 'RLIMIT_BOGUS'), expect: [`${CFG}/process/rlimits/0/type`, 'RLIMIT_BOGUS'] },
  { name: 'unknown rootfsPropagation', config: (c) => set(c.linux, 'rootfsPropagation', 'sideways'), expect: [`${CFG}/linux/rootfsPropagation`, 'sideways'] },
  { name: 'unknown device type', config: (c) => (c.linux.devices = [{ path: '/dev/x', type: 'x' as never, major: 1, minor: 3 }]), expect: [`${CFG}/linux/devices/0/type`] },
  { name: 'relative cwd', config: (c) => (c.process.cwd = 'tmp'), expect: [`${CFG}/process/cwd`, 'absolute'] },
  { name: 'empty args', config: (c) => (c.process.args = []), expect: [`${CFG}/process/args`] },
  { name: 'env entry without =', config: (c) => c.process.env!.push('NOEQUALS'), expect: [`${CFG}/process/env/2`, 'NOEQUALS'] },
  { name: 'rlimit soft above hard', config: (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]), expect: [`${CFG}/process/rlimits/0/soft`] },
  { name: 'duplicate rlimit', config: (c) => c.process.rlimits!.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }), expect: [`${CFG}/process/rlimits/1/type`, 'RLIMIT_NOFILE'] },
  { name: 'relative masked path', config: (c) => c.linux.maskedPaths!.unshift('proc/kcore'), expect: [`${CFG}/linux/maskedPaths/0`, 'absolute'] },
  { name: 'sysctl outside any namespace', config: (c) => (c.linux.sysctl = { 'kernel.panic': '1' }), expect: [`${CFG}/linux/sysctl/kernel.panic`] },
  { name: 'duplicate namespaces', config: (c) => c.linux.namespaces!.push({ type: 'ipc' }), expect: [`${CFG}/linux/namespaces/6/type`, 'ipc'] },
  { name: 'relative namespace path', config: (c) => (c.linux.namespaces![1] = { type: 'network', path: 'run/netns/x' }), expect: [`${CFG}/linux/namespaces/1/path`, 'absolute'] },
  { name: 'hostname without a uts namespace', config: (c) => withoutNs(c, 'uts'), expect: [`${CFG}/hostname`, 'UTS namespace'] },
  { name: 'relative hook path', config: (c) => (c.hooks = { prestart: [{ path: 'bin/true' }] }), expect: [`${CFG}/hooks/prestart/0/path`, 'absolute'] },
  // --- not supported (yet): refused, never ignored
  { name: 'user namespace without mappings', config: (c) => c.linux.namespaces!.push({ type: 'user' }), expect: ['uidMappings', 'user namespace needs both mappings'] },
  { name: 'terminal true without --console-socket', config: (c) => (c.process.terminal = true), expect: ['process.terminal', 'console socket'] },
  { name: '--systemd-cgroup on create', global: ['--systemd-cgroup'], expect: ['--systemd-cgroup', 'not supported'] },
  { name: 'no mount namespace', config: (c) => withoutNs(c, 'mount'), expect: ['mount namespace'] },
  // --- fails while the container is set up
  { name: 'rootfs missing', config: (c) => (c.root.path = path.join(work, 'no-such-rootfs')), expect: ['no-such-rootfs', 'no such file or directory'] },
  { name: 'bind mount source missing', config: (c) => c.mounts.push({ destination: '/tmp', type: 'bind', source: path.join(work, 'no-such-src'), options: ['rbind'] }), expect: ['no-such-src', 'no such file or directory'] },
  { name: 'unknown filesystem type', config: (c) => c.mounts.push({ destination: '/tmp', type: 'bogusfs', source: 'none' }), expect: ['/tmp', 'no such device'] },
  { name: 'executable not in PATH', config: (c) => (c.process.args = ['no-such-program']), expect: ['no-such-program', 'executable file not found in $PATH'] },
  { name: 'executable path missing', config: (c) => (c.process.args = ['/bin/no-such-program']), expect: ['/bin/no-such-program', 'no such file or directory'] },
  { name: 'executable not executable', config: (c) => (c.process.args = ['/etc/passwd']), expect: ['/etc/passwd', 'permission denied'] },
  { name: 'executable is a directory', config: (c) => (c.process.args = ['/tmp']), expect: ['/tmp', 'permission denied'] },
  { name: 'cwd is a file', config: (c) => (c.process.cwd = '/etc/passwd'), expect: ['/etc/passwd', 'not a directory'] },
  { name: 'namespace path missing', config: (c) => (c.linux.namespaces![1] = { type: 'network', path: path.join(work, 'no-such-ns') }), expect: ['no-such-ns', 'no such file or directory'] },
  { name: 'namespace path of the wrong type', config: (c) => (c.linux.namespaces![1] = { type: 'network', path: '/proc/self/ns/uts' }), expect: [`${CFG}/linux/namespaces/1/path`, 'network namespace path /proc/self/ns/uts: not a namespace of type network (it is uts:['] },
  // runtime-tools' linux_ns_path_type: a pid path of another type used to be blamed on the proc mount.
  { name: 'pid namespace path of the wrong type', config: (c) => (c.linux.namespaces![0] = { type: 'pid', path: '/proc/self/ns/user' }), expect: [`${CFG}/linux/namespaces/0/path`, 'pid namespace path /proc/self/ns/user: not a namespace of type pid (it is user:['] },
  { name: 'namespace path not a namespace', config: (c) => { fs.writeFileSync(path.join(work, 'not-a-ns'), ''); c.linux.namespaces![2] = { type: 'ipc', path: path.join(work, 'not-a-ns') }; }, expect: [`${CFG}/linux/namespaces/2/path`, 'not-a-ns: not a namespace'] },
  { name: 'rlimit above the hard limit', config: (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]), expect: ['RLIMIT_NOFILE', 'CAP_SYS_RESOURCE'] },
  { name: 'failing prestart hook', config: (c) => (c.hooks = { prestart: [{ path: '/bin/false' }] }), expect: ['prestart', '/bin/false'] },
  { name: 'prestart hook missing', config: (c) => (c.hooks = { prestart: [{ path: path.join(work, 'no-such-hook') }] }), expect: ['no-such-hook', 'no such file or directory'] },
  // --- bad ids
  { name: 'id with a slash', id: 'a/b', expect: ['invalid container id'] },
  { name: 'id ..', id: '..', expect: ['invalid container id'] },
  { name: 'id .', id: '.', expect: ['invalid container id'] },
  { name: 'empty id', id: '', expect: ['container id cannot be empty'] },
  { name: 'very long id', id: 'x'.repeat(2000), expect: ['invalid container id'] },
  { name: 'id with spaces', id: 'a b', expect: ['invalid container id'] },
  { name: 'id with a newline', id: 'a\nb', expect: ['invalid container id'] },
  // --- unknown containers
  { name: 'start unknown', cmd: (c) => ['start', c.id], expect: ['container does not exist'] },
  { name: 'state unknown', cmd: (c) => ['state', c.id], expect: ['container does not exist'] },
  { name: 'kill unknown', cmd: (c) => ['kill', c.id], expect: ['container does not exist'] },
  { name: 'kill unknown with a signal', cmd: (c) => ['kill', c.id, 'KILL'], expect: ['container does not exist'] },
  { name: 'delete unknown', cmd: (c) => ['delete', c.id], expect: ['container does not exist'] },
  // --- wrong state
  { name: 'start a running container', before: 'running', cmd: (c) => ['start', c.other], expect: ['cannot start', 'running'] },
  { name: 'start a stopped container', before: 'stopped', cmd: (c) => ['start', c.other], expect: ['cannot start', 'stopped'] },
  { name: 'kill a stopped container', before: 'stopped', cmd: (c) => ['kill', c.other, '9'], expect: ['container not running'] },
  { name: 'delete a running container', before: 'running', cmd: (c) => ['delete', c.other], expect: ['not stopped'] },
  { name: 'create an existing id', before: 'created', cmd: (c) => ['create', '--bundle', c.bundle.dir, c.other], expect: ['already exists'] },
  // --- bad flags and values
  { name: 'unknown flag', cmd: (c) => [...create(c), '--frobnicate'], expect: ['frobnicate'] },
  { name: 'unknown global flag', global: ['--frobnicate'], expect: ['frobnicate'] },
  { name: 'unknown command', cmd: () => ['frobnicate'], expect: ['frobnicate'] },
  { name: 'create without an id', cmd: (c) => ['create', '--bundle', c.bundle.dir], expect: [/argument|container id/] },
  { name: 'bad --log-format value', logFormat: 'xml', expect: ['log-format', 'xml'] },
  { name: 'bad list --format', cmd: () => ['list', '--format', 'yaml'], expect: ['format', 'yaml'] },
  { name: 'signal name FOO', before: 'created', cmd: (c) => ['kill', c.other, 'FOO'], expect: ['invalid signal', 'FOO'] },
  { name: 'signal SIGFOO', before: 'created', cmd: (c) => ['kill', c.other, 'SIGFOO'], expect: ['invalid signal', 'SIGFOO'] },
  { name: 'signal -1', before: 'created', cmd: (c) => ['kill', c.other, '-1'], expect: ['invalid signal', '-1'] },
  { name: 'signal 65', before: 'created', cmd: (c) => ['kill', c.other, '65'], expect: ['invalid signal', '65'] },
  { name: 'signal 99999999999999999999', before: 'created', cmd: (c) => ['kill', c.other, '99999999999999999999'], expect: ['invalid signal'] },
  { name: '--preserve-fds not a number', cmd: (c) => create(c, '--preserve-fds', 'abc'), expect: ['--preserve-fds', 'abc'] },
  { name: '--preserve-fds negative', cmd: (c) => create(c, '--preserve-fds', '-1'), expect: ['--preserve-fds', '-1'] },
  // The command line is read from one table (src/cli/table.ts): what it refuses.
  { name: 'a value flag given twice', cmd: (c) => create(c, '--pid-file', path.join(work, 'pid2')), expect: ['--pid-file given more than once'] },
  { name: 'a value flag without its value', cmd: (c) => [...create(c), '--console-socket'], expect: ['flag needs an argument: --console-socket'] },
  { name: 'a boolean flag with a value', cmd: (c) => create(c, '--no-pivot=yes'), expect: ['--no-pivot', 'invalid value "yes"'] },
  { name: 'a flag of another command', cmd: (c) => create(c, '--force'), expect: ['flag provided but not defined: --force'] },
  { name: 'one argument too many', cmd: (c) => [...create(c), 'extra'], expect: ['"create" requires exactly 1 argument'] },
];


function firstLine(r: TsrunResult): string {
  return `status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}: ${r.stderr.trim()}`;
}

/** tsrun without blocking the event loop: cases run side by side. */
const run = (args: string[], opts: AsyncTsrunOptions) => tsrunAsync(args, opts).done;

async function stateOf(id: string, root: string): Promise<string> {
  const r = await run(['state', id], { root });
  if (r.status !== 0) return `error: ${r.stderr.trim()}`;
  return String((JSON.parse(r.stdout) as { status: unknown }).status);
}

// Each case has its own --root (under this file's fresh one), so that cases can run in
// parallel and "nothing left under --root" means exactly this case.
t.test('bad input', { jobs: 3 }, async (t) => {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const root = fs.mkdtempSync(path.join(topRoot, 'case-'));
      const bundle = makeBundle({ args: ['sh', '-c', 'echo the-user-process-ran'], mutate: c.config });
      if (c.raw === null) fs.rmSync(bundle.configPath);
      else if (c.raw !== undefined) fs.writeFileSync(bundle.configPath, c.raw);
      const id = c.id ?? uniqueId('bad');
      // A safe unique name for residue() when the id itself is the bad input.
      const needle = c.id === undefined ? id : uniqueId('badid');
      const ctx: Ctx = { id, bundle, other: uniqueId('other') };
      const log = path.join(work, `${needle}.log`);
      const out = path.join(work, `${needle}.stdout`);
      const err = path.join(work, `${needle}.stderr`);
      t.teardown(() => {
        for (const name of fs.readdirSync(root)) forceDelete(name, root);
        bundle.cleanup();
      });

      if (c.before) {
        const ob = makeBundle({ args: c.before === 'stopped' ? ['true'] : ['sleep', '300'] });
        t.teardown(() => ob.cleanup());
        const how = c.before === 'created' ? ['create'] : c.before === 'running' ? ['run', '-d'] : ['run', '--keep'];
        const r = await run([...how, '--bundle', ob.dir, ctx.other], { root });
        t.equal(r.status, 0, `setup: ${how.join(' ')} ${firstLine(r)}`);
        t.equal(await stateOf(ctx.other, root), c.before, `setup: the other container is ${c.before}`);
      }

      const global = ['--log', log, '--log-format', c.logFormat ?? 'json', ...(c.global ?? [])];
      const args = c.cmd ? c.cmd(ctx) : create(ctx);
      const r = await run(args, { root, globalArgs: global, stdoutFile: out, stderrFile: err });
      t.equal(r.status, 1, `exit status 1 (${firstLine(r)})`);
      for (const e of c.expect) t.match(r.stderr, e, `stderr names the problem: ${JSON.stringify(String(e))}`);
      t.equal(r.stdout, '', 'nothing on stdout');
      t.notMatch(readOr(out), /the-user-process-ran/, 'the user process never ran');

      const line = lastLine(log);
      if (c.logFormat === undefined) {
        let entry: Record<string, unknown> = {};
        t.doesNotThrow(() => {
          entry = JSON.parse(line);
        }, `last log line is JSON: ${line}`);
        t.equal(entry.level, 'error', 'level error');
        for (const e of c.expect) t.match(String(entry.msg), e, `log msg names the problem: ${JSON.stringify(String(e))}`);
        t.match(String(entry.time), RFC3339, 'time field');
        t.ok(r.stderr.includes(String(entry.msg)), 'stderr carries the same message as the log');
      } else {
        // --log-format itself was bad: the log falls back to text, still with the error
        t.match(line, /level=error/, `text log line: ${line}`);
        for (const e of c.expect) t.match(line, e);
      }

      if (c.before) {
        // the failed command left the other container as it was
        t.equal(await stateOf(ctx.other, root), c.before, `the other container is still ${c.before}`);
        const d = await run(['delete', '--force', ctx.other], { root });
        t.equal(d.status, 0, `other container deleted: ${firstLine(d)}`);
      }
      t.same(fs.readdirSync(root), [], 'no state left under --root');
      t.same(residue(needle, root, { bundle: bundle.dir }), [], 'no residue');
      t.same(fdHolders([out, err, log]), [], 'no process left holding the stdio tsrun was given');
    });
  }
});

t.test('delete --force of an unknown container exits 0', async (t) => {
  const log = path.join(work, 'force.log');
  const r = tsrun(['delete', '--force', uniqueId('unknown')], { root: topRoot, globalArgs: ['--log', log, '--log-format', 'json'] });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
  t.notMatch(readOr(log), /"level":"error"/, 'no error logged');
});
