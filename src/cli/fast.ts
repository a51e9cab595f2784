// The commands that are in the tsrun.js bundle itself (dist/entry.js): what engines call
// most (state, start, kill, delete) and the cheap ones (list, spec, features). They load
// neither ffi-rs (bindings/ loads it on the first C call) nor the validators.
import type { Handler } from './context';
import { deleteCommand } from './commands/delete';
import { killCommand } from './commands/kill';
import { listCommand } from './commands/list';
import { specCommand } from './commands/spec';
import { startCommand } from './commands/start';
import { stateCommand } from './commands/state';

export const FAST_COMMANDS = {
  state: stateCommand,
  start: startCommand,
  kill: killCommand,
  delete: deleteCommand,
  list: listCommand,
  spec: specCommand,
  // Required when run: its tables (seccomp, capabilities, mount options) are then built only for it.
  features: () => (require('./commands/features') as typeof import('./commands/features')).featuresCommand(),
} satisfies Record<string, Handler>;
