import type { TrustMode } from '../consumer/trust.js';

/**
 * The demo's live page: the write database, the posts on X and the read model side by side, refreshed
 * every second, so an audience can watch a row travel. Everything rendered comes from untrusted places
 * (hand-typed posts above all), so the page builds DOM nodes with `textContent` and never `innerHTML`.
 */
export interface DemoPageModel {
  readonly hashtag: string;
  /** The transport's name for people: X, Redis Streams, Kafka. */
  readonly transport: string;
  /** Whether the page offers hand posts (only X has posts to hand-type). */
  readonly handPosts: boolean;
  /**
   * Whose hand-typed posts apply: under `authors` and `signed,authors` the form offers an allow-listed
   * user and a stranger, so both outcomes show live.
   */
  readonly trust: TrustMode;
  readonly trustedUser: string;
  readonly links: Readonly<Record<string, string>>;
}

/** What the trust policy means for the audience, in one line; `user` and `transport` come escaped. */
function trustNotes(trust: TrustMode, user: string, transport: string, handPosts: boolean): string {
  if (trust === 'open' && !handPosts) {
    return `<p class="trust open">Trust: <b>open</b>, for demos only. Anyone who can write to this ${transport} can change the read model; <code>--trust signed</code> applies only the publisher's signed events.</p>`;
  }
  switch (trust) {
    case 'authors':
      return `<p class="trust">Trust: <b>authors</b>. Only the publisher's posts and @${user}'s apply; anyone else's are dead-lettered as untrusted.</p>`;
    case 'signed':
      return `<p class="trust">Trust: <b>signed</b>. Only events the publisher signed with its key apply; anything else on ${transport}, typed by hand or forged, is dead-lettered.</p>`;
    case 'signed,authors':
      return `<p class="trust">Trust: <b>signed,authors</b>. The publisher's signed posts apply, and hand-typed posts only from @${user}; anyone else's are dead-lettered as untrusted.</p>`;
    case 'open':
      return '<p class="trust open">Trust: <b>open</b>, for demos only. Anyone may hand-type posts: they may add documents of their own, never change or delete the database\'s, and never set <code>_v</code>, <code>_e</code>, <code>_s</code> or <code>_t</code>.</p>';
  }
}

