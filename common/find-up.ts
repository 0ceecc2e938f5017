import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The nearest directory at or above the module `fromUrl` that holds `relativePath`, or `undefined`.
 * Walking up works the same from the sources, from the build (`dist/…`, where tsc copies no .sql or
 * .md) and from an image that ships `sql/` and `package.json` beside `dist/`.
 */
export function findUp(relativePath: string, fromUrl: string | URL): string | undefined {
  for (let dir = dirname(fileURLToPath(fromUrl)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, relativePath))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
