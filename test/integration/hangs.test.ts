// "Errors, never hangs": inputs that once hung tsrun, crashed it with a JavaScript error or
// printed several lines. Each must end quickly with exit status 1, exactly one line on
// stderr `tsrun: ...` naming the problem, the same message as the last --log JSON line,
// and nothing left behind (state dir, cgroup dirs, processes, files held open).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Bundle, BundleConfig, makeBundle } from '../helpers/bundle';
import { fdHolders, lastLine, rootSuite, tempDir, tsrunAsync } from '../helpers/container';
import { forceDelete, residue, state, tsrun, uniqueId } from '../helpers/tsrun';

const topRoot = rootSuite();
const work = tempDir('tsrun-hangs-');
t.teardown(work.remove);

/** tsrun's own start-up is ~0.2 s; a second is the bound, with room for a busy machine. */
const LIMIT_MS = 1500;

interface Ctx {
  id: string;
  bundle: Bundle;
  root: string;
}

interface Case {
  name: string;
  config?: (c: BundleConfig, ctx: Ctx) => void;
  /** Replace config.json before the command runs. */
  prepare?: (ctx: Ctx) => void;
  /** The id (default: a unique one). */
  id?: string;
  /** The args after `--root ROOT --log L --log-format json`; default create --bundle B ID. */
  cmd?: (ctx: Ctx) => string[];
  /** Replace the default `--log-format json` (the log line is then not checked as JSON). */
  logFormat?: string;
  expect: (string | RegExp)[];
}

const create = (ctx: Ctx, ...extra: string[]) => ['create', '--bundle', ctx.bundle.dir, ...extra, ctx.id];
const setCgroupsPath = (p: string) => (c: BundleConfig) => (c.linux.cgroupsPath = p);

const cases: Case[] = [
  {
    name: 'config.json is /dev/zero',
    prepare: (ctx) => {
      fs.rmSync(ctx.bundle.configPath);
      fs.symlinkSync('/dev/zero', ctx.bundle.configPath);
    },
    expect: ['config.json', 'not a regular file'],
  },
  {
    name: 'config.json is a fifo nobody writes',
    prepare: (ctx) => {
      fs.rmSync(ctx.bundle.configPath);
      execFileSync('mkfifo', [ctx.bundle.configPath]);
    },
    expect: ['config.json', 'not a regular file'],
  },
  {
    // A valid config padded past the bound: accepted (and run) without the check.
    name: 'config.json larger than 16 MiB',
    config: (c) => (c.annotations = { pad: 'x'.repeat(17 * 1024 * 1024) }),
    expect: ['config.json', '16 MiB'],
  },
  {
    // A valid config whose annotation value nests 100,000 arrays: the stack overflowed.
    name: 'config.json nested 100,000 levels deep',
    prepare: (ctx) => {
      const text = JSON.stringify({ ...ctx.bundle.config, annotations: { deep: 'DEEP' } });
      fs.writeFileSync(ctx.bundle.configPath, text.replace('"DEEP"', '['.repeat(100_000) + ']'.repeat(100_000)));
    },
    expect: ['config.json', '/annotations/deep/0/0', 'nested more than 100 levels deep'],
  },
  {
    name: 'user namespace path that is not a user namespace',
    config: (c) => c.linux.namespaces!.push({ type: 'user', path: '/proc/self/ns/net' }),
    expect: ['user namespace path /proc/self/ns/net', 'not a namespace of type user', '/linux/namespaces/'],
  },
  { name: 'cgroupsPath with a NUL byte', config: setCgroupsPath('/tsrun-hangs/a\u0000b'), expect: ['/linux/cgroupsPath', 'NUL'] },
  { name: 'cgroupsPath of 100,000 characters', config: setCgroupsPath(`/${'a'.repeat(100_000)}`), expect: ['/linux/cgroupsPath', 'characters'] },
  {
    name: 'cgroupsPath naming cgroup.procs',
    config: (c, ctx) => (c.linux.cgroupsPath = `/${ctx.id}/cgroup.procs`),
    expect: ['/linux/cgroupsPath', 'cgroup.procs', 'control file'],
  },
  { name: 'cgroupsPath naming tasks', config: (c, ctx) => (c.linux.cgroupsPath = `/${ctx.id}/tasks`), expect: ['/linux/cgroupsPath', 'tasks', 'control file'] },
  {
    name: 'cgroupsPath naming a controller file',
    config: (c, ctx) => (c.linux.cgroupsPath = `/${ctx.id}/memory.limit_in_bytes`),
    expect: ['/linux/cgroupsPath', 'memory.limit_in_bytes', 'control file'],
  },
  {
    name: 'update --resources of a fifo nobody writes',
    cmd: (ctx) => {
      const fifo = path.join(ctx.bundle.dir, 'resources.json');
      execFileSync('mkfifo', [fifo]);
      return ['update', '--resources', fifo, ctx.id];
    },
    expect: ['--resources', 'resources.json', 'not a regular file (a fifo)'],
  },
  { name: '--preserve-fds 99999', cmd: (ctx) => create(ctx, '--preserve-fds', '99999'), expect: ['--preserve-fds', '99999'] },
  { name: '--preserve-fds past the open fds', cmd: (ctx) => create(ctx, '--preserve-fds', '40'), expect: ['--preserve-fds', 'not open'] },
  { name: '1000-character id', id: 'x'.repeat(1000), expect: ['invalid container id', '1000 characters'] },
  {
    name: '--root given twice',
    cmd: (ctx) => ['--root', path.join(ctx.root, 'second'), ...create(ctx)],
    expect: ['--root', 'more than once'],
  },
  { name: '--bundle given twice', cmd: (ctx) => create(ctx, '--bundle', ctx.bundle.dir), expect: ['--bundle', 'more than once'] },
  { name: 'bad --log-format', logFormat: 'xml', expect: ['--log-format', '"xml"', 'text, json'] },
  { name: 'bad ps --format', cmd: (ctx) => ['ps', '--format', 'xml', ctx.id], expect: ['--format', '"xml"', 'table, json'] },
  { name: 'bad list --format', cmd: () => ['list', '--format', 'xml'], expect: ['--format', '"xml"', 'table, json'] },
];

