import { describe, expect, it } from 'vitest';
import { renderPage, type PageModel } from './page.js';

const model: PageModel = { posts: [], users: [{ username: 'speaker' }], defaultText: '#orders {}', nonce: 'n0nce' };

describe('the hand-post page', () => {
  it('posts as speaker by default, and names nobody when nobody is special', () => {
    const html = renderPage(model);
    expect(html).toContain('value="speaker" list="users"');
    expect(html).not.toContain('class="users"');
  });

  it('offers the users it is given, the first as the default, each with its note, escaped', () => {
    const html = renderPage({ ...model, users: [{ username: 'trusted_fan', note: 'on the allow-list' }, { username: 'stranger', note: 'not <on> it' }] });
    expect(html).toContain('value="trusted_fan" list="users"');
    expect(html).toContain('Post as <b>@trusted_fan</b> (on the allow-list) or <b>@stranger</b> (not &lt;on&gt; it), or any other name.');
    expect(html).toContain('<datalist id="users"><option value="trusted_fan">on the allow-list</option><option value="stranger">not &lt;on&gt; it</option></datalist>');
  });
});
