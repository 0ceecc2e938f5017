import { chmod, copyFile, cp, mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Files copied at once: enough to keep libuv's four threads busy while each waits on the disk. */
const parallelCopies = 8;

/**
 * Copies the directory tree `from` into `to` (created if missing): every directory, with its mode, and
 * every file, with its contents and mode, several files at a time. A new embedded database is such a
 * copy of a template, about 1,000 small files: Node's `fs.cp` copies them one after the other, and
 * took 1.1-1.3 s of the demo's start where this takes 0.8 (2 AMD EPYC cores). A tree holding anything
 * but directories and regular files (a symbolic link, say) is left to `fs.cp`.
 */
export async function copyDirectory(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true, recursive: true });
  if (entries.some((entry) => !entry.isDirectory() && !entry.isFile())) {
    await cp(from, to, { recursive: true });
    return;
  }
  const path = (entry: (typeof entries)[number]): string => relative(from, join(entry.parentPath, entry.name));
  // Parents before their children: a path sorts before every path it is a prefix of.
  const directories = ['', ...entries.filter((entry) => entry.isDirectory()).map(path).sort()];
  for (const directory of directories) await mkdir(join(to, directory), { recursive: true });
  const files = entries.filter((entry) => entry.isFile()).map(path);
  let next = 0;
  // copyFile gives each copy its source's mode.
  const copier = async (): Promise<void> => {
    for (let file = files[next++]; file !== undefined; file = files[next++]) await copyFile(join(from, file), join(to, file));
  };
  await Promise.all(Array.from({ length: parallelCopies }, copier));
  // Directories take their modes last, so that one without write permission still got its files.
  for (const directory of directories.reverse()) await chmod(join(to, directory), (await stat(join(from, directory))).mode);
}
