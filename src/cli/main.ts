// The commands engines call rarely (pause, resume, ps, events, update) and --version: a
// bundle of their own (dist/cli.js), loaded by entry.ts only for them. Its own copy of the
// logging module is configured here.
import type { Handler } from './context';
import { eventsCommand } from './commands/events';
import { pauseCommand } from './commands/pause';
import { psCommand } from './commands/ps';
import { resumeCommand } from './commands/resume';
import { updateCommand } from './commands/update';
import { OCI_VERSION } from '../spec/default-config';
import { libseccomp } from '../../bindings/libseccomp';
import { writeFd } from '../logging';

export const SLOW_COMMANDS = {
  pause: pauseCommand,
  resume: resumeCommand,
  ps: psCommand,
  events: eventsCommand,
  update: updateCommand,
} satisfies Record<string, Handler>;
export { configureLog } from '../logging';

export const VERSION = '0.1.0';
/** Set by scripts/build.js (esbuild define); absent when run from source. */
declare const TSRUN_COMMIT: string | undefined;

/** runc --version's lines and keys (tools parse them), with tsrun's name and Node for go. */
export function printVersion(): void {
  let seccomp = 'unknown';
  try {
    seccomp = libseccomp().version();
  } catch {
    // no libseccomp.so.2 on this host
  }
  const commit = typeof TSRUN_COMMIT === 'string' ? TSRUN_COMMIT : 'unknown';
  writeFd(1, `tsrun version ${VERSION}\ncommit: ${commit}\nspec: ${OCI_VERSION}\ngo: node ${process.version}\nlibseccomp: ${seccomp}\n`);
}
