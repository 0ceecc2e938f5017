import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageEnvironment } from './dockerfile.fixture.js';

/**
 * README.md is the user's door: every environment variable the code reads is documented there. The
 * variables are found where the code reads them: the services' and the bench's `config.ts` and the
 * shared readers in `common/config/` (by the quoted name they look up) and `process.env` in any source
 * file (the test-only variables).
 */

const root = join(import.meta.dirname, '..');
const skipped = new Set(['node_modules', 'dist', 'data', '.git']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (skipped.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Variable name -> the files that read it. */
function variablesReadByTheCode(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (name: string, file: string): void => {
    const files = found.get(name) ?? new Set<string>();
    files.add(relative(root, file));
    found.set(name, files);
  };
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/process\.env(?:\.|\[')([A-Z][A-Z0-9_]+)/g)) add(match[1] ?? '', file);
    if (!file.endsWith('config.ts') && !relative(root, file).startsWith(join('common', 'config'))) continue;
    // read('NAME', …), required('NAME', …), readPort(env, 'NAME', …): the services' config readers.
    for (const match of text.matchAll(/\b\w+\(\s*(?:\w+,\s*)?'([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})'/g)) add(match[1] ?? '', file);
    // BENCH_X: z…: the bench's environment schema.
    for (const match of text.matchAll(/^\s+(BENCH_[A-Z0-9_]+):/gm)) add(match[1] ?? '', file);
  }
  return found;
}

describe('README.md', () => {
  it('documents every environment variable the code reads', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const variables = variablesReadByTheCode();

    // The scan itself must find the variables it exists for, or it would pass on nothing.
    for (const known of ['OUTBOX_DATABASE_URL', 'RELAY_INSTANCE_ID', 'X_BEARER_TOKEN', 'ORACLE_CONNECT_STRING', 'BENCH_RELAY_ROWS', 'CONSUMER_PORT', 'X_EMULATOR_HOST', 'POSTGRES_URL', 'DATA_DIR', 'LOG_LEVEL']) {
      expect([...variables.keys()]).toContain(known);
    }
    const undocumented = [...variables]
      .filter(([name]) => !readme.includes(`\`${name}\``) && !readme.includes(`\`${name}=`))
      .map(([name, files]) => `${name} (read in ${[...files].join(', ')})`);
    expect(undocumented).toEqual([]);
  });

  it('documents every variable the images set', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const image = [...imageEnvironment().keys()];
    expect(image).toContain('MALLOC_MMAP_THRESHOLD_');
    expect(image).toContain('X_EMULATOR_HOST');
    expect(image.filter((name) => !readme.includes(`\`${name}\``) && !readme.includes(`\`${name}=`))).toEqual([]);
  });
});
