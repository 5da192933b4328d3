// The login form of a gateway with API keys: the key goes in a cookie the page's script cannot read
// (ui-session.ts says why and how).
import { Layout, type PageFrame } from './layout.js';

export function LoginPage(props: { frame: PageFrame; next: string; failed: boolean }) {
  return (
    <Layout frame={{ ...props.frame, keyed: false }} title="Log in">
      <form class="panel login" method="post" action="/ui/login">
        <h1>Log in</h1>
        <p class="muted">This gateway needs an API key (one of PIDBOX_API_KEYS).</p>
        {props.failed && <div class="error" role="alert">That key is not valid.</div>}
        <label>
          <span>API key</span>
          <input type="password" name="key" autocomplete="current-password" required autofocus />
        </label>
        <input type="hidden" name="next" value={props.next} />
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );
}
