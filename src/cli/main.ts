// tsrun's command line: runc's global options and subcommands, parsed with yargs.
import yargs from 'yargs';
import { configureLog, logError } from '../logging';
import { setCreateDebug } from '../container/create';
import { createCommand } from './commands/create';
import { deleteCommand } from './commands/delete';
import { featuresCommand } from './commands/features';
import { killCommand } from './commands/kill';
import { listCommand } from './commands/list';
import { runCommand } from './commands/run';
import { specCommand } from './commands/spec';
import { startCommand } from './commands/start';
import { stateCommand } from './commands/state';
import { DEFAULT_ROOT } from '../container/paths';
import { OCI_VERSION } from '../spec/default-config';
import type { GlobalOptions } from './context';

export const VERSION = '0.1.0';

/** go-runc passes long flags with one dash (-no-subreaper): read them as --no-subreaper. */
export function normalizeArgs(args: string[]): string[] {
  const out: string[] = [];
  let positionals = 0;
  for (const [i, arg] of args.entries()) {
    if (arg === '--') return [...out, ...args.slice(i)];
    if (/^-[a-z][a-z0-9]+(-[a-z0-9]+)*(=.*)?$/.test(arg) && positionals < 2) out.push(`-${arg}`);
    else out.push(arg);
    // After the subcommand and the container id, the rest belongs to the container (exec).
    if (!arg.startsWith('-')) positionals++;
  }
  return out;
}

/** Pre-parse just the log options, so that even a usage error lands in --log. */
function earlyLogOptions(args: string[]): void {
  const value = (name: string) => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  };
  configureLog({ file: value('log'), format: value('log-format') === 'json' ? 'json' : 'text', debug: args.includes('--debug') });
}

export async function main(rawArgs: string[]): Promise<void> {
  const args = normalizeArgs(rawArgs);
  earlyLogOptions(args);
  const parser = yargs(args)
    .scriptName('tsrun')
    .usage('tsrun [global options] <command> [options]\n\nAn OCI container runtime in TypeScript, driven like runc.')
    .option('root', { type: 'string', default: DEFAULT_ROOT, describe: 'directory for container state', global: true })
    .option('log', { type: 'string', describe: 'append errors and debug lines to this file', global: true })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'format of --log', global: true })
    .option('debug', { type: 'boolean', default: false, describe: 'debug output (namespaces tsrun:*)', global: true })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'use the systemd cgroup driver (not supported)', global: true })
    .option('rootless', { type: 'string', default: 'auto', describe: 'true|false|auto (rootless is not supported yet)', global: true })
    .middleware((argv) => {
      const g = argv as unknown as GlobalOptions;
      configureLog({ file: g.log, format: g['log-format'], debug: g.debug });
      setCreateDebug(g.debug);
    })
    .command(createCommand)
    .command(startCommand)
    .command(stateCommand)
    .command(killCommand)
    .command(deleteCommand)
    .command(runCommand)
    .command(listCommand)
    .command(specCommand)
    .command(featuresCommand)
    .demandCommand(1, 'a command is required: see tsrun --help')
    .strict()
    .version(`tsrun version ${VERSION}\nspec: ${OCI_VERSION}\nnode: ${process.version}`)
    .alias('version', 'v')
    .help()
    .alias('help', 'h')
    .wrap(100)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  await parser.parseAsync();
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: Error) => {
    logError(err instanceof UsageError ? `${err.message} (see tsrun --help)` : err.message);
    process.exit(1);
  },
);
