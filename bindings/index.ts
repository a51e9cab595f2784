// Entry to the bindings layer. libc() makes the real Libc on first use; ffi-rs itself is
// loaded only by the first C call (load-ffi.ts), so list, spec, features, state and
// --help never load it (test/unit/lazy-ffi.test.ts). Tests install a fake instead.
import type { Libc } from './types';

export * from './types';
export * from './constants';

let current: Libc | undefined;

export function libc(): Libc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  current ??= (require('./libc') as typeof import('./libc')).createLibc();
  return current;
}

/** Replace the libc implementation (unit tests use bindings/fake). */
export function useLibc(replacement: Libc | undefined): void {
  current = replacement;
}
