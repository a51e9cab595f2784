// Issue 11.1: no process tsrun makes may be visible in a container's pid namespace while it
// holds anything of the host (root, cwd, mount namespace, fds). The attacker is a container
// with every capability (CAP_SYS_PTRACE included, no seccomp) that loops over
// /proc/*/root, /proc/*/cwd and /proc/*/fd/* trying to write into a host directory it
// cannot otherwise reach, while tsrun runs `exec` into it 20 times and creates 5 containers
// that join its pid namespace (a pod sharing its process namespace).
// Build first (`npm run build`).
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CAPABILITY_NAMES, capabilityNumber } from '../../src/security/capabilities';
import { makeBundle } from '../helpers/bundle';
import { rootSuite } from '../helpers/container';
import { forceDelete, residue, state, tsrun, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();

// The host directory the attacker tries to write into: it exists only on the host.
const target = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-host-target-'));
t.teardown(() => fs.rmSync(target, { recursive: true, force: true }));

/**
 * busybox sh, builtins only in the loop (no fork per try): for every process it can see,
 * write through its root and cwd links and through every fd that is a directory.
 */
const scanner = `
  exec 2>/dev/null
  n=0
  while [ ! -e /stop ]; do
    for p in /proc/[0-9]*; do
      echo "root $p" > $p/root${target}/pwned-root 2>/dev/null
      echo "cwd $p" > $p/cwd${target}/pwned-cwd 2>/dev/null
      echo "cwd-up $p" > $p/cwd/../../../../../../..${target}/pwned-cwd-up 2>/dev/null
      for f in $p/fd/*; do
        echo "fd $f" > $f${target}/pwned-fd 2>/dev/null
        echo "fd-up $f" > $f/../../../../../../..${target}/pwned-fd-up 2>/dev/null
      done
    done
    n=$((n+1))
    [ $n = 1 ] && echo started > /started
  done
  echo $n > /stopped
`;

function attacker(userns?: number) {
  const bundle = makeBundle({
    copyRootfs: true,
    // With a user namespace: every thread of every process (a Node process's other threads
    // keep the host's root), and the rootfs belongs to the mapped root.
    args: ['sh', '-c', userns ? scanner.replace('/proc/[0-9]*;', '/proc/[0-9]*/task/[0-9]*;') : scanner],
    mutate: (c) => {
      if (userns) {
        c.linux.namespaces!.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: userns, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: userns, size: 65536 }];
      }
      const caps = grantable();
      c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
      c.process.noNewPrivileges = false;
      delete c.linux.seccomp;
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
    },
  });
  if (userns) {
    spawnSync('chown', ['-R', `${userns}:${userns}`, bundle.rootfs]);
    fs.chmodSync(bundle.dir, 0o755);
  }
  return bundle;
}

/** What the scanner managed to write on the host: file and the path it used. */
const hostWrites = () => fs.readdirSync(target).map((f) => `${f}: ${fs.readFileSync(path.join(target, f), 'utf8').trim()}`);

/** Every capability this host lets us grant (those in our own bounding set). */
function grantable(): string[] {
  const bnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
  return CAPABILITY_NAMES.filter((name) => ((bnd >> BigInt(capabilityNumber(name)!)) & 1n) === 1n);
}

/**
 * Runs the scanner `bundle` detached, then `body` with its init's pid; stops it and checks that
 * it went round and wrote nothing on the host; nothing of it or of `pods` is left.
 */
async function withScanner(t: Test, bundle: ReturnType<typeof attacker>, prefix: string, body: (initPid: number, pods: string[], id: string) => void): Promise<void> {
  const id = uniqueId(prefix);
  const pods: string[] = [];
  try {
    const run = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root });
    t.equal(run.status, 0, run.stderr);
    t.ok(waitFor(() => fs.existsSync(path.join(bundle.rootfs, 'started'))), 'the scanner runs');
    body(state(id, root).pid, pods, id);
    fs.writeFileSync(path.join(bundle.rootfs, 'stop'), '');
    t.ok(waitFor(() => fs.existsSync(path.join(bundle.rootfs, 'stopped'))), 'the scanner stopped');
    const seen = Number(fs.readFileSync(path.join(bundle.rootfs, 'stopped'), 'utf8'));
    t.ok(seen > 20, `the scanner went round ${seen} times`);
    t.same(hostWrites(), [], 'nothing was written on the host during the pod creates');
  } finally {
    forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), []);
    for (const p of pods) t.same(residue(p, root), []);
    bundle.cleanup();
  }
}

/** A pod container joining the scanner's pid namespace (and `more` of its namespaces): what it printed. */
function runPod(t: Test, pods: string[], initPid: number, script: string, more: Array<'user'> = []): string {
  const podId = uniqueId('pod');
  pods.push(podId);
  const pod = makeBundle({
    args: ['sh', '-c', script],
    mutate: (c) => {
      c.linux.namespaces = (c.linux.namespaces ?? []).map((ns) => (ns.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : ns));
      for (const type of more) c.linux.namespaces.push({ type, path: `/proc/${initPid}/ns/${type}` });
    },
  });
  try {
    const r = tsrun(['run', '--bundle', pod.dir, podId], { root });
    t.equal(r.status, 0, `pod ${podId}: ${r.stderr}`);
    return r.stdout;
  } finally {
    forceDelete(podId, root);
    pod.cleanup();
  }
}

t.test('a container with every capability never reaches the host through tsrun\'s processes', async (t) => {
  await withScanner(t, attacker(), 'scan', (initPid, pods, id) => {
    for (let i = 0; i < 20; i++) {
      const r = tsrun(['exec', id, 'true'], { root });
      t.equal(r.status, 0, `exec ${i}: ${r.stderr}`);
    }
    t.same(hostWrites(), [], 'nothing was written on the host during the execs');
    // Pod style: new containers joining the scanner's pid namespace. What each sees: the
    // pod's processes (pid 1 is the scanner's shell), itself not as pid 1.
    for (let i = 0; i < 5; i++) {
      const out = runPod(t, pods, initPid, 'cat /proc/1/comm; [ $$ != 1 ] && echo not-pid-1');
      t.equal(out, 'sh\nnot-pid-1\n', 'the pod container sees the shared pid namespace through its own /proc');
    }
  });
});

t.test('pods with a user namespace (Kubernetes user-namespace pods sharing processes): the same', async (t) => {
  const HOST = 100000;
  // Writable by the pod's mapped root, should it ever reach the host's tree.
  fs.chownSync(target, HOST, HOST);
  t.teardown(() => fs.chownSync(target, 0, 0));
  await withScanner(t, attacker(HOST), 'scanu', (initPid, pods) => {
    for (let i = 0; i < 8; i++) {
      const out = runPod(t, pods, initPid, 'cat /proc/1/comm; [ $$ != 1 ] && echo not-pid-1; cat /proc/self/uid_map', ['user']);
      t.equal(out.replace(/[ \t]+/g, ' '), `sh\nnot-pid-1\n 0 ${HOST} 65536\n`, 'the pod container sees the shared pid namespace, in the pod\'s user namespace');
    }
  });
});
