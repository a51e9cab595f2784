// The one table of tsrun's command line: global flags and, per command, its arguments and
// flags. The parser (parse.ts), go-runc's single-dash normalisation (args.ts) and --help
// (help.ts) are all read from it, so a flag cannot exist in one and not another (issue 14).
// Spellings are runc's (--cpu-share, -d/--detach, --pid-file); other spellings are aliases.

export interface FlagDef {
  /** The long name, without dashes (runc's spelling). */
  name: string;
  /** Other spellings: one letter (-b) or a long name (--cpu-shares). */
  aliases?: string[];
  /** Takes a value, shown so in --help (DIR, FILE, N); a flag without one is a boolean. */
  value?: string;
  /** May be given several times (runc's string slices); any other value flag only once. */
  repeat?: boolean;
  default?: string;
  choices?: readonly string[];
  describe: string;
}

export interface CommandDef {
  /** The arguments, as --help shows them. */
  args: string;
  /** How many positional arguments; with `rest`, what follows the first `min` is the command's own. */
  min: number;
  max: number;
  /** After the container id everything belongs to the container (exec's command, ps's arguments for ps(1)). */
  rest?: boolean;
  describe: string;
  flags: FlagDef[];
}

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'root', value: 'DIR', describe: 'directory for container state (default /run/tsrun; rootless: $XDG_RUNTIME_DIR/tsrun)' },
  { name: 'log', value: 'FILE', describe: 'append errors and debug lines to this file' },
  { name: 'log-format', value: 'FORMAT', choices: ['text', 'json'], default: 'text', describe: 'format of --log: text or json' },
  { name: 'debug', describe: 'debug output (namespaces tsrun:*)' },
  { name: 'systemd-cgroup', describe: 'use the systemd cgroup driver (not supported)' },
  // Checked where it is used (context.ts), with its own message.
  { name: 'rootless', value: 'VALUE', default: 'auto', describe: 'true|false|auto: ignore cgroup permission errors when no limits are set (auto: when not real root)' },
  { name: 'help', aliases: ['h'], describe: 'show help' },
  { name: 'version', aliases: ['v'], describe: 'print the version' },
];

const PID_FILE: FlagDef = { name: 'pid-file', value: 'FILE', describe: 'write the process id (host pid) to this file' };
const CONSOLE_SOCKET: FlagDef = { name: 'console-socket', value: 'SOCK', describe: 'unix socket that receives the pty master' };
const PRESERVE_FDS: FlagDef = { name: 'preserve-fds', value: 'N', default: '0', describe: 'pass fds 3..3+N-1 to the container' };
const FORMAT: FlagDef = { name: 'format', aliases: ['f'], value: 'FORMAT', choices: ['table', 'json'], default: 'table', describe: 'table or json' };

/** create's flags, which run has too. */
const CREATE_FLAGS: FlagDef[] = [
  { name: 'bundle', aliases: ['b'], value: 'DIR', default: '.', describe: 'path to the bundle directory' },
  PID_FILE,
  CONSOLE_SOCKET,
  { name: 'no-pivot', describe: 'use MS_MOVE + chroot instead of pivot_root' },
  { name: 'no-new-keyring', describe: 'keep the caller\'s session keyring (default: a new one, _ses.ID)' },
  PRESERVE_FDS,
];

const ID = { args: '<id>', min: 1, max: 1 };

