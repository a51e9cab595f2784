// OCI bundles for tests: a temp directory with a config.json like
// examples/hello-world/config.json (runc spec style, no terminal) whose root is the shared
// busybox rootfs (absolute path) or, with copyRootfs, a private copy inside the bundle.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Linux, Mount, Process, Root, Spec } from '../../src/spec/types';
import { copyRootfs as copyTree, ensureRootfs } from './rootfs';

/** A Spec whose usual sections are present, so tests can mutate them without `!`. */
export type BundleConfig = Spec & { process: Process; root: Root; mounts: Mount[]; linux: Linux };

export interface BundleOptions {
  /** process.args; default ['/bin/true']. */
  args?: string[];
  /** Extra process.env entries ("K=V"), appended to PATH and TERM. */
  env?: string[];
  /** Rootfs to use (absolute path); default: the shared cached one from ensureRootfs(). */
  rootfs?: string;
  /**
   * Copy the rootfs (cp -a) to <bundle>/rootfs and set root.path "rootfs": use it when the
   * container writes to its root filesystem. Without it the shared rootfs is used in
   * place (root.path absolute, readonly false): do not write to it.
   */
  copyRootfs?: boolean;
  /** Called with the config before config.json is written. */
  mutate?: (config: BundleConfig) => void;
}

export interface Bundle {
  /** Absolute path of the bundle directory. */
  dir: string;
  /** The config as written to config.json (mutate it, then call write()). */
  config: BundleConfig;
  configPath: string;
  /** Absolute path of the rootfs the container uses. */
  rootfs: string;
  /** (Re)write config.json from `config`. */
  write(): void;
  /** Remove the bundle directory; refuses (throws) if anything is still mounted under it. */
  cleanup(): void;
}

const RUNC_DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** The default bundle config: the hello-world example's settings with the given args. */
export function defaultConfig(args: string[] = ['/bin/true'], rootPath = 'rootfs'): BundleConfig {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...args],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...RUNC_DEFAULT_CAPS],
        effective: [...RUNC_DEFAULT_CAPS],
        permitted: [...RUNC_DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootPath, readonly: false },
    hostname: 'tsrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Mount points (from /proc/self/mountinfo) at or under `dir`. */
export function mountsUnder(dir: string): string[] {
  let info = '';
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    // mountinfo escapes space, tab, newline and backslash as \ooo
    const mp = f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out;
}

/** Create a bundle in a new temp dir (/tmp/tsrun-bundle-XXXXXX). */
export function makeBundle(opts: BundleOptions = {}): Bundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bundle-'));
  let rootfs: string;
  let rootPath: string;
  if (opts.copyRootfs) {
    rootfs = copyTree(opts.rootfs ?? ensureRootfs(), path.join(dir, 'rootfs'));
    rootPath = 'rootfs';
  } else {
    rootfs = path.resolve(opts.rootfs ?? ensureRootfs());
    rootPath = rootfs;
  }
  const config = defaultConfig(opts.args, rootPath);
  if (opts.env) config.process.env = [...(config.process.env ?? []), ...opts.env];
  opts.mutate?.(config);
  const configPath = path.join(dir, 'config.json');
  const write = (): void => fs.writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  write();
  return {
    dir,
    config,
    configPath,
    rootfs,
    write,
    cleanup(): void {
      const busy = mountsUnder(dir);
      if (busy.length > 0) throw new Error(`bundle ${dir} still has mounts: ${busy.join(', ')}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