export function renderDemoPage(model: DemoPageModel): string {
  const over = escapeAttr(model.transport);
  const trip =
    model.transport === 'X'
      ? `its trigger's outbox row is posted to X as <b>#${escapeAttr(model.hashtag)}</b> (2)`
      : `its trigger's outbox row is sent over <b>${over}</b> (2)`;
  const byAuthors = model.trust === 'authors' || model.trust === 'signed,authors';
  const who = byAuthors
    ? `<select name="username"><option value="${escapeAttr(model.trustedUser)}">@${escapeAttr(model.trustedUser)} (on the allow-list)</option><option value="stranger">@stranger (not on it)</option></select>`
    : '<input name="username" value="speaker" size="10">';
  const trustNote = trustNotes(model.trust, escapeAttr(model.trustedUser), escapeAttr(model.transport), model.handPosts);
  const handPostForm = model.handPosts
    ? `<form id="post-form">
  <b>Hand-post to X as</b>
  ${who}
  <input name="text" value='#${escapeAttr(model.hashtag)} {"id":"h1","status":"OPEN"}' size="50">
  <button>Post</button>
</form>`
    : '';
  const links = Object.entries(model.links)
    .map(([name, href]) => `<a href="${escapeAttr(href)}">${escapeAttr(name)}</a>`)
    .join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tweetbus: CQRS you can watch</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #0f1419; background: #f7f9f9; }
  body { margin: 0; padding: 1rem 1.5rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  .sub { color: #536471; margin: 0 0 1rem; }
  .grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem; }
  .col { background: #fff; border: 1px solid #cfd9de; border-radius: 12px; padding: .75rem; min-height: 12rem; }
  .col h2 { font-size: 1rem; margin: 0 0 .5rem; }
  .col h2 small { color: #536471; font-weight: normal; }
  .item { border-top: 1px solid #eff3f4; padding: .4rem 0; font-size: .85rem; overflow-wrap: anywhere; }
  .item:first-of-type { border-top: 0; }
  .mono { font-family: ui-monospace, monospace; font-size: .8rem; }
  .meta { color: #536471; font-size: .75rem; }
  .new { animation: flash 1.5s ease-out; }
  @keyframes flash { from { background: #fff3b0; } to { background: transparent; } }
  form { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0 1rem; align-items: center; }
  input, select, button { font: inherit; padding: .3rem .5rem; border-radius: 8px; border: 1px solid #cfd9de; }
  button { background: #1d9bf0; color: #fff; border: 0; cursor: pointer; }
  .dead { color: #b42318; }
  .item button.del { float: right; margin-left: .5rem; padding: .1rem .45rem; font-size: .75rem; background: #f4212e; }
  .item button.del:disabled { background: #cfd9de; cursor: default; }
  .gone .mono { text-decoration: line-through; color: #536471; }
  .outcome-dead-lettered { border-left: 4px solid #b42318; }
  .outcome-dead-lettered .meta { color: #b42318; }
  .outcome-handled { border-left: 4px solid #00ba7c; }
  .arrow { text-align: center; color: #536471; }
  #status { color: #536471; font-size: .8rem; }
  .trust { font-size: .9rem; margin: .25rem 0 .5rem; }
  .trust.open { color: #8a4b00; }
  #retrying:empty { display: none; }
  #retrying div { border-radius: 12px; padding: .5rem .75rem; margin: 0 0 1rem; font-size: .9rem; overflow-wrap: anywhere; }
  #retrying .slow { background: #fff3b0; border: 1px solid #e8c400; }
  #retrying .stuck { background: #fde2e1; border: 1px solid #b42318; color: #7a1a13; }
  #drift { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; border-radius: 12px; padding: .4rem .75rem; margin: 0 0 1rem; font-size: .9rem; background: #eff3f4; border: 1px solid #cfd9de; }
  #drift.equal { background: #e6f6ef; border-color: #00ba7c; }
  #drift.drifting { background: #fde2e1; border-color: #b42318; color: #7a1a13; }
  #drift button { background: #b42318; padding: .15rem .6rem; }
</style>
</head>
<body>
<h1>tweetbus — CQRS you can watch happen</h1>
<p class="sub">A row is written (1), ${trip}, and the consumer applies ${model.transport === 'X' ? 'the post' : 'the message'} to the read model (3). A deleted row leaves a struck-out tombstone there, which queries no longer see. ${links}</p>

<form id="order-form">
  <b>Write an order:</b>
  <input name="id" placeholder="id (optional)" size="10">
  <select name="status"><option>NEW</option><option>PAID</option><option>SHIPPED</option><option>DELIVERED</option><option>CANCELLED</option></select>
  <input name="customer_name" placeholder="customer name" value="Smith &amp; Sons" size="16">
  <input name="shipping_destination" placeholder="destination" value="Amsterdam" size="12">
  <button>POST /orders (insert or update)</button>
</form>
${trustNote}
${handPostForm}
<div id="retrying" role="status"></div>
<div id="drift" role="status" title="npm run verify, every few seconds: dvx_orders against the read model's orders, by (key, version)"><b>source = read model?</b> <span id="drift-text">checking…</span> <button id="heal" type="button" hidden>Heal</button> <span id="heal-result" class="meta"></span></div>
<div class="grid">
  <section class="col"><h2>1 · Write database <small>dvx_orders (SQL)</small></h2><div id="orders"></div></section>
  <section class="col"><h2>2 · On ${over} <small>${model.transport === 'X' ? 'the posts the consumer reads' : 'the messages the consumer read last'}</small></h2><div id="posts"></div></section>
  <section class="col"><h2>3 · Read model <small>what queries see</small></h2><div id="documents"></div><h2 class="dead">Dead letters</h2><div id="dead"></div></section>
</div>
<p id="status"></p>
<script>
const seen = new Set();
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
// A key names its content, so an unchanged list is left alone and a changed one reuses the nodes it
// keeps: a click on a row's button is not lost to the refresh replacing the button under the pointer.
function fill(id, items, render) {
  const box = document.getElementById(id);
  const old = new Map([...box.children].map((node) => [node.dataset.key, node]));
  const nodes = items.map((item) => {
    const node = render(item);
    return old.get(node.dataset.key) ?? node;
  });
  if (nodes.length === old.size && nodes.every((node, i) => box.children[i] === node)) return;
  for (const node of nodes) {
    const mark = id + ':' + node.dataset.key;
    if (!seen.has(mark)) { seen.add(mark); node.classList.add('new'); node.addEventListener('animationend', () => node.classList.remove('new'), { once: true }); }
  }
  box.replaceChildren(...nodes);
}
function item(key, main, meta, action, kind) {
  const d = el('div', 'item'); d.dataset.key = key;
  if (kind) d.classList.add(kind);
  if (action) d.append(action);
  d.append(el('div', 'mono', main), el('div', 'meta', meta));
  return d;
}
// What became of a post: handled (applied, or older than the read model), dead-lettered and why, or on its way.
function outcomeText(o) {
  if (o.status === 'dead-lettered') return '✗ dead-lettered: ' + o.reason;
  return o.status === 'handled' ? '✓ handled' : '… on its way';
}
function deleteButton(id) {
  const b = el('button', 'del', 'Delete');
  b.type = 'button';
  b.title = 'DELETE /orders/' + id;
  b.addEventListener('click', async () => {
    b.disabled = true;
    b.textContent = 'deleting…';
    let ok = false;
    try {
      const res = await fetch('/orders/' + encodeURIComponent(id), { method: 'DELETE' });
      ok = res.ok;
      if (!ok) alert((await res.json()).detail);
    } catch (err) {
      alert('cannot reach the demo: ' + err);
    }
    if (!ok) { b.disabled = false; b.textContent = 'Delete'; }
    refresh();
  });
  return b;
}
function documentItem(d) {
  if (!d.deleted) return item(d.id + ':' + d.version, d.id + ' · ' + JSON.stringify(d.data), 'version ' + d.version + ' · from ' + d.source);
  const node = item(d.id + ':' + d.version, d.id, 'deleted: tombstone at version ' + d.version + ', hidden from queries · from ' + d.source);
  node.classList.add('gone');
  return node;
}
// A batch retried again and again: amber while it may still get through, red once it counts as stuck.
function showRetrying(retrying) {
  const parts = [['consumer', 'The consumer'], ['relay', 'The relay']].flatMap(([key, who]) => {
    const r = retrying[key];
    if (!r) return [];
    const seconds = Math.round((Date.now() - Date.parse(r.since)) / 1000);
    const d = el('div', r.stuck ? 'stuck' : 'slow');
    d.append(el('b', '', (r.stuck ? who + ' is stuck: ' : who + ' is retrying: ')), document.createTextNode(r.subject + ', for ' + seconds + ' s (' + r.attempts + ' attempts). Last error: ' + r.lastError));
    return [d];
  });
  document.getElementById('retrying').replaceChildren(...parts);
}
// The badge: whether the last verify found the read model equal to dvx_orders, and what drifts if not.
function showDrift(d) {
  const box = document.getElementById('drift');
  const text = document.getElementById('drift-text');
  const heal = document.getElementById('heal');
  if (!d) { box.className = ''; text.textContent = 'checking…'; heal.hidden = true; return; }
  const checked = ' · checked ' + new Date(d.checkedAt).toLocaleTimeString() + ' in ' + d.ms + ' ms';
  if (d.drifting === 0) {
    box.className = 'equal';
    text.textContent = '✓ yes: ' + d.tableRows + ' rows, ' + d.readModelRows + ' documents, every version equal' + checked;
    heal.hidden = true;
    return;
  }
  const kinds = Object.entries(d.counts).filter(([, n]) => n > 0).map(([kind, n]) => kind + ' ' + n).join(', ');
  const keys = d.keys.map((k) => k.key + ' (' + k.kind + ')').join(', ');
  box.className = 'drifting';
  text.textContent = '✗ ' + d.drifting + ' drifting (' + kinds + '): ' + keys + (d.drifting > d.keys.length ? ', …' : '') + checked;
  heal.hidden = false;
}
document.getElementById('heal').addEventListener('click', async () => {
  const heal = document.getElementById('heal');
  const result = document.getElementById('heal-result');
  heal.disabled = true;
  try {
    const res = await fetch('/demo/heal', { method: 'POST' });
    const body = await res.json();
    result.textContent = res.ok ? 'heal sent ' + body.upserts + ' upserts and ' + body.deletes + ' deletes' + (body.refused.length ? '; refused (far in the future): ' + body.refused.join(', ') : '') : body.detail;
  } catch (err) {
    result.textContent = 'cannot reach the demo: ' + err;
  }
  heal.disabled = false;
  refresh();
});
async function refresh() {
  try {
    const res = await fetch('/demo/state');
    const s = await res.json();
    fill('orders', s.orders, (o) => item(JSON.stringify(o), o.id + ' · ' + o.status + ' · ' + (o.customer_name ?? '') + ' → ' + (o.shipping_destination ?? ''), 'updated ' + o.last_updated_timestamp, deleteButton(o.id)));
    fill('posts', s.posts, (p) => item(p.id, p.text, p.meta + ' · ' + outcomeText(p.outcome), null, 'outcome-' + p.outcome.status));
    fill('documents', s.documents, documentItem);
    fill('dead', s.deadLetters, (l) => item(l.messageId, l.text, l.reason));
    showRetrying(s.retrying);
    showDrift(s.drift);
    document.getElementById('status').textContent = 'outbox: ' + s.outbox.pending + ' waiting · relay: ' + s.relay + ' · updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('status').textContent = 'cannot reach the demo: ' + err;
  }
}
document.getElementById('order-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { status: f.get('status'), customer_name: f.get('customer_name') || undefined, shipping_destination: f.get('shipping_destination') || undefined };
  const id = f.get('id');
  let res;
  if (id) {
    res = await fetch('/orders/' + encodeURIComponent(id), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status === 404) res = await fetch('/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, ...body }) });
  } else {
    res = await fetch('/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }
  if (!res.ok) alert((await res.json()).detail);
  refresh();
});
document.getElementById('post-form')?.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const res = await fetch('/demo/hand-post', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: f.get('username'), text: f.get('text') }) });
  if (!res.ok) alert((await res.json()).detail);
  refresh();
});
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>`;
}

function escapeAttr(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
