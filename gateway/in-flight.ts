// The cap on what a gateway holds open at once (sync invocations, log followers): past it, 429 with
// Retry-After instead of an ever longer line of waiting requests.
import { PidboxError } from '../contracts/pidbox-error.js';

export class InFlight {
  private count = 0;

  constructor(private readonly max: number) {}

  /** Takes a place, or throws TOO_MANY_REQUESTS; the returned function gives it back (once). */
  acquire(): () => void {
    if (this.count >= this.max) {
      throw new PidboxError('TOO_MANY_REQUESTS', `this gateway already holds ${this.max} requests in flight; try again shortly`);
    }
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
    };
  }

  get size(): number {
    return this.count;
  }
}
