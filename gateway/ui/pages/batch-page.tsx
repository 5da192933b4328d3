// /ui/batches/{id}: a batch's progress and counts by status, and one page of its invocations; a
// fragment refreshed until its last invocation has finished.
import { STATUSES, type BatchRecord } from '../api-shapes.js';
import { shortId, NONE } from '../format.js';
import { Layout, type PageFrame } from './layout.js';
import { Status, Time } from './parts.js';

export const BATCH_REFRESH_MS = 1000;

export function BatchPage(props: { frame: PageFrame; batch: BatchRecord }) {
  return (
    <Layout frame={props.frame} title={`batch ${shortId(props.batch.id)}`}>
      <h1>
        {`Batch of ${props.batch.function}`} <span class="mono muted">{props.batch.id}</span>
      </h1>
      <BatchSection batch={props.batch} />
    </Layout>
  );
}

export function BatchSection(props: { batch: BatchRecord }) {
  const b = props.batch;
  const page = b.offset > 0 || b.nextOffset !== null ? `?offset=${b.offset}&limit=${b.limit}` : '';
  const refresh = b.finishedAt
    ? { 'data-final': '' }
    : { 'data-refresh': `/ui/fragments/batches/${encodeURIComponent(b.id)}${page}`, 'data-refresh-ms': String(BATCH_REFRESH_MS) };
  const done = Math.round(b.progress * b.count);
  return (
    <section id="batch" {...refresh}>
      <dl class="facts">
        <dt>Progress</dt>
        <dd>
          <progress value={String(b.progress)} max="1">{`${Math.round(b.progress * 100)}%`}</progress>
          <span class="progress-text">{` ${done} of ${b.count} finished`}</span>
        </dd>
        <dt>Counts</dt>
        <dd>
          {STATUSES.filter((s) => b.counts[s] > 0).map((s) => <span class="count"><Status status={s} />{` ${b.counts[s]} `}</span>)}
        </dd>
        <dt>Created</dt>
        <dd><Time iso={b.createdAt} /></dd>
        <dt>Finished</dt>
        <dd><Time iso={b.finishedAt} /></dd>
      </dl>
      <h2>Invocations</h2>
      <table>
        <thead>
          <tr><th class="num">#</th><th>id</th><th>status</th><th class="num">response</th><th>error</th></tr>
        </thead>
        <tbody>
          {b.results.map((r) => (
            <tr data-id={r.id}>
              <td class="num">{r.index}</td>
              <td><a class="mono" href={`/ui/invocations/${encodeURIComponent(r.id)}`} title={r.id}>{shortId(r.id)}</a></td>
              <td><Status status={r.status} /></td>
              <td class="num">{r.response ? r.response.status : NONE}</td>
              <td>{r.error ? <><code>{r.error.code}</code> {r.error.message}</> : NONE}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        {b.offset > 0 && <a href={`/ui/batches/${encodeURIComponent(b.id)}?offset=${Math.max(0, b.offset - b.limit)}&limit=${b.limit}`}>Previous</a>}
        {b.nextOffset !== null && <a href={`/ui/batches/${encodeURIComponent(b.id)}?offset=${b.nextOffset}&limit=${b.limit}`}>Next</a>}
      </div>
    </section>
  );
}
