// Paths resolved inside the container's root filesystem without ever leaving it: every
// lookup is openat2(RESOLVE_IN_ROOT) from an fd of the root, so a symlink (even one swapped
// in while we work) resolves inside the rootfs. Mounts then target /proc/self/fd/<fd>.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { libc, O, RESOLVE, SysError } from '../../bindings';

const RESOLVE_SAFE = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

export class InRoot {
  readonly fd: number;
  constructor(readonly hostPath: string) {
    this.fd = fs.openSync(hostPath, O.PATH | O.DIRECTORY | O.CLOEXEC);
  }

  /** Normalised path relative to the root ("" for the root itself). */
  static relative(p: string): string {
    return path.posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
  }

  /** An O_PATH fd of p, or undefined if it does not exist. */
  lookup(p: string, flags = 0): number | undefined {
    try {
      return libc().openat2(this.fd, InRoot.relative(p) || '.', O.PATH | O.CLOEXEC | flags, 0, RESOLVE_SAFE);
    } catch (err) {
      if (err instanceof SysError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** mkdir -p inside the root; returns an O_PATH fd of the directory. */
  mkdirAll(p: string, mode = 0o755, depth = 0): number {
    const parts = InRoot.relative(p).split('/').filter(Boolean);
    let fd = libc().openat2(this.fd, '.', O.PATH | O.DIRECTORY | O.CLOEXEC, 0, RESOLVE_SAFE);
    for (let i = 0; i < parts.length; i++) {
      const sub = parts.slice(0, i + 1).join('/');
      let next = this.lookup(sub, O.DIRECTORY);
      if (next === undefined) {
        // The name has no slash and the parent fd is already inside the root.
        const entry = `${fdPath(fd)}/${parts[i]}`;
        try {
          fs.mkdirSync(entry, { mode });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          // A dangling symlink: create what it points at, inside the root (as runc does).
          const target = this.symlinkTarget(entry, parts.slice(0, i), depth);
          fs.closeSync(fd);
          return this.mkdirAll(path.posix.join(target, ...parts.slice(i + 1)), mode, depth + 1);
        }
        next = this.lookup(sub, O.DIRECTORY);
        if (next === undefined) throw new Error(`cannot create directory ${sub} inside the rootfs`);
      }
      fs.closeSync(fd);
      fd = next;
    }
    return fd;
  }

  /** Where the symlink `entry` (found under the directory `parentParts`) points, as a root path. */
  private symlinkTarget(entry: string, parentParts: string[], depth: number): string {
    let link: string;
    try {
      link = fs.readlinkSync(entry);
    } catch {
      throw new Error(`${path.posix.join('/', ...parentParts, path.basename(entry))} exists inside the rootfs and is not a directory`);
    }
    if (depth >= 40) throw new Error(`too many levels of symbolic links under ${path.posix.join('/', ...parentParts)}`);
    return path.posix.isAbsolute(link) ? link : path.posix.join('/', ...parentParts, link);
  }

  /** Create p (an empty file, or a directory) if missing; returns an O_PATH fd of it. */
  ensure(p: string, kind: 'file' | 'dir', depth = 0): number {
    const existing = this.lookup(p);
    if (existing !== undefined) return existing;
    if (kind === 'dir') return this.mkdirAll(p);
    const dir = path.posix.dirname(`/${InRoot.relative(p)}`);
    const parent = this.mkdirAll(dir);
    const entry = `${fdPath(parent)}/${path.posix.basename(p)}`;
    try {
      fs.closeSync(fs.openSync(entry, O.CREAT | O.WRONLY | O.CLOEXEC | O.NOFOLLOW, 0o644));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
      const target = this.symlinkTarget(entry, dir.split('/').filter(Boolean), depth);
      return this.ensure(target, kind, depth + 1);
    } finally {
      fs.closeSync(parent);
    }
    const fd = this.lookup(p);
    if (fd === undefined) throw new Error(`cannot create file ${p} inside the rootfs`);
    return fd;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
