// Commands that start processes (create, run, exec) live in a bundle of their own
// (dist/spawning.js), loaded by entry.ts only for them: the other commands never parse
// this code. The bundle has its own copy of the logging module, configured here.
import type { Handler } from './context';
import { createCommand } from './commands/create';
import { runCommand } from './commands/run';
import { execCommand } from './commands/exec';

export const SPAWNING_COMMANDS = { create: createCommand, run: runCommand, exec: execCommand } satisfies Record<string, Handler>;
export { setCreateDebug } from '../container/create';
export { configureLog } from '../logging';
