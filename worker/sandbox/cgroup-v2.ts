import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  CPU_PERIOD_US, DELEGATE_ADVICE, assertOwnChild, checkLimits, checkSandboxName, childCgroups, cpuQuotaUs, describePids,
  keyedValue, killTasks, makeCgroup, migrate, migrateSync, readNumber, readOptional, readOptionalNumber, readPids, readText,
  readWords, removeCgroups, setupFailed, writeControl, type RemoveDirectory,
} from './cgroup-files.js';
import type { CgroupLimits, CgroupTree, CgroupUsage, SandboxCgroup, TreeContext, V2Layout } from './cgroups.js';

// cgroup v2 (Documentation/admin-guide/cgroup-v2.rst): one hierarchy, where a controller reaches a
// child cgroup only when its parent lists it in cgroup.subtree_control, and a parent may do so only
// while it holds no processes itself ("no internal processes"; the root cgroup is exempt). So the
// worker's subtree enables the controllers for the sandbox cgroups below it, and the worker's own
// cgroup must enable them for the subtree: when it holds the worker's process, the worker first moves
// itself into the leaf `<subtree>/worker` (the one move of a process other than a sandbox's it makes).
//
//   <own>/                        cgroup.subtree_control += memory pids cpu
//   <own>/pidbox-<pid>-<start>/   cgroup.subtree_control  = memory pids cpu
//     worker/                     this process, when it had to leave <own>
//     <sandbox>/                  memory.max, pids.max, cpu.max …

/** The leaf the worker moves itself into; sandbox names may not take it (checkSandboxName). */
const WORKER_LEAF = 'worker';

export function openV2Tree(layout: V2Layout, context: TreeContext): CgroupTree {
  const own = layout.ownDir;
  const controllers = layout.controllers;
  if (!existsSync(own)) throw setupFailed(`cgroup v2: the worker's cgroup ${own} does not exist; ${DELEGATE_ADVICE}`);
  // The root cgroup has no cgroup.type; a threaded cgroup cannot host the memory controller.
  const type = readOptional(join(own, 'cgroup.type'))?.trim() ?? null;
  if (type !== null && type !== 'domain') {
    throw setupFailed(`cgroup v2: the worker's cgroup ${own} is of type "${type}", where the memory controller cannot work; ${DELEGATE_ADVICE}`);
  }
  const offered = readWords(join(own, 'cgroup.controllers'));
  const notDelegated = controllers.filter((controller) => !offered.includes(controller));
  if (notDelegated.length > 0) {
    throw setupFailed(`cgroup v2: the ${notDelegated.join(', ')} controller${notDelegated.length > 1 ? 's are' : ' is'} not delegated to the ` +
      `worker's cgroup ${own} (its cgroup.controllers lists ${offered.join(' ') || 'nothing'}); ${DELEGATE_ADVICE}`);
  }
  const toEnable = controllers.filter((controller) => !readWords(join(own, 'cgroup.subtree_control')).includes(controller));
  const mustMove = toEnable.length > 0 && type !== null && readPids(own).length > 0;
  if (mustMove) assertAloneIn(own, context.root);

  const tree = new V2Tree(layout, context);
  try {
    tree.delegate(toEnable, mustMove);
  } catch (error) {
    tree.undoSync();
    throw error;
  }
  return tree;
}

/** The worker may move only itself: a cgroup it must leave for its controllers to work must hold no one else. */
function assertAloneIn(own: string, root: string): void {
  const others = readPids(own).filter((pid) => pid !== process.pid);
  if (others.length === 0) return;
  throw setupFailed(`cgroup v2: the worker's cgroup ${own} also holds ${describePids(root, others)}. ` +
    'A cgroup can pass controllers to its children only while it holds no processes, and the worker moves no process but its own, ' +
    `so it must be alone in its cgroup: start it in one of its own (systemd-run --scope -p Delegate=yes …, or as the only process of its container)`);
}

class V2Tree implements CgroupTree {
  readonly version = 'v2';
  readonly paths: readonly string[];
  private readonly own: string;
  private readonly subtree: string;
  private readonly sandboxes = new Map<string, V2Sandbox>();
  private closing: Promise<void> | null = null;
  /** What open did, for close to undo: the controllers it enabled in the own cgroup, whether it moved the worker. */
  private enabledInOwn: readonly string[] = [];
  private moved = false;

  constructor(private readonly layout: V2Layout, private readonly context: TreeContext) {
    this.own = layout.ownDir;
    this.subtree = join(this.own, context.name);
    this.paths = [this.subtree];
  }

