/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface PagePost {
  readonly id: string;
  readonly username: string;
  readonly text: string;
  readonly createdAt: string;
}

/** A user the page offers to post as, and what is special about them (`on the allow-list`). */
export interface PageUser {
  readonly username: string;
  readonly note?: string;
}

export interface PageModel {
  readonly posts: readonly PagePost[];
  /** The users offered, the first as the default; any other name can be typed. */
  readonly users: readonly PageUser[];
  readonly defaultText: string;
  /** A fresh nonce per response: the only script the Content-Security-Policy lets run. */
  readonly nonce: string;
}

function renderPost(post: PagePost): string {
  return `<li><span class="meta">@${escapeHtml(post.username)} · ${escapeHtml(post.createdAt)} · ${escapeHtml(post.id)}</span><pre>${escapeHtml(post.text)}</pre></li>`;
}

/**
 * The hand-posting page. Posts are hostile: the server escapes them, and the polling script only
 * ever sets `textContent`. Post text is shown as X returns it (`&amp;` and t.co links included).
 */
export function renderPage(model: PageModel): string {
  const defaultUsername = model.users[0]?.username ?? 'speaker';
  const options = model.users.map((u) => `<option value="${escapeHtml(u.username)}">${escapeHtml(u.note ?? '')}</option>`).join('');
  const noted = model.users.filter((u) => u.note !== undefined);
  const offer =
    noted.length === 0 ? '' : `<p class="users">Post as ${noted.map((u) => `<b>@${escapeHtml(u.username)}</b> (${escapeHtml(u.note ?? '')})`).join(' or ')}, or any other name.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>x-emulator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${model.nonce}">
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
form { display: grid; gap: .5rem; margin-bottom: 1rem; }
textarea { font-family: ui-monospace, monospace; min-height: 4rem; }
ul { list-style: none; padding: 0; }
li { border-bottom: 1px solid #ddd; padding: .5rem 0; }
pre { white-space: pre-wrap; margin: .25rem 0; }
.meta { color: #666; font-size: .85rem; }
.faults button { margin: .2rem; }
#status { color: #a40; min-height: 1.2rem; }
</style>
</head>
<body>
<h1>x-emulator</h1>
<p>A local X API v2. Post as anyone; the filtered stream delivers what matches its rules.</p>
<form id="post-form">
${offer}
<label>User name <input id="username" name="username" value="${escapeHtml(defaultUsername)}" list="users" pattern="[A-Za-z0-9_]{1,15}" required></label>
<datalist id="users">${options}</datalist>
<label>Text <textarea id="text" name="text" required>${escapeHtml(model.defaultText)}</textarea></label>
<button type="submit">Post</button>
</form>
<p id="status" role="status"></p>
<section class="faults">
<h2>Faults</h2>
<button data-action="dropStreams">Drop streams</button>
<button data-action="stallStreams" data-ms="30000">Stall streams 30 s</button>
<button data-action="operationalDisconnect">Operational disconnect</button>
<button data-action="splitChunks" data-on="true">Split UTF-8 chunks: on</button>
<button data-action="splitChunks" data-on="false">Split UTF-8 chunks: off</button>
<button data-endpoint="createTweet" data-kind="rateLimit">Next post: 429</button>
<button data-endpoint="createTweet" data-kind="serverError">Next post: 503</button>
<button data-endpoint="createTweet" data-kind="timeout">Next post: no answer</button>
<button data-endpoint="createTweet" data-kind="duplicate">Next post: duplicate</button>
<button data-endpoint="createTweet" data-kind="lostResponse">Next post: made, answer lost</button>
<button data-endpoint="stream" data-kind="tooManyConnections">Next connect: TooManyConnections</button>
<button data-action="reset">Reset faults</button>
</section>
<h2>Latest posts <span id="streams" class="meta"></span></h2>
<ul id="posts">${model.posts.map(renderPost).join('')}</ul>
<script nonce="${model.nonce}">
const status = document.getElementById('status');
const list = document.getElementById('posts');
const streams = document.getElementById('streams');
async function send(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  status.textContent = res.ok ? 'OK' : (json.detail || json.title || ('HTTP ' + res.status));
  return res.ok;
}
document.getElementById('post-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  await send('/_emulator/posts', { username: document.getElementById('username').value, text: document.getElementById('text').value });
  refresh();
});
for (const button of document.querySelectorAll('.faults button')) {
  button.addEventListener('click', () => {
    const d = button.dataset;
    const body = d.action ? { action: d.action } : { endpoint: d.endpoint, kind: d.kind, times: 1 };
    if (d.ms) body.ms = Number(d.ms);
    if (d.on) body.on = d.on === 'true';
    send('/_emulator/faults', body);
  });
}
function item(post) {
  const li = document.createElement('li');
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = '@' + post.username + ' · ' + post.created_at + ' · ' + post.id;
  const pre = document.createElement('pre');
  pre.textContent = post.text;
  li.append(meta, pre);
  return li;
}
async function refresh() {
  try {
    const res = await fetch('/_emulator/posts');
    const json = await res.json();
    list.replaceChildren(...json.data.map(item));
    streams.textContent = '(open streams: ' + json.meta.open_streams + ', rules: ' + json.meta.rules.length + ')';
  } catch (err) {
    status.textContent = 'emulator unreachable';
  }
}
setInterval(refresh, 1000);
refresh();
</script>
</body>
</html>
`;
}
