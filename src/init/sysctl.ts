// linux.sysctl, written in the container's namespaces (by the init, or by create's main
// thread for the direct init).
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeSysctls(sysctl: Record<string, string>): void {
  for (const [key, value] of Object.entries(sysctl)) {
    const file = path.join('/proc/sys', key.replace(/\./g, '/'));
    try {
      fs.writeFileSync(file, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A sysctl is writable only when namespaced (net.*, kernel.shm*, ...) in a namespace the
      // container made: in a rootless container a host-wide one, or net.* without a network
      // namespace, belongs to host root.
      const why = code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `not permitted (${code}): only sysctls of namespaces the container made are writable; in a user namespace (rootless) host-wide ones, and net.* without a network namespace, belong to host root`
        : code === 'ENOENT' ? `no such sysctl (${file} does not exist)` : (err as Error).message;
      throw new Error(`linux.sysctl ${key}=${value}: ${why}`);
    }
  }
}
