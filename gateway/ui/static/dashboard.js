// The dashboard's only script (no framework, no build step). The server renders every page and
// fragment, escaping all it writes; this script only
//   - swaps in fresh fragments: an element with data-refresh="<url>" is replaced by what that URL
//     renders, every data-refresh-ms, until a fragment comes without data-refresh (it is final);
//   - follows a log: <pre data-follow="<url>"> gets the server-sent `log` events as text nodes;
//   - shows times in local time, and keeps a form from being sent twice.
// The one HTML sink is the fragment swap, through a Trusted Types policy (the page's CSP requires one).

const fragmentPolicy = window.trustedTypes
  ? window.trustedTypes.createPolicy('pidbox-fragment', { createHTML: (html) => html })
  : { createHTML: (html) => html };

function toLogin() {
  location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

// Fragments -------------------------------------------------------------------------------------

const timers = new WeakMap();

function scheduleRefresh(element, delayMs) {
  clearTimeout(timers.get(element));
  timers.set(element, setTimeout(() => refresh(element), delayMs));
}

async function refresh(element) {
  const url = element.dataset.refresh;
  const every = Number(element.dataset.refreshMs) || 2000;
  if (!url || !element.isConnected) return;
  if (document.hidden) return scheduleRefresh(element, every);
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
  } catch {
    return scheduleRefresh(element, every * 2);
  }
  if (response.status === 401) return toLogin();
  if (!response.ok) return scheduleRefresh(element, every * 2);
  const template = document.createElement('template');
  template.innerHTML = fragmentPolicy.createHTML(await response.text());
  const fresh = template.content.firstElementChild;
  if (!fresh || !element.isConnected) return;
  element.replaceWith(fresh);
  enhance(fresh);
  if (fresh.dataset.final !== undefined) finished();
}

function refreshAllNow() {
  for (const element of document.querySelectorAll('[data-refresh]')) scheduleRefresh(element, 0);
}

/** The invocation ended: what only a running invocation offers (cancel, signals) goes. */
function finished() {
  for (const element of document.querySelectorAll('[data-while-running]')) element.remove();
}

// Logs ------------------------------------------------------------------------------------------

function follow(pre) {
  const url = pre.dataset.follow;
  let ended = false;
  let retryMs = 1000;
  const open = () => {
    // The API replays a log from its start to each new follower: start from an empty view.
    pre.textContent = '';
    const source = new EventSource(url);
    source.addEventListener('log', (event) => {
      retryMs = 1000;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(document.createTextNode(event.data + '\n'));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener('end', (event) => {
      ended = true;
      source.close();
      pre.dataset.ended = JSON.parse(event.data).status ?? '';
      refreshAllNow();
    });
    source.addEventListener('error', () => {
      source.close();
      if (ended) return;
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    });
  };
  open();
}

// Times and forms -------------------------------------------------------------------------------

function localTimes(root) {
  for (const time of root.querySelectorAll('time[datetime]')) {
    const date = new Date(time.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) continue;
    time.title = time.getAttribute('datetime');
    time.textContent = date.toLocaleString();
  }
}

function guardForms(root) {
  for (const form of root.querySelectorAll('form[data-busy]')) {
    form.addEventListener('submit', () => {
      for (const button of form.querySelectorAll('button[type=submit]')) {
        button.disabled = true;
        button.textContent = form.dataset.busy;
      }
    });
  }
}

function enhance(root) {
  localTimes(root);
  guardForms(root);
  const refreshing = root.matches?.('[data-refresh]') ? [root] : [];
  for (const element of [...refreshing, ...root.querySelectorAll('[data-refresh]')]) {
    scheduleRefresh(element, Number(element.dataset.refreshMs) || 2000);
  }
}

enhance(document);
for (const pre of document.querySelectorAll('pre[data-follow]')) follow(pre);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshAllNow();
});
