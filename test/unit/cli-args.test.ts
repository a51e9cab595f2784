// normalizeArgs (single-dash long flags from go-runc) and the parser (parse.ts).
import t from 'tap';
import { normalizeArgs } from '../../src/cli/args';
import { parseArgs } from '../../src/cli/parse';

t.test('single-dash long flags become double-dash', async (t) => {
  t.same(normalizeArgs(['restore', '-no-subreaper', 'id']), ['restore', '--no-subreaper', 'id']);
  t.same(normalizeArgs(['-debug', 'state', 'id']), ['--debug', 'state', 'id']);
  t.same(normalizeArgs(['-log-format=json', 'state', 'id']), ['--log-format=json', 'state', 'id']);
  t.same(normalizeArgs(['-log-format', 'json', 'state', 'id']), ['--log-format', 'json', 'state', 'id']);
  t.same(normalizeArgs(['--root', '/r', '-log-format=json', 'state', 'nope']), ['--root', '/r', '--log-format=json', 'state', 'nope']);
  t.same(normalizeArgs(['create', '-pid-file', '/p', 'id']), ['create', '--pid-file', '/p', 'id']);
  t.same(normalizeArgs(['delete', '-force', 'id']), ['delete', '--force', 'id']);
});

t.test('double-dash flags, short flags, values and numbers are untouched', async (t) => {
  const same = (args: string[]) => t.same(normalizeArgs(args), args, args.join(' '));
  same(['--root', '/r', '--log-format', 'json', 'state', 'id']);
  same(['--no-subreaper', 'run', 'id']);
  same(['delete', '-f', 'id']);
  same(['kill', '-a', 'id', '9']);
  same(['list', '-q']);
  same(['spec', '-b', '/bundle']);
  same(['-v']);
  same(['-h']);
  same(['kill', 'id', '-9']);
  same(['state', 'ID-With-Caps']);
  same(['-Xfoo', 'state', 'id']);
  same([]);
});

t.test('"-" (standard input) as a flag value is handed to yargs as --flag=-', async (t) => {
  // containerd's runc shim runs `update --resources - ID` (docker update): yargs alone
  // drops the "-" and reports ID as an unknown argument.
  t.same(normalizeArgs(['--root', '/r', 'update', '--resources', '-', 'id']), ['--root', '/r', 'update', '--resources=-', 'id']);
  t.same(normalizeArgs(['update', '-r', '-', 'id']), ['update', '--r=-', 'id']);
  t.same(normalizeArgs(['update', '--resources', '/f.json', 'id']), ['update', '--resources', '/f.json', 'id']);
});

t.test('args after the subcommand and the container id are the container\'s', async (t) => {
  // For exec, a `--` marks where the command starts, so that yargs leaves its flags alone.
  t.same(normalizeArgs(['exec', 'id', 'ls', '-la', '-color=auto']), ['exec', 'id', '--', 'ls', '-la', '-color=auto']);
  t.same(normalizeArgs(['exec', '-tty', 'id', 'sh', '-login']), ['exec', '--tty', 'id', '--', 'sh', '-login']);
  t.same(normalizeArgs(['--root', '/r', 'exec', '-e', 'A=1', 'id', 'sh', '-c', 'x']), ['--root', '/r', 'exec', '-e', 'A=1', 'id', '--', 'sh', '-c', 'x']);
  t.same(normalizeArgs(['kill', 'id', '-9']), ['kill', 'id', '-9'], 'only exec');
});

t.test('after -- nothing is touched', async (t) => {
  t.same(normalizeArgs(['exec', '--', '-not-a-flag']), ['exec', '--', '-not-a-flag']);
  t.same(normalizeArgs(['-debug', '--', '-debug']), ['--debug', '--', '-debug']);
});

