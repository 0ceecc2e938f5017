/**
 * Finds a JSON object or array inside free text (a post with words around its payload) without
 * regular expressions: a small scanner that knows brackets and strings finds where the value ends,
 * and only that slice is handed to `JSON.parse`.
 */

export type JsonSpan =
  | { readonly ok: true; readonly start: number; readonly end: number }
  | { readonly ok: false; readonly reason: string };

/**
 * From an opening `{` or `[` at `start`, the end (exclusive) of the balanced value, honouring JSON
 * strings and their escapes. Fails on a mismatched or missing closing bracket, or when the value
 * nests deeper than `maxDepth` (checked before parsing, so hostile nesting costs nothing).
 */
export function scanJsonValue(text: string, start: number, maxDepth: number): JsonSpan {
  const closers: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i += 1;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{' || char === '[') {
      closers.push(char === '{' ? '}' : ']');
      if (closers.length > maxDepth) return { ok: false, reason: `JSON is nested deeper than ${maxDepth} levels` };
    } else if (char === '}' || char === ']') {
      if (closers.pop() !== char) return { ok: false, reason: `JSON has a mismatched "${char}" at character ${i}` };
      if (closers.length === 0) return { ok: true, start, end: i + 1 };
    }
  }
  return { ok: false, reason: inString ? 'JSON has an unterminated string' : 'JSON is not closed' };
}

import { parseJsonText, type JsonParse } from '../../events/json.js';

const maxCandidates = 16;

/**
 * The first balanced JSON object or array at or after `from` that parses (`parseJsonText`, so a
 * number that would not read back as written is refused, and ends the search). Text such as
 * "[update] {...}" is tolerated: after a balanced span that does not parse, the search goes on
 * behind it (never inside it, which would pick a nested object out of a broken payload). An
 * unbalanced or too deep span ends the search. The reason given is the first span's, the one a
 * person most likely meant.
 */
export function findJson(text: string, from: number, maxDepth: number): JsonParse {
  let firstReason: string | undefined;
  let start = nextOpening(text, from);
  for (let tries = 0; start !== -1 && tries < maxCandidates; tries += 1) {
    const span = scanJsonValue(text, start, maxDepth);
    if (!span.ok) return { ok: false, refused: 'syntax', reason: firstReason ?? span.reason };
    const json = text.slice(span.start, span.end);
    const parsed = parseJsonText(json);
    if (parsed.ok || parsed.refused === 'number') return parsed;
    firstReason ??= parsed.reason;
    start = nextOpening(text, span.end);
  }
  return { ok: false, refused: 'syntax', reason: firstReason ?? 'no JSON object or array found' };
}

function nextOpening(text: string, from: number): number {
  const brace = text.indexOf('{', from);
  const bracket = text.indexOf('[', from);
  if (brace === -1) return bracket;
  if (bracket === -1) return brace;
  return Math.min(brace, bracket);
}
