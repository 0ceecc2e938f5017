import fc from 'fast-check';

/**
 * Generators of what a hostile stranger can type, for the property-based tests that prove no input
 * stops the pipeline (issue 20). A value is generated as a tree and written to text by our own
 * writer, so the text can hold what `JSON.stringify` never writes: `\u0000` and lone-surrogate
 * escapes anywhere, raw lone surrogates, raw control characters (invalid JSON), duplicate keys,
 * number literals a double cannot hold, and nesting deeper than any limit.
 */
export type HostileJson =
  | { readonly kind: 'string'; readonly value: string; readonly style: StringStyle }
  | { readonly kind: 'number'; readonly literal: string }
  | { readonly kind: 'literal'; readonly literal: 'true' | 'false' | 'null' }
  | { readonly kind: 'array'; readonly items: readonly HostileJson[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, HostileJson])[] };

/** `json`: as JSON.stringify writes it; `escaped`: every character as `\uXXXX`; `raw`: only `"` and `\` escaped. */
type StringStyle = 'json' | 'escaped' | 'raw';

/** Characters that break stores, parsers, X or people: NUL, lone surrogates, noncharacters, quotes, separators. */
const nastyUnits = [
  '\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D', '\uDE00', '\uFFFE', '\uFFFF', '\uFEFF', '\u2028', '\u202E',
  '\u0001', '\u001F', '"', '\\', '$', '.', '#', '@', '{', '}', '[', ']', ':', ',', '“', '”', '‘', '’', '＃', '&amp;', '&lt;', '😀', '日', 'é', 'é',
];

/** How often the generators reach for what breaks things: `plausible` posts mostly decode, `hostile` ones mostly do not. */
type Mood = 'plausible' | 'hostile';

/** One unit of text: any code point, or a nasty one (often when hostile, rarely when plausible). */
const unitOf = (mood: Mood) =>
  fc.oneof(
    { weight: mood === 'hostile' ? 3 : 12, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: mood === 'hostile' ? 2 : 1, arbitrary: fc.constantFrom(...nastyUnits) },
  );
const unit = unitOf('hostile');

const stringOf = (mood: Mood): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: mood === 'hostile' ? 8 : 30, arbitrary: fc.string({ unit: unitOf(mood), maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom('', 'id', 'orders', 'SHIPPED', '8172') },
    // Hostile: longer than a string may be (16 K), than a document (64 KB), or than a post (100 K).
    // Plausible: long, but within the limits.
    { weight: 1, arbitrary: fc.constantFrom(...(mood === 'hostile' ? [17_000, 70_000, 101_000] : [1_000, 16_000])).map((n) => 'x'.repeat(n)) },
  );

export const hostileString: fc.Arbitrary<string> = stringOf('hostile');

/** Number literals; when hostile, often what a double cannot hold exactly. */
const numberLiteralOf = (mood: Mood): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.integer().map(String) },
    { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => String(n)) },
    { weight: mood === 'hostile' ? 1 : 0, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('-0', '1E2', '0.5e-3', '5e-324', '1.7976931348623157e308', '9007199254740991', '1.50') },
    {
      weight: mood === 'hostile' ? 1 : 0,
      arbitrary: fc.constantFrom('9007199254740993', '1e400', '-1e400', '1e-400', '0.1000000000000000055511151231257827'),
    },
  );

const metaKeys = ['_e', '_v', '_s', '_t', '_op', '_y', '_c', '_k', '_d'];
const nastyKeys = ['id', ...metaKeys, '_id', '_x', '$set', '$gt', 'a.b', '__proto__', 'constructor', 'prototype', '', 'status', 'k\u0000', '\uD800'];
const keyOf = (mood: Mood): fc.Arbitrary<string> =>
  mood === 'hostile'
    ? fc.oneof({ weight: 2, arbitrary: hostileString }, { weight: 3, arbitrary: fc.constantFrom(...nastyKeys) })
    : fc.oneof({ weight: 6, arbitrary: fc.string({ unit: unitOf('plausible'), minLength: 1, maxLength: 10 }).map((k) => `f${k}`) }, { weight: 1, arbitrary: fc.constantFrom('status', 'name', '日本', '😀', 'a"b', 'a\\b') });

const style: fc.Arbitrary<StringStyle> = fc.constantFrom<StringStyle>('json', 'json', 'escaped', 'raw');
const stringNode = (value: fc.Arbitrary<string>, styles: fc.Arbitrary<StringStyle> = style): fc.Arbitrary<HostileJson> =>
  fc.record({ kind: fc.constant('string' as const), value, style: styles });
const numberNodeOf = (mood: Mood): fc.Arbitrary<HostileJson> => numberLiteralOf(mood).map((literal) => ({ kind: 'number', literal }));
const numberNode = numberNodeOf('hostile');

