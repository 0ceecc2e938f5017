import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyDirectory } from './copy-directory.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tweetbus-copy-'));
});

afterEach(async () => {
  for (const side of ['from', 'to']) await chmod(join(dir, side, 'locked'), 0o755).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** Every path under `root` with its kind, mode and contents. */
async function tree(root: string): Promise<Record<string, string>> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const mode = ((await stat(path)).mode & 0o777).toString(8);
    out[path.slice(root.length)] = entry.isDirectory() ? `dir ${mode}` : `file ${mode} ${await readFile(path, 'utf8')}`;
  }
  return out;
}

describe('copyDirectory', () => {
  it('copies every directory and file, with contents and modes, however deep and however many', async () => {
    const from = join(dir, 'from');
    await mkdir(join(from, 'base', '5'), { recursive: true });
    await mkdir(join(from, 'pg_wal', 'archive_status'), { recursive: true });
    await mkdir(join(from, 'empty'));
    await mkdir(join(from, 'locked'));
    for (let i = 0; i < 50; i += 1) await writeFile(join(from, 'base', '5', String(i)), `relation ${i}`);
    await writeFile(join(from, 'PG_VERSION'), '17\n');
    await writeFile(join(from, 'postmaster.opts'), 'opts', { mode: 0o600 });
    await writeFile(join(from, 'locked', 'inside'), 'kept');
    await chmod(join(from, 'locked'), 0o500);

    await copyDirectory(from, join(dir, 'to'));

    const copied = await tree(join(dir, 'to'));
    expect(copied).toEqual(await tree(from));
    expect(Object.keys(copied)).toHaveLength(50 + 3 + 6);
    expect(copied['/postmaster.opts']).toBe('file 600 opts');
    expect(copied['/locked']).toBe('dir 500');
  });

  it('leaves a tree with a symbolic link to fs.cp, which copies the link as a link', async () => {
    const from = join(dir, 'from');
    await mkdir(from);
    await writeFile(join(from, 'target'), 'pointed at');
    await symlink('target', join(from, 'link'));

    await copyDirectory(from, join(dir, 'to'));

    expect(await readFile(join(dir, 'to', 'link'), 'utf8')).toBe('pointed at');
    expect((await readdir(join(dir, 'to'))).sort()).toEqual(['link', 'target']);
  });
});
