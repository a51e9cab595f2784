// Entry to the bindings layer. The real libc is loaded on first use, so commands that need
// no system calls (state, list, spec) never pay for ffi-rs; tests install a fake instead.
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
