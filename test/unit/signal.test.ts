// parseSignal / signalName: signals by name (with or without SIG, any case) or number.
import t from 'tap';
import { constants } from 'node:os';
import { TsrunError } from '../../src/errors';
import { parseSignal, signalName } from '../../src/container/signal';

const S = constants.signals;

t.test('names with and without SIG, any case', async (t) => {
  t.equal(parseSignal('SIGKILL'), S.SIGKILL);
  t.equal(parseSignal('KILL'), S.SIGKILL);
  t.equal(parseSignal('kill'), S.SIGKILL);
  t.equal(parseSignal('sigkill'), S.SIGKILL);
  t.equal(parseSignal('SigTerm'), S.SIGTERM);
  t.equal(parseSignal('term'), 15);
  t.equal(parseSignal('HUP'), 1);
  t.equal(parseSignal('usr1'), S.SIGUSR1);
  t.equal(parseSignal('SIGWINCH'), S.SIGWINCH);
  t.equal(parseSignal('STOP'), S.SIGSTOP);
  t.equal(parseSignal('cont'), S.SIGCONT);
});

t.test('numbers 0..64 (0: a liveness check)', async (t) => {
  for (const n of [0, 1, 2, 9, 15, 31, 34, 50, 64]) t.equal(parseSignal(String(n)), n, String(n));
  t.equal(parseSignal('09'), 9, 'leading zero');
});

t.test('real-time signals', async (t) => {
  t.equal(parseSignal('RTMIN'), 34);
  t.equal(parseSignal('SIGRTMIN'), 34);
  t.equal(parseSignal('rtmin+1'), 35);
  t.equal(parseSignal('SIGRTMIN+3'), 37);
  t.equal(parseSignal('RTMIN+30'), 64);
  t.equal(parseSignal('RTMAX'), 64);
  t.equal(parseSignal('SIGRTMAX-1'), 63);
  t.equal(parseSignal('rtmax-30'), 34);
});

t.test('invalid signals throw a clear TsrunError', async (t) => {
  for (const bad of ['65', '100', '-9', '', 'SIG', 'FOO', 'SIGFOO', 'KILL9', ' 9', '9 ', '1.5', 'RTMIN+', 'RTMIN-1', 'RTMAX+1', 'SIGSIGKILL']) {
    t.throws(() => parseSignal(bad), {
      name: 'TsrunError',
      message: `invalid signal ${JSON.stringify(bad)}: use a name such as TERM or SIGKILL, or a number from 0 to 64`,
    }, JSON.stringify(bad));
  }
  t.throws(() => parseSignal('nope'), TsrunError);
});

// RTMIN+31 would be 65 (no such signal), RTMAX-40 would be 24 (SIGXCPU, not real-time).
t.test('real-time offsets stay inside 34..64', async (t) => {
  for (const bad of ['RTMIN+31', 'RTMIN+100', 'RTMAX-31', 'RTMAX-40']) {
    t.throws(() => parseSignal(bad), TsrunError, bad);
  }
});

t.test('signalName', async (t) => {
  t.equal(signalName(9), 'SIGKILL');
  t.equal(signalName(15), 'SIGTERM');
  t.equal(signalName(40), '40', 'unnamed signals print as numbers');
});