  /** The delegation steps, in the order the kernel needs them. */
  delegate(toEnable: readonly string[], mustMove: boolean): void {
    // An existing subtree of this name is this process's own (pid and start time): reused.
    makeCgroup(this.subtree, { existing: 'reuse' });
    if (mustMove) {
      const leaf = join(this.subtree, WORKER_LEAF);
      makeCgroup(leaf, { existing: 'reuse' });
      migrateSync(leaf, process.pid);
      this.moved = true;
    }
    if (toEnable.length > 0) {
      try {
        writeControl(join(this.own, 'cgroup.subtree_control'), toEnable.map((c) => `+${c}`).join(' '));
      } catch (error) {
        // EBUSY: a process entered the own cgroup after the check (the kernel is the last word).
        const others = readPids(this.own);
        if (others.length === 0) throw error;
        throw setupFailed(`cgroup v2: cannot enable ${toEnable.join(', ')} in ${this.own}: it holds ${describePids(this.context.root, others)}; ` +
          'the worker must be alone in its cgroup', error);
      }
      this.enabledInOwn = toEnable;
    }
    writeControl(join(this.subtree, 'cgroup.subtree_control'), this.layout.controllers.map((c) => `+${c}`).join(' '));
  }

  create(name: string): SandboxCgroup {
    checkSandboxName(name);
    if (this.closing) throw setupFailed(`cgroup: the tree ${this.context.name} is closed`);
    const dir = join(this.subtree, name);
    makeCgroup(dir, { existing: 'fail' });
    const sandbox = new V2Sandbox(name, dir, this.context, () => this.sandboxes.delete(name));
    this.sandboxes.set(name, sandbox);
    return sandbox;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.sandboxes.values()].map((sandbox) => sandbox.remove()));
      // Also whatever an earlier, unclosed tree of this name left in the subtree.
      const leftovers = childCgroups(this.subtree).filter((name) => name !== WORKER_LEAF);
      await removeCgroups(leftovers.map((name) => join(this.subtree, name)), this.context.rmdir);
      if (this.moved && !(await this.moveBack())) {
        // The worker cannot go back to its own cgroup (another program's cgroup there relies on the
        // controllers, or the kernel refused): it stays in <subtree>/worker, which empties when this
        // process exits; the next worker's openCgroupTree then removes the subtree as stale, since
        // its name carries this process's pid and start time.
        return;
      }
      await removeCgroups([this.subtree], this.context.rmdir);
      if (!this.moved) {
        try {
          this.disableInOwn();
        } catch {
          // The controllers stay enabled in the own cgroup, which holds no process of ours: harmless.
        }
      }
    })();
    return this.closing;
  }

  /** Undoes a delegation that failed half way, at open (synchronous, best effort: the error that stopped it is what the caller sees). */
  undoSync(): void {
    const quietly = (step: () => void): void => {
      try {
        step();
      } catch {
        // already reported by the error that stopped open
      }
    };
    if (this.moved) {
      quietly(() => this.disableInOwn());
      quietly(() => migrateSync(this.own, process.pid));
      quietly(() => this.context.rmdir(join(this.subtree, WORKER_LEAF)));
    } else {
      quietly(() => this.disableInOwn());
    }
    quietly(() => this.context.rmdir(this.subtree));
  }

  /**
   * Undoes the worker's move: the subtree stops passing the controllers on (the kernel refuses to
   * disable a controller in a parent while a child still enables it), the own cgroup stops enabling
   * what open enabled (a cgroup with domain controllers enabled cannot hold a process), then the
   * worker moves back. When it cannot, everything stays as open left it, so that a new tree opened
   * by this process (below the leaf) is still delegated the controllers.
   */
  private async moveBack(): Promise<boolean> {
    if (!this.mayDisableInOwn()) return false;
    const subtreeControl = join(this.subtree, 'cgroup.subtree_control');
    try {
      writeControl(subtreeControl, this.layout.controllers.map((c) => `-${c}`).join(' '));
    } catch {
      return false;
    }
    const enabled = this.enabledInOwn;
    try {
      this.disableInOwn();
      await migrate(this.own, process.pid);
      return true;
    } catch {
      // Best effort back to where open left it; a step the kernel refuses here changes nothing more.
      try {
        if (this.enabledInOwn.length === 0 && enabled.length > 0) {
          writeControl(join(this.own, 'cgroup.subtree_control'), enabled.map((c) => `+${c}`).join(' '));
          this.enabledInOwn = enabled;
        }
        writeControl(subtreeControl, this.layout.controllers.map((c) => `+${c}`).join(' '));
      } catch {
        // left as it is
      }
      return false;
    }
  }

  /**
   * Whether the controllers open enabled in the own cgroup may be disabled: not when another child
   * cgroup has appeared beside the subtree, whose owner may rely on them (disabling would drop its limits).
   */
  private mayDisableInOwn(): boolean {
    return this.enabledInOwn.length === 0 || childCgroups(this.own).every((name) => name === this.context.name);
  }

  /** Disables in the own cgroup the controllers open enabled there, when mayDisableInOwn allows. */
  private disableInOwn(): void {
    if (this.enabledInOwn.length === 0 || !this.mayDisableInOwn()) return;
    writeControl(join(this.own, 'cgroup.subtree_control'), this.enabledInOwn.map((c) => `-${c}`).join(' '));
    this.enabledInOwn = [];
  }
}

