// Errors crossing the control socket keep their kind and, for config errors, the file and
// JSON path (issue 14): errorRecord on the init's side, errorFromRecord on create's.
import t from 'tap';
import { AlreadyExistsError, ConfigError, errorFromRecord, errorRecord, kindOf, NotFoundError, StateError, TsrunError } from '../../src/errors';

/** Through JSON, as over the socket. */
const cross = (err: unknown, context = '') => errorFromRecord(JSON.parse(JSON.stringify({ type: 'error', ...errorRecord(err) })), context);

t.test('a config error keeps its class, file, path and detail; the context leads the text', async (t) => {
  const got = cross(new ConfigError('config.json', '/process/args/0', 'found "", expected a program'), 'unable to start container process: ');
  t.type(got, ConfigError);
  const c = got as ConfigError;
  t.same([c.kind, c.file, c.jsonPath, c.detail], ['config', 'config.json', '/process/args/0', 'found "", expected a program']);
  t.equal(c.message, 'unable to start container process: config.json: /process/args/0: found "", expected a program');
});

t.test('each kind comes back as its class with the same text', async (t) => {
  for (const [err, cls] of [
    [new StateError('container not running'), StateError],
    [new NotFoundError('exec: "x": executable file not found in $PATH'), NotFoundError],
    [new AlreadyExistsError('container with id a already exists'), AlreadyExistsError],
    [new TsrunError('mount /x: permission denied'), TsrunError],
  ] as const) {
    const got = cross(err);
    t.type(got, cls, err.kind);
    t.equal(got.kind, err.kind);
    t.equal(got.message, err.message);
  }
});

t.test('errors that are not tsrun\'s, and records without a kind (tsrun-stage), are host errors', async (t) => {
  t.equal(kindOf(new Error('EACCES')), 'host');
  t.equal(kindOf('text'), 'host');
  t.equal(cross(Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' })).kind, 'host');
  const fromStage = errorFromRecord({ msg: 'exec /bin/x: permission denied' }, 'unable to start container process: ');
  t.equal(fromStage.kind, 'host');
  t.equal(fromStage.message, 'unable to start container process: exec /bin/x: permission denied');
});
