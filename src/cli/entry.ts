// The `tsrun` executable. state/start/kill/delete take a fast path that loads only what
// they need; everything else loads the full yargs CLI, a separate bundle (cli.js).
import * as path from 'node:path';
import { kindOf, UsageError } from '../errors';
import { logError } from '../logging';
import { configureLogFromArgs, normalizeArgs, refuseRepeatedFlags } from './args';
import { parseFast, runFast } from './fast';

async function main(): Promise<void> {
  const args = normalizeArgs(process.argv.slice(2));
  configureLogFromArgs(args);
  refuseRepeatedFlags(args);
  const fast = parseFast(args);
  if (fast) return runFast(fast);
  // A runtime path keeps the full CLI out of this bundle.
  const cli = require(path.join(__dirname, 'cli.js')) as typeof import('./main');
  try {
    await cli.runCli(args);
  } catch (err) {
    if (err instanceof cli.UsageError) throw new UsageError(`${err.message} (see tsrun --help)`);
    throw err;
  }
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