/** Any JSON value, nested up to about a dozen levels (the limit is 8) when hostile, a few when plausible. */
const valueOf = (mood: Mood): fc.Arbitrary<HostileJson> =>
  fc.letrec<{ value: HostileJson }>((tie) => ({
    value: fc.oneof(
      { depthSize: mood === 'hostile' ? 'small' : 'xsmall', withCrossShrink: true, maxDepth: mood === 'hostile' ? 12 : 4 },
      // A plausible string never has a raw control character (invalid JSON) in it.
      stringNode(stringOf(mood), mood === 'hostile' ? style : fc.constantFrom<StringStyle>('json', 'escaped')),
      numberNodeOf(mood),
      fc.constantFrom<HostileJson>({ kind: 'literal', literal: 'true' }, { kind: 'literal', literal: 'false' }, { kind: 'literal', literal: 'null' }),
      fc.array(tie('value'), { maxLength: 4 }).map((items): HostileJson => ({ kind: 'array', items })),
      fc.array(fc.tuple(keyOf(mood), tie('value')), { maxLength: 4 }).map((entries): HostileJson => ({ kind: 'object', entries })),
    ),
  })).value;

export const hostileValue: fc.Arbitrary<HostileJson> = valueOf('hostile');

/** Nested `{"a":…}` exactly `depth` levels deep. */
const deeplyNested: fc.Arbitrary<HostileJson> = fc.integer({ min: 6, max: 14 }).map((depth) => {
  let node: HostileJson = { kind: 'literal', literal: 'null' };
  for (let i = 0; i < depth; i += 1) node = { kind: 'object', entries: [['a', node]] };
  return node;
});

/** What a meta key might plausibly hold, or (when hostile) anything at all. */
function metaValue(key: string, mood: Mood): fc.Arbitrary<HostileJson> {
  const anything = mood === 'hostile' ? [hostileValue] : [];
  switch (key) {
    case '_v':
      return fc.oneof(numberNodeOf(mood), stringNode(fc.bigInt({ min: 0n, max: mood === 'hostile' ? 2n ** 64n : 2n ** 63n - 1n }).map(String)), ...anything);
    case '_t': {
      const times = mood === 'hostile' ? fc.oneof(fc.integer(), fc.constantFrom(8.64e15, 8.64e15 + 1, -8.64e15, 1.5)) : fc.integer({ min: 0, max: 4_102_444_800_000 });
      return fc.oneof(times.map((n): HostileJson => ({ kind: 'number', literal: String(n) })), ...anything);
    }
    case '_op':
      return mood === 'hostile' ? fc.oneof(stringNode(fc.constantFrom('d', 'D', 'u', '')), ...anything) : stringNode(fc.constant('d'));
    case '_d':
      return mood === 'hostile' ? fc.oneof(hostileValue, deeplyNested) : valueOf(mood).filter((v) => v.kind === 'object');
    default:
      return fc.oneof(stringNode(mood === 'hostile' ? hostileString : fc.string({ unit: unitOf(mood), minLength: 1, maxLength: 12 })), ...anything);
  }
}

/** One object of a post: an id (or not), some meta keys, some document fields. */
const postObjectOf = (mood: Mood): fc.Arbitrary<HostileJson> => {
  const id =
    mood === 'hostile'
      ? fc.option(fc.oneof(stringNode(hostileString), numberNode, hostileValue), { nil: undefined })
      : fc.oneof(stringNode(fc.string({ unit: unitOf(mood), minLength: 1, maxLength: 12 })), fc.integer().map((n): HostileJson => ({ kind: 'number', literal: String(n) })));
  // Plausible posts leave out `_d`, `_k` and `_op`, which change what the object must hold.
  const keys = mood === 'hostile' ? metaKeys : ['_e', '_v', '_s', '_t', '_y', '_c'];
  const fieldValue = mood === 'hostile' ? fc.oneof({ weight: 5, arbitrary: hostileValue }, { weight: 1, arbitrary: deeplyNested }) : valueOf(mood);
  return fc
    .tuple(
      id,
      fc.subarray(keys, { maxLength: 4 }).chain((chosen) => fc.tuple(...chosen.map((key) => metaValue(key, mood).map((value) => [key, value] as const)))),
      fc.array(fc.tuple(keyOf(mood), fieldValue), { maxLength: 4 }),
    )
    .map(([idValue, meta, fields]): HostileJson => ({
      kind: 'object',
      entries: [...(idValue === undefined ? [] : [['id', idValue] as const]), ...fields, ...meta],
    }));
};

export const hostilePostObject: fc.Arbitrary<HostileJson> = fc.oneof(postObjectOf('plausible'), postObjectOf('hostile'));

