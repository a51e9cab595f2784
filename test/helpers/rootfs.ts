// Busybox root filesystem for tests, built once by scripts/make-rootfs.sh and cached in
// /tmp/tsrun-test-rootfs-<hash of make-rootfs.sh>. The cache is shared by every test
// process: treat it as read-only (use makeBundle({copyRootfs: true}) to get a private,
// writable copy).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const makeRootfsScript = path.join(repoRoot, 'scripts', 'make-rootfs.sh');

let cached: string | undefined;

/** Run scripts/make-rootfs.sh DIR; throws with the script's stderr on failure. */
export function makeRootfs(dir: string): string {
  const r = spawnSync('bash', [makeRootfsScript, dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`make-rootfs.sh ${dir} failed (status ${r.status}): ${r.stderr.trim()}`);
  }
  return dir;
}

/** Path of the shared cached rootfs, building it on first use. */
export function ensureRootfs(): string {
  if (cached && fs.existsSync(path.join(cached, 'bin', 'busybox'))) return cached;
  const hash = createHash('sha256').update(fs.readFileSync(makeRootfsScript)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `tsrun-test-rootfs-${hash}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    // Build beside it and rename into place, so a concurrent or interrupted build never
    // leaves a half-made tree under the final name.
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    try {
      makeRootfs(tmp);
      fs.writeFileSync(path.join(tmp, '.complete'), '');
      try {
        fs.renameSync(tmp, dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          // Someone else finished first (or an incomplete tree is there: replace it).
          if (!fs.existsSync(path.join(dir, '.complete'))) {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.renameSync(tmp, dir);
          }
        } else {
          throw e;
        }
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  cached = dir;
  return dir;
}

/** A private copy of `src` (default: the shared rootfs) in a new temp dir (cp -a). */
export function copyRootfs(src: string = ensureRootfs(), dest?: string): string {
  const target = dest ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-rootfs-')), 'rootfs');
  const r = spawnSync('cp', ['-a', '--', src, target], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`cp -a ${src} ${target} failed: ${r.stderr.trim()}`);
  return target;
}
