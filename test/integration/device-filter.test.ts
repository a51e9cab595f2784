// The cgroup v2 device filter in the kernel (as root; cgroup mode does not matter for
// loading): tsrun's programs go through BPF_PROG_LOAD as BPF_PROG_TYPE_CGROUP_DEVICE, and
// the kernel's own record of each (/proc/self/fdinfo: prog_type, prog_tag = the first 8
// bytes of a hash of the instructions) is compared with the programs written from
// linux/bpf.h in test/helpers/devcg.ts. Then the default rule set plus a deny-all is
// attached to a throwaway cgroup2 directory and a shell moved into it really opens devices.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDeviceProgram } from '../../bindings/bpf';
import { attachWithBpf } from '../../src/cgroups/v2';
import { deviceProgram, deviceRules, encodeProgram } from '../../src/cgroups/devices';
import { BPF_PROG_TYPE_CGROUP_DEVICE, expectedPrograms } from '../helpers/devcg';
import { waitFor } from '../helpers/tsrun';

const isRoot = process.getuid?.() === 0;

/** fdinfo of a bpf program fd: prog_type, prog_tag, ... */
function fdinfo(fd: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const m = /^([a-z_]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** The possible prog_tags of a program: the first 8 bytes of its SHA-256 (Linux 6.18 on) or SHA-1 (before). */
const tagsOf = (bytes: Buffer): string[] => ['sha256', 'sha1'].map((h) => createHash(h).update(bytes).digest('hex').slice(0, 16));

/** Where cgroup2 is mounted (hybrid: /sys/fs/cgroup/unified; pure v2: /sys/fs/cgroup). */
function cgroup2Mount(): string | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre.split(' ')[4];
  }
  return undefined;
}

t.test('BPF_PROG_LOAD: the kernel holds exactly the expected program', { skip: isRoot ? false : 'BPF_PROG_LOAD needs root' }, async (t) => {
  for (const e of expectedPrograms) {
    const bytes = encodeProgram(deviceProgram(e.rules));
    const fd = loadDeviceProgram(bytes);
    try {
      const info = fdinfo(fd);
      t.equal(Number(info.prog_type), BPF_PROG_TYPE_CGROUP_DEVICE, `${e.name}: prog_type is BPF_PROG_TYPE_CGROUP_DEVICE`);
      t.ok(tagsOf(e.bytes).includes(info.prog_tag), `${e.name}: prog_tag ${info.prog_tag} is the hash of the program written from linux/bpf.h (${tagsOf(e.bytes)})`);
    } finally {
      fs.closeSync(fd);
    }
  }
  // The rule set a container gets (defaults included): the verifier accepts it as loaded.
  const full = encodeProgram(deviceProgram(deviceRules([{ allow: false, access: 'rwm' }])));
  const fd = loadDeviceProgram(full);
  try {
    t.ok(tagsOf(full).includes(fdinfo(fd).prog_tag), 'the default rule set loads unchanged');
  } finally {
    fs.closeSync(fd);
  }
});

// Each probe opens in a subshell and prints "<probe> ok|denied"; stderr is the pipe, so
// no device is needed for the output itself.
const probes = [
  ['null-r', ': < /dev/null'],
  ['null-w', ': > /dev/null'],
  ['zero-r', ': < /dev/zero'],
  ['full-w', ': > /dev/full'],
  ['kmsg-r', ': < /dev/kmsg'],
  ['kmsg-w', ': >> /dev/kmsg'],
  ['loop-control-r', ': < /dev/loop-control'],
];
const body = probes.map(([name, cmd]) => `if (${cmd}); then echo "${name} ok"; else echo "${name} denied"; fi`).join('\n');
const probe = (cgroupDir?: string) => {
  const move = cgroupDir ? `echo $$ > ${cgroupDir}/cgroup.procs || exit 99\n` : '';
  return spawnSync('/bin/sh', ['-c', move + body], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
};

// The precondition: the host lets this process open every probe. Where our own cgroups
// already deny one (a devices cgroup above us), the test cannot tell who denied it.
const hostDenied = probe().stdout.split('\n').filter((l) => l.endsWith(' denied'));
const mnt = isRoot ? cgroup2Mount() : undefined;
const attachSkip = !isRoot
  ? 'attaching needs root'
  : !mnt
    ? 'no cgroup2 mount on this host'
    : hostDenied.length > 0
      ? `this host already denies ${hostDenied.join(', ')} to us (${fs.readFileSync('/proc/self/cgroup', 'utf8').trim().replace(/\n/g, ' ')})`
      : false;

t.test('attached to a cgroup2 directory, the program decides real opens', { skip: attachSkip }, async (t) => {
  const dir = path.join(mnt!, `tsrun-devtest-${process.pid}`);
  fs.mkdirSync(dir);
  t.teardown(() => {
    // The shell has exited (spawnSync waits); the kernel may take a moment to drop it.
    waitFor(() => {
      try {
        fs.rmdirSync(dir);
        return true;
      } catch {
        return false;
      }
    }, 5_000);
  });
  // deny all, allow kmsg (c 1:11) for reading only, then runc's defaults (null, zero, full, ...).
  const rules = deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }]);
  attachWithBpf(dir, encodeProgram(deviceProgram(rules)));

  const outside = probe();
  t.equal(outside.stdout, probes.map(([n]) => `${n} ok\n`).join(''), `outside the cgroup every probe opens: ${outside.stderr}`);

  const inside = probe(dir);
  t.equal(inside.status, 0, `moved into ${dir}: ${inside.stderr}`);
  t.equal(
    inside.stdout,
    ['null-r ok', 'null-w ok', 'zero-r ok', 'full-w ok', 'kmsg-r ok', 'kmsg-w denied', 'loop-control-r denied'].join('\n') + '\n',
    'inside: the defaults and the read-only kmsg rule hold, everything else is denied',
  );
  t.match(inside.stderr, /Operation not permitted/, 'a denied open fails with EPERM');
});
