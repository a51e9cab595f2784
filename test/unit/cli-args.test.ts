// normalizeArgs (single-dash long flags from go-runc) and the fast-path parser.
import t from 'tap';
import { normalizeArgs, refuseRepeatedFlags } from '../../src/cli/args';
import { usageMessage } from '../../src/cli/main';
import { parseFast } from '../../src/cli/fast';

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

t.test('parseFast: the common engine calls', async (t) => {
  // Only the fields these tests care about (the parser is still growing).
  const parsed = (args: string[]) => {
    const r = parseFast(args);
    return r && { command: r.command, globals: r.globals, flags: [...r.flags].sort(), positionals: r.positionals };
  };
  t.same(parsed(['--root', '/r', 'state', 'c1']), { command: 'state', globals: { root: '/r' }, flags: [], positionals: ['c1'] });
  t.same(parsed(['--root=/r', '--log', '/l', '--log-format=json', 'delete', '--force', 'c1']),
    { command: 'delete', globals: { root: '/r', log: '/l', 'log-format': 'json' }, flags: ['force'], positionals: ['c1'] });
  t.same(parsed(['kill', '-a', 'c1', 'KILL']), { command: 'kill', globals: {}, flags: ['all'], positionals: ['c1', 'KILL'] });
  t.same(parsed(['kill', 'c1', '-9'])?.positionals, ['c1', '-9'], 'a negative-looking signal number is a positional');
  t.same(parsed(['--debug', 'start', 'c1'])?.globals, { debug: true });
});

t.test('parseFast: anything unusual goes to the full CLI', async (t) => {
  for (const args of [
    [], ['--help'], ['--version'], ['-v'], ['frobnicate', 'c1'], ['state', '--help'],
    ['state'], ['state', 'a', 'b'], ['kill', 'a', 'b', 'c'], ['state', '--bogus', 'c1'],
    ['--bogus', 'state', 'c1'], ['--root'], ['--root', '', 'state', 'c1'], ['--log-format', 'xml', 'state', 'c1'],
    ['--debug=true', 'state', 'c1'], ['delete', '--all', 'c1'],
  ]) {
    t.equal(parseFast(args), undefined, JSON.stringify(args));
  }
});

t.test('value flags given twice are refused, repeatable ones are not', async (t) => {
  const refused = (args: string[], msg: RegExp) => t.throws(() => refuseRepeatedFlags(normalizeArgs(args)), msg, args.join(' '));
  refused(['--root', '/a', '--root', '/b', 'state', 'id'], /^--root given more than once \("\/a" and "\/b"\): give it once$/);
  refused(['--root=/a', 'create', '--root', '/b', 'id'], /--root given more than once/);
  refused(['create', '-b', '/x', '--bundle=/y', 'id'], /--bundle given more than once/);
  refused(['-log', '/l1', '--log', '/l2', 'state', 'id'], /--log given more than once/);
  refused(['create', 'id', '--pid-file', 'p1', '--pid-file', 'p2'], /--pid-file given more than once/);
  const ok = (args: string[]) => t.doesNotThrow(() => refuseRepeatedFlags(normalizeArgs(args)), args.join(' '));
  ok(['exec', '-e', 'A=1', '--env', 'B=2', '--cap', 'CAP_KILL', '-c', 'CAP_CHOWN', 'id', 'sh']);
  ok(['exec', 'id', 'sh', '-c', 'x', '--root', 'a', '--root', 'b']);
  ok(['ps', 'id', '-p', '1', '-p', '2']);
  ok(['--debug', '--debug', 'state', 'id']);
  ok(['--root', '/a', 'create', '--bundle', '/b', 'id']);
});

t.test("yargs' invalid choice errors become one line", async (t) => {
  t.equal(
    usageMessage('Invalid values:\n  Argument: log-format, Given: "xml", Choices: "text", "json"'),
    '--log-format: invalid value "xml", expected one of text, json',
  );
  t.equal(usageMessage('Unknown argument: frobnicate'), 'Unknown argument: frobnicate');
});
