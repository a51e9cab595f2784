// The container's view, tsrun against runc (issue 13, fifth part): the same config run by
// both in the foreground, a probe printing what the process sees (ids and groups, umask,
// capabilities, no_new_privs, seccomp mode, rlimits, cwd, environment, hostname, mounts,
// /dev, oom score, fds, cgroups, namespaces), compared section by section. Only the
// differences kept on purpose are normalised away (docs/contract.md, "Where tsrun differs
// from runc on purpose"): masked files are a bind of the host's /dev/null, not the
// container's, and the container's own id in cgroup paths.
import t, { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { removeEmptyCgroupParent, rootSuite, tempDir } from '../helpers/container';
import { probeSections, sameSections } from '../helpers/probe';
import { forceDelete, residue, tsrun, uniqueId } from '../helpers/tsrun';

const root = rootSuite();
const work = tempDir('tsrun-rview-');
t.teardown(work.remove);
// The parent of the containers' cgroupsPath (runc makes it and leaves it).
t.teardown(() => removeEmptyCgroupParent('tsrun-rview'));
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => fs.existsSync(p));

const PROBE = `
echo "== id"; id
echo "== status"; grep -E "^(Cap|NoNewPrivs|Seccomp|Groups|Umask)" /proc/self/status
echo "== limits"; awk 'NR>1' /proc/self/limits
echo "== cwd"; pwd
echo "== env"; env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort
echo "== hostname"; hostname
echo "== mounts"; awk '{print $5, $6, $(NF-2), $(NF-1), $NF}' /proc/self/mountinfo | sort
echo "== dev"; ls -la /dev | awk 'NR>1 {print $1, $3, $4, $5, $6, $NF}'
echo "== oom"; cat /proc/self/oom_score_adj
echo "== fds"; ls /proc/self/fd | tr '\\n' ' '; echo
echo "== cgroup"; cat /proc/self/cgroup
echo "== ns"; for n in ipc mnt net pid uts cgroup; do echo "$n $(readlink /proc/self/ns/$n | cut -d: -f1)"; done
echo "== proc"; touch /proc/sys/x 2>&1 | sed 's/^touch: //'; head -c 20 /proc/kcore | wc -c
`;

/** A probe line with the container's id and the deliberate differences normalised away. */
function normalise(line: string, id: string): string {
  return line
    .split(id).join('ID')
    .replace(/,size=\d+k/g, '').replace(/,inode64/g, '')
    // a masked file: tsrun binds the host's /dev/null (devtmpfs), runc the container's (/dev's tmpfs)
    .replace(/^(\/\S+) rw,nosuid tmpfs tmpfs rw,mode=755$/, '$1 MASKED')
    .replace(/^(\/\S+) rw,relatime devtmpfs devtmpfs rw,.*$/, '$1 MASKED')
    // /sys/fs/cgroup "ro": runc 1.1 leaves its tmpfs writable (only the hierarchies are read-only)
    .replace(/^\/sys\/fs\/cgroup r[ow],(.* tmpfs tmpfs .*)$/, '/sys/fs/cgroup ro-or-rw,$1');
}

function compare(t: Test, name: string, mutate: (c: BundleConfig, id: string) => void, input?: (rootfs: string) => void): void {
  t.test(name, async (t) => {
    const id = uniqueId('rview');
    const bundle = makeBundle({ args: ['/bin/sh', '-c', PROBE], copyRootfs: true, mutate: (c) => mutate(c, id) });
    t.teardown(() => bundle.cleanup());
    input?.(bundle.rootfs);
    const runcRoot = path.join(work.dir, 'runc-root');
    const r = spawnSync(RUNC!, ['--root', runcRoot, 'run', '--bundle', bundle.dir, id], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    spawnSync(RUNC!, ['--root', runcRoot, 'delete', '-f', id]);
    const ours = tsrun(['run', '--bundle', bundle.dir, id], { root, timeout: 30_000 });
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    t.same(residue(id, root, { bundle: bundle.dir }), [], 'no residue');
    t.equal(r.status, 0, `runc ran it: ${r.stderr}`);
    t.equal(ours.status, 0, `tsrun ran it: ${ours.stderr}`);
    const norm = (line: string) => normalise(line, id);
    sameSections(t, name, probeSections(r.stdout, norm), probeSections(ours.stdout, norm), PROBE.split('echo "== ').length - 1);
  });
}

if (!RUNC) {
  t.test('the container view against runc', { skip: 'runc is not installed (apt-get install runc)' }, () => undefined);
} else {
  compare(t, 'the default config', () => {});
  compare(t, 'a user with groups and a umask', (c) => {
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
  });
  compare(t, 'a read-only root, cwd in a directory of the image', (c) => {
    c.root.readonly = true;
    c.process.cwd = '/work/dir';
  }, (rootfs) => fs.mkdirSync(path.join(rootfs, 'work/dir'), { recursive: true }));
  compare(t, 'a cwd that does not exist yet', (c) => {
    c.process.cwd = '/new/cwd';
  });
  compare(t, 'rlimits and oomScoreAdj', (c) => {
    c.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 }, { type: 'RLIMIT_CORE', hard: 0, soft: 0 }];
    c.process.oomScoreAdj = 500;
  });
  compare(t, 'capabilities without no_new_privs', (c) => {
    c.process.noNewPrivileges = false;
    c.process.capabilities = { bounding: ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'], permitted: ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'] };
  });
  compare(t, 'ambient capabilities for a non-root user', (c) => {
    c.process.user = { uid: 1000, gid: 1000 };
    const caps = ['CAP_NET_BIND_SERVICE'];
    c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
  });
  compare(t, 'sysctls, a bind mount and a tmpfs', (c) => {
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shm_rmid_forced': '1' };
    c.mounts.push({ destination: '/mnt/etc', type: 'bind', source: '/etc', options: ['rbind', 'ro'] });
    c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=1m'] });
  });
  compare(t, 'a device, extra masked and read-only paths, slave propagation', (c) => {
    c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
    c.linux.maskedPaths = [...(c.linux.maskedPaths ?? []), '/etc/hostname', '/nonexistent'];
    c.linux.readonlyPaths = [...(c.linux.readonlyPaths ?? []), '/etc'];
    c.linux.rootfsPropagation = 'slave';
  });
  compare(t, "an engine's /proc and /sys/fs/cgroup: read-only paths keep nosuid/nodev/noexec, every v1 hierarchy", (c, id) => {
    for (const m of c.mounts) if (m.destination === '/proc') m.options = ['nosuid', 'noexec', 'nodev'];
    c.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev', 'relatime'] });
    c.linux.namespaces = (c.linux.namespaces ?? []).filter((ns) => ns.type !== 'cgroup'); // the paths show in /proc/self/cgroup
    c.linux.cgroupsPath = `/tsrun-rview/${id}`;
  });
  compare(t, 'an environment without PATH', (c) => {
    c.process.env = ['FOO=bar'];
  });
}