class V2Sandbox implements SandboxCgroup {
  private removing: Promise<void> | null = null;
  /** memory.peak opened by resetPeaks: after a reset, only reads through the same descriptor see the new peak. */
  private peakFd: number | null = null;
  private readonly peakBuffer = Buffer.alloc(32);

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly context: { root: string; rmdir: RemoveDirectory },
    private readonly onRemoved: () => void,
  ) {}

  async join(pid: number): Promise<void> {
    assertOwnChild(this.context.root, pid);
    await migrate(this.dir, pid);
  }

  setLimits(limits: CgroupLimits): void {
    checkLimits(limits);
    writeControl(join(this.dir, 'memory.max'), String(limits.memoryBytes));
    // memory.swap.max exists only with swap accounting (CONFIG_MEMCG_SWAP, not swapaccount=0).
    const swapMax = join(this.dir, 'memory.swap.max');
    if (existsSync(swapMax)) writeControl(swapMax, '0');
    writeControl(join(this.dir, 'pids.max'), String(limits.maxTasks));
    writeControl(join(this.dir, 'cpu.max'), `${cpuQuotaUs(limits.cpus)} ${CPU_PERIOD_US}`);
  }

  setCpuWeight(weight: number): void {
    writeControl(join(this.dir, 'cpu.weight'), String(Math.min(10_000, Math.max(1, Math.round(weight)))));
  }

  resetPeaks(): void {
    // From Linux 6.12 a write to memory.peak resets the peak for reads through the same open file
    // (cgroup-v2.rst, memory.peak); before, the file is read-only and open fails: the peak then
    // stays the one since creation. memory.peak itself exists from 5.19. pids.peak is not resettable.
    if (this.peakFd === null) {
      try {
        this.peakFd = openSync(join(this.dir, 'memory.peak'), 'r+');
      } catch {
        return;
      }
    }
    try {
      writeSync(this.peakFd, 'reset');
    } catch {
      this.closePeak();
    }
  }

  usage(): CgroupUsage {
    const dir = this.dir;
    return {
      cpuNanos: keyedValue(readText(join(dir, 'cpu.stat')), 'usage_usec') * 1000,
      memoryBytes: readNumber(join(dir, 'memory.current')),
      memoryPeakBytes: this.peakFd === null ? readOptionalNumber(join(dir, 'memory.peak')) : this.readPeakFd(this.peakFd),
      tasks: readNumber(join(dir, 'pids.current')),
      tasksPeak: readOptionalNumber(join(dir, 'pids.peak')),
      oomKills: keyedValue(readText(join(dir, 'memory.events')), 'oom_kill'),
    };
  }

  killAll(): void {
    // cgroup.kill (Linux 5.14) kills every task of the cgroup and its descendants at once, forks in
    // flight included; before it, the pids of cgroup.procs one by one.
    const kill = join(this.dir, 'cgroup.kill');
    if (existsSync(kill)) writeControl(kill, '1');
    else killTasks([this.dir]);
  }

  remove(): Promise<void> {
    this.closePeak();
    this.removing ??= removeCgroups([this.dir], this.context.rmdir).then(this.onRemoved, (error: unknown) => {
      this.removing = null; // a later call tries again
      throw error;
    });
    return this.removing;
  }

  private readPeakFd(fd: number): number {
    const length = readSync(fd, this.peakBuffer, 0, this.peakBuffer.length, 0);
    return Number(this.peakBuffer.toString('latin1', 0, length).trim());
  }

  private closePeak(): void {
    if (this.peakFd !== null) closeSync(this.peakFd);
    this.peakFd = null;
  }
}
