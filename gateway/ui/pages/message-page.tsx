// A page that only says what went wrong: an unknown invocation or batch, a refused invocation.
import { Layout, type PageFrame } from './layout.js';
import { ApiError } from './parts.js';

export function MessagePage(props: { frame: PageFrame; title: string; code: string; message: string }) {
  return (
    <Layout frame={props.frame} title={props.title}>
      <h1>{props.title}</h1>
      <ApiError code={props.code} message={props.message} />
      <p><a href="/ui">Back to the dashboard</a></p>
    </Layout>
  );
}
