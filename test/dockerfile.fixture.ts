import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The variables docker/Dockerfile sets with ENV, by name: in the stage named `stage` (`runtime`, the
 * base of every service's image), or in all of them. Comments are left out, continuation lines joined.
 */
export function imageEnvironment(stage?: string): Map<string, string> {
  const dockerfile = readFileSync(join(import.meta.dirname, '..', 'docker', 'Dockerfile'), 'utf8').replace(/^#.*$/gm, '').replace(/\\\n/g, ' ');
  const text = stage === undefined ? dockerfile : (new RegExp(`^FROM \\S+ AS ${stage}$([\\s\\S]*?)(?=^FROM |(?![\\s\\S]))`, 'm').exec(dockerfile)?.[1] ?? '');
  const env = new Map<string, string>();
  for (const instruction of text.matchAll(/^ENV (.*)$/gm)) {
    for (const pair of (instruction[1] ?? '').matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env.set(pair[1] ?? '', pair[2] ?? '');
  }
  return env;
}
