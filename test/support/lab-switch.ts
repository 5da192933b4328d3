// The lab's network: a Linux bridge in a network namespace of its own (the "switch"), and one veth
// pair per host, its `eth0` end in the host's namespace and its other end a port of the bridge.
// Every link is made inside the lab's namespaces (`ip -n`): the machine's own network never sees one.
import { addNetns, deleteNetns, ipIn } from './network-namespaces.js';

/** Length of the lab subnet's prefix: hosts are 10.200.0.x/24 (any /24 does: it is the lab's alone). */
export const LAB_PREFIX_LENGTH = 24;

export interface LabSwitch {
  readonly netns: string;
  /**
   * Joins the host namespace `hostNetns` to the bridge: a veth pair whose end `eth0` moves into the
   * host with `address`, and whose end `port` (at most 15 characters) stays here, a port of the bridge.
   */
  plug(hostNetns: string, port: string, address: string): Promise<void>;
  /** Deletes the switch's namespace (its bridge, and every veth pair with it); idempotent. */
  close(): Promise<void>;
}

export async function createSwitch(netns: string): Promise<LabSwitch> {
  await addNetns(netns);
  try {
    await ipIn(netns, ['link', 'add', 'br0', 'type', 'bridge']);
    await ipIn(netns, ['link', 'set', 'br0', 'up']);
  } catch (error) {
    await deleteNetns(netns);
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    netns,
    async plug(hostNetns, port, address) {
      // Made here, its peer created straight in the host: neither end ever sits in our namespace.
      await ipIn(netns, ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hostNetns]);
      // No STP on the bridge: a port forwards as soon as it is up.
      await ipIn(netns, ['link', 'set', port, 'master', 'br0', 'up']);
      await ipIn(hostNetns, ['address', 'add', `${address}/${LAB_PREFIX_LENGTH}`, 'dev', 'eth0']);
      await ipIn(hostNetns, ['link', 'set', 'lo', 'up']);
      await ipIn(hostNetns, ['link', 'set', 'eth0', 'up']);
    },
    close() {
      closing ??= deleteNetns(netns);
      return closing;
    },
  };
}
