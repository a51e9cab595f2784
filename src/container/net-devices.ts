// linux.netDevices (runtime-spec 1.3, runc 1.4's way): once the init has made (or joined)
// the container's network namespace, each named host interface is taken down, moved there
// and renamed in one RTM_NEWLINK, given back its permanent global addresses (the move
// drops them) and set up. It is not moved back at delete: the spec forbids it; when the
// namespace dies the kernel returns a physical device to the host and destroys a virtual
// one. A create that fails after a move puts the interface back on the host, under its
// name, with its addresses, before the init is killed.
import * as fs from 'node:fs';
import { Address, IFA_F_PERMANENT, IFF_UP, RouteSocket, RT_SCOPE_UNIVERSE } from '../../bindings/netlink';
import { CLONE, libc } from '../../bindings';
import type { LinuxNetDevice } from '../spec/types';
import { TsrunError } from '../errors';
import { logWarning } from '../logging';

/** What a move changed, to undo it. */
interface Moved {
  hostName: string;
  /** Its ifindex (kept by the move unless the container's namespace had it taken). */
  index: number;
  wasUp: boolean;
  addresses: Address[];
}

/** Only addresses meant for external use move (the spec's rule, as runc): permanent and global. */
export function addressesToMove(addresses: Address[]): Address[] {
  return addresses.filter((a) => a.flags & IFA_F_PERMANENT && a.scope === RT_SCOPE_UNIVERSE);
}

export class NetDevices {
  private readonly moved: Moved[] = [];
  /** Held from the first move to the end of create: a restore finds the namespace even if the init died. */
  private nsFd = -1;

  /** Moves every device into the network namespace at `nsPath`; the first failure throws. */
  moveAll(devices: Record<string, LinuxNetDevice>, nsPath: string): void {
    try {
      this.nsFd = fs.openSync(nsPath, 'r');
    } catch (err) {
      throw new TsrunError(`linux.netDevices: the container's network namespace ${nsPath}: ${(err as Error).message}`);
    }
    const host = RouteSocket.open();
    let inside: RouteSocket | undefined;
    try {
      inside = socketIn(this.nsFd);
      for (const [hostName, device] of Object.entries(devices)) {
        try {
          this.move(host, inside, hostName, device.name || hostName);
        } catch (err) {
          throw new TsrunError(`linux.netDevices.${hostName}: ${(err as Error).message}`);
        }
      }
    } finally {
      host.close();
      inside?.close();
    }
  }

  private move(host: RouteSocket, inside: RouteSocket, hostName: string, name: string): void {
    const link = host.link(hostName);
    if (!link) throw new TsrunError('no such network device on the host');
    // A "%d" template lets the kernel pick a free name (the spec's exception).
    if (!name.includes('%d') && inside.link(name)) throw new TsrunError(`a device named ${JSON.stringify(name)} already exists in the container's network namespace`);
    const addresses = addressesToMove(host.addresses(link.index));
    const wasUp = (link.flags & IFF_UP) !== 0;
    // Down first, as runc: the host stops using it before it goes.
    host.setFlags(link.index, 0, IFF_UP);
    try {
      host.moveTo(link.index, this.nsFd, name);
    } catch (err) {
      // A rename refused after the move itself leaves it inside under its host name.
      if (host.linkByIndex(link.index)?.name === hostName) {
        if (wasUp) host.setFlags(link.index, IFF_UP, IFF_UP);
      } else {
        this.moved.push({ hostName, index: link.index, wasUp, addresses });
      }
      throw err;
    }
    this.moved.push({ hostName, index: link.index, wasUp, addresses });
    const moved = (name.includes('%d') ? undefined : inside.link(name)) ?? inside.linkByIndex(link.index);
    if (!moved) throw new TsrunError(`moved as ${JSON.stringify(name)} but not found in the container's network namespace`);
    this.moved[this.moved.length - 1].index = moved.index;
    for (const address of addresses) inside.addAddress(moved.index, address);
    inside.setFlags(moved.index, IFF_UP, IFF_UP);
  }

  /** create failed: every moved device back on the host under its name (best effort, warnings). */
  restore(): void {
    if (this.moved.length === 0) return;
    const hostNs = fs.openSync('/proc/thread-self/ns/net', 'r');
    const host = RouteSocket.open();
    let inside: RouteSocket | undefined;
    try {
      inside = socketIn(this.nsFd);
      for (const m of this.moved.reverse()) {
        try {
          inside.setFlags(m.index, 0, IFF_UP);
          inside.moveTo(m.index, hostNs, m.hostName);
          const back = host.link(m.hostName);
          if (!back) throw new TsrunError('not found on the host after the move back');
          for (const address of m.addresses) host.addAddress(back.index, address);
          if (m.wasUp) host.setFlags(back.index, IFF_UP, IFF_UP);
        } catch (err) {
          logWarning(`linux.netDevices.${m.hostName}: could not put it back on the host: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      logWarning(`linux.netDevices: could not put the moved devices back on the host: ${(err as Error).message}`);
    } finally {
      this.moved.length = 0;
      host.close();
      inside?.close();
      fs.closeSync(hostNs);
    }
  }

  close(): void {
    if (this.nsFd >= 0) fs.closeSync(this.nsFd);
    this.nsFd = -1;
  }
}

/**
 * A socket of another network namespace: our main thread enters it, opens the socket and
 * returns (a socket stays in the namespace it was made in). Nothing else runs meanwhile.
 */
function socketIn(nsFd: number): RouteSocket {
  const own = fs.openSync('/proc/thread-self/ns/net', 'r');
  try {
    libc().setns(nsFd, CLONE.NEWNET);
    try {
      return RouteSocket.open();
    } finally {
      libc().setns(own, CLONE.NEWNET);
    }
  } finally {
    fs.closeSync(own);
  }
}
