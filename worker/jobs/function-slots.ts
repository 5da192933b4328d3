// function.json's `concurrency`: the most runs of one function at once on one worker. A job over the
// limit goes back to the queue for a moment (BullMQ's delayed set) instead of holding one of the
// worker's slots while it waits, so other functions keep running.

export class FunctionSlots {
  private readonly inUse = new Map<string, number>();

  /** Takes a slot for `name`, unless `limit` (null: none) runs of it are going on. */
  tryAcquire(name: string, limit: number | null): boolean {
    const used = this.inUse.get(name) ?? 0;
    if (limit !== null && used >= limit) return false;
    this.inUse.set(name, used + 1);
    return true;
  }

  release(name: string): void {
    const used = (this.inUse.get(name) ?? 1) - 1;
    if (used <= 0) this.inUse.delete(name);
    else this.inUse.set(name, used);
  }

  inUseBy(name: string): number {
    return this.inUse.get(name) ?? 0;
  }
}
