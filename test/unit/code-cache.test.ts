// The V8 code cache launcher (src/code-cache.ts, built as dist/code-cache.js): a package laid
// out like tsrun's (dist/ with a launcher and its modules) in a temp dir, run by fresh node
// processes. No root needed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const built = path.resolve(__dirname, '../../dist/code-cache.js');
if (!fs.existsSync(built)) {
  t.plan(0, 'dist/code-cache.js is not built: npm run build');
} else {
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-code-cache-'));
  t.teardown(() => fs.rmSync(pkg, { recursive: true, force: true }));
  const dist = path.join(pkg, 'dist');
  const cacheDir = path.join(dist, '.v8-cache');
  fs.mkdirSync(dist);
  fs.copyFileSync(built, path.join(dist, 'code-cache.js'));
  // main.js requires a second file of ours and a built-in; it reports what it was given.
  fs.writeFileSync(path.join(dist, 'helper.js'), 'exports.answer = () => 42;\n');
  const writeMain = (extra: string) => fs.writeFileSync(path.join(dist, 'main.js'), [
    "const os = require('node:os');",
    "const { answer } = require('./helper.js');",
    'console.log(JSON.stringify({ answer: answer(), dirname: __dirname, filename: __filename, ' +
      "resolves: require.resolve('./helper.js'), isModule: typeof module.exports, eol: os.EOL.length }));",
    extra,
  ].join('\n'));
  writeMain('');
  const launch = (saveAtExit: boolean) => {
    fs.writeFileSync(path.join(dist, 'launch.js'), `require('./code-cache.js').run(__dirname, 'main.js', ${saveAtExit});\n`);
    const r = spawnSync(process.execPath, [path.join(dist, 'launch.js')], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout.trim(), err: r.stderr };
  };
  const caches = (kind: string) => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((f) => f.endsWith(`.${kind}`)) : []);

  t.test('the launched module sees what Node would give it', async (t) => {
    const r = launch(false);
    t.equal(r.status, 0, r.err);
    t.same(JSON.parse(r.out), {
      answer: 42, dirname: dist, filename: path.join(dist, 'main.js'), resolves: path.join(dist, 'helper.js'), isModule: 'object', eol: 1,
    });
    t.same(caches('run'), [], 'an init-style launcher (no saving) writes nothing');
  });

  t.test('the first run saves a cache per file; the next run uses it and adds none', async (t) => {
    t.equal(launch(true).status, 0);
    const first = caches('run').sort();
    t.equal(first.length, 2, 'main.js and helper.js');
    t.match(first[0], /^helper\.js\.\d+-\d+-\d+\.run$/);
    const mtimes = first.map((f) => fs.statSync(path.join(cacheDir, f)).mtimeMs);
    const again = launch(true);
    t.equal(again.status, 0, again.err);
    t.same(caches('run').sort(), first);
    t.same(first.map((f) => fs.statSync(path.join(cacheDir, f)).mtimeMs), mtimes, 'not rewritten');
  });

  t.test('a changed file of the same length never gets the old cache', async (t) => {
    writeMain("console.log('A');");
    t.equal(launch(true).status, 0);
    writeMain("console.log('B');"); // same length: V8 alone would accept the old cache
    const r = launch(true);
    t.equal(r.status, 0, r.err);
    t.match(r.out, /\nB$/, 'the new source runs');
    t.equal(caches('run').filter((f) => f.startsWith('main.js.')).length, 3, 'each version has its own key');
  });

  t.test('a cache V8 rejects is ignored and replaced; an unwritable cache dir is no error', async (t) => {
    for (const f of caches('run')) fs.writeFileSync(path.join(cacheDir, f), 'not a code cache');
    const r = launch(true);
    t.equal(r.status, 0, r.err);
    t.match(r.out, /"answer":42/);
    const current = caches('run').filter((f) => fs.readFileSync(path.join(cacheDir, f), 'utf8') !== 'not a code cache');
    t.equal(current.length, 2, 'the caches of the files in use were rewritten');
    fs.rmSync(cacheDir, { recursive: true });
    fs.writeFileSync(cacheDir, 'a file where the directory should be');
    const blocked = launch(true);
    t.equal(blocked.status, 0, blocked.err);
    t.equal(blocked.err, '');
    fs.rmSync(cacheDir);
  });
}
