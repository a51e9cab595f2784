// The fast path for the commands engines call most (state, start, kill, delete): a plain
// parser that needs neither yargs nor the validators. Anything it does not recognise
// (help, unknown flags, odd forms) goes to the full yargs CLI, which gives proper errors.
import { deleteContainer, killContainer, startContainer } from '../container/lifecycle';
import { stateRoot } from '../container/paths';
import { parseSignal } from '../container/signal';
import { loadContainer, ociState } from '../container/state';
import * as path from 'node:path';
import { configureLog, LogOptions, writeFd } from '../logging';
import type { CreateOptions } from '../container/create';
import { preserveFdsOption, resolveGlobals } from './context';

const GLOBAL_VALUE_FLAGS = new Set(['root', 'log', 'log-format', 'rootless']);
const GLOBAL_BOOLEAN_FLAGS = new Set(['debug', 'systemd-cgroup']);
/** create/run/exec flags that take a value. */
const VALUE_FLAGS = new Set(['bundle', 'pid-file', 'console-socket', 'preserve-fds', 'process']);
const CREATE_FLAGS = {
  bundle: 'bundle', b: 'bundle', 'pid-file': 'pid-file', 'console-socket': 'console-socket',
  'no-pivot': 'no-pivot', 'no-new-keyring': 'no-new-keyring', 'preserve-fds': 'preserve-fds',
};
/** The engines' form of exec: --process FILE (no inline command; that goes to yargs). */
const EXEC_FLAGS = {
  process: 'process', p: 'process', detach: 'detach', d: 'detach', 'pid-file': 'pid-file', tty: 'tty', t: 'tty',
  'console-socket': 'console-socket', 'preserve-fds': 'preserve-fds', 'ignore-paused': 'ignore-paused',
};
const COMMAND_FLAGS: Record<string, Record<string, string>> = {
  create: CREATE_FLAGS,
  exec: EXEC_FLAGS,
  run: { ...CREATE_FLAGS, detach: 'detach', d: 'detach', keep: 'keep' },
  state: {},
  start: {},
  kill: { all: 'all', a: 'all' },
  delete: { force: 'force', f: 'force' },
};
const MAX_POSITIONALS: Record<string, number> = { create: 1, exec: 1, run: 1, state: 1, start: 1, kill: 2, delete: 1 };

interface FastCommand {
  command: string;
  globals: Record<string, string | boolean>;
  flags: Set<string>;
  values: Record<string, string>;
  positionals: string[];
}

/** Parse args (already normalised to double-dash long flags), or undefined to fall back. */
export function parseFast(args: string[]): FastCommand | undefined {
  const globals: Record<string, string | boolean> = {};
  let i = 0;
  for (; i < args.length && args[i].startsWith('--'); i++) {
    const [name, inline] = splitFlag(args[i]);
    if (GLOBAL_BOOLEAN_FLAGS.has(name) && inline === undefined) globals[name] = true;
    else if (GLOBAL_VALUE_FLAGS.has(name)) {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return undefined;
      globals[name] = value;
    } else return undefined;
  }
  const command = args[i++];
  const known = command === undefined ? undefined : COMMAND_FLAGS[command];
  if (!known) return undefined;
  const flags = new Set<string>();
  const values: Record<string, string> = {};
  const positionals: string[] = [];
  for (; i < args.length; i++) {
    const arg = args[i];
    // normalizeArgs marks the start of exec's inline command with "--"; nothing may follow here.
    if (arg === '--') {
      if (i + 1 < args.length) return undefined;
      break;
    }
    if (arg.startsWith('-') && !/^-\d+$/.test(arg)) {
      const [name, inline] = arg.startsWith('--') ? splitFlag(arg) : [arg.slice(1), undefined];
      const flag = known[name];
      if (!flag) return undefined;
      if (VALUE_FLAGS.has(flag)) {
        const value = inline ?? args[++i];
        if (value === undefined) return undefined;
        values[flag] = value;
      } else if (inline === undefined) flags.add(flag);
      else return undefined;
    } else positionals.push(arg);
  }
  // Anything unusual goes to yargs, which explains the problem.
  if (values['preserve-fds'] !== undefined && !/^\d+$/.test(values['preserve-fds'])) return undefined;
  if (positionals.length < 1 || positionals.length > MAX_POSITIONALS[command]) return undefined;
  if (command === 'exec' && values.process === undefined) return undefined;
  if (globals['log-format'] !== undefined && globals['log-format'] !== 'text' && globals['log-format'] !== 'json') return undefined;
  return { command, globals, flags, values, positionals };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg.slice(2), undefined] : [arg.slice(2, eq), arg.slice(eq + 1)];
}

export async function runFast(cmd: FastCommand): Promise<void> {
  const g = cmd.globals;
  const log: LogOptions = { file: g.log as string | undefined, format: g['log-format'] === 'json' ? 'json' : 'text', debug: !!g.debug };
  configureLog(log);
  const root = stateRoot(g.root as string | undefined);
  const [id, signal] = cmd.positionals;
  switch (cmd.command) {
    case 'create':
    case 'run': {
      const { rootless } = resolveGlobals({ 'systemd-cgroup': !!g['systemd-cgroup'], rootless: g.rootless as string | undefined });
      // Loaded here only: create pulls in child_process and the spawn machinery.
      const { createContainer, setCreateDebug, runContainer } = spawning(log);
      setCreateDebug(!!g.debug);
      const opts: CreateOptions = {
        root,
        id,
        bundle: cmd.values.bundle ?? '.',
        pidFile: cmd.values['pid-file'],
        consoleSocket: cmd.values['console-socket'],
        noPivot: cmd.flags.has('no-pivot'),
        noNewKeyring: cmd.flags.has('no-new-keyring'),
        preserveFds: preserveFdsOption(cmd.values['preserve-fds']),
        rootless,
      };
      if (cmd.command === 'create') await createContainer(opts);
      else await runContainer(opts, { detach: cmd.flags.has('detach'), keep: cmd.flags.has('keep') });
      break;
    }
    case 'exec': {
      const { rootless } = resolveGlobals({ 'systemd-cgroup': !!g['systemd-cgroup'], rootless: g.rootless as string | undefined });
      const { execInContainer } = spawning(log);
      process.exitCode = await execInContainer({
        root,
        id,
        processFile: cmd.values.process,
        args: [],
        tty: cmd.flags.has('tty'),
        consoleSocket: cmd.values['console-socket'],
        env: [],
        additionalGids: [],
        caps: [],
        noNewPrivs: false,
        preserveFds: preserveFdsOption(cmd.values['preserve-fds']),
        detach: cmd.flags.has('detach'),
        pidFile: cmd.values['pid-file'],
        ignorePaused: cmd.flags.has('ignore-paused'),
        debug: !!g.debug,
        rootless,
      });
      break;
    }
    case 'state':
      writeFd(1, `${JSON.stringify(ociState(loadContainer(root, id)), null, 2)}\n`);
      break;
    case 'start':
      startContainer(root, id);
      break;
    case 'kill':
      killContainer(root, id, parseSignal(signal ?? 'SIGTERM'), cmd.flags.has('all'));
      break;
    case 'delete':
      deleteContainer(root, id, cmd.flags.has('force'));
      break;
  }
}

/** The create/run/exec bundle, with its logging set up like ours. */
function spawning(log: LogOptions): typeof import('./spawning') {
  const bundle = require(path.join(__dirname, 'spawning.js')) as typeof import('./spawning');
  bundle.configureLog(log);
  return bundle;
}
