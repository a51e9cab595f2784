// Argument handling shared by the fast path and the full CLI.
import { TsrunError } from '../errors';
import { configureLog } from '../logging';

/** Flags whose value is the next argument (so that value is not a positional). */
const VALUE_FLAGS = new Set([
  'root', 'log', 'log-format', 'rootless', 'bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds',
  'process', 'p', 'cwd', 'env', 'e', 'user', 'u', 'additional-gids', 'g', 'cap', 'c', 'apparmor',
  'process-label', 'cgroup', 'format', 'f', 'resources', 'r', 'interval',
]);

/** Flags that may be given several times (runc's string slices); any other flag only once. */
const REPEATABLE = new Set(['env', 'e', 'cap', 'c', 'additional-gids', 'g']);
const ALIASES: Record<string, string> = { b: 'bundle', p: 'process', u: 'user', g: 'additional-gids', c: 'cap', e: 'env', f: 'format', r: 'resources' };

/** Whether the argument after a value flag is its value (never a flag, but "-" and negative numbers). */
function isFlagValue(next: string | undefined): boolean {
  return next !== undefined && (!next.startsWith('-') || next === '-' || /^-\d+$/.test(next));
}

/**
 * A value flag given twice (`--root A --root B`) is refused: yargs would make its value an
 * array and the fast path would take the last one silently. Runs on normalised args.
 */
export function refuseRepeatedFlags(args: string[]): void {
  const seen = new Map<string, string>();
  const positionals: string[] = [];
  // After "--" come exec's command and its flags; after `ps ID`, the arguments for ps(1).
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const arg = args[i];
    if (!arg.startsWith('-')) {
      if (positionals.push(arg) === 2 && positionals[0] === 'ps') break;
      continue;
    }
    const eq = arg.indexOf('=');
    const given = arg.replace(/^--?/, '').split('=')[0];
    if (!VALUE_FLAGS.has(given)) continue;
    const name = ALIASES[given] ?? given;
    const value = eq >= 0 ? arg.slice(eq + 1) : isFlagValue(args[i + 1]) ? args[++i] : '';
    const before = seen.get(name);
    if (before !== undefined && !REPEATABLE.has(name)) {
      throw new TsrunError(`--${name} given more than once (${JSON.stringify(before)} and ${JSON.stringify(value)}): give it once`);
    }
    seen.set(name, value);
  }
}

/** go-runc passes long flags with one dash (-no-subreaper): read them as --no-subreaper. */
export function normalizeArgs(args: string[]): string[] {
  const out: string[] = [];
  let positionals = 0;
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') return [...out, ...args.slice(i)];
    // After the subcommand and the container id, the rest belongs to the container (exec).
    if (positionals >= 2 || !arg.startsWith('-')) {
      // exec ID CMD ARGS...: CMD's own flags (sh -c) must not be read as tsrun's.
      if (positionals === 0) command = arg;
      if (positionals === 2 && command === 'exec') out.push('--');
      out.push(arg);
      positionals++;
      continue;
    }
    const long = /^-[a-z][a-z0-9]+(-[a-z0-9]+)*(=.*)?$/.test(arg) ? `-${arg}` : arg;
    out.push(long);
    const name = long.replace(/^--?/, '').split('=')[0];
    // A flag's value never starts with a dash (but "-", standard input, and negative numbers):
    // `spec --rootless --bundle B` is runc's boolean use of a flag that also takes a value.
    if (!long.includes('=') && VALUE_FLAGS.has(name) && isFlagValue(args[i + 1])) {
      const value = args[++i];
      // yargs does not take "-" (standard input) as a flag's value: the shim's
      // `update --resources - ID` lost its "-" and left ID unknown. Hand it over as --name=-.
      if (value === '-') out[out.length - 1] = `--${name}=-`;
      else out.push(value);
    }
  }
  return out;
}

/** Set up --log before parsing anything else, so that every error lands in it. */
export function configureLogFromArgs(args: string[]): void {
  const value = (name: string) => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  };
  configureLog({ file: value('log'), format: value('log-format') === 'json' ? 'json' : 'text', debug: args.includes('--debug') });
}
