// Argument handling shared by the fast path and the full CLI.
import { configureLog } from '../logging';

/** Flags whose value is the next argument (so that value is not a positional). */
const VALUE_FLAGS = new Set([
  'root', 'log', 'log-format', 'rootless', 'bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds',
  'process', 'p', 'cwd', 'env', 'e', 'user', 'u', 'additional-gids', 'g', 'cap', 'c', 'apparmor',
  'process-label', 'cgroup', 'format', 'f', 'resources', 'r', 'interval',
]);

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
    const next = args[i + 1];
    const isValue = next !== undefined && (!next.startsWith('-') || next === '-' || /^-\d+$/.test(next));
    if (!long.includes('=') && VALUE_FLAGS.has(name) && isValue) {
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
