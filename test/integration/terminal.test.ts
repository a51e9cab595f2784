// process.terminal: the pty is opened in the container's devpts and its master sent over
// --console-socket (one sendmsg with SCM_RIGHTS, as conmon and the containerd shim expect);
// without a socket, foreground run and exec relay it to tsrun's own stdio.
// The receiver is python3's socket.recv_fds, an implementation independent of tsrun's.
import t from 'tap';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle } from '../helpers/bundle';
import { stopTapSpawnHooks, tempDir } from '../helpers/container';
import { forceDelete, freshRoot, residue, state, tsrun, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

stopTapSpawnHooks();
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
const tmp = tempDir('tsrun-tty-');
t.teardown(tmp.remove);

const RECEIVER = `
import json, os, select, socket, sys, time
path, command = sys.argv[1], sys.argv[2].encode()
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
master = fds[0]
os.write(master, command)
out = b""
end = time.time() + 20
while time.time() < end:
    r, _, _ = select.select([master], [], [], 0.5)
    if not r:
        continue
    try:
        data = os.read(master, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
print(json.dumps({"name": msg.decode(), "fds": len(fds), "output": out.decode(errors="replace")}))
`;
const receiverScript = path.join(tmp.dir, 'receiver.py');
fs.writeFileSync(receiverScript, RECEIVER);

interface Received {
  name: string;
  fds: number;
  output: string;
}

/** Start the console-socket receiver; `result` resolves with what it got through the master. */
function receiver(command: string): { socket: string; result: Promise<Received>; child: ChildProcess } {
  const socket = path.join(tmp.dir, `${uniqueId('sock')}.sock`);
  const child = spawn('python3', [receiverScript, socket, command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const result = new Promise<Received>((resolve, reject) => {
    // 'close', not 'exit': the exit can be seen before the last of its stdout is read.
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out) as Received);
      } catch {
        reject(new Error(`receiver exited ${code}: ${out}`));
      }
    });
  });
  if (!waitFor(() => fs.existsSync(socket), 10_000)) throw new Error('the receiver did not listen');
  return { socket, result, child };
}

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}; stdout: ${r.stdout.trim()}; stderr: ${r.stderr.trim()}`;
}

const SIZE = { height: 33, width: 101 };

t.test('create --console-socket: the pty of the container, consoleSize, controlling terminal', async (t) => {
  const id = uniqueId('tty-create');
  const bundle = makeBundle({
    args: ['sh'],
    mutate: (c) => {
      c.process.terminal = true;
      c.process.consoleSize = SIZE;
    },
  });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  // ls writes to a file: a pipeline or a glob would show the shell's own pipe or dir fds.
  const recv = receiver('tty; stty size; ls -l /proc/$$/fd >/tmp/fds; cat /tmp/fds; exit 3\n');
  const r = tsrun(['create', '--console-socket', recv.socket, '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 0, why(r));
  const s = tsrun(['start', id], { root });
  t.equal(s.status, 0, why(s));
  const got = await recv.result;
  t.equal(got.fds, 1, 'one fd in SCM_RIGHTS');
  t.equal(got.name, '/dev/ptmx', 'payload: the name string, as runc sends');
  t.match(got.output, /^\/dev\/pts\/0\r$/m, 'tty: the first pty of the container\'s own devpts');
  t.match(got.output, /^33 101\r$/m, 'stty size: consoleSize');
  // Every fd of the shell is the pty, /dev/tty (job control) or the file ls writes to
  // (busybox runs ls in-process and parks the shell's stdout on a spare fd meanwhile).
  const fds = [...got.output.matchAll(/ (\d+) -> (\S+)\r$/gm)].map((m) => `${m[1]} ${m[2]}`);
  t.ok(fds.includes('0 /dev/pts/0') && fds.includes('2 /dev/pts/0'), `stdio is the pty: ${fds.join(', ')}`);
  t.same(fds.filter((f) => !/ (\/dev\/pts\/0|\/dev\/tty|\/tmp\/fds)$/.test(f)), [], 'no other fd reached the container');
  t.ok(waitFor(() => state(id, root).status === 'stopped'), 'the container exits with the shell');
  const d = tsrun(['delete', id], { root });
  t.equal(d.status, 0, why(d));
  t.same(residue(id, root, { bundle: bundle.dir }), []);
});

t.test('exec --process (terminal) --console-socket --detach', async (t) => {
  const id = uniqueId('tty-exec');
  const bundle = makeBundle({ args: ['sleep', '1000'] });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r0 = tsrun(['run', '-d', '--bundle', bundle.dir, id], { root });
  t.equal(r0.status, 0, why(r0));
  const proc = { ...bundle.config.process, terminal: true, consoleSize: SIZE, args: ['sh'] };
  const file = path.join(bundle.dir, 'process.json');
  fs.writeFileSync(file, JSON.stringify(proc));

  const recv = receiver('tty; stty size; echo "pid $$"; exit\n');
  const pidFile = path.join(bundle.dir, 'exec.pid');
  const r = tsrun(['exec', '--process', file, '--console-socket', recv.socket, '--detach', '--pid-file', pidFile, id], { root });
  t.equal(r.status, 0, why(r));
  const got = await recv.result;
  t.match(got.output, /^\/dev\/pts\/0\r$/m);
  t.match(got.output, /^33 101\r$/m);
  t.match(got.output, /^pid \d+\r$/m);
  t.ok(Number(fs.readFileSync(pidFile, 'utf8')) > 0, '--pid-file written');

  // The inline form with -t.
  const recv2 = receiver('tty; exit\n');
  const r2 = tsrun(['exec', '-t', '--console-socket', recv2.socket, '-d', id, 'sh'], { root });
  t.equal(r2.status, 0, why(r2));
  t.match((await recv2.result).output, /^\/dev\/pts\/\d+\r$/m);
});

t.test('foreground run and exec without a socket relay the pty to tsrun\'s stdio', async (t) => {
  const id = uniqueId('tty-run');
  const bundle = makeBundle({
    args: ['sh', '-c', 'tty; stty size; exit 3'],
    mutate: (c) => {
      c.process.terminal = true;
      c.process.consoleSize = SIZE;
    },
  });
  t.teardown(() => {
    forceDelete(id, root);
    bundle.cleanup();
  });
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
  t.equal(r.status, 3, `exit status through the relay: ${why(r)}`);
  t.match(r.stdout, /^\/dev\/pts\/0\r$/m);
  t.match(r.stdout, /^33 101\r$/m);

  const id2 = uniqueId('tty-fg-exec');
  const b2 = makeBundle({ args: ['sleep', '1000'] });
  t.teardown(() => {
    forceDelete(id2, root);
    b2.cleanup();
  });
  t.equal(tsrun(['run', '-d', '--bundle', b2.dir, id2], { root }).status, 0);
  const e = tsrun(['exec', '-t', id2, 'sh', '-c', 'tty; read line; echo "[$line]"; exit 4'], { root, input: 'typed\n' });
  t.equal(e.status, 4, why(e));
  t.match(e.stdout, /^\/dev\/pts\/0\r$/m);
  t.match(e.stdout, /^\[typed\]\r$/m, "our stdin reaches the pty");
});

t.test('refusals', async (t) => {
  const id = uniqueId('tty-refuse');
  const withTty = makeBundle({ args: ['true'], mutate: (c) => void (c.process.terminal = true) });
  const noTty = makeBundle({ args: ['true'] });
  t.teardown(() => {
    forceDelete(id, root);
    withTty.cleanup();
    noTty.cleanup();
  });
  let r = tsrun(['create', '--bundle', withTty.dir, id], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot allocate tty/);
  r = tsrun(['run', '-d', '--bundle', withTty.dir, id], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot allocate tty/);
  const recv = path.join(tmp.dir, 'unused.sock');
  r = tsrun(['create', '--console-socket', recv, '--bundle', noTty.dir, id], { root });
  t.equal(r.status, 1);
  t.match(r.stderr, /console.socket/);
  r = tsrun(['create', '--console-socket', recv, '--bundle', withTty.dir, id], { root });
  t.equal(r.status, 1, 'a socket nobody listens on');
  t.match(r.stderr, /no such file or directory/);
  t.same(residue(id, root), []);
});