/** The whole text of a post: the hashtag and a payload, with everything people and X do around it. */
export const hostilePostText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: hostilePostObject.map((o) => `#orders ${writeHostileJson(o)}`) },
  { weight: 2, arbitrary: fc.array(hostilePostObject, { minLength: 1, maxLength: 4 }).map((items) => `#orders ${writeHostileJson({ kind: 'array', items })}`) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ unit, maxLength: 8 }), hostilePostObject, fc.string({ unit, maxLength: 8 })).map(([before, o, after]) => `${before} #Orders ${writeHostileJson(o)} ${after}`) },
  { weight: 1, arbitrary: hostilePostObject.map((o) => `#orders ${writeHostileJson(o).replace(/"/g, (_q, at: number) => (at % 2 === 0 ? '“' : '”'))}`) },
  { weight: 1, arbitrary: fc.tuple(hostilePostObject, fc.nat()).map(([o, cut]) => { const json = writeHostileJson(o); return `#orders ${json.slice(0, cut % (json.length + 1))}`; }) },
  { weight: 1, arbitrary: hostilePostObject.map((o) => `#orders ${writeHostileJson(o).replace(/&/g, '&amp;').replace(/</g, '&lt;')}`) },
  { weight: 1, arbitrary: fc.string({ unit, maxLength: 40 }) },
);

/** An envelope as the JSON transports carry it (Redis Streams, Kafka); a plausible one is usually valid. */
const envelopeOf = (mood: Mood): fc.Arbitrary<string> => {
  const text =
    mood === 'hostile'
      ? fc.oneof(stringNode(hostileString), hostileValue)
      : stringNode(fc.string({ unit: unitOf(mood), minLength: 1, maxLength: 12 }), fc.constantFrom<StringStyle>('json', 'escaped'));
  const plausible = mood === 'plausible';
  return fc
    .record({
      id: text,
      source: text,
      type: stringNode(plausible ? fc.constant('orders.upserted') : fc.oneof(hostileString, fc.constant('orders.upserted'))),
      collection: stringNode(plausible ? fc.constant('orders') : fc.constantFrom('orders', 'Orders', 'invoices', '', 'orders\u0000')),
      key: plausible ? fc.oneof(text, fc.nat().map((n): HostileJson => ({ kind: 'number', literal: String(n) }))) : fc.oneof(text, numberNode),
      version: plausible
        ? fc.oneof(fc.nat().map((n): HostileJson => ({ kind: 'number', literal: String(n) })), stringNode(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String)))
        : fc.oneof(numberNode, stringNode(fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String)), hostileValue),
      op: stringNode(plausible ? fc.constant('upsert') : fc.constantFrom('upsert', 'delete', 'd', '')),
      data: plausible ? valueOf(mood).filter((v) => v.kind === 'object') : fc.oneof(hostilePostObject, hostileValue, deeplyNested),
      createdAt: stringNode(
        plausible ? fc.constantFrom('2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00+02:00') : fc.constantFrom('2026-03-01T10:00:00.000Z', '9999-12-31T23:59:59-12:00', 'yesterday', ''),
      ),
      correlationId: fc.option(text, { nil: undefined }),
    })
    .chain((fields) => {
      const names = Object.keys(fields);
      // A hostile envelope may lack fields; a plausible one has them all.
      return (plausible ? fc.constant(names) : fc.subarray(names, { minLength: 5 })).map((keep): HostileJson => ({
        kind: 'object',
        entries: Object.entries(fields).flatMap(([k, v]) => (keep.includes(k) && v !== undefined ? [[k, v] as const] : [])),
      }));
    })
    .map(writeHostileJson);
};

export const hostileEnvelopeText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: envelopeOf('plausible') },
  { weight: 4, arbitrary: envelopeOf('hostile') },
  { weight: 1, arbitrary: hostileValue.map(writeHostileJson) },
  { weight: 1, arbitrary: fc.string({ unit, maxLength: 40 }) },
);

function unicodeEscape(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Writes the tree as JSON text, each string in its own style; may write invalid JSON (`raw` control characters). */
export function writeHostileJson(node: HostileJson): string {
  switch (node.kind) {
    case 'string':
      return writeString(node.value, node.style);
    case 'number':
    case 'literal':
      return node.literal;
    case 'array':
      return `[${node.items.map(writeHostileJson).join(',')}]`;
    case 'object':
      return `{${node.entries.map(([key, value]) => `${writeString(key, 'json')}:${writeHostileJson(value)}`).join(',')}}`;
  }
}

function writeString(value: string, how: StringStyle): string {
  if (how === 'json') return JSON.stringify(value);
  if (how === 'escaped') return `"${Array.from({ length: value.length }, (_, i) => unicodeEscape(value.charCodeAt(i))).join('')}"`;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
