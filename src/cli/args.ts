// What happens to the arguments before parse.ts reads them: go-runc's single-dash long
// flags, and --log set up first so that even a parse error lands in it.
import { configureLog } from '../logging';
import { commandDef, findFlag } from './table';

/** Whether the argument after a value flag is its value (never a flag, but "-" and negative numbers). */
export function isFlagValue(next: string | undefined): boolean {
  return next !== undefined && (!next.startsWith('-') || next === '-' || /^-\d+$/.test(next));
}

/** Whether `given` (a name or alias, no dashes) takes a value for `command` (or among the global flags). */
function takesValue(command: string | undefined, given: string): boolean {
  return findFlag(command === undefined ? undefined : commandDef(command), given)?.value !== undefined;
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
    // A flag's value never starts with a dash (but "-", standard input, and negative numbers).
    if (!long.includes('=') && takesValue(command, name) && isFlagValue(args[i + 1])) {
      const value = args[++i];
      // "-" (standard input, the shim's `update --resources - ID`) as one token, --name=-.
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
