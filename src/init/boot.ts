// The first steps of the container init and the exec-init alike.
import { libc, PR } from '../../bindings';
import { CONTROL_FD_ENV } from '../protocol/init-protocol';
import { ParentChannel } from './channel';

/**
 * Hide from the container (our other threads keep the host's root: nothing in the
 * container may ptrace or open us), die with the parent while setting up (cleared once the
 * parent has what it needs), then read the parent's request. No parent, no request: exit.
 */
export function bootInit<Request>(): { channel: ParentChannel; request: Request } {
  const sys = libc();
  sys.prctl(PR.SET_DUMPABLE, 0);
  sys.prctl(PR.SET_PDEATHSIG, 9);
  process.umask(0);
  const channel = new ParentChannel(Number(process.env[CONTROL_FD_ENV]));
  try {
    return { channel, request: channel.readRequest() as unknown as Request };
  } catch {
    process.exit(1);
  }
}
