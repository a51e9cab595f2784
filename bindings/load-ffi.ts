// Loading ffi-rs. Its index.js asks process.report.getReport() whether libc is musl, which
// costs ~8 ms at every tsrun start that needs system calls; we answer from the file system
// (a musl system has its dynamic loader at /lib/ld-musl-<arch>.so.1) while it loads. This
// relies on that index.js, so package.json pins ffi-rs to an exact version: check this
// patch again before moving the pin.
import * as fs from 'node:fs';
import type * as FFI from 'ffi-rs';

let loaded: typeof FFI | undefined;

export function loadFfi(): typeof FFI {
  if (loaded) return loaded;
  const report = process.report as { getReport: () => unknown };
  const getReport = report.getReport;
  const musl = fs.readdirSync('/lib').some((name) => name.startsWith('ld-musl-'));
  report.getReport = () => ({ header: { glibcVersionRuntime: musl ? undefined : 'glibc' } });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('ffi-rs') as typeof FFI;
  } finally {
    report.getReport = getReport;
  }
  return loaded;
}
