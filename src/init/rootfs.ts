// Builds the container's filesystem view inside its new mount namespace: rootfs bind,
// config mounts, /dev, masked and read-only paths, then pivot_root (or MS_MOVE + chroot).
// Runs on the init's main thread only, before any code from the container can run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AT_EMPTY_PATH, AT_RECURSIVE, libc, makedev, MNT_DETACH, MOVE_MOUNT, MS, O, S_IFBLK, S_IFCHR, S_IFIFO, SysError } from '../../bindings';
import { recvFd } from '../../bindings/tty';
import type { LinuxDevice, Mount, Spec } from '../spec/types';
import { TsrunError } from '../errors';
import { fdPath, InRoot } from './in-root';
import { runningInUserNamespace, unescapeMountPath } from '../procfs';
import { isBindMount as isBind, isIdmapped, ParsedMountOptions, parseMountOptions, ROOTFS_PROPAGATION } from '../spec/mount-options';

export interface RootfsOptions {
  config: Spec;
  rootfs: string;
  bundle: string;
  noPivot: boolean;
  debug: (msg: string) => void;
  /** Called when every mount is in place, before pivot_root (createRuntime/createContainer hooks). */
  beforePivot?: () => void;
  /** The container's cgroup directories (host paths), which a cgroup mount binds. */
  cgroupDirs?: string[];
  /** The socket the runtime sends the idmapped mounts on (src/container/idmap.ts). */
  mountFdSocket?: number;
  /** The runtime made the proc mounts (a joined pid namespace) and sends them on mountFdSocket too. */
  procMountsSent?: boolean;
}

/** The devices every container gets (runc's list), unless the config names them. */
const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', 'fd'],
  ['/proc/self/fd/0', 'stdin'],
  ['/proc/self/fd/1', 'stdout'],
  ['/proc/self/fd/2', 'stderr'],
];

export function setupRootfs(opts: RootfsOptions): void {
  const { config, rootfs } = opts;
  const sys = libc();
  if (!(config.linux?.namespaces ?? []).some((ns) => ns.type === 'mount')) {
    // No mount namespace (as runc): no mounts (the config checks refuse them), only chroot.
    opts.beforePivot?.();
    sys.chdir(rootfs);
    sys.chroot('.');
    sys.chdir('/');
    opts.debug('chrooted (no mount namespace)');
    return;
  }
  const propagation = config.linux?.rootfsPropagation;
  // Stop our mounts from reaching the host (and, by default, host mounts from reaching us).
  sys.mount('', '/', '', propagation ? ROOTFS_PROPAGATION[propagation] : MS.SLAVE | MS.REC, '');
  // pivot_root refuses a new root whose parent mount is shared.
  sys.mount('', mountPointOf(path.dirname(rootfs)), '', MS.PRIVATE, '');
  sys.mount(rootfs, rootfs, '', MS.BIND | MS.REC, '');

  const root = new InRoot(rootfs);
  try {
    (config.mounts ?? []).forEach((m, index) => mountOne(root, m, opts, index));
    opts.debug('config mounts done');
    // Also when tsrun itself runs in one (as root of rootless podman's user namespace).
    const inUserns = (config.linux?.namespaces ?? []).some((ns) => ns.type === 'user') || runningInUserNamespace();
    if (needsDevSetup(config.mounts ?? [])) setupDev(root, config, inUserns);
    else createDevices(root, config.linux?.devices ?? [], inUserns);
    for (const p of config.linux?.readonlyPaths ?? []) makeReadonly(root, p);
    opts.debug('/dev and read-only paths done');
    for (const p of config.linux?.maskedPaths ?? []) mask(root, p);
    opts.debug('masked and read-only paths done');
  } finally {
    root.close();
  }
  opts.beforePivot?.();
  const again = new InRoot(rootfs);
  try {
    finishDev(again, config.mounts ?? []);
  } finally {
    again.close();
  }
  if (opts.noPivot) moveRoot(rootfs);
  else pivotRoot(rootfs);
  opts.debug('pivoted');
  if (propagation) sys.mount('', '/', '', ROOTFS_PROPAGATION[propagation], '');
  if (config.root?.readonly) {
    const rootFd = fs.openSync('/', O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      // "/" itself, not /proc/self/fd/N: with a joined pid namespace the init is not in the
      // pid namespace of the container's /proc, where /proc/self does not resolve.
      remountBind(rootFd, MS.RDONLY, '/');
    } finally {
      fs.closeSync(rootFd);
    }
  }
}