t.test('errors, never hangs', { jobs: 2 }, async (t) => {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const root = fs.mkdtempSync(path.join(topRoot, 'case-'));
      const bundle = makeBundle({ args: ['sh', '-c', 'echo the-user-process-ran'] });
      const needle = c.id === undefined ? uniqueId('hang') : uniqueId('hangid');
      const ctx: Ctx = { id: c.id ?? needle, bundle, root };
      c.config?.(bundle.config, ctx);
      if (c.config) bundle.write();
      c.prepare?.(ctx);
      t.teardown(() => {
        // Old code created some of these: leave nothing behind whatever happened.
        for (const r of [root, path.join(root, 'second')]) {
          for (const name of fs.existsSync(r) ? fs.readdirSync(r) : []) if (name !== 'second') forceDelete(name, r);
        }
        bundle.cleanup();
      });
      const log = path.join(work.dir, `${needle}.log`);
      const out = path.join(work.dir, `${needle}.out`);
      const err = path.join(work.dir, `${needle}.err`);

      const started = Date.now();
      const r = await tsrunAsync(c.cmd ? c.cmd(ctx) : create(ctx), {
        root,
        globalArgs: ['--log', log, '--log-format', c.logFormat ?? 'json'],
        stdoutFile: out,
        stderrFile: err,
        timeout: 20_000,
      }).done;
      const elapsed = Date.now() - started;

      t.equal(r.status, 1, `exit status 1 (status ${r.status} signal ${r.signal}: ${r.stderr.slice(0, 300)})`);
      t.ok(elapsed < LIMIT_MS, `ended in ${elapsed} ms (< ${LIMIT_MS})`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      t.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr.slice(0, 600))}`);
      t.match(lines[0] ?? '', /^tsrun: /, 'the line starts with "tsrun: "');
      t.ok((lines[0] ?? '').length < 1000, `the line is short (${(lines[0] ?? '').length} chars)`);
      for (const e of c.expect) t.match(lines[0] ?? '', e, `names the problem: ${String(e)}`);
      t.notMatch(r.stderr, /TypeError|RangeError|SyntaxError|Maximum call stack|Cannot read properties|\bat .*\(.*:\d+:\d+\)/, 'no JavaScript error');
      if (c.logFormat === undefined) {
        const entry = JSON.parse(lastLine(log) || '{}') as { level?: string; msg?: string };
        t.equal(entry.level, 'error', 'the log ends with an error line');
        t.equal(`tsrun: ${entry.msg}`, lines[0], 'the log carries the same message');
      }
      t.equal(fs.readFileSync(out, 'utf8'), '', 'nothing on stdout');
      t.same(fs.readdirSync(root).filter((n) => n !== 'second'), [], 'no state left under --root');
      t.same(residue(needle, root, { bundle: bundle.dir }), [], 'no residue');
      t.same(fdHolders([out, err, log]), [], 'no process holds the stdio tsrun was given');
    });
  }
});

t.test('exec --process of a fifo or a device: refused at once, the container untouched', async (t) => {
  const id = uniqueId('hangexec');
  const bundle = makeBundle({ args: ['sleep', '60'] });
  const fifo = path.join(bundle.dir, 'process.json');
  execFileSync('mkfifo', [fifo]);
  try {
    const run = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root: topRoot });
    t.equal(run.status, 0, run.stderr);
    for (const [file, kind] of [[fifo, 'a fifo'], ['/dev/zero', 'a character device']]) {
      const started = Date.now();
      const r = tsrun(['exec', '--process', file, id], { root: topRoot, timeout: 20_000 });
      t.equal(r.status, 1, `${file}: exit 1`);
      t.ok(Date.now() - started < LIMIT_MS, `${file}: ended in ${Date.now() - started} ms`);
      t.equal(r.stderr, `tsrun: ${file}: not a regular file (${kind})\n`, 'one line naming the file');
    }
    t.equal(state(id, topRoot).status, 'running', 'the container still runs');
  } finally {
    forceDelete(id, topRoot);
    t.same(residue(id, topRoot, { bundle: bundle.dir }), []);
    bundle.cleanup();
  }
});
