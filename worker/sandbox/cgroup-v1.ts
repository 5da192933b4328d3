import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CPU_PERIOD_US, DELEGATE_ADVICE, checkLimits, checkSandboxName, cpuQuotaUs, killTasks, keyedValue, makeCgroup, migrate,
  readNumber, readOptionalNumber, readText, removeCgroups, assertOwnChild, setupFailed, writeControl, type RemoveDirectory,
} from './cgroup-files.js';
import type {
  CgroupLimits, CgroupTree, CgroupUsage, SandboxCgroup, TreeContext, V1Controller, V1Layout,
} from './cgroups.js';

// cgroup v1 (Documentation/admin-guide/cgroup-v1/): each controller may have a hierarchy of its own
// (memory, pids, cpu, cpuacct…) or share one (cpu,cpuacct), so every cgroup is a directory in each
// hierarchy and a process joins each one. v1 has no delegation rules: a directory under the worker's
// own cgroup is a cgroup with every control file of its hierarchy.

type Dirs = Record<V1Controller, string>;

/** Which optional memory control files this kernel offers a v1 cgroup. */
export interface V1MemoryFiles {
  /** memory.memsw.limit_in_bytes exists: swap is accounted (CONFIG_MEMCG_SWAP, not swapaccount=0). */
  swapAccounting: boolean;
  /** memory.kmem.tcp.limit_in_bytes exists (every v1 kernel to date; deprecated since 6.10, see below). */
  tcpAccounting: boolean;
}

/**
 * The writes that set the memory limit to `nextBytes`. With swap accounting, memory.memsw (memory
 * plus swap) is set to the same value so nothing goes to swap, and the kernel refuses any moment
 * where memsw < memory (EINVAL): raising writes memsw first, lowering writes memory first.
 *
 * Then memory.kmem.tcp.limit_in_bytes, to the same value. On v1 the memory of TCP socket buffers is
 * charged to a cgroup only once that file has been written (it switches on the cgroup's tcpmem
 * accounting, mm/memcontrol-v1.c memcg_update_tcp_max), and then to a counter of its own, not to
 * memory.limit_in_bytes: a function may hold up to this much in socket buffers besides its memory,
 * instead of anything up to the host-wide net.ipv4.tcp_mem, past which every TCP connection of the
 * host (the worker's Redis included) is starved. Being a counter of its own, it has no order to keep
 * with memory or memsw; the kernel refuses only a limit below what the sockets already hold (EBUSY),
 * which a new cgroup never does. A socket is charged to the cgroup its creator was in when
 * it was made, and only if the accounting was on by then: so this is written before the function
 * runs (the init opens no TCP socket). v2 needs none of it: memory.max charges socket memory with
 * the rest (cgroup-v2.rst, "sock"). Since 6.10 the write logs "kmem.tcp.limit_in_bytes is
 * deprecated" once per boot; it still works, and it is the only way v1 bounds socket buffers.
 */
export function memoryLimitWritesV1(currentBytes: number, nextBytes: number, files: V1MemoryFiles): Array<[file: string, value: string]> {
  const memory: [string, string] = ['memory.limit_in_bytes', String(nextBytes)];
  const memsw: [string, string] = ['memory.memsw.limit_in_bytes', String(nextBytes)];
  const writes: Array<[string, string]> = !files.swapAccounting ? [memory] : nextBytes > currentBytes ? [memsw, memory] : [memory, memsw];
  if (files.tcpAccounting) writes.push(['memory.kmem.tcp.limit_in_bytes', String(nextBytes)]);
  return writes;
}

export function openV1Tree(layout: V1Layout, context: TreeContext): CgroupTree {
  for (const [controller, dir] of Object.entries(layout.ownDirs)) {
    if (!existsSync(dir)) throw setupFailed(`cgroup: the worker's ${controller} cgroup ${dir} does not exist; ${DELEGATE_ADVICE}`);
  }
  const subtrees = mapDirs(layout.ownDirs, (dir) => join(dir, context.name));
  const made: string[] = [];
  try {
    for (const dir of unique(subtrees)) {
      // A subtree of this very name is this process's own (its pid and start time are in the name):
      // an earlier tree that was not closed. It is reused, and close() removes whatever it holds.
      makeCgroup(dir, { existing: 'reuse' });
      made.push(dir);
    }
  } catch (error) {
    rollBack(made, context.rmdir);
    throw error;
  }
  return new V1Tree(subtrees, context);
}

class V1Tree implements CgroupTree {
  readonly version = 'v1';
  readonly paths: readonly string[];
  private readonly sandboxes = new Map<string, V1Sandbox>();
  private closing: Promise<void> | null = null;

