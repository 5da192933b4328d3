// The worker's side of the gateways' requests about a running invocation (`processes`, `signal`,
// contracts/bus-message.ts): every worker hears each one, the one that runs the invocation answers
// on the asking gateway's reply channel; the others say nothing (the gateway waits a bounded time).
import type { Redis } from 'ioredis';
import type { BusMessage, BusReply } from '../../contracts/bus-message.js';
import type { Logger } from '../../telemetry/logger.js';
import type { LiveSandbox } from '../invoke/run-function.js';
import { listSandboxProcesses } from '../sandbox/sandbox-processes.js';
import type { RunningInvocations } from './running-invocations.js';

export type WorkerRequest = Extract<BusMessage, { type: 'processes' | 'signal' }>;

export interface AnswerDeps {
  running: RunningInvocations;
  /** Where replies are published (a connection that is not subscribed). */
  redis: Redis;
  /** Every reply channel starts so (RedisKeys.replyChannel('')): a request cannot make a worker publish elsewhere. */
  replyChannelPrefix: string;
  log: Pick<Logger, 'warn'>;
}

export function answerRequest(request: WorkerRequest, deps: AnswerDeps): void {
  const run = deps.running.find(request.id);
  if (!run || !request.replyTo.startsWith(deps.replyChannelPrefix)) return; // another worker's, or not a reply channel
  const reply = replyTo(request, run.sandbox);
  deps.redis.publish(request.replyTo, JSON.stringify(reply)).catch((error: Error) => {
    deps.log.warn('a reply to a gateway could not be sent', { invocation_id: request.id, error: error.message });
  });
}

function replyTo(request: WorkerRequest, sandbox: LiveSandbox | null): BusReply {
  const { requestId } = request;
  const notRunning = (why: string): BusReply => ({ type: 'refused', requestId, code: 'INVOCATION_NOT_RUNNING', message: `invocation ${request.id} ${why}` });
  if (!sandbox) return notRunning('has no sandbox yet');
  if (sandbox.ended()) return notRunning('has ended');
  switch (request.type) {
    case 'processes': {
      const list = listSandboxProcesses({ pidNamespace: sandbox.pidNamespace });
      // Read while it ended: the namespace's inode may already name another one.
      if (sandbox.ended()) return notRunning('has ended');
      return { type: 'processes', requestId, ...list };
    }
    case 'signal':
      return sandbox.signal(request.signal) ? { type: 'signalled', requestId } : notRunning("has no function running in its sandbox (it has not started, or it has ended)");
  }
}
