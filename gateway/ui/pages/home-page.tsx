// /ui: the functions this gateway serves, a form to invoke one, and the recent invocations (a
// fragment the page's script refreshes).
import type { ApiAnswer } from '../gateway-api.js';
import { STATUSES, type FunctionList, type InvocationList } from '../api-shapes.js';
import { formatMs, NONE, shortId } from '../format.js';
import { Layout, type PageFrame } from './layout.js';
import { ApiError, Notice, Status, Time } from './parts.js';

/** Filters and page of the list, from the page's query string. */
export interface ListQuery {
  function?: string;
  status?: string;
  cursor?: string;
}

export const LIST_REFRESH_MS = 2000;

export function HomePage(props: { frame: PageFrame; functions: ApiAnswer<FunctionList>; list: ApiAnswer<InvocationList>; query: ListQuery }) {
  const names = props.functions.ok ? props.functions.data.functions.map((f) => f.name) : [];
  return (
    <Layout frame={props.frame} title="Dashboard">
      <div class="grid">
        <div>
          <h2>Recent invocations</h2>
          <ListFilters names={names} query={props.query} />
          <InvocationListSection list={props.list} query={props.query} />
        </div>
        <div>
          <h2>Invoke</h2>
          <InvokeForm names={names} />
          <h2>Find</h2>
          <OpenById />
        </div>
      </div>
      <h2 id="functions">Functions</h2>
      <FunctionTable functions={props.functions} />
    </Layout>
  );
}

/** The list, refreshed every LIST_REFRESH_MS unless it shows an older page (a cursor) or failed. */
export function InvocationListSection(props: { list: ApiAnswer<InvocationList>; query: ListQuery }) {
  const search = listSearch(props.query, false);
  const live = props.list.ok && !props.query.cursor;
  const refresh = live ? { 'data-refresh': `/ui/fragments/invocations${search}`, 'data-refresh-ms': String(LIST_REFRESH_MS) } : {};
  return (
    <section id="invocations" {...refresh}>
      {props.list.ok ? <InvocationTable list={props.list.data} query={props.query} /> : <ListUnavailable answer={props.list} />}
    </section>
  );
}

function ListUnavailable(props: { answer: Extract<ApiAnswer<unknown>, { ok: false }> }) {
  // NOT_FOUND (no route), not INVOCATION_NOT_FOUND: a gateway older than GET /invocations.
  if (props.answer.code === 'NOT_FOUND') return <Notice>This gateway does not list invocations (no GET /invocations): open one by its id below.</Notice>;
  return <ApiError what="The list of invocations" code={props.answer.code} message={props.answer.message} />;
}

