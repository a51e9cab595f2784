// tsrun's command line: runc's global options and subcommands, parsed with yargs.
import yargs from 'yargs';
import { configureLog } from '../logging';
import { configureLogFromArgs } from './args';
import { setCreateDebug } from '../container/create';
import { createCommand } from './commands/create';
import { deleteCommand } from './commands/delete';
import { eventsCommand } from './commands/events';
import { pauseCommand } from './commands/pause';
import { psCommand } from './commands/ps';
import { resumeCommand } from './commands/resume';
import { updateCommand } from './commands/update';
import { execCommand } from './commands/exec';
import { featuresCommand } from './commands/features';
import { killCommand } from './commands/kill';
import { listCommand } from './commands/list';
import { runCommand } from './commands/run';
import { specCommand } from './commands/spec';
import { startCommand } from './commands/start';
import { stateCommand } from './commands/state';
import { defaultRoot, stateRoot } from '../container/paths';
import { OCI_VERSION } from '../spec/default-config';
import type { GlobalOptions } from './context';
import { libseccomp } from '../../bindings/libseccomp';

export const VERSION = '0.1.0';
/** Set by scripts/build.js (esbuild define); absent when run from source. */
declare const TSRUN_COMMIT: string | undefined;

/** runc --version's lines and keys (tools parse them), with tsrun's name and Node for go. */
function versionText(): string {
  let seccomp = 'unknown';
  try {
    seccomp = libseccomp().version();
  } catch {
    // no libseccomp.so.2 on this host
  }
  const commit = typeof TSRUN_COMMIT === 'string' ? TSRUN_COMMIT : 'unknown';
  return `tsrun version ${VERSION}\ncommit: ${commit}\nspec: ${OCI_VERSION}\ngo: node ${process.version}\nlibseccomp: ${seccomp}`;
}

/** The full CLI (yargs). `args` are already normalised. */
export async function runCli(args: string[]): Promise<void> {
  configureLogFromArgs(args);
  const parser = yargs(args)
    // runc's flags named --no-* (--no-pivot, --no-new-privs) are flags of their own, not negations.
    .parserConfiguration({ 'boolean-negation': false })
    .scriptName('tsrun')
    .usage('tsrun [global options] <command> [options]\n\nAn OCI container runtime in TypeScript, driven like runc.')
    .option('root', { type: 'string', default: defaultRoot(), describe: 'directory for container state (rootless: $XDG_RUNTIME_DIR/tsrun)', global: true })
    .option('log', { type: 'string', describe: 'append errors and debug lines to this file', global: true })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'format of --log', global: true })
    .option('debug', { type: 'boolean', default: false, describe: 'debug output (namespaces tsrun:*)', global: true })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'use the systemd cgroup driver (not supported)', global: true })
    .option('rootless', { type: 'string', default: 'auto', describe: 'true|false|auto: ignore cgroup permission errors when no limits are set (auto: when not real root)', global: true })
    .middleware((argv) => {
      const g = argv as unknown as GlobalOptions;
      g.root = stateRoot(g.root);
      configureLog({ file: g.log, format: g['log-format'], debug: g.debug });
      setCreateDebug(g.debug);
    })
    .command(createCommand)
    .command(startCommand)
    .command(stateCommand)
    .command(killCommand)
    .command(deleteCommand)
    .command(runCommand)
    .command(execCommand)
    .command(pauseCommand)
    .command(resumeCommand)
    .command(psCommand)
    .command(eventsCommand)
    .command(updateCommand)
    .command(listCommand)
    .command(specCommand)
    .command(featuresCommand)
    .demandCommand(1, 'a command is required')
    .strict()
    // libseccomp is asked for its version only when the version is wanted.
    .version(args.includes('--version') || args.includes('-v') ? versionText() : VERSION)
    .alias('version', 'v')
    .help()
    .alias('help', 'h')
    .wrap(100)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(usageMessage(msg));
    });
  await parser.parseAsync();
}

/** yargs' "Invalid values:\n  Argument: format, Given: "xml", Choices: "table", "json"" as one line. */
export function usageMessage(msg: string): string {
  const invalid = [...msg.matchAll(/Argument: (\S+), Given: (.*), Choices: (.*)/g)];
  if (invalid.length === 0) return msg;
  return invalid
    .map(([, name, given, choices]) => `--${name}: invalid value ${given}, expected one of ${choices.replace(/"/g, '')}`)
    .join('; ');
}

export class UsageError extends Error {}
