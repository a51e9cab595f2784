// process.capabilities as the container process sees them: each test runs a real container
// (`tsrun run`) that prints the Cap* lines of /proc/self/status, and checks the exact masks.
// Needs root and a built dist/tsrun.js (`npm run build`).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { forceDelete, freshRoot, residue, tsrun, tsrunBuilt, TsrunResult, uniqueId } from '../helpers/tsrun';

// tap re-adds its loader to every child's NODE_OPTIONS: run tsrun as engines do, without it.
const spawnHooks = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[
  Symbol.for('process-on-spawn@*:singletonId')
];
if (spawnHooks?.listeners) spawnHooks.listeners.length = 0;

if (process.getuid?.() !== 0) t.plan(0, 'needs root');
else if (!tsrunBuilt()) t.plan(0, 'dist/tsrun.js missing: run `npm run build` first');

const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

/** runc's (and Docker's) default capability set. */
const RUNC_DEFAULT = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const RUNC_DEFAULT_MASK = '00000000a80425fb';
const NET_BIND_SERVICE_MASK = '0000000000000400';
const ZERO = '0000000000000000';

type Caps = { CapInh: string; CapPrm: string; CapEff: string; CapBnd: string; CapAmb: string };

interface Run extends TsrunResult {
  caps: Caps;
}

/** Run a container with `mutate`, printing /proc/self/status then running `extra` (sh -c). */
function run(t: tap.Test, mutate: (c: BundleConfig) => void, extra = '', globalArgs: string[] = []): Run {
  const id = uniqueId('caps');
  const script = `grep ^Cap /proc/self/status${extra ? `; ${extra}` : ''}`;
  const bundle = makeBundle({
    args: ['sh', '-c', script],
    mutate: (c) => {
      c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
      mutate(c);
    },
  });
  try {
    const r = tsrun(['run', '--bundle', bundle.dir, id], { root, globalArgs });
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'nothing left after the run');
    const caps = {} as Record<string, string>;
    for (const m of r.stdout.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)) caps[m[1]] = m[2];
    return { ...r, caps: caps as Caps };
  } finally {
    bundle.cleanup();
  }
}

function setCaps(c: BundleConfig, caps: NonNullable<BundleConfig['process']['capabilities']>): void {
  c.process.capabilities = caps;
}

t.test('root with the runc default set: exact masks', async (t) => {
  const r = run(t, (c) => setCaps(c, { bounding: RUNC_DEFAULT, effective: RUNC_DEFAULT, permitted: RUNC_DEFAULT }));
  t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
  t.equal(r.stderr, '', 'no warning');
  t.same(r.caps, { CapInh: ZERO, CapPrm: RUNC_DEFAULT_MASK, CapEff: RUNC_DEFAULT_MASK, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
});

t.test('root with all five sets the runc default', async (t) => {
  const all = RUNC_DEFAULT;
  const r = run(t, (c) => setCaps(c, { bounding: all, effective: all, permitted: all, inheritable: all, ambient: all }));
  t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
  t.equal(r.stderr, '', 'no warning');
  t.same(r.caps, {
    CapInh: RUNC_DEFAULT_MASK, CapPrm: RUNC_DEFAULT_MASK, CapEff: RUNC_DEFAULT_MASK, CapBnd: RUNC_DEFAULT_MASK, CapAmb: RUNC_DEFAULT_MASK,
  });
});

t.test('uid 1000 with ambient+inheritable+permitted+effective CAP_NET_BIND_SERVICE', async (t) => {
  const nbs = ['CAP_NET_BIND_SERVICE'];
  const r = run(t, (c) => {
    c.process.user = { uid: 1000, gid: 1000 };
    setCaps(c, { bounding: RUNC_DEFAULT, effective: nbs, permitted: nbs, inheritable: nbs, ambient: nbs });
  }, 'id -u; nc -l -p 80 -w 5 127.0.0.1 </dev/null & ' +
    // wait (up to ~5 s) for the listening socket to show, instead of a fixed sleep
    'i=0; until grep -q ":0050 " /proc/net/tcp || [ $i -ge 500 ]; do sleep 0.01; i=$((i+1)); done; ' +
    'grep -c ":0050 " /proc/net/tcp; kill $! 2>/dev/null; true');
  t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
  t.same(r.caps, {
    CapInh: NET_BIND_SERVICE_MASK, CapPrm: NET_BIND_SERVICE_MASK, CapEff: NET_BIND_SERVICE_MASK,
    CapBnd: RUNC_DEFAULT_MASK, CapAmb: NET_BIND_SERVICE_MASK,
  });
  const after = r.stdout.split('\n').filter((l) => l && !l.startsWith('Cap'));
  t.same(after, ['1000', '1'], 'runs as uid 1000 and can listen on port 80');
});

t.test('uid 1000 without CAP_NET_BIND_SERVICE cannot listen on port 80', async (t) => {
  const r = run(t, (c) => {
    c.process.user = { uid: 1000, gid: 1000 };
    setCaps(c, { bounding: RUNC_DEFAULT, effective: RUNC_DEFAULT, permitted: RUNC_DEFAULT });
  }, 'nc -l -p 80 -w 1 127.0.0.1 </dev/null; echo "nc status $?"');
  t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
  // Non-root and no ambient caps: execve clears permitted and effective.
  t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  t.match(r.stdout, /nc status 1/);
  t.match(r.stderr, /Permission denied/);
});

t.test('empty capabilities', async (t) => {
  t.test('root, all five sets empty: all zero', async (t) => {
    const r = run(t, (c) => setCaps(c, { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] }));
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.equal(r.stderr, '', 'no warning');
    t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: ZERO, CapAmb: ZERO });
  });
  t.test('root, {} (every set missing = empty): all zero', async (t) => {
    const r = run(t, (c) => setCaps(c, {}));
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: ZERO, CapAmb: ZERO });
  });
  t.test('uid 1000, only bounding configured: all zero but bounding', async (t) => {
    const r = run(t, (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      setCaps(c, { bounding: RUNC_DEFAULT, effective: [], permitted: [], inheritable: [], ambient: [] });
    });
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  });
  // Same results as runc 1.1 on the same bundles (checked by hand on this host).
  t.test('root, only bounding configured, noNewPrivileges: all zero but bounding', async (t) => {
    const r = run(t, (c) => {
      c.process.noNewPrivileges = true;
      setCaps(c, { bounding: RUNC_DEFAULT, effective: [], permitted: [], inheritable: [], ambient: [] });
    });
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  });
  t.test('root, only bounding configured, no noNewPrivileges: execve gives uid 0 its bounding set (kernel rule)', async (t) => {
    const r = run(t, (c) => {
      c.process.noNewPrivileges = false;
      setCaps(c, { bounding: RUNC_DEFAULT, effective: [], permitted: [], inheritable: [], ambient: [] });
    });
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.same(r.caps, { CapInh: ZERO, CapPrm: RUNC_DEFAULT_MASK, CapEff: RUNC_DEFAULT_MASK, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  });
});

