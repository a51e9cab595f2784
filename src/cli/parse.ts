// The command-line parser: reads args (normalised by args.ts) against the table (table.ts).
// Flags may come before or after the arguments; a value flag given twice is refused (yargs
// made an array of it, a hand parser would keep the last one silently).
import { UsageError } from '../errors';
import { CommandDef, CommandName, commandDef, findFlag, FlagDef, GLOBAL_FLAGS } from './table';
import { isFlagValue } from './args';

/** A malformed command line: the message is followed by where to find help. */
/** A command-line error, pointing at the help of the command. */
export class CommandLineError extends UsageError {
  constructor(message: string, command?: string) {
    super(`${message} (see tsrun ${command ? `${command} ` : ''}--help)`);
  }
}

export type FlagValues = Record<string, string | string[] | boolean | undefined>;

export interface Parsed {
  /** undefined with --help or --version and no command. */
  command?: CommandName;
  /** Global flags, defaults applied. */
  globals: FlagValues;
  /** The command's own flags, defaults applied; repeatable ones are arrays. */
  flags: FlagValues;
  positionals: string[];
  /** What follows the container id of exec (the command) and ps (arguments for ps(1)). */
  rest: string[];
  /** --help: print help (of `command` when there is one) and do nothing else. */
  help: boolean;
}

export function parseArgs(args: string[]): Parsed {
  const globals: FlagValues = {};
  const flags: FlagValues = {};
  const positionals: string[] = [];
  const rest: string[] = [];
  let command: CommandName | undefined;
  let def: CommandDef | undefined;
  let i = 0;
  const take = (arg: string) => {
    const eq = arg.indexOf('=');
    const given = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const flag = findFlag(def, given);
    if (!flag) throw new CommandLineError(`flag provided but not defined: ${arg.split('=')[0]}`, command);
    const own = def?.flags.includes(flag) ?? false;
    const into = own ? flags : globals;
    if (!flag.value) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') {
        throw new CommandLineError(`--${flag.name}: invalid value ${JSON.stringify(inline)}, expected true or false`, command);
      }
      into[flag.name] = inline !== 'false';
      return;
    }
    const value = inline ?? (isFlagValue(args[i + 1]) ? args[++i] : undefined);
    if (value === undefined) throw new CommandLineError(`flag needs an argument: --${flag.name}`, command);
    if (flag.choices && !flag.choices.includes(value)) {
      throw new CommandLineError(`--${flag.name}: invalid value ${JSON.stringify(value)}, expected one of ${flag.choices.join(', ')}`, command);
    }
    const before = into[flag.name];
    if (flag.repeat) into[flag.name] = [...((before as string[] | undefined) ?? []), value];
    else if (before !== undefined) throw new UsageError(`--${flag.name} given more than once (${JSON.stringify(before)} and ${JSON.stringify(value)}): give it once`);
    else into[flag.name] = value;
  };
  for (; i < args.length; i++) {
    const arg = args[i];
    if (def?.rest && positionals.length >= def.min) {
      // exec ID [--] CMD ARGS... / ps ID PS-ARGS...: the rest is the container's, flags and all.
      rest.push(...args.slice(arg === '--' ? i + 1 : i));
      break;
    }
    if (arg === '--') {
      // Only arguments from here on (exec -- ID CMD: the id, then the command).
      const after = args.slice(i + 1);
      const own = def?.rest ? def.min - positionals.length : after.length;
      if (def) positionals.push(...after.slice(0, own));
      rest.push(...after.slice(own));
      break;
    }
    // A negative number is an argument (kill ID -9), "-" too.
    if (arg.startsWith('-') && arg !== '-' && !/^-\d+$/.test(arg)) take(arg);
    // runc's `help [command]`.
    else if (!def && arg === 'help' && !globals.help) globals.help = true;
    else if (!def) {
      def = commandDef(arg);
      if (!def) throw new CommandLineError(`unknown command ${JSON.stringify(arg)}`);
      command = arg as CommandName;
    } else positionals.push(arg);
  }
  const help = globals.help === true;
  if (!help && !globals.version) {
    if (!def) throw new CommandLineError('a command is required');
    checkCount(command!, def, positionals.length);
  }
  return { command, globals: withDefaults(GLOBAL_FLAGS, globals), flags: withDefaults(def?.flags ?? [], flags), positionals, rest, help };
}

/** runc's wording (checkArgs in its main.go). */
function checkCount(command: string, def: CommandDef, n: number): void {
  const what = `${JSON.stringify(command)} requires`;
  if (def.min === def.max && !def.rest && n !== def.min) throw new CommandLineError(`${what} exactly ${def.min} argument(s), found ${n}`, command);
  if (n < def.min) throw new CommandLineError(`${what} a minimum of ${def.min} argument(s), found ${n}`, command);
  if (n > def.max) throw new CommandLineError(`${what} a maximum of ${def.max} argument(s), found ${n}`, command);
}

function withDefaults(defs: FlagDef[], given: FlagValues): FlagValues {
  const out: FlagValues = {};
  for (const f of defs) out[f.name] = given[f.name] ?? f.default ?? (f.value ? undefined : false);
  return out;
}