/** Per-mount flags in /proc/self/mountinfo (field 6) and the mount(2) flag each one is. */
const MOUNTINFO_FLAGS: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, relatime: MS.RELATIME,
};
const ATIME_FLAGS = MS.NOATIME | MS.RELATIME | MS.STRICTATIME;

/** The current flags of the mount fd is on (its mnt_id from fdinfo, looked up in mountinfo). */
export function mountFlagsOf(fd: number): number {
  const id = /^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[0] === id);
  if (!line) return 0;
  const options = line.split(' ')[5].split(',');
  let flags = 0;
  for (const o of options) flags |= MOUNTINFO_FLAGS[o] ?? 0;
  if (!(flags & (MS.NOATIME | MS.RELATIME))) flags |= MS.STRICTATIME;
  return flags;
}

/**
 * A bind remount (MS_REMOUNT|MS_BIND|flags) of the mount under fd. In a user namespace
 * the flags of a mount that came from a more privileged namespace are locked (nosuid,
 * nodev, noexec, the atime mode, and ro): a remount that would clear them is EPERM, so on
 * EPERM we keep them (as runc does) and try again. `target` names the mount point when
 * /proc/self/fd/N of fd cannot (the root of a pod container with a joined pid namespace).
 */
export function remountBind(fd: number, flags: number, target = fdPath(fd)): void {
  const sys = libc();
  try {
    sys.mount('', target, '', MS.REMOUNT | MS.BIND | flags, '');
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EPERM')) throw err;
    const current = mountFlagsOf(fd);
    let locked = current & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY | MS.NODIRATIME);
    if (!(flags & ATIME_FLAGS)) locked |= current & ATIME_FLAGS;
    if ((flags | locked) === flags) throw err;
    sys.mount('', target, '', MS.REMOUNT | MS.BIND | flags | locked, '');
  }
}

