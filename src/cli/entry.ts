// The `tsrun` executable: parse the command line (parse.ts, from the one table in
// table.ts), then run the command. The commands of fast.ts are in this bundle; create, run
// and exec (dist/spawning.js) and the rare ones (dist/cli.js) are loaded only when asked for.
import * as path from 'node:path';
import { stateRoot } from '../container/paths';
import { kindOf } from '../errors';
import { configureLog, LogOptions, logError, writeFd } from '../logging';
import { configureLogFromArgs, normalizeArgs } from './args';
import type { Handler, Invocation } from './context';
import { FAST_COMMANDS } from './fast';
import { helpText } from './help';
import { parseArgs } from './parse';
import type { CommandName } from './table';

/** Where each command that is not in this bundle is. */
const BUNDLES: Record<Exclude<CommandName, keyof typeof FAST_COMMANDS>, 'spawning' | 'cli'> = {
  create: 'spawning', run: 'spawning', exec: 'spawning',
  pause: 'cli', resume: 'cli', ps: 'cli', events: 'cli', update: 'cli',
};

async function main(): Promise<void> {
  const args = normalizeArgs(process.argv.slice(2));
  configureLogFromArgs(args);
  const parsed = parseArgs(args);
  if (parsed.help) {
    writeFd(1, helpText(parsed.command));
    return;
  }
  const g = parsed.globals;
  const log: LogOptions = { file: g.log as string | undefined, format: g['log-format'] === 'json' ? 'json' : 'text', debug: g.debug === true };
  configureLog(log);
  const command = parsed.command;
  // Without a command parseArgs returns only for --help and --version.
  if (g.version || !command) return bundle('cli', log).printVersion();
  // A relative --root is the caller's directory's, as runc (resolved once, here).
  const inv: Invocation = { ...parsed, root: stateRoot(g.root as string | undefined) };
  if (command in FAST_COMMANDS) return FAST_COMMANDS[command as keyof typeof FAST_COMMANDS](inv);
  const name = command as keyof typeof BUNDLES;
  if (BUNDLES[name] === 'spawning') {
    const spawning = bundle('spawning', log);
    spawning.setCreateDebug(log.debug === true);
    return (spawning.SPAWNING_COMMANDS as Record<string, Handler>)[name](inv);
  }
  return (bundle('cli', log).SLOW_COMMANDS as Record<string, Handler>)[name](inv);
}

/** A bundle loaded at run time (a runtime path keeps it out of this one), its logging set up like ours. */
function bundle(name: 'spawning', log: LogOptions): typeof import('./spawning');
function bundle(name: 'cli', log: LogOptions): typeof import('./main');
function bundle(name: string, log: LogOptions): { configureLog(log: LogOptions): void } {
  const loaded = require(path.join(__dirname, `${name}.js`)) as { configureLog(log: LogOptions): void };
  loaded.configureLog(log);
  return loaded;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    // One line, whatever the error: engines read the first line of stderr.
    const message = err instanceof Error ? err.message : String(err);
    logError(message.replace(/\s*\n\s*/g, ' ').trim(), kindOf(err));
    process.exit(1);
  },
);
