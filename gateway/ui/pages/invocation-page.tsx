// /ui/invocations/{id}: one invocation's record (a fragment refreshed while it runs, with its live
// process tree), its response, and its log, followed live until the end.
import type { Child } from 'hono/jsx';
import { FINAL_STATUSES } from '../../../contracts/invocation.js';
import { SIGNALS, type InvocationRecord, type ProcessInfo } from '../api-shapes.js';
import type { ApiAnswer } from '../gateway-api.js';
import { formatBytes, formatMs, NONE } from '../format.js';
import { processTree, type ProcessNode } from '../process-tree.js';
import { Layout, type PageFrame } from './layout.js';
import { ApiError, Notice, Status, Time } from './parts.js';

export const RECORD_REFRESH_MS = 1000;

export interface InvocationView {
  record: InvocationRecord;
  /** Its processes while it runs (null otherwise). */
  processes: ApiAnswer<{ processes: ProcessInfo[] }> | null;
  /** PIDBOX_TRACE_URL. */
  traceUrl: string | null;
}

export function isFinal(record: InvocationRecord): boolean {
  return FINAL_STATUSES.includes(record.status);
}

/** `log`: the whole log of a finished invocation; a running one's is followed by the page's script. */
export function InvocationPage(props: { frame: PageFrame; view: InvocationView; log: string; notice?: Child }) {
  const { record } = props.view;
  const path = `/ui/invocations/${encodeURIComponent(record.id)}`;
  return (
    <Layout frame={props.frame} title={`${record.function} ${record.id.slice(0, 8)}`}>
      <h1>
        {record.function} <span class="mono muted">{record.id}</span>
      </h1>
      {props.notice}
      {!isFinal(record) && <Actions path={path} />}
      {isFinal(record) && record.status !== 'succeeded' && (
        <form class="inline" method="post" action={`${path}/retry`}>
          <button class="quiet" type="submit">Retry</button>
        </form>
      )}
      <RecordSection view={props.view} />
      <h2>Log</h2>
      {isFinal(record)
        ? <pre class="log" id="log">{props.log}</pre>
        : <pre class="log" id="log" data-follow={`${path}/log`}></pre>}
    </Layout>
  );
}

function Actions(props: { path: string }) {
  return (
    <div data-while-running>
      <form class="inline" method="post" action={`${props.path}/signal`}>
        <select name="signal" aria-label="signal">
          {SIGNALS.map((signal) => <option value={signal}>{signal}</option>)}
        </select>
        <button class="quiet" type="submit">Send signal</button>
      </form>
      <form class="inline" method="post" action={`${props.path}/cancel`}>
        <button class="quiet" type="submit">Cancel</button>
      </form>
    </div>
  );
}