export const COMMANDS = {
  create: { ...ID, describe: 'create a container (the process waits for `start`)', flags: CREATE_FLAGS },
  start: { ...ID, describe: 'run the user process of a created container', flags: [] },
  state: { ...ID, describe: 'print the state of a container as JSON', flags: [] },
  kill: {
    args: '<id> [signal]', min: 1, max: 2,
    describe: 'send a signal (default SIGTERM) to the container init',
    flags: [{ name: 'all', aliases: ['a'], describe: 'signal every process of the container' }],
  },
  delete: { ...ID, describe: 'delete a container and everything it held', flags: [{ name: 'force', aliases: ['f'], describe: 'kill the container first if it runs' }] },
  run: {
    ...ID,
    describe: 'create and start a container; in the foreground, exit with its status',
    flags: [
      ...CREATE_FLAGS,
      { name: 'detach', aliases: ['d'], describe: 'return once the container runs' },
      { name: 'keep', describe: 'do not delete the container when it exits' },
    ],
  },
  exec: {
    args: '<id> [command [args...]]', min: 1, max: 1, rest: true,
    describe: 'run a process in a running container (--process FILE, or COMMAND [ARGS...])',
    flags: [
      { name: 'process', aliases: ['p'], value: 'FILE', describe: 'process.json to run (as engines pass); "-" reads stdin' },
      { name: 'tty', aliases: ['t'], describe: 'allocate a pseudo-TTY' },
      CONSOLE_SOCKET,
      { name: 'cwd', value: 'DIR', describe: 'working directory in the container' },
      { name: 'env', aliases: ['e'], value: 'NAME=VALUE', repeat: true, describe: 'set an environment variable' },
      { name: 'user', aliases: ['u'], value: 'UID[:GID]', describe: 'the user to run as' },
      { name: 'additional-gids', aliases: ['g'], value: 'GID', repeat: true, describe: 'additional gids' },
      { name: 'cap', aliases: ['c'], value: 'CAP', repeat: true, describe: 'add a capability' },
      { name: 'no-new-privs', describe: 'set no_new_privileges' },
      { name: 'apparmor', value: 'PROFILE', describe: 'AppArmor profile for the process' },
      { name: 'process-label', value: 'LABEL', describe: 'SELinux label for the process' },
      PRESERVE_FDS,
      { name: 'detach', aliases: ['d'], describe: 'return once the process runs' },
      PID_FILE,
      { name: 'ignore-paused', describe: 'exec even if the container is paused' },
      { name: 'cgroup', value: 'PATH', describe: 'sub-cgroup to join: PATH or CONTROLLER[,CONTROLLER]:PATH' },
    ],
  },
  pause: { ...ID, describe: 'freeze every process of the container (cgroup freezer)', flags: [] },
  resume: { ...ID, describe: 'thaw a paused container', flags: [] },
  ps: {
    args: '<id> [ps-args...]', min: 1, max: 1, rest: true,
    describe: 'list the processes of a container (json: their host pids; table: ps(1) with ps-args, default -ef)',
    flags: [FORMAT],
  },
  events: {
    ...ID,
    describe: 'print container events as JSON lines: stats every --interval, and oom',
    flags: [
      { name: 'stats', describe: 'print the stats once and exit' },
      { name: 'interval', value: 'DURATION', default: '5s', describe: 'time between stats events (Go duration: 5s, 500ms)' },
    ],
  },
  update: {
    ...ID,
    describe: 'change the resource limits of a running container',
    flags: [
      { name: 'resources', aliases: ['r'], value: 'FILE', describe: 'LinuxResources JSON file, or - for standard input (the other flags are then ignored, as by runc)' },
      { name: 'memory', value: 'BYTES', describe: 'memory limit (bytes, or 64m, 1g; -1 unlimited)' },
      { name: 'memory-swap', value: 'BYTES', describe: 'memory plus swap limit' },
      { name: 'memory-reservation', value: 'BYTES', describe: 'memory soft limit' },
      { name: 'kernel-memory', value: 'BYTES', describe: 'kernel memory limit (ignored, as runc)' },
      { name: 'kernel-memory-tcp', value: 'BYTES', describe: 'kernel TCP buffer limit (v1)' },
      { name: 'pids-limit', value: 'N', describe: 'maximum number of tasks (-1 unlimited)' },
      // --cpu-shares is docker's spelling.
      { name: 'cpu-share', aliases: ['cpu-shares'], value: 'N', describe: 'CPU shares (v2: converted to cpu.weight)' },
      { name: 'cpu-quota', value: 'N', describe: 'CFS quota in microseconds per period (-1 unlimited)' },
      { name: 'cpu-burst', value: 'N', describe: 'CFS burst in microseconds per period' },
      { name: 'cpu-period', value: 'N', describe: 'CFS period in microseconds' },
      { name: 'cpu-rt-period', value: 'N', describe: 'real-time period (v1)' },
      { name: 'cpu-rt-runtime', value: 'N', describe: 'real-time runtime (v1)' },
      { name: 'cpu-idle', value: 'N', describe: 'SCHED_IDLE for the cgroup (0 or 1)' },
      { name: 'cpuset-cpus', value: 'CPUS', describe: 'CPUs to run on (0-3, 0,1)' },
      { name: 'cpuset-mems', value: 'NODES', describe: 'memory nodes to use' },
      { name: 'blkio-weight', value: 'N', describe: 'block IO weight (10-1000)' },
      { name: 'l3-cache-schema', value: 'SCHEMA', describe: 'Intel RDT L3 cache schema (written to the container\'s resctrl group)' },
      { name: 'mem-bw-schema', value: 'SCHEMA', describe: 'Intel RDT memory bandwidth schema (written to the container\'s resctrl group)' },
    ],
  },
  list: {
    args: '', min: 0, max: 0,
    describe: 'list the containers under --root',
    flags: [FORMAT, { name: 'quiet', aliases: ['q'], describe: 'print ids only' }],
  },
  spec: {
    args: '', min: 0, max: 0,
    describe: 'write a default config.json into the bundle directory',
    flags: [
      { name: 'bundle', aliases: ['b'], value: 'DIR', default: '.', describe: 'where to write config.json' },
      // runc's spec --rootless is a boolean, unlike the global --rootless VALUE.
      { name: 'rootless', describe: 'a config for an unprivileged user (user namespace, no network namespace, no cgroup limits)' },
    ],
  },
  features: { args: '', min: 0, max: 0, describe: 'print what this runtime implements, as JSON', flags: [] },
} satisfies Record<string, CommandDef>;

export type CommandName = keyof typeof COMMANDS;

export function commandDef(name: string): CommandDef | undefined {
  return Object.hasOwn(COMMANDS, name) ? (COMMANDS as Record<string, CommandDef>)[name] : undefined;
}

/** The flag `given` (a name or an alias, no dashes) means for `command` (its own flags first), or undefined. */
export function findFlag(command: CommandDef | undefined, given: string): FlagDef | undefined {
  const match = (f: FlagDef) => f.name === given || (f.aliases?.includes(given) ?? false);
  return command?.flags.find(match) ?? GLOBAL_FLAGS.find(match);
}
