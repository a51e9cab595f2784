// Loading ffi-rs. Its index.js finds the native addon of this platform (asking
// process.report.getReport() whether libc is musl, ~8 ms) and wraps a few of its functions;
// even with that question answered it costs ~1.2 ms more than the addon alone (measured in
// `tsrun kill`: 2.0 against 0.9 ms), at every start that makes a system call. So the addon
// is loaded here directly, from the node_modules next to dist/ (or bindings/ in tests), and
// given the two wrappers tsrun uses; in any other case (another layout, musl, another CPU)
// index.js loads it, with the musl question answered from the file system. Both rely on
// ffi-rs's internals: package.json pins it to an exact version; check this file again
// before moving the pin.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as FFI from 'ffi-rs';

let loaded: typeof FFI | undefined;

export function loadFfi(): typeof FFI {
  loaded ??= loadAddon() ?? loadThroughIndex();
  return loaded;
}

/** A musl system has its dynamic loader at /lib/ld-musl-<arch>.so.1. */
const isMusl = (): boolean => fs.readdirSync('/lib').some((name) => name.startsWith('ld-musl-'));

/** What tsrun uses of the addon's exports (bindings/c.ts and libseccomp.ts). */
interface Addon {
  DataType: typeof FFI.DataType;
  FFITypeTag: { Array: number };
  open: typeof FFI.open;
  close: typeof FFI.close;
  load: (params: FFI.FFIParams<FFI.DataType[], boolean>) => unknown;
  isNullPointer: typeof FFI.isNullPointer;
  createExternalBuffer: typeof FFI.createExternalBuffer;
}

function loadAddon(): typeof FFI | undefined {
  const arch = ({ x64: 'x64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  if (process.platform !== 'linux' || !arch) return undefined;
  const file = path.join(__dirname, '..', 'node_modules', '@yuuang', `ffi-rs-linux-${arch}-gnu`, `ffi-rs.linux-${arch}-gnu.node`);
  if (!fs.existsSync(file) || isMusl()) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(file) as Addon;
  return {
    DataType: addon.DataType,
    FFITypeTag: addon.FFITypeTag,
    open: addon.open,
    close: addon.close,
    isNullPointer: addon.isNullPointer,
    createExternalBuffer: addon.createExternalBuffer,
    // As index.js: an array parameter is described by its type and length.
    arrayConstructor: (options: FFI.ArrayConstructorOptions) => ({ ffiTypeTag: addon.FFITypeTag.Array, ...options }),
    // As index.js: results are copied into JavaScript values and never freed by the addon.
    // Array parameters must come from arrayConstructor (index.js also converts bare types).
    load: (params: FFI.FFIParams<FFI.DataType[], boolean>) => addon.load({ freeResultMemory: false, ...params }),
  } as unknown as typeof FFI;
}

function loadThroughIndex(): typeof FFI {
  const report = process.report as { getReport: () => unknown };
  const getReport = report.getReport;
  const musl = isMusl();
  report.getReport = () => ({ header: { glibcVersionRuntime: musl ? undefined : 'glibc' } });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('ffi-rs') as typeof FFI;
  } finally {
    report.getReport = getReport;
  }
}