/** Refreshed every RECORD_REFRESH_MS until the invocation is final (then marked `data-final`). */
export function RecordSection(props: { view: InvocationView }) {
  const { record, processes, traceUrl } = props.view;
  const final = isFinal(record);
  const refresh = final
    ? { 'data-final': '' }
    : { 'data-refresh': `/ui/fragments/invocations/${encodeURIComponent(record.id)}`, 'data-refresh-ms': String(RECORD_REFRESH_MS) };
  return (
    <section id="record" data-status={record.status} {...refresh}>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <Status status={record.status} />
          <span class="muted">{` attempt ${record.attempts} of ${record.maxAttempts}`}</span>
        </dd>
        <dt>Request</dt>
        <dd><code>{`${record.request.method} ${record.request.path}`}</code></dd>
        <dt>Created</dt>
        <dd><Time iso={record.createdAt} /></dd>
        <dt>Started</dt>
        <dd><Time iso={record.startedAt} /></dd>
        <dt>Finished</dt>
        <dd><Time iso={record.finishedAt} /></dd>
        <dt>Timings</dt>
        <dd>{`queued ${formatMs(record.timings.queuedMs)} · start ${formatMs(record.timings.startMs)} · run ${formatMs(record.timings.runMs)}`}</dd>
        {record.exit && (
          <>
            <dt>Exit</dt>
            <dd>{record.exit.signal ? `signal ${record.exit.signal}` : `code ${record.exit.code ?? NONE}`}</dd>
          </>
        )}
        {record.error && (
          <>
            <dt>Error</dt>
            <dd><code>{record.error.code}</code> {record.error.message}</dd>
          </>
        )}
        <dt>Worker</dt>
        <dd class="mono">{record.worker ?? NONE}</dd>
        {record.sandbox && (
          <>
            <dt>Sandbox</dt>
            <dd>
              <span class="mono">{record.sandbox.pidNamespace}</span>
              {`, host pid ${record.sandbox.hostPid}`}
              {record.sandbox.peakProcesses !== null && `, at most ${record.sandbox.peakProcesses} processes`}
              {record.sandbox.cpuMs !== null && `, CPU ${formatMs(record.sandbox.cpuMs)}`}
              {record.sandbox.memoryPeakBytes !== null && `, memory peak ${formatBytes(record.sandbox.memoryPeakBytes)}`}
              {record.sandbox.prestarted !== null && (record.sandbox.prestarted ? ', pre-started' : ', cold start')}
            </dd>
          </>
        )}
        {record.retryOf && (
          <>
            <dt>Retry of</dt>
            <dd><a class="mono" href={`/ui/invocations/${encodeURIComponent(record.retryOf)}`}>{record.retryOf}</a></dd>
          </>
        )}
        {record.retriedBy && (
          <>
            <dt>Retried by</dt>
            <dd><a class="mono" href={`/ui/invocations/${encodeURIComponent(record.retriedBy)}`}>{record.retriedBy}</a></dd>
          </>
        )}
        {record.batchId && (
          <>
            <dt>Batch</dt>
            <dd><a class="mono" href={`/ui/batches/${encodeURIComponent(record.batchId)}`}>{record.batchId}</a></dd>
          </>
        )}
        {record.callback && (
          <>
            <dt>Callback</dt>
            <dd>
              {`${record.callback.status}, ${record.callback.attempts} attempt(s) to `}
              <span class="mono">{record.callback.url}</span>
              {record.callback.lastStatus !== undefined && `, last answer ${record.callback.lastStatus}`}
              {record.callback.lastError && `: ${record.callback.lastError}`}
            </dd>
          </>
        )}
        <TraceLink traceId={record.traceId} traceUrl={traceUrl} />
      </dl>
      {processes && <Processes answer={processes} />}
      {record.response && <ResponseView response={record.response} />}
    </section>
  );
}

function TraceLink(props: { traceId: string | null; traceUrl: string | null }) {
  // The id is checked before it goes into a URL; the URL's form was checked at start (gateway-config.ts).
  if (!props.traceId || !/^[0-9a-f]{32}$/.test(props.traceId)) return null;
  return (
    <>
      <dt>Trace</dt>
      <dd>
        {props.traceUrl
          ? <a class="mono trace" href={props.traceUrl.replaceAll('{traceId}', props.traceId)} target="_blank" rel="noopener noreferrer">{props.traceId}</a>
          : <span class="mono">{props.traceId}</span>}
      </dd>
    </>
  );
}

function Processes(props: { answer: NonNullable<InvocationView['processes']> }) {
  const answer = props.answer;
  if (!answer.ok) {
    // Ended between the record and this read: nothing to show.
    if (answer.code === 'INVOCATION_NOT_RUNNING') return null;
    if (answer.code === 'NOT_FOUND') return <Notice>This gateway does not list a sandbox's processes (no GET /invocations/{'{id}'}/processes).</Notice>;
    return <ApiError what="Processes" code={answer.code} message={answer.message} />;
  }
  return (
    <>
      <h2>Processes</h2>
      <ul class="tree" id="processes">{processTree(answer.data.processes).map((node) => <ProcessItem node={node} />)}</ul>
    </>
  );
}

function ProcessItem(props: { node: ProcessNode }) {
  const p = props.node.process;
  return (
    <li data-pid={String(p.pid)}>
      <span class="pid">{p.pid}</span> <span class="muted">{p.state}</span> <span class="command">{p.command}</span>
      <span class="muted">{` · ${formatBytes(p.rssBytes)} · CPU ${formatMs(p.cpuMs)}`}</span>
      {props.node.children.length > 0 && <ul>{props.node.children.map((child) => <ProcessItem node={child} />)}</ul>}
    </li>
  );
}

function ResponseView(props: { response: NonNullable<InvocationRecord['response']> }) {
  const { response } = props;
  const headers = Object.entries(response.headers);
  return (
    <>
      <h2>Response <span class="muted">{response.status}</span></h2>
      {headers.length > 0 && (
        <table class="headers">
          <tbody>
            {headers.map(([name, value]) => <tr><td class="mono">{name}</td><td class="mono">{value}</td></tr>)}
          </tbody>
        </table>
      )}
      {response.bodyEncoding === 'base64' && <p class="muted">{`Not text: ${Buffer.byteLength(response.body, 'base64')} bytes, shown as base64.`}</p>}
      <pre id="response-body">{response.body}</pre>
    </>
  );
}