function InvocationTable(props: { list: InvocationList; query: ListQuery }) {
  const { invocations, nextCursor } = props.list;
  return (
    <>
      <table>
        <thead>
          <tr>
            <th>id</th><th>function</th><th>status</th><th>created</th>
            <th class="num">queued</th><th class="num">start</th><th class="num">run</th><th>error</th>
          </tr>
        </thead>
        <tbody>
          {invocations.length === 0 && (
            <tr><td colspan={8} class="muted">No invocations yet.</td></tr>
          )}
          {invocations.map((inv) => (
            <tr data-id={inv.id}>
              <td><a class="mono" href={`/ui/invocations/${encodeURIComponent(inv.id)}`} title={inv.id}>{shortId(inv.id)}</a></td>
              <td>
                {inv.function}
                {inv.batchId && <> <a class="muted" href={`/ui/batches/${encodeURIComponent(inv.batchId)}`}>batch</a></>}
              </td>
              <td>
                <Status status={inv.status} />
                {inv.attempts > 1 && <span class="muted"> {`${inv.attempts}/${inv.maxAttempts}`}</span>}
              </td>
              <td><Time iso={inv.createdAt} /></td>
              <td class="num">{formatMs(inv.timings.queuedMs)}</td>
              <td class="num">{formatMs(inv.timings.startMs)}</td>
              <td class="num">{formatMs(inv.timings.runMs)}</td>
              <td>{inv.error ? <code title={inv.error.message}>{inv.error.code}</code> : NONE}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        {props.query.cursor && <a href={`/ui${listSearch({ ...props.query, cursor: undefined }, true)}`}>Newest</a>}
        {nextCursor && <a href={`/ui${listSearch({ ...props.query, cursor: nextCursor }, true)}`}>Older</a>}
      </div>
    </>
  );
}

function ListFilters(props: { names: string[]; query: ListQuery }) {
  return (
    <form class="filters" method="get" action="/ui">
      <label>
        <span>function</span>
        <select name="function">
          <option value="">all</option>
          {props.names.map((name) => <option value={name} selected={name === props.query.function}>{name}</option>)}
        </select>
      </label>
      <label>
        <span>status</span>
        <select name="status">
          <option value="">all</option>
          {STATUSES.map((status) => <option value={status} selected={status === props.query.status}>{status}</option>)}
        </select>
      </label>
      <button class="quiet" type="submit">Filter</button>
    </form>
  );
}

function OpenById() {
  return (
    <form class="filters" method="get" action="/ui/open">
      <label>
        <span>Open an invocation or a batch by its id</span>
        <input type="text" name="id" required />
      </label>
      <button class="quiet" type="submit">Open</button>
    </form>
  );
}

function InvokeForm(props: { names: string[] }) {
  return (
    <form class="panel" method="post" action="/ui/invoke" data-busy="Waiting for the result…">
      <label>
        <span>Function</span>
        <select name="function" required>
          {props.names.map((name) => <option value={name}>{name}</option>)}
        </select>
      </label>
      <fieldset>
        <legend>Mode</legend>
        <label><input type="radio" name="mode" value="async" checked /> async</label>
        <label><input type="radio" name="mode" value="sync" /> sync</label>
        <label><input type="radio" name="mode" value="batch" /> batch (a JSON array)</label>
      </fieldset>
      <label>
        <span>Content-Type</span>
        <input type="text" name="contentType" value="application/json" />
      </label>
      <label>
        <span>Body</span>
        <textarea name="body" rows={5} spellcheck={false}>{'{}'}</textarea>
      </label>
      <button type="submit">Invoke</button>
    </form>
  );
}

function FunctionTable(props: { functions: ApiAnswer<FunctionList> }) {
  if (!props.functions.ok) return <ApiError what="The functions" code={props.functions.code} message={props.functions.message} />;
  const { functions, problems } = props.functions.data;
  return (
    <>
      <table>
        <thead>
          <tr><th>name</th><th>runtime</th><th class="num">timeout</th><th class="num">retries</th><th class="num">concurrency</th><th>network</th><th>env</th></tr>
        </thead>
        <tbody>
          {functions.length === 0 && <tr><td colspan={7} class="muted">No functions in this gateway's folder.</td></tr>}
          {functions.map((fn) => (
            <tr data-function={fn.name}>
              <td><a href={`/ui?function=${encodeURIComponent(fn.name)}`}>{fn.name}</a></td>
              <td>{fn.runtime}</td>
              <td class="num">{formatMs(fn.settings.timeoutMs)}</td>
              <td class="num">{fn.settings.retries}</td>
              <td class="num">{fn.settings.concurrency ?? NONE}</td>
              <td>{fn.settings.network}</td>
              <td class="mono">{fn.settings.env.join(', ') || NONE}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {problems.map((p) => <ApiError what={`Function ${p.name}`} code={p.code} message={p.message} />)}
    </>
  );
}

/** `?function=…&status=…[&cursor=…]` of the list (empty values left out). */
export function listSearch(query: ListQuery, withCursor: boolean): string {
  const params = new URLSearchParams();
  if (query.function) params.set('function', query.function);
  if (query.status) params.set('status', query.status);
  if (withCursor && query.cursor) params.set('cursor', query.cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}
