export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `syntax`: not JSON at all; `number`: JSON, but with a number that cannot be stored as written. */
export type JsonParse =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly reason: string; readonly refused: 'syntax' | 'number' };

/**
 * `JSON.parse` for untrusted text. Never throws. It also refuses a number that would not read back
 * as it was written: `JSON.parse` turns every number into a double without a word, so
 * `9007199254740993` would be stored as …992, `1e400` as Infinity and `1e-400` as 0. A number is
 * kept when its decimal value equals that of the double's shortest form, which is what every read
 * model gives back (`1.50` and `15e-1` read back as `1.5`, the same number).
 */
export function parseJsonText(text: string): JsonParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The message quotes the text at the error, by UTF-16 code unit: half of a surrogate pair would make
    // the reason itself text no store or UTF-8 transport keeps as it is.
    const detail = (err instanceof Error ? err.message : String(err)).toWellFormed();
    return { ok: false, refused: 'syntax', reason: `JSON does not parse: ${detail}` };
  }
  if (!hasInexactNumber(text)) return { ok: true, value };
  // Found one: the slower walk finds it again, with where it sits.
  for (const { literal, path } of numberLiterals(text)) {
    if (!readsBackAsWritten(literal)) {
      const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
      const at = path();
      const where = at === '' ? '' : ` at ${at}`;
      return { ok: false, refused: 'number', reason: `the number ${shown}${where} cannot be stored exactly (a JSON number is a 64-bit double); send it as a string` };
    }
  }
  return { ok: true, value };
}

const numberToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Where a string or a number may start in JSON text. */
const stringOrNumberStart = /["\d-]/g;

/**
 * Whether valid JSON text holds a number that does not read back as written: no paths. In valid
 * JSON every digit outside a string belongs to a number, so strings are skipped whole, to their
 * first unescaped quote. Only `test` and `indexOf` run, which make no match objects, and a number of at most 15 characters without an exponent
 * (at most 15 digits) is exact without a look: a batch of ordinary events allocates nothing here.
 */
function hasInexactNumber(json: string): boolean {
  stringOrNumberStart.lastIndex = 0;
  while (stringOrNumberStart.test(json)) {
    const from = stringOrNumberStart.lastIndex - 1;
    if (json.charCodeAt(from) === 0x22) {
      stringOrNumberStart.lastIndex = stringEnd(json, from);
      continue;
    }
    numberToken.lastIndex = from;
    if (!numberToken.test(json)) return false; // not valid JSON: JSON.parse said otherwise, so never here
    const to = numberToken.lastIndex;
    stringOrNumberStart.lastIndex = to;
    if ((to - from > 15 || hasExponent(json, from, to)) && !readsBackAsWritten(json.slice(from, to))) return true;
  }
  return false;
}

/** Where the string literal opened at `from` ends (after its closing quote): the first quote that no backslash escapes. */
function stringEnd(json: string, from: number): number {
  for (let quote = json.indexOf('"', from + 1); quote !== -1; quote = json.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (json.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return json.length;
}

function hasExponent(json: string, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) if ((json.charCodeAt(i) | 0x20) === 0x65) return true;
  return false;
}
const identifier = /^[A-Za-z_$][\w$]*$/;

/** An object's key is kept as where its JSON string sits in the text, and read only for a path. */
type Frame = { readonly array: true; index: number } | { readonly array: false; keyFrom: number; keyTo: number; awaitingKey: boolean };

/** Where a value sits, as `a.b[2].c`; a key that is not a plain name is quoted, and every part is shortened. */
function pathOf(json: string, frames: readonly Frame[]): string {
  return frames
    .map((frame, depth) => {
      if (frame.array) return `[${String(frame.index)}]`;
      const parsed: unknown = frame.keyTo > frame.keyFrom ? JSON.parse(json.slice(frame.keyFrom, frame.keyTo)) : '';
      const name = typeof parsed === 'string' ? parsed : '';
      const key = name.length > 40 ? `${name.slice(0, 40)}…` : name;
      if (identifier.test(key)) return depth === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key.toWellFormed())}]`;
    })
    .join('');
}

/**
 * The number literals of valid JSON text, in order, each with where it sits: everything outside
 * strings that starts a number, with a stack of the objects and arrays around it. `path` is only
 * valid until the generator moves on.
 */
function* numberLiterals(json: string): Generator<{ literal: string; path: () => string }> {
  const frames: Frame[] = [];
  for (let i = 0; i < json.length; i += 1) {
    const code = json.charCodeAt(i);
    const top = frames[frames.length - 1];
    if (code === 0x22) {
      const from = i;
      for (i += 1; i < json.length; i += 1) {
        const inner = json.charCodeAt(i);
        if (inner === 0x5c) i += 1;
        else if (inner === 0x22) break;
      }
      if (top !== undefined && !top.array && top.awaitingKey) {
        top.keyFrom = from;
        top.keyTo = i + 1;
        top.awaitingKey = false;
      }
    } else if (code === 0x7b) {
      frames.push({ array: false, keyFrom: 0, keyTo: 0, awaitingKey: true });
    } else if (code === 0x5b) {
      frames.push({ array: true, index: 0 });
    } else if (code === 0x7d || code === 0x5d) {
      frames.pop();
    } else if (code === 0x2c && top !== undefined) {
      if (top.array) top.index += 1;
      else top.awaitingKey = true;
    } else if (code === 0x2d || (code >= 0x30 && code <= 0x39)) {
      numberToken.lastIndex = i;
      const literal = numberToken.exec(json)?.[0];
      if (literal === undefined) continue;
      yield { literal, path: () => pathOf(json, frames) };
      i += literal.length - 1;
    }
  }
}

/** An integer of at most 15 digits is always exact as a double: most literals need no more work. */
const shortInteger = /^-?\d{1,15}$/;

function readsBackAsWritten(literal: string): boolean {
  if (shortInteger.test(literal)) return true;
  const value = Number(literal);
  return Number.isFinite(value) && sameDecimal(decimalOf(literal), decimalOf(String(value)));
}

interface Decimal {
  readonly negative: boolean;
  /** Significant digits without leading or trailing zeros; empty for zero. */
  readonly digits: string;
  /** The value is `digits × 10^exponent`. */
  readonly exponent: number;
}

/** A JSON number literal, or JavaScript's `String(number)` (which adds `e+21`-style exponents). */
function decimalOf(text: string): Decimal {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  const [, sign = '', whole = '', fraction = '', exp = '0'] = match ?? [];
  const all = `${whole}${fraction}`;
  const lead = all.length - all.replace(/^0+/, '').length;
  const trimmed = all.slice(lead).replace(/0+$/, '');
  const trailing = all.length - lead - trimmed.length;
  return { negative: sign === '-', digits: trimmed, exponent: Number(exp) - fraction.length + trailing };
}

function sameDecimal(a: Decimal, b: Decimal): boolean {
  if (a.digits === '' || b.digits === '') return a.digits === b.digits;
  return a.negative === b.negative && a.digits === b.digits && a.exponent === b.exponent;
}

/**
 * A JSON value written with its object keys sorted and JSON's numbers (`-0` as `0`): the same text
 * for the same value, whatever order its keys arrived in (`jsonb` reorders them) and however its
 * strings were escaped. What signatures are computed over, and what tests compare.
 */
export function canonicalJson(value: JsonValue | null | undefined): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isJsonObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
