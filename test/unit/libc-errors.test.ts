// The real bindings (bindings/libc.ts) must report a failed call as SysError. Only calls
// that fail without side effects, whatever the privileges, are made here (loads ffi-rs).
import t from 'tap';
import { AT_FDCWD, libc, Libc, SysError, useLibc } from '../../bindings';

useLibc(undefined);
const real = libc();
const MISSING = '/nonexistent/tsrun-unit';

// int-returning wrappers (openat, umount2, mkfifo, mknod, fcntl, prctl, ...) must be read as
// 32-bit: glibc sets only eax, so -1 read as 64 bits would be 4294967295 and hide a failure.

const cases: [string, (l: Libc) => unknown, string[]][] = [
  // [name, call, acceptable errno codes]
  ['chdir', (l) => l.chdir(MISSING), ['ENOENT']],
  ['fchdir', (l) => l.fchdir(-1), ['EBADF']],
  ['kill', (l) => l.kill(0x3fffffff, 0), ['ESRCH']],
  ['openat', (l) => l.openat(AT_FDCWD, MISSING, 0, 0), ['ENOENT']],
  ['umount2', (l) => l.umount2(MISSING, 0), ['ENOENT', 'EPERM']],
  ['mkfifo', (l) => l.mkfifo(`${MISSING}/fifo`, 0o600), ['ENOENT']],
  ['mknod', (l) => l.mknod(`${MISSING}/node`, 0o010600, 0n), ['ENOENT', 'EPERM']],
  ['fcntl', (l) => l.fcntl(-1, 1 /* F_GETFD */, 0), ['EBADF']],
  ['prctl', (l) => l.prctl(0x7fff, 0), ['EINVAL']],
];

for (const [name, run, codes] of cases) {
  t.test(name, async (t) => {
    let result: unknown;
    let error: unknown;
    try {
      result = run(real);
    } catch (err) {
      error = err;
    }
    t.type(error, SysError, `${name} throws SysError (returned ${String(result)})`);
    if (error instanceof SysError) t.ok(codes.includes(error.code), `errno ${error.code} is one of ${codes.join(', ')}`);
  });
}