// Values of global flags count as positionals: behind `--root R --log L` (what containerd's
// go-runc always puts first) no single-dash flag is normalised any more, e.g. go-runc's
// `restore ... -no-subreaper`.
t.test('values of global flags are not the subcommand or the id', async (t) => {
  t.same(
    normalizeArgs(['--root', '/r', '--log', '/l', '--log-format', 'json', 'restore', '-no-subreaper', 'id']),
    ['--root', '/r', '--log', '/l', '--log-format', 'json', 'restore', '--no-subreaper', 'id'],
    'go-runc restore with its global flags',
  );
  t.same(
    normalizeArgs(['--root', '/r', '--log', '/l', '-log-format=json', 'state', 'id']),
    ['--root', '/r', '--log', '/l', '--log-format=json', 'state', 'id'],
    'a single-dash global flag after two global values',
  );
  t.same(
    normalizeArgs(['create', '--bundle', '/b', '-pid-file', '/p', 'id']),
    ['create', '--bundle', '/b', '--pid-file', '/p', 'id'],
    'a single-dash flag after a subcommand flag with a value',
  );
});

const parse = (args: string[]) => parseArgs(normalizeArgs(args));

t.test('parseArgs: the common engine calls', async (t) => {
  const parsed = (args: string[]) => {
    const r = parse(args);
    const given = (v: Record<string, unknown>) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined && x !== false));
    return { command: r.command, globals: given(r.globals), flags: given(r.flags), positionals: r.positionals };
  };
  const defaults = { 'log-format': 'text', rootless: 'auto' };
  t.same(parsed(['--root', '/r', 'state', 'c1']), { command: 'state', globals: { ...defaults, root: '/r' }, flags: {}, positionals: ['c1'] });
  t.same(parsed(['--root=/r', '--log', '/l', '--log-format=json', 'delete', '--force', 'c1']),
    { command: 'delete', globals: { ...defaults, root: '/r', log: '/l', 'log-format': 'json' }, flags: { force: true }, positionals: ['c1'] });
  t.same(parsed(['kill', '-a', 'c1', 'KILL']), { command: 'kill', globals: defaults, flags: { all: true }, positionals: ['c1', 'KILL'] });
  t.same(parsed(['kill', 'c1', '-9']).positionals, ['c1', '-9'], 'a negative-looking signal number is a positional');
  t.same(parsed(['--debug', 'start', 'c1']).globals, { ...defaults, debug: true });
  t.same(parsed(['--debug=false', 'start', 'c1']).globals, defaults, '--debug=false');
  t.same(parsed(['create', '--bundle', '/b', '--pid-file', 'p', '--console-socket', '/s', '--no-pivot', '--no-new-keyring', '--preserve-fds', '2', 'c1']).flags,
    { bundle: '/b', 'pid-file': 'p', 'console-socket': '/s', 'no-pivot': true, 'no-new-keyring': true, 'preserve-fds': '2' });
  t.same(parsed(['-root', '/r', 'run', '-d', '-b', '/b', 'c1']).flags, { bundle: '/b', detach: true, 'preserve-fds': '0' }, 'run -d, -b');
  t.same(parsed(['update', '--cpu-shares', '100', '--memory', '-1', 'c1']).flags, { 'cpu-share': '100', memory: '-1' }, "docker's --cpu-shares is runc's --cpu-share");
  t.same(parsed(['list', '-f', 'json', '-q']).flags, { format: 'json', quiet: true });
  t.same(parsed(['spec', '--rootless', '--bundle', '/b']).flags, { bundle: '/b', rootless: true }, "spec's own boolean --rootless");
  t.same(parsed(['--rootless', 'true', 'spec']).globals.rootless, 'true', 'the global --rootless before spec');
  t.same(parsed(['delete', '--', '-odd-id']).positionals, ['-odd-id'], 'after -- everything is an argument');
});

t.test('parseArgs: exec and ps keep what follows the id', async (t) => {
  const e = parse(['exec', '-e', 'A=1', '--env', 'B=2', '-t', 'c1', 'sh', '-c', 'echo --root x']);
  t.same([e.positionals, e.rest, e.flags.env, e.flags.tty], [['c1'], ['sh', '-c', 'echo --root x'], ['A=1', 'B=2'], true]);
  const p = parse(['exec', '--process', '/p.json', '--detach', '--pid-file', '/pid', 'c1']);
  t.same([p.positionals, p.rest, p.flags.process, p.flags.detach, p.flags['pid-file']], [['c1'], [], '/p.json', true, '/pid']);
  t.same(parse(['exec', 'c1', '--', 'ls', '-l']).rest, ['ls', '-l'], 'an explicit --');
  const dd = parse(['exec', '-t', '--', 'c1', 'ls', '-l']);
  t.same([dd.positionals, dd.rest], [['c1'], ['ls', '-l']], '-- before the id');
  const ps = parse(['ps', '--format', 'table', 'c1', '-o', 'pid', '-f']);
  t.same([ps.positionals, ps.rest, ps.flags.format], [['c1'], ['-o', 'pid', '-f'], 'table']);
});

