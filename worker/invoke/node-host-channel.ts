// The worker's end of a node host's channel (worker/runtimes/host-protocol.ts). Everything on it
// comes from inside a sandbox, where the function runs in the host's own process: every line is
// bounded and checked, messages must come in order, and the result must be exactly as long as its
// header says. Anything else is a ProtocolError: the caller ends the sandbox.
import type { Socket } from 'node:net';
import { ProtocolError } from '../init/protocol.js';
import type { HostToWorker, WorkerToHost } from '../runtimes/host-protocol.js';

export class LoadFailed extends Error {
  constructor(readonly error: { name: string; message: string }) {
    super(`${error.name}: ${error.message}`);
    this.name = 'LoadFailed';
  }
}

type State = 'starting' | 'ready' | 'loading' | 'loaded' | 'invoked' | 'answered' | 'broken';

const MAX_LINE_BYTES = 64 * 1024;

export class NodeHostChannel {
  /** Resolves when the host has Request and Response loaded. */
  readonly ready: Promise<void>;
  private state: State = 'starting';
  private pending: Buffer = Buffer.alloc(0);
  private waiter: { resolve: (value: Buffer | void) => void; reject: (error: Error) => void } | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private failure: Error | null = null;

  /** `maxResultBytes`: the most a result (header line and body) may take. */
  constructor(private readonly socket: Socket, private readonly maxResultBytes: number) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.fail(new ProtocolError('the node host closed its channel')));
    socket.on('error', () => {});
  }

  /** Has the host import the function's bundle; rejects with LoadFailed when its module fails. */
  load(message: Extract<WorkerToHost, { type: 'load' }>): Promise<void> {
    this.expect('ready', 'load');
    this.state = 'loading';
    return this.send(message).then(() => undefined);
  }

  /**
   * Hands the host its one request; resolves with the result's bytes (header line and body) as soon
   * as all of them have come, or with what came before the host ended (the caller parses it).
   */
  invoke(message: Extract<WorkerToHost, { type: 'invoke' }>): Promise<Buffer> {
    this.expect('loaded', 'invoke');
    this.state = 'invoked';
    return this.send(message) as Promise<Buffer>;
  }

  /** The whole result has come. */
  get answered(): boolean {
    return this.state === 'answered';
  }

  /** What came of the result so far, when the host ended before completing it. */
  partialResult(): Buffer {
    return this.pending;
  }

  private expect(state: State, what: string): void {
    if (this.failure) throw this.failure;
    if (this.state !== state) throw new Error(`node host: ${what} while ${this.state}`);
  }

  private send(message: WorkerToHost): Promise<Buffer | void> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  private receive(chunk: Buffer): void {
    if (this.state === 'broken' || this.state === 'answered') return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    try {
      if (this.state === 'invoked') this.takeResult();
      else this.takeMessages();
    } catch (error) {
      this.fail(error instanceof ProtocolError ? error : new ProtocolError(String((error as Error).message)));
    }
  }

  private takeMessages(): void {
    for (;;) {
      const newline = this.pending.indexOf(0x0a);
      if (newline < 0) {
        if (this.pending.length > MAX_LINE_BYTES) throw new ProtocolError('a message of the node host is too long');
        return;
      }
      const message = parseHostMessage(this.pending.subarray(0, newline).toString('utf8'));
      this.pending = this.pending.subarray(newline + 1);
      if (message.type === 'ready' && this.state === 'starting') {
        this.state = 'ready';
        this.resolveReady();
      } else if (message.type === 'loaded' && this.state === 'loading') {
        this.state = 'loaded';
        this.settle();
      } else if (message.type === 'load-failed' && this.state === 'loading') {
        this.state = 'broken';
        this.waiter?.reject(new LoadFailed(message.error));
        this.waiter = null;
        return;
      } else {
        throw new ProtocolError(`the node host said ${message.type} while ${this.state}`);
      }
    }
  }

  /** The result is complete once the body its header announces has come. */
  private takeResult(): void {
    if (this.pending.length > this.maxResultBytes) throw new ProtocolError(`the result is longer than ${this.maxResultBytes} bytes`);
    const newline = this.pending.indexOf(0x0a);
    if (newline < 0) return;
    let length: unknown;
    try {
      length = (JSON.parse(this.pending.subarray(0, newline).toString('utf8')) as { bodyLength?: unknown }).bodyLength;
    } catch {
      throw new ProtocolError('the result header is not JSON');
    }
    if (!Number.isSafeInteger(length) || (length as number) < 0) throw new ProtocolError('the result header has no valid bodyLength');
    const end = newline + 1 + (length as number);
    if (this.pending.length < end) return;
    if (this.pending.length > end) throw new ProtocolError('the result is longer than its header says');
    this.state = 'answered';
    this.settle(this.pending);
  }

  private settle(value?: Buffer): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve(value);
  }

  private fail(error: Error): void {
    if (this.state === 'answered' || this.state === 'broken') return;
    const invoked = this.state === 'invoked';
    this.state = 'broken';
    this.failure = error;
    this.rejectReady(error);
    // A host that ends mid-answer leaves what it wrote: the caller makes of it what the exit says.
    if (invoked && error.message === 'the node host closed its channel') this.settle(this.pending);
    else {
      this.waiter?.reject(error);
      this.waiter = null;
    }
  }
}

function parseHostMessage(line: string): HostToWorker {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ProtocolError('a message of the node host is not JSON');
  }
  const message = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new ProtocolError('a message of the node host is not an object');
  switch (message.type) {
    case 'ready':
    case 'loaded':
      return { type: message.type };
    case 'load-failed': {
      const error = message.error as Record<string, unknown> | undefined;
      const text = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 4096) : '');
      return { type: 'load-failed', error: { name: text(error?.name) || 'Error', message: text(error?.message) } };
    }
    default:
      throw new ProtocolError(`unknown message of the node host ${JSON.stringify(message.type)?.slice(0, 40)}`);
  }
}
