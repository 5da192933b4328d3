// The frame of every dashboard page: its one style sheet and one script (files, never inline: the
// page's CSP allows nothing else), the navigation, and a logout button when a key is in use.
import type { Child } from 'hono/jsx';
import type { StaticAssets } from '../static-assets.js';

export interface PageFrame {
  assets: StaticAssets;
  /** The gateway asks for an API key: the dashboard was logged in to, and can be logged out of. */
  keyed: boolean;
}

export function Layout(props: { frame: PageFrame; title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · pidbox`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={props.frame.assets.url('dashboard.css')} />
        <script type="module" src={props.frame.assets.url('dashboard.js')}></script>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/ui">pidbox</a>
          <nav>
            <a href="/ui">Invocations</a>
            <a href="/ui#functions">Functions</a>
            <a href="/admin/queues">Queues</a>
          </nav>
          {props.frame.keyed && (
            <form method="post" action="/ui/logout">
              <button class="quiet" type="submit">Log out</button>
            </form>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
