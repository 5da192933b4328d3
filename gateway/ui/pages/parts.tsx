// Small pieces the pages share: a status badge, a time, an error from the API, a notice.
import type { Child } from 'hono/jsx';
import type { InvocationStatus } from '../../../contracts/invocation.js';
import { formatTime, NONE } from '../format.js';

export function Status(props: { status: InvocationStatus | string }) {
  return <span class={`status status-${props.status}`}>{props.status.replace('_', ' ')}</span>;
}

/** Rendered in UTC; the page's script shows it in local time. */
export function Time(props: { iso: string | null }) {
  if (!props.iso) return <span class="muted">{NONE}</span>;
  return <time datetime={props.iso}>{formatTime(props.iso)}</time>;
}

/** An error the API answered: its code and message, as the API wrote them (escaped like everything). */
export function ApiError(props: { code: string; message: string; what?: string }) {
  return (
    <div class="error" role="alert">
      {props.what ? `${props.what}: ` : ''}
      <code>{props.code}</code> {props.message}
    </div>
  );
}

export function Notice(props: { children?: Child }) {
  return <div class="notice" role="status">{props.children}</div>;
}
