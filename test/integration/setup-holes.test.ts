// Container set-up holes runc closes (issue 11): --no-pivot reaching the host's procfs, a
// rootfs whose /proc or /sys is a symlink, binds over /proc or /proc/sys, linux.devices
// widening the device cgroup, capabilities outside tsrun's bounding set, and a frozen
// cgroup. Each refusal: exit 1 within a second, one `tsrun: ...` line on stderr naming what
// and where, the same message as a JSON error line in --log, and nothing left behind.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, BundleConfig, BundleOptions, makeBundle } from '../helpers/bundle';
import { fdHolders, lastLine, readOr, rootSuite, tempDir } from '../helpers/container';
import { forceDelete, residue, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-holes-');
t.teardown(work.remove);
const CG = '/sys/fs/cgroup';
const CFG = 'config.json: ';

interface Refusal {
  /** The tsrun command after the global flags; default `run -d --bundle B ID`. */
  cmd?: (bundle: Bundle, id: string) => string[];
  /** What the one stderr line (and the log message) must contain, given the config written. */
  expect: (config: BundleConfig) => (string | RegExp)[];
}

/**
 * Run a command that must be refused, and check everything a refusal promises: status 1 in
 * under a second, one stderr line, the JSON log line, no state, mount, cgroup or process.
 */
function refused(t: Test, opts: BundleOptions & { prepare?: (b: Bundle) => void }, r: Refusal): string {
  const id = uniqueId('hole');
  const bundle = makeBundle({ args: ['sh', '-c', 'echo the-user-process-ran'], ...opts });
  t.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  opts.prepare?.(bundle);
  const log = path.join(work.dir, `${id}.log`);
  const out = path.join(work.dir, `${id}.out`);
  const err = path.join(work.dir, `${id}.err`);
  const args = r.cmd ? r.cmd(bundle, id) : ['run', '-d', '--bundle', bundle.dir, id];
  const started = Date.now();
  // A hung command is killed long after the bound below, so a hang shows as a failure.
  const res = tsrun(args, { root, globalArgs: ['--log', log, '--log-format', 'json'], stdoutFile: out, stderrFile: err, timeout: 15_000 });
  const elapsed = Date.now() - started;
  t.equal(res.status, 1, `exit status 1 (status ${res.status} signal ${res.signal}: ${res.stderr.trim()})`);
  t.ok(elapsed < 1000, `refused within a second (${elapsed} ms)`);
  const lines = res.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(res.stderr)}`);
  t.match(lines[0], /^tsrun: /, 'the line starts with "tsrun: "');
  for (const e of r.expect(bundle.config)) t.match(lines[0], e, `stderr names the problem: ${String(e)}`);
  let entry: Record<string, unknown> = {};
  t.doesNotThrow(() => (entry = JSON.parse(lastLine(log))), `last log line is JSON: ${lastLine(log)}`);
  t.equal(entry.level, 'error', 'logged as an error');
  t.ok(lines[0].includes(String(entry.msg)), 'the log carries the stderr message');
  t.notMatch(readOr(out), /the-user-process-ran/, 'the user process never ran');
  t.same(fs.readdirSync(root).filter((n) => n.includes(id)), [], 'no state dir');
  t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue');
  t.same(fdHolders([out, err, log]), [], 'no process left holding the stdio tsrun was given');
  return id;
}

/** Run a container in the foreground and return what it printed (stdout + stderr). */
function runOutput(t: Test, opts: BundleOptions, runArgs: string[] = []): string {
  const id = uniqueId('hole');
  const bundle = makeBundle(opts);
  t.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  const res = tsrun(['run', ...runArgs, '--bundle', bundle.dir, id], { root, timeout: 30_000 });
  t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue after the run');
  return res.stdout + res.stderr;
}

const addCaps = (c: BundleConfig, ...caps: string[]) => {
  for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set] = [...(c.process.capabilities![set] ?? []), ...caps];
};
const mountIndex = (c: BundleConfig, dest: string) => c.mounts.findIndex((m) => m.destination === dest);

t.test('--no-pivot: the host procfs is out of reach, so no fresh /proc can be mounted', async (t) => {
  // A nested user+pid namespace may mount procfs only where a full, unmasked procfs is
  // visible in its mount namespace: with chroot instead of pivot_root the host's /proc was.
  const attempt = 'unshare -mrpf sh -c "mount -t proc proc /proc && echo fresh-proc-mounted" 2>&1; echo done';
  const opts: BundleOptions = { args: ['sh', '-c', attempt], mutate: (c) => addCaps(c, 'CAP_SETFCAP', 'CAP_SETUID', 'CAP_SETGID') };
  const pivoted = runOutput(t, opts);
  t.match(pivoted, /done/, `control: the attempt ran with pivot_root: ${pivoted}`);
  t.notMatch(pivoted, /fresh-proc-mounted/, 'control: refused with pivot_root');
  const moved = runOutput(t, opts, ['--no-pivot']);
  t.match(moved, /done/, `the attempt ran with --no-pivot: ${moved}`);
  t.notMatch(moved, /fresh-proc-mounted/, 'refused with --no-pivot too');
  t.match(moved, /permission denied|Operation not permitted/i, 'the mount failed for lack of permission');
});

t.test('--no-pivot with rootfsPropagation [r]private is refused (runc)', async (t) => {
  for (const propagation of ['private', 'rprivate'] as const) {
    t.test(propagation, async (t) => {
      refused(t, { mutate: (c) => (c.linux.rootfsPropagation = propagation) }, {
        cmd: (b, id) => ['run', '-d', '--no-pivot', '--bundle', b.dir, id],
        expect: () => [`${CFG}/linux/rootfsPropagation`, 'not safe without pivot_root'],
      });
    });
  }
});

t.test('a rootfs whose /proc or /sys is a symlink is refused', async (t) => {
  for (const [dir, target, dest] of [['proc', 'tmp', '/proc'], ['proc', '/', '/proc'], ['sys', '../../..', '/sys']]) {
    t.test(`/${dir} -> ${target}`, async (t) => {
      refused(t, {
        copyRootfs: true,
        prepare: (b) => {
          fs.rmdirSync(path.join(b.rootfs, dir));
          fs.symlinkSync(target, path.join(b.rootfs, dir));
        },
      }, { expect: (c) => [`${CFG}/mounts/${mountIndex(c, dest)}`, `/${dir}`, 'symlink'] });
    });
  }
});

t.test('binds over /proc and /proc/sys are refused, naming the mount', async (t) => {
  const src = tempDir('tsrun-holes-src-');
  t.teardown(src.remove);
  for (const dest of ['/proc', '/proc/sys', '/proc/sys/kernel']) {
    t.test(dest, async (t) => {
      refused(t, {
        mutate: (c) => c.mounts.push({ destination: dest, type: 'bind', source: src.dir, options: ['rbind'] }),
      }, { expect: (c) => [`${CFG}/mounts/${c.mounts.length - 1}`, dest] });
    });
  }
  t.test('a bind reaching /proc/sys through a symlink in the rootfs', async (t) => {
    refused(t, {
      copyRootfs: true,
      mutate: (c) => c.mounts.push({ destination: '/etc/psys/kernel', type: 'bind', source: src.dir, options: ['rbind'] }),
      prepare: (b) => fs.symlinkSync('/proc/sys', path.join(b.rootfs, 'etc', 'psys')),
    }, { expect: (c) => [`${CFG}/mounts/${c.mounts.length - 1}`, '/proc/sys/kernel'] });
  });
  t.test('control: a bind of a procfs file runc allows (lxcfs) still works', async (t) => {
    const out = runOutput(t, {
      args: ['sh', '-c', 'head -n1 /proc/uptime'],
      mutate: (c) => c.mounts.push({ destination: '/proc/uptime', type: 'bind', source: '/proc/uptime', options: ['rbind'] }),
    });
    t.match(out, /^\d+\.\d+ \d+\.\d+/, out);
  });
});

t.test('device cgroup: linux.devices makes nodes, only linux.resources.devices grants access', async (t) => {
  const kmsg = { path: '/dev/kmsg', type: 'c' as const, major: 1, minor: 11, fileMode: 0o666, uid: 0, gid: 0 };
  // Opening for writing is what the device cgroup checks; nothing is written to the log.
  const probe = '{ true > /dev/kmsg; } 2>/dev/null && echo kmsg-writable || echo kmsg-denied; echo x > /dev/null && echo null-ok';
  const denied = runOutput(t, { args: ['sh', '-c', probe], mutate: (c) => (c.linux.devices = [kmsg]) });
  t.match(denied, /kmsg-denied/, `deny-all rule keeps /dev/kmsg closed: ${denied}`);
  t.match(denied, /null-ok/, 'the default allow list still covers /dev/null');
  const allowed = runOutput(t, {
    args: ['sh', '-c', probe],
    mutate: (c) => {
      c.linux.devices = [kmsg];
      c.linux.resources!.devices!.push({ allow: true, type: 'c', major: 1, minor: 11, access: 'w' });
    },
  });
  t.match(allowed, /kmsg-writable/, `control: an allow rule in linux.resources.devices opens it: ${allowed}`);
});

/** Hex CapBnd of this (root) process: tsrun, started by us, has the same bounding set. */
function ownBounding(): bigint {
  return BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
}
const CAP_SYS_RESOURCE = 24;

const grantsSysResource = (ownBounding() & (1n << BigInt(CAP_SYS_RESOURCE))) !== 0n;
t.test('capabilities outside tsrun\'s bounding set are refused at create', { skip: grantsSysResource && 'this host grants CAP_SYS_RESOURCE: nothing to refuse' }, async (t) => {
  const create = (b: Bundle, id: string) => ['create', '--bundle', b.dir, '--pid-file', path.join(b.dir, 'pid'), id];
  t.test('in every set', async (t) => {
    refused(t, { mutate: (c) => addCaps(c, 'CAP_SYS_RESOURCE') }, {
      cmd: create,
      expect: (c) => [`${CFG}/process/capabilities/bounding/${c.process.capabilities!.bounding!.length - 1}`, 'CAP_SYS_RESOURCE'],
    });
  });
  t.test('only in ambient', async (t) => {
    refused(t, {
      mutate: (c) => (c.process.capabilities!.ambient = ['CAP_KILL', 'CAP_SYS_RESOURCE']),
    }, { cmd: create, expect: () => [`${CFG}/process/capabilities/ambient/1`, 'CAP_SYS_RESOURCE'] });
  });
});

/** The freezers on this host (cgroup2 tree, v1 freezer hierarchy): where, and how to freeze and thaw a cgroup. */
function freezers(): Array<{ name: string; mount: string; freeze: (d: string) => void; thaw: (d: string) => void }> {
  const out = [];
  if (fs.existsSync(`${CG}/cgroup.controllers`) || fs.existsSync(`${CG}/unified/cgroup.controllers`)) {
    const mount = fs.existsSync(`${CG}/cgroup.controllers`) ? CG : `${CG}/unified`;
    out.push({ name: 'cgroup2', mount, freeze: (d: string) => fs.writeFileSync(`${d}/cgroup.freeze`, '1'), thaw: (d: string) => fs.writeFileSync(`${d}/cgroup.freeze`, '0') });
  }
  if (fs.existsSync(`${CG}/freezer/cgroup.procs`)) {
    out.push({ name: 'v1 freezer', mount: `${CG}/freezer`, freeze: (d: string) => fs.writeFileSync(`${d}/freezer.state`, 'FROZEN'), thaw: (d: string) => fs.writeFileSync(`${d}/freezer.state`, 'THAWED') });
  }
  return out;
}

const noFreezer = freezers().length === 0 && 'no freezer on this host (neither cgroup2 nor a v1 freezer hierarchy)';
t.test('run -d into a frozen cgroup fails at once', { skip: noFreezer }, async (t) => {
  for (const f of freezers()) {
    for (const nested of [false, true]) {
      t.test(`${f.name}${nested ? ', frozen parent' : ''}`, async (t) => {
        const name = uniqueId('frozen');
        const dir = path.join(f.mount, name);
        fs.mkdirSync(dir);
        f.freeze(dir);
        const cleanup = (id: string) => {
          // Thawed first, so that a container the old code left can be stopped and deleted.
          f.thaw(dir);
          if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
          for (const hierarchy of ['', ...fs.readdirSync(CG)]) {
            for (const d of [path.join(CG, hierarchy, name, 'c'), path.join(CG, hierarchy, name)]) {
              try {
                fs.rmdirSync(d);
              } catch {
                /* not there */
              }
            }
          }
        };
        const cgroupsPath = nested ? `/${name}/c` : `/${name}`;
        const id = refused(t, { mutate: (c) => (c.linux.cgroupsPath = cgroupsPath) }, { expect: () => ['linux.cgroupsPath', 'frozen', name] });
        t.teardown(() => cleanup(id));
        // tsrun made the cgroup in the other hierarchies: all of it removed again.
        const left = fs.readdirSync(CG).filter((h) => path.join(CG, h) !== f.mount && fs.existsSync(path.join(CG, h, name)));
        t.same(left, [], 'no cgroup of that name left in the other hierarchies');
        t.notOk(fs.existsSync(path.join(dir, 'c')), 'no child cgroup left under the frozen one');
      });
    }
  }
});