/** The mount point (from mountinfo) that holds path p. */
function mountPointOf(p: string): string {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter(Boolean)
    .map(unescapeMountPath);
  let best = '/';
  for (const mp of points) {
    if ((p === mp || p.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

function mountOne(root: InRoot, m: Mount, opts: RootfsOptions, index: number): void {
  const sys = libc();
  const options = parseMountOptions(m.options);
  if (isIdmapped(m)) return mountIdmapped(root, m, options, opts, index);
  if (m.type === 'proc' && opts.procMountsSent) return mountReceived(root, m, options, opts, index, `mount ${m.destination} (proc of the joined pid namespace)`, false);
  const bind = isBind(m);
  let source = m.source ?? '';
  if (bind) {
    // Relative bind sources are relative to the bundle, as in runc.
    source = path.resolve(opts.bundle, source);
    // Out of our reach in a user namespace: the runtime opened it for us (src/container/idmap.ts).
    if (opts.mountFdSocket !== undefined && deniedToUs(source)) return mountReceived(root, m, options, opts, index, `mount ${m.destination} (bind from ${source}, opened by the runtime)`, true);
    if (!fs.existsSync(source)) throw new TsrunError(`mount ${m.destination}: source ${source}: no such file or directory`);
  }
  const sourceIsDir = !bind || fs.statSync(source).isDirectory();
  if (m.type === 'cgroup') {
    const privateNs = (opts.config.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup');
    return mountCgroup(root, m, options.flags, privateNs, opts.cgroupDirs ?? []);
  }
  const namespaces = opts.config.linux?.namespaces ?? [];
  if (m.type === 'sysfs' && namespaces.some((ns) => ns.type === 'user') && !namespaces.some((ns) => ns.type === 'network' && !ns.path)) {
    // sysfs belongs to the network namespace's owner: from a user namespace without a new
    // network namespace it cannot be mounted, so the host's /sys is bound instead (as runc).
    return mountOne(root, { ...m, type: 'bind', source: '/sys', options: ['rbind', ...(m.options ?? [])] }, opts, index);
  }
  const target = root.ensure(m.destination, sourceIsDir ? 'dir' : 'file');
  const where = fdPath(target);
  // The image's content under the new tmpfs, kept reachable to copy it up.
  const below = options.copyUp && m.type === 'tmpfs' ? fs.openSync(where, O.RDONLY | O.DIRECTORY | O.CLOEXEC) : undefined;
  // As runc: a tmpfs (and /dev) is mounted writable and made read-only once filled.
  const delayReadonly = !bind && (m.type === 'tmpfs' || isDev(m)) && (options.flags & MS.RDONLY) !== 0;
  opts.debug(`mount ${m.type ?? 'bind'} ${source} on ${m.destination}`);
  try {
    if (bind) sys.mount(source, where, '', options.flags & (MS.BIND | MS.REC), '');
    else sys.mount(source || m.type || 'none', where, m.type ?? '', options.flags & ~MS.REMOUNT & ~(delayReadonly ? MS.RDONLY : 0), options.data);
    if (below !== undefined) copyUp(root, m.destination, below);
    afterMount(root, m, options, bind || (delayReadonly && !isDev(m)));
  } catch (err) {
    throw new TsrunError(`mount ${m.destination} (${m.type ?? 'bind'} from ${source || 'none'}): ${(err as Error).message}`);
  } finally {
    fs.closeSync(target);
    if (below !== undefined) fs.closeSync(below);
  }
}

function deniedToUs(p: string): boolean {
  try {
    fs.statSync(p);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES';
  }
}

function isDev(m: Mount): boolean {
  return path.posix.normalize(m.destination) === '/dev';
}

/** A read-only /dev mount is made read-only only now, when everything under it is in place. */
function finishDev(root: InRoot, mounts: Mount[]): void {
  const dev = mounts.filter((m) => isDev(m) && !isBind(m)).pop();
  if (!dev) return;
  const flags = parseMountOptions(dev.options).flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  if (!(flags & MS.RDONLY)) return;
  const fd = root.lookup('/dev');
  if (fd === undefined) return;
  try {
    remountBind(fd, flags);
  } catch (err) {
    throw new TsrunError(`mount /dev read-only: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * tmpcopyup: copy what the rootfs had at dest (dir fd below, now covered) into the new tmpfs
 * there, keeping types, modes, owners and times; symlinks are copied, never followed.
 */
function copyUp(root: InRoot, dest: string, below: number): void {
  const mounted = root.lookup(dest);
  if (mounted === undefined) throw new TsrunError('mount point vanished');
  try {
    copyTree(fdPath(below), fdPath(mounted));
  } finally {
    fs.closeSync(mounted);
  }
}

function copyTree(from: string, to: string): void {
  for (const name of fs.readdirSync(from)) {
    const src = `${from}/${name}`;
    const dst = `${to}/${name}`;
    const st = fs.lstatSync(src);
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(src), dst);
      fs.lchownSync(dst, st.uid, st.gid);
      continue;
    }
    if (st.isDirectory()) {
      fs.mkdirSync(dst);
      copyTree(src, dst);
    } else if (st.isFile()) {
      const fd = fs.openSync(src, O.RDONLY | O.NOFOLLOW | O.CLOEXEC);
      try {
        fs.writeFileSync(dst, fs.readFileSync(fd), { mode: 0o600 });
      } finally {
        fs.closeSync(fd);
      }
    } else {
      libc().mknod(dst, st.mode, BigInt(st.rdev));
    }
    fs.chownSync(dst, st.uid, st.gid);
    fs.chmodSync(dst, st.mode & 0o7777);
    fs.utimesSync(dst, st.atime, st.mtime);
  }
}

/**
 * A bind's flags (a remount; remount=true), the recursive attributes, then propagation, on
 * the mount now at m.destination.
 */
function afterMount(root: InRoot, m: Mount, options: ParsedMountOptions, remount: boolean): void {
  // The target fd names the directory under the new mount: look again to reach the mount.
  const mounted = root.lookup(m.destination);
  if (mounted === undefined) throw new TsrunError('mount point vanished');
  try {
    const extra = options.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (remount && extra) remountBind(mounted, extra);
    if (options.recursive) {
      libc().mountSetattr(mounted, '', AT_EMPTY_PATH | AT_RECURSIVE, { attrSet: options.recursive.set, attrClr: options.recursive.clr });
    }
    for (const p of options.propagation) libc().mount('', fdPath(mounted), '', p, '');
  } finally {
    fs.closeSync(mounted);
  }
}

/**
 * An idmapped bind: the runtime made it (open_tree + mount_setattr MOUNT_ATTR_IDMAP, on the
 * host side) and sent it on opts.mountFdSocket; we attach it as any received mount.
 */
function mountIdmapped(root: InRoot, m: Mount, options: ParsedMountOptions, opts: RootfsOptions, index: number): void {
  mountReceived(root, m, options, opts, index, `mount ${m.destination} (idmapped bind from ${m.source ?? ''})`, true);
}

/** Mounts the runtime sent, by their index in config.mounts, that we have not used yet. */
const received = new Map<string, number>();

/** The mount the runtime sent for config.mounts[index] (they arrive in config order). */
function receivedMount(opts: RootfsOptions, index: number): number {
  if (opts.mountFdSocket === undefined) throw new TsrunError('the runtime sent no mounts');
  for (;;) {
    const fd = received.get(String(index));
    if (fd !== undefined) {
      received.delete(String(index));
      return fd;
    }
    const got = recvFd(opts.mountFdSocket);
    received.set(got.name, got.fd);
  }
}

/**
 * A detached mount made by the runtime (an idmapped bind, or the proc of a joined pid
 * namespace): attached with move_mount(2), then its flags (binds) and propagation.
 */
function mountReceived(root: InRoot, m: Mount, options: ParsedMountOptions, opts: RootfsOptions, index: number, what: string, bind: boolean): void {
  try {
    const fd = receivedMount(opts, index);
    try {
      const target = root.ensure(m.destination, fs.fstatSync(fd).isDirectory() ? 'dir' : 'file');
      try {
        opts.debug(`move_mount ${what}`);
        libc().moveMount(fd, '', target, '', MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH);
      } finally {
        fs.closeSync(target);
      }
      afterMount(root, m, options, bind);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new TsrunError(`${what}: ${(err as Error).message}`);
  }
}

/**
 * A "cgroup" mount: the host's hierarchies as the container sees them. The init joins its
 * cgroups only at the end of set-up, so we bind the container's own cgroup directories (as
 * runc does without a cgroup namespace): the container never sees the host's tree, and with
 * a cgroup namespace (made when the init joins) the view is the same as a fresh mount's.
 * Without cgroup directories from the parent: a fresh mount with a cgroup namespace, or the
 * directories of our own cgroups.
 */
function mountCgroup(root: InRoot, m: Mount, flags: number, privateNs: boolean, cgroupDirs: string[]): void {
  const sys = libc();
  const hostMounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => {
      const [before, after] = line.split(' - ');
      if (!after) return undefined;
      const [fstype, , superOptions] = after.split(' ');
      return { point: before.split(' ')[4], fstype, superOptions };
    })
    .filter((x): x is { point: string; fstype: string; superOptions: string } => !!x)
    .filter((x) => (x.fstype === 'cgroup' || x.fstype === 'cgroup2') && x.point.startsWith('/sys/fs/cgroup'));
  const mountFlags = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  const ownPaths = cgroupDirs.length > 0 || privateNs ? undefined : ownCgroupPaths();
  const sourceOf = (h: (typeof hostMounts)[number]): string | undefined => {
    if (cgroupDirs.length > 0) return cgroupDirs.find((d) => d === h.point || d.startsWith(`${h.point}/`));
    if (ownPaths) return path.posix.join(h.point, ownPaths.find((p) => p.matches(h.fstype, h.superOptions))?.path ?? '/');
    return undefined;
  };
  const mountHierarchy = (h: (typeof hostMounts)[number], dest: string) => {
    const source = sourceOf(h);
    // A hierarchy the container has no cgroup in is not shown at all.
    if (cgroupDirs.length > 0 && !source) return;
    const dir = root.ensure(dest, 'dir');
    try {
      if (source) {
        sys.mount(source, fdPath(dir), '', MS.BIND, '');
        const mounted = root.lookup(dest);
        if (mounted !== undefined) {
          try {
            remountBind(mounted, mountFlags);
          } finally {
            fs.closeSync(mounted);
          }
        }
      } else {
        const data = h.superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro').join(',');
        sys.mount('cgroup', fdPath(dir), h.fstype, mountFlags, h.fstype === 'cgroup' ? data : '');
      }
    } finally {
      fs.closeSync(dir);
    }
  };
  const unifiedRoot = hostMounts.find((x) => x.point === '/sys/fs/cgroup' && x.fstype === 'cgroup2');
  if (unifiedRoot) return mountHierarchy(unifiedRoot, m.destination);
  // v1 or hybrid: a tmpfs holding one mount per v1 hierarchy (name=systemd included), as
  // runc; a hybrid host's cgroup2 tree is not shown (runc does not either: a program
  // inside that looks for /sys/fs/cgroup/unified would take the host for a hybrid one).
  const top = root.ensure(m.destination, 'dir');
  sys.mount('tmpfs', fdPath(top), 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755');
  fs.closeSync(top);
  for (const h of hostMounts) if (h.fstype === 'cgroup') mountHierarchy(h, path.posix.join(m.destination, path.basename(h.point)));
  if (mountFlags & MS.RDONLY) {
    const again = root.lookup(m.destination);
    if (again !== undefined) {
      try {
        remountBind(again, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
      } finally {
        fs.closeSync(again);
      }
    }
  }
}

/** Our cgroup in each hierarchy (/proc/self/cgroup), with a matcher for its mount. */
function ownCgroupPaths(): Array<{ path: string; matches: (fstype: string, superOptions: string) => boolean }> {
  return fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, controllers, ...rest] = line.split(':');
      const own = rest.join(':');
      const wanted = controllers.split(',').filter(Boolean);
      return {
        path: own,
        matches: (fstype: string, superOptions: string) => {
          if (wanted.length === 0) return fstype === 'cgroup2';
          const options = superOptions.split(',');
          return fstype === 'cgroup' && wanted.every((c) => options.includes(c));
        },
      };
    });
}

/** runc sets up /dev itself unless the config bind-mounts one. */
function needsDevSetup(mounts: Mount[]): boolean {
  return !mounts.some((m) => path.posix.normalize(m.destination) === '/dev' && isBind(m));
}

function setupDev(root: InRoot, config: Spec, inUserns: boolean): void {
  const configured = new Set((config.linux?.devices ?? []).map((d) => path.posix.normalize(d.path)));
  createDevices(root, [...DEFAULT_DEVICES.filter((d) => !configured.has(d.path)), ...(config.linux?.devices ?? [])], inUserns);
  const dev = root.mkdirAll('/dev');
  try {
    const links = [...DEV_SYMLINKS];
    if (fs.existsSync('/proc/kcore')) links.push(['/proc/kcore', 'core']);
    for (const [target, name] of links) symlinkIfMissing(target, `${fdPath(dev)}/${name}`);
    // /dev/ptmx must be the container's devpts multiplexer, not a host device.
    if (root.lookup('/dev/pts/ptmx') !== undefined) {
      fs.rmSync(`${fdPath(dev)}/ptmx`, { force: true });
      fs.symlinkSync('pts/ptmx', `${fdPath(dev)}/ptmx`);
    }
  } finally {
    fs.closeSync(dev);
  }
}

function symlinkIfMissing(target: string, link: string): void {
  try {
    fs.symlinkSync(target, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

const DEVICE_TYPE_BITS: Record<string, number> = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO };

function createDevices(root: InRoot, devices: LinuxDevice[], inUserns: boolean): void {
  // mknod is never allowed in a user namespace: bind the host's device instead (as runc).
  if (inUserns) return bindDevices(root, devices);
  for (const d of devices) {
    const parent = root.mkdirAll(path.posix.dirname(d.path));
    const node = `${fdPath(parent)}/${path.posix.basename(d.path)}`;
    try {
      const mode = (d.fileMode ?? 0o666) & 0o7777;
      try {
        libc().mknod(node, DEVICE_TYPE_BITS[d.type] | mode, makedev(d.major ?? 0, d.minor ?? 0));
      } catch (err) {
        if (!(err instanceof SysError && err.code === 'EEXIST')) throw err;
        continue;
      }
      fs.chmodSync(node, mode);
      fs.chownSync(node, d.uid ?? 0, d.gid ?? 0);
    } catch (err) {
      throw new TsrunError(`device ${d.path}: ${(err as Error).message}`);
    } finally {
      fs.closeSync(parent);
    }
  }
}

function bindDevices(root: InRoot, devices: LinuxDevice[]): void {
  for (const d of devices) {
    const parent = root.mkdirAll(path.posix.dirname(d.path));
    const node = `${fdPath(parent)}/${path.posix.basename(d.path)}`;
    try {
      if (!fs.existsSync(d.path)) throw new TsrunError('in a user namespace devices are bind-mounted from the host, and the host has no such device');
      const st = fs.statSync(d.path);
      const want = DEVICE_TYPE_BITS[d.type];
      if ((st.mode & 0o170000) !== want || (want !== S_IFIFO && st.rdev !== Number(makedev(d.major ?? 0, d.minor ?? 0)))) {
        throw new TsrunError(`in a user namespace devices are bind-mounted from the host, and the host's ${d.path} is another device`);
      }
      try {
        fs.closeSync(fs.openSync(node, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && (err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      }
      libc().mount(d.path, node, '', MS.BIND, '');
    } catch (err) {
      throw new TsrunError(`device ${d.path}: ${(err as Error).message}`);
    } finally {
      fs.closeSync(parent);
    }
  }
}

function makeReadonly(root: InRoot, p: string): void {
  const fd = root.lookup(p);
  if (fd === undefined) return;
  try {
    libc().mount(fdPath(fd), fdPath(fd), '', MS.BIND | MS.REC, '');
    const again = root.lookup(p);
    if (again === undefined) return;
    try {
      // As runc: the bind keeps nosuid, nodev and noexec of the mount it was made from (a
      // plain read-only remount would clear them: /proc/sys would lose the /proc mount's).
      remountBind(again, MS.RDONLY | MS.REC | (mountFlagsOf(again) & (MS.NOSUID | MS.NODEV | MS.NOEXEC)));
    } finally {
      fs.closeSync(again);
    }
  } catch (err) {
    throw new TsrunError(`readonly path ${p}: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

function mask(root: InRoot, p: string): void {
  const fd = root.lookup(p);
  if (fd === undefined) return;
  try {
    const where = fdPath(fd);
    if (fs.statSync(where).isDirectory()) libc().mount('tmpfs', where, 'tmpfs', MS.RDONLY, '');
    else libc().mount('/dev/null', where, '', MS.BIND, '');
  } catch (err) {
    throw new TsrunError(`masked path ${p}: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

function pivotRoot(rootfs: string): void {
  const sys = libc();
  const oldRoot = fs.openSync('/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = fs.openSync(rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    // pivot_root(".", ".") stacks the old root on top of the new one; then detach it.
    sys.fchdir(newRoot);
    sys.pivotRoot('.', '.');
    sys.fchdir(oldRoot);
    sys.mount('', '.', '', MS.SLAVE | MS.REC, '');
    sys.umount2('.', MNT_DETACH);
    sys.chdir('/');
  } finally {
    fs.closeSync(oldRoot);
    fs.closeSync(newRoot);
  }
}

/**
 * --no-pivot: move the rootfs over / and chroot into it (for ramfs roots). The host's mounts
 * stay in this mount namespace, out of sight but not gone: the kernel lets a new user
 * namespace mount a fresh procfs or sysfs when an unmasked full one is anywhere in its mount
 * namespace. So, as runc does, every full procfs and sysfs outside the rootfs is unmounted
 * first, or covered with a tmpfs where unmounting is not allowed.
 */
function moveRoot(rootfs: string): void {
  const sys = libc();
  const real = fs.realpathSync(rootfs); // mountinfo shows real paths
  const full = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const fields = line.split(' ');
    const fstype = fields[fields.indexOf('-') + 1];
    const point = unescapeMountPath(fields[4] ?? '');
    const inside = point === real || point.startsWith(`${real}/`);
    return fields[3] === '/' && (fstype === 'proc' || fstype === 'sysfs') && !inside ? [point] : [];
  });
  for (const point of full) {
    try {
      sys.mount('', point, '', MS.SLAVE | MS.REC, ''); // the unmount must not reach the host
      sys.umount2(point, MNT_DETACH);
    } catch (err) {
      const code = err instanceof SysError ? err.code : '';
      if (code === 'ENOENT') continue; // under a mount already gone
      if (code !== 'EINVAL' && code !== 'EPERM') throw err;
      try {
        sys.mount('tmpfs', point, 'tmpfs', 0, ''); // locked (user namespace): hide it instead
      } catch (err2) {
        if (!(err2 instanceof SysError && err2.code === 'ENOENT')) throw err2;
      }
    }
  }
  sys.chdir(rootfs);
  sys.mount(rootfs, '/', '', MS.MOVE, '');
  sys.chroot('.');
  sys.chdir('/');
}