  constructor(private readonly subtrees: Dirs, private readonly context: TreeContext) {
    this.paths = unique(subtrees);
  }

  create(name: string): SandboxCgroup {
    checkSandboxName(name);
    if (this.closing) throw setupFailed(`cgroup: the tree ${this.context.name} is closed`);
    const dirs = mapDirs(this.subtrees, (dir) => join(dir, name));
    const made: string[] = [];
    try {
      for (const dir of unique(dirs)) {
        makeCgroup(dir, { existing: 'fail' });
        made.push(dir);
      }
    } catch (error) {
      rollBack(made, this.context.rmdir);
      throw error;
    }
    const sandbox = new V1Sandbox(name, dirs, this.context, () => this.sandboxes.delete(name));
    this.sandboxes.set(name, sandbox);
    return sandbox;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.sandboxes.values()].map((sandbox) => sandbox.remove()));
      // Also whatever an earlier, unclosed tree of this name left in the subtree.
      await removeCgroups(this.paths, this.context.rmdir);
    })();
    return this.closing;
  }
}

class V1Sandbox implements SandboxCgroup {
  private readonly all: readonly string[];
  private removing: Promise<void> | null = null;

  constructor(
    readonly name: string,
    private readonly dirs: Dirs,
    private readonly context: { root: string; rmdir: RemoveDirectory },
    private readonly onRemoved: () => void,
  ) {
    this.all = unique(dirs);
  }

  async join(pid: number): Promise<void> {
    assertOwnChild(this.context.root, pid);
    // One hierarchy after the other: the kernel serialises migrations anyway, and each waits for
    // an RCU grace period that parallel writes would only queue behind on the thread pool.
    for (const dir of this.all) await migrate(dir, pid);
  }

  setLimits(limits: CgroupLimits): void {
    checkLimits(limits);
    const memory = this.dirs.memory;
    const current = readNumber(join(memory, 'memory.limit_in_bytes'));
    const files: V1MemoryFiles = {
      swapAccounting: existsSync(join(memory, 'memory.memsw.limit_in_bytes')),
      tcpAccounting: existsSync(join(memory, 'memory.kmem.tcp.limit_in_bytes')),
    };
    for (const [file, value] of memoryLimitWritesV1(current, limits.memoryBytes, files)) writeControl(join(memory, file), value);
    writeControl(join(this.dirs.pids, 'pids.max'), String(limits.maxTasks));
    writeControl(join(this.dirs.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeControl(join(this.dirs.cpu, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpus)));
  }

  setCpuWeight(weight: number): void {
    writeControl(join(this.dirs.cpu, 'cpu.shares'), String(Math.max(2, Math.round((weight * 1024) / 100))));
  }

  resetPeaks(): void {
    // Any write sets the peak to the current usage; pids.peak cannot be reset on v1 (EINVAL).
    writeControl(join(this.dirs.memory, 'memory.max_usage_in_bytes'), '0');
  }

  usage(): CgroupUsage {
    const { memory, pids, cpuacct } = this.dirs;
    return {
      cpuNanos: readNumber(join(cpuacct, 'cpuacct.usage')),
      memoryBytes: readNumber(join(memory, 'memory.usage_in_bytes')),
      memoryPeakBytes: readOptionalNumber(join(memory, 'memory.max_usage_in_bytes')),
      tasks: readNumber(join(pids, 'pids.current')),
      tasksPeak: readOptionalNumber(join(pids, 'pids.peak')),
      // The oom_kill line exists from Linux 4.13; before it, no count is kept.
      oomKills: keyedValue(readText(join(memory, 'memory.oom_control')), 'oom_kill'),
    };
  }

  killAll(): void {
    // A task joins every hierarchy, but one whose join failed half way may be in only some.
    killTasks(this.all);
  }

  remove(): Promise<void> {
    this.removing ??= removeCgroups(this.all, this.context.rmdir).then(this.onRemoved, (error: unknown) => {
      this.removing = null; // a later call tries again
      throw error;
    });
    return this.removing;
  }
}

/** Removes the directories a failed step made; the error that stopped it is the one to report. */
function rollBack(made: readonly string[], rmdir: RemoveDirectory): void {
  for (const dir of made) {
    try {
      rmdir(dir);
    } catch {
      // left for close() or the next worker's stale cleanup
    }
  }
}

function mapDirs(dirs: Dirs, map: (dir: string) => string): Dirs {
  return Object.fromEntries(Object.entries(dirs).map(([controller, dir]) => [controller, map(dir)])) as Dirs;
}

/** Each hierarchy's directory once: controllers that share a hierarchy share its directory. */
function unique(dirs: Dirs): string[] {
  return [...new Set(Object.values(dirs))];
}
