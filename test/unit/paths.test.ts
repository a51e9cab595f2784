// checkId / containerDir: runc's container id rules.
import t from 'tap';
import { checkId, containerDir } from '../../src/container/paths';

t.test('valid ids are returned unchanged', async (t) => {
  for (const id of ['a', 'abc', 'my_container-1.2+3', 'A9', '...', '.a', 'a..b', 'x'.repeat(255), '0123456789abcdef']) {
    t.equal(checkId(id), id, id.length > 40 ? `${id.length} characters` : id);
  }
});

t.test('empty or missing ids', async (t) => {
  for (const id of ['', undefined, null, 42, {}]) {
    t.throws(() => checkId(id), { name: 'TsrunError', message: 'container id cannot be empty' }, String(id));
  }
});

t.test('invalid ids name the id and the allowed characters', async (t) => {
  for (const id of ['.', '..', 'a/b', '../x', '/abs', 'a b', 'a:b', 'a\nb', 'é', 'a*']) {
    t.throws(() => checkId(id), {
      name: 'TsrunError',
      message: `invalid container id ${JSON.stringify(id)}: use letters, digits and _ + - . only`,
    }, JSON.stringify(id).slice(0, 40));
  }
});

t.test('ids longer than a file name are refused with the limit', async (t) => {
  for (const n of [256, 1000, 100_000]) {
    t.throws(() => checkId('x'.repeat(n)), {
      name: 'TsrunError',
      message: `invalid container id "${'x'.repeat(76)}...: ${n} characters, at most 255`,
    }, `${n} characters`);
  }
});

t.test('containerDir', async (t) => {
  t.equal(containerDir('/run/tsrun', 'c1'), '/run/tsrun/c1');
  t.equal(containerDir('/tmp/root/', 'c1'), '/tmp/root/c1');
  t.equal(containerDir('rel', 'a.b'), 'rel/a.b');
  t.throws(() => containerDir('/run/tsrun', '..'), /invalid container id/);
  t.throws(() => containerDir('/run/tsrun', '../etc'), /invalid container id/);
  t.throws(() => containerDir('/run/tsrun', ''), /container id cannot be empty/);
});
