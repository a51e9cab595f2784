import type { Argv, CommandModule } from 'yargs';
import { execInContainer } from '../../container/exec';
import { TsrunError } from '../../errors';
import { containerId, GlobalOptions, preserveFdsOption, resolveGlobals } from '../context';

export interface ExecArgs extends GlobalOptions {
  id: string;
  command?: string[];
  process?: string;
  tty: boolean;
  'console-socket'?: string;
  cwd?: string;
  env?: string | string[];
  user?: string;
  'additional-gids'?: string | string[];
  cap?: string | string[];
  'no-new-privs': boolean;
  apparmor?: string;
  'process-label'?: string;
  'preserve-fds': string;
  detach: boolean;
  'pid-file'?: string;
  'ignore-paused': boolean;
  cgroup?: string;
}

export const execCommand: CommandModule<GlobalOptions, ExecArgs> = {
  command: 'exec <id> [command..]',
  describe: 'run a process in a running container (--process FILE, or COMMAND [ARGS...])',
  builder: (y) =>
    (y as unknown as Argv<ExecArgs>)
      .positional('id', { type: 'string', describe: 'container id' })
      .positional('command', { type: 'string', array: true, describe: 'command and arguments (instead of --process)' })
      .option('process', { alias: 'p', type: 'string', describe: 'process.json to run (as engines pass); "-" reads stdin' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-TTY' })
      .option('console-socket', { type: 'string', describe: 'unix socket that receives the pty master' })
      .option('cwd', { type: 'string', describe: 'working directory in the container' })
      .option('env', { alias: 'e', type: 'string', describe: 'set an environment variable (repeatable)' })
      .option('user', { alias: 'u', type: 'string', describe: 'uid[:gid]' })
      .option('additional-gids', { alias: 'g', type: 'string', describe: 'additional gids (repeatable)' })
      .option('cap', { alias: 'c', type: 'string', describe: 'add a capability (repeatable)' })
      .option('no-new-privs', { type: 'boolean', default: false, describe: 'set no_new_privileges' })
      .option('apparmor', { type: 'string', describe: 'AppArmor profile for the process' })
      .option('process-label', { type: 'string', describe: 'SELinux label for the process' })
      .option('preserve-fds', { type: 'string', default: '0', describe: 'pass fds 3..3+N-1 to the process' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the process runs' })
      .option('pid-file', { type: 'string', describe: 'write the process id (host pid) to this file' })
      .option('ignore-paused', { type: 'boolean', default: false, describe: 'exec even if the container is paused' })
      .option('cgroup', { type: 'string', describe: 'sub-cgroup to join: PATH or CONTROLLER[,CONTROLLER]:PATH' }) as unknown as Argv<ExecArgs>,
  handler: async (argv) => {
    const { rootless } = resolveGlobals(argv);
    const preserveFds = preserveFdsOption(argv['preserve-fds']);
    // After the id, normalizeArgs inserts `--`: yargs leaves what follows in argv._ (after "exec").
    const rest = ((argv as unknown as { _: Array<string | number> })._ ?? []).slice(1);
    const args = [...(argv.command ?? []), ...rest].map(String);
    if (argv.process !== undefined && args.length > 0) {
      throw new TsrunError('exec: give either --process FILE or a command, not both');
    }
    if (argv.process === undefined && args.length === 0) {
      throw new TsrunError('exec: a command or --process FILE is required');
    }
    const gids = list(argv['additional-gids']).flatMap((g) => String(g).split(',')).map((g) => {
      if (!/^\d+$/.test(g)) throw new TsrunError(`--additional-gids: expected numbers, found ${JSON.stringify(g)}`);
      return Number(g);
    });
    process.exitCode = await execInContainer({
      root: argv.root,
      id: containerId(argv),
      processFile: argv.process,
      args,
      tty: argv.tty,
      consoleSocket: argv['console-socket'],
      cwd: argv.cwd,
      env: list(argv.env),
      user: argv.user,
      additionalGids: gids,
      caps: list(argv.cap),
      noNewPrivs: argv['no-new-privs'],
      apparmor: argv.apparmor,
      processLabel: argv['process-label'],
      preserveFds,
      detach: argv.detach,
      pidFile: argv['pid-file'],
      ignorePaused: argv['ignore-paused'],
      cgroup: argv.cgroup,
      debug: argv.debug,
      rootless,
    });
  },
};

/** A repeatable flag (no yargs `array`, which would swallow the id and command after it). */
function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
}