t.test('what the kernel would refuse is a warning and is left out', async (t) => {
  t.test('ambient not in inheritable', async (t) => {
    const r = run(t, (c) => setCaps(c, {
      bounding: RUNC_DEFAULT, effective: RUNC_DEFAULT, permitted: RUNC_DEFAULT, inheritable: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_CHOWN'],
    }));
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.equal(r.stderr, 'tsrun: warning: process.capabilities.ambient: ignoring CAP_CHOWN: an ambient capability must also be permitted and inheritable\n');
    t.same(r.caps, { CapInh: '0000000000000020', CapPrm: RUNC_DEFAULT_MASK, CapEff: RUNC_DEFAULT_MASK, CapBnd: RUNC_DEFAULT_MASK, CapAmb: '0000000000000020' });
  });
  t.test('effective not in permitted', async (t) => {
    const r = run(t, (c) => setCaps(c, { bounding: RUNC_DEFAULT, effective: ['CAP_KILL'], permitted: [] }));
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.equal(r.stderr, 'tsrun: warning: process.capabilities.effective: ignoring CAP_KILL: an effective capability must also be permitted\n');
    t.same(r.caps, { CapInh: ZERO, CapPrm: ZERO, CapEff: ZERO, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  });
});

t.test('an unknown capability name is a warning and is ignored', async (t) => {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-caplog-')), 'log.json');
  t.teardown(() => fs.rmSync(path.dirname(log), { recursive: true, force: true }));
  const withFoo = [...RUNC_DEFAULT, 'CAP_FOO'];
  const r = run(
    t,
    (c) => setCaps(c, { bounding: withFoo, effective: withFoo, permitted: withFoo, ambient: ['CAP_FOO'] }),
    '',
    ['--log', log, '--log-format', 'json'],
  );
  t.equal(r.status, 0, `the container still runs; stderr: ${r.stderr}`);
  t.same(r.caps, { CapInh: ZERO, CapPrm: RUNC_DEFAULT_MASK, CapEff: RUNC_DEFAULT_MASK, CapBnd: RUNC_DEFAULT_MASK, CapAmb: ZERO });
  // With --log, warnings go to the log only (as with runc); stderr stays the container's.
  t.equal(r.stderr, '');
  const entries = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
  t.same(
    entries.filter((e) => e.level === 'warning').map((e) => e.msg),
    ['process.capabilities: ignoring "CAP_FOO" in bounding, effective, permitted, ambient: unknown capability'],
  );
});

const capLast = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
// CAP_CHECKPOINT_RESTORE (40) is the last name tsrun knows: a kernel that has it leaves nothing to test.
const knowsAllCaps = capLast >= 40 && `this kernel knows every capability tsrun knows (cap_last_cap ${capLast}): only unknown names can be tested here`;

t.test('a capability number past cap_last_cap is a warning and is ignored', { skip: knowsAllCaps }, async (t) => {
  const r = run(t, (c) => setCaps(c, { bounding: ['CAP_CHECKPOINT_RESTORE'], permitted: ['CAP_CHECKPOINT_RESTORE'] }));
  t.equal(r.status, 0);
  t.match(r.stderr, /ignoring "CAP_CHECKPOINT_RESTORE" in bounding, permitted: not supported by this kernel/);
});

t.test('behaviour: chown needs CAP_CHOWN', async (t) => {
  const script = 'touch /tmp/x && chown 1000 /tmp/x; echo "chown status $?"; stat -c %u /tmp/x';
  t.test('without CAP_CHOWN: Operation not permitted', async (t) => {
    const noChown = RUNC_DEFAULT.filter((c) => c !== 'CAP_CHOWN');
    const r = run(t, (c) => setCaps(c, { bounding: noChown, effective: noChown, permitted: noChown }), script);
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.equal(r.caps.CapEff, '00000000a80425fa');
    t.match(r.stderr, /chown: \/tmp\/x: Operation not permitted/);
    t.match(r.stdout, /chown status 1\n0\n$/);
  });
  t.test('with CAP_CHOWN: allowed', async (t) => {
    const r = run(t, (c) => setCaps(c, { bounding: RUNC_DEFAULT, effective: RUNC_DEFAULT, permitted: RUNC_DEFAULT }), script);
    t.equal(r.status, 0, `status; stderr: ${r.stderr}`);
    t.equal(r.stderr, '');
    t.match(r.stdout, /chown status 0\n1000\n$/);
  });
});