t.test('parseArgs: usage errors', async (t) => {
  const refused = (args: string[], msg: RegExp) => t.throws(() => parse(args), msg, args.join(' '));
  refused([], /^a command is required \(see tsrun --help\)$/);
  refused(['frobnicate', 'c1'], /^unknown command "frobnicate" \(see tsrun --help\)$/);
  refused(['state'], /^"state" requires exactly 1 argument\(s\), found 0 \(see tsrun state --help\)$/);
  refused(['state', 'a', 'b'], /"state" requires exactly 1 argument/);
  refused(['kill', 'a', 'b', 'c'], /"kill" requires a maximum of 2 argument/);
  refused(['exec'], /"exec" requires a minimum of 1 argument/);
  refused(['list', 'x'], /"list" requires exactly 0 argument/);
  refused(['state', '--bogus', 'c1'], /^flag provided but not defined: --bogus \(see tsrun state --help\)$/);
  refused(['--bogus', 'state', 'c1'], /flag provided but not defined: --bogus/);
  refused(['delete', '--all', 'c1'], /flag provided but not defined: --all/);
  refused(['kill', '-f', 'c1'], /flag provided but not defined: -f/);
  refused(['--root'], /flag needs an argument: --root/);
  refused(['create', '--bundle', '--pid-file', 'p', 'c1'], /flag needs an argument: --bundle/);
  refused(['--log-format', 'xml', 'state', 'c1'], /^--log-format: invalid value "xml", expected one of text, json/);
  refused(['list', '--format', 'yaml'], /--format: invalid value "yaml", expected one of table, json/);
  refused(['--debug=yes', 'state', 'c1'], /--debug: invalid value "yes", expected true or false/);
  refused(['spec', '--rootless', 'true'], /"spec" requires exactly 0 argument/);
});

t.test('--help and --version need no command; --help wins over missing arguments', async (t) => {
  t.match(parse(['--help']), { help: true, command: undefined });
  t.match(parse(['-h']), { help: true });
  t.match(parse(['state', '--help']), { help: true, command: 'state' });
  t.match(parse(['-v']), { command: undefined, globals: { version: true } });
  t.match(parse(['help']), { help: true, command: undefined }, "runc's help [command]");
  t.match(parse(['help', 'exec']), { help: true, command: 'exec' });
  t.match(parse(['exec', '-e=A=1', 'c1', 'sh']).flags, { env: ['A=1'] }, 'a short flag with =');
});

t.test('value flags given twice are refused, repeatable ones are not', async (t) => {
  const refused = (args: string[], msg: RegExp) => t.throws(() => parse(args), msg, args.join(' '));
  refused(['--root', '/a', '--root', '/b', 'state', 'id'], /^--root given more than once \("\/a" and "\/b"\): give it once$/);
  refused(['--root=/a', 'create', '--root', '/b', 'id'], /--root given more than once/);
  refused(['create', '-b', '/x', '--bundle=/y', 'id'], /--bundle given more than once/);
  refused(['-log', '/l1', '--log', '/l2', 'state', 'id'], /--log given more than once/);
  refused(['create', 'id', '--pid-file', 'p1', '--pid-file', 'p2'], /--pid-file given more than once/);
  refused(['update', '--cpu-share', '1', '--cpu-shares', '2', 'id'], /--cpu-share given more than once/);
  const ok = (args: string[]) => t.doesNotThrow(() => parse(args), args.join(' '));
  ok(['exec', '-e', 'A=1', '--env', 'B=2', '--cap', 'CAP_KILL', '-c', 'CAP_CHOWN', 'id', 'sh']);
  ok(['exec', 'id', 'sh', '-c', 'x', '--root', 'a', '--root', 'b']);
  ok(['ps', 'id', '-p', '1', '-p', '2']);
  ok(['--debug', '--debug', 'state', 'id']);
  ok(['--root', '/a', 'create', '--bundle', '/b', 'id']);
});
