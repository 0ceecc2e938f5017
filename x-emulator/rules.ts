/**
 * The subset of X's rule language the emulator understands, used both by filtered-stream rules and
 * by recent-search queries: keywords, "exact phrases", #hashtag, @mention, $cashtag, from:user or
 * from:id, is:retweet/is:reply/is:quote (never true here), has:links/hashtags/mentions/cashtags,
 * juxtaposition for AND (binding tighter than OR), OR, parentheses, and `-` for negation.
 */
export type RuleExpr =
  | { readonly kind: 'and'; readonly items: readonly RuleExpr[] }
  | { readonly kind: 'or'; readonly items: readonly RuleExpr[] }
  | { readonly kind: 'not'; readonly expr: RuleExpr }
  | { readonly kind: 'term'; readonly term: RuleTerm };

export type RuleTerm =
  | { readonly op: 'keyword'; readonly value: string }
  | { readonly op: 'phrase'; readonly value: string }
  | { readonly op: 'hashtag'; readonly value: string }
  | { readonly op: 'mention'; readonly value: string }
  | { readonly op: 'cashtag'; readonly value: string }
  | { readonly op: 'from'; readonly value: string }
  | { readonly op: 'is'; readonly value: 'retweet' | 'reply' | 'quote' }
  | { readonly op: 'has'; readonly value: 'links' | 'hashtags' | 'mentions' | 'cashtags' };

/** What a rule looks at in a post. All strings lower-cased except ids. */
export interface MatchablePost {
  readonly authorId: string;
  readonly username: string;
  readonly source: string;
  readonly words: ReadonlySet<string>;
  readonly hashtags: ReadonlySet<string>;
  readonly mentions: ReadonlySet<string>;
  readonly cashtags: ReadonlySet<string>;
  readonly hasLinks: boolean;
}

export type ParsedRule = { readonly ok: true; readonly expr: RuleExpr } | { readonly ok: false; readonly details: readonly string[] };

type Token =
  | { readonly t: 'lparen' }
  | { readonly t: 'rparen' }
  | { readonly t: 'or' }
  | { readonly t: 'neg' }
  | { readonly t: 'word'; readonly value: string }
  | { readonly t: 'phrase'; readonly value: string };

class RuleSyntaxError extends Error {}

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '(') {
      tokens.push({ t: 'lparen' });
      i += 1;
    } else if (c === ')') {
      tokens.push({ t: 'rparen' });
      i += 1;
    } else if (c === '-' && i + 1 < value.length && !/[\s)]/.test(value.charAt(i + 1))) {
      tokens.push({ t: 'neg' });
      i += 1;
    } else if (c === '"') {
      const close = value.indexOf('"', i + 1);
      if (close < 0) throw new RuleSyntaxError('Unterminated quoted phrase.');
      const phrase = value.slice(i + 1, close);
      if (phrase.trim() === '') throw new RuleSyntaxError('Empty quoted phrase.');
      tokens.push({ t: 'phrase', value: phrase });
      i = close + 1;
    } else {
      let j = i;
      while (j < value.length && !/[\s()"]/.test(value.charAt(j))) j += 1;
      const word = value.slice(i, j);
      tokens.push(word === 'OR' ? { t: 'or' } : { t: 'word', value: word });
      i = j;
    }
  }
  return tokens;
}

function classify(word: string): RuleTerm {
  if (word === 'or') throw new RuleSyntaxError('Ambiguous use of or as a keyword. Use a capitalized OR instead.');
  if (word.startsWith('#')) {
    const tag = word.slice(1);
    if (!/^[\p{L}\p{N}_]+$/u.test(tag)) throw new RuleSyntaxError(`Invalid hashtag '${word}'.`);
    return { op: 'hashtag', value: tag.toLowerCase() };
  }
  if (word.startsWith('@')) {
    const name = word.slice(1);
    if (!/^[A-Za-z0-9_]{1,15}$/.test(name)) throw new RuleSyntaxError(`Invalid mention '${word}'.`);
    return { op: 'mention', value: name.toLowerCase() };
  }
  if (word.startsWith('$') && /^\$[A-Za-z][A-Za-z0-9_.]{0,5}$/.test(word)) {
    return { op: 'cashtag', value: word.slice(1).toLowerCase() };
  }
  const operator = /^([a-z_][a-z0-9_]*):(.*)$/i.exec(word);
  if (operator !== null && !/^https?$/i.test(operator[1] ?? '')) {
    const name = (operator[1] ?? '').toLowerCase();
    const arg = operator[2] ?? '';
    if (name === 'from') {
      const user = arg.startsWith('@') ? arg.slice(1) : arg;
      if (!/^[A-Za-z0-9_]{1,15}$/.test(user) && !/^[0-9]{1,20}$/.test(user)) {
        throw new RuleSyntaxError(`Invalid value for from: '${arg}'. Expected a username or a numeric user id.`);
      }
      return { op: 'from', value: user.toLowerCase() };
    }
    if (name === 'is' && (arg === 'retweet' || arg === 'reply' || arg === 'quote')) return { op: 'is', value: arg };
    if (name === 'has' && (arg === 'links' || arg === 'hashtags' || arg === 'mentions' || arg === 'cashtags')) {
      return { op: 'has', value: arg };
    }
    throw new RuleSyntaxError(
      `Reference to invalid operator '${name}:${arg}'. Operator is not available in current product or product packaging.`,
    );
  }
  return { op: 'keyword', value: word.toLowerCase() };
}

class Parser {
  private index = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  parse(): RuleExpr {
    const expr = this.parseOr();
    const next = this.tokens[this.index];
    if (next !== undefined) throw new RuleSyntaxError(next.t === 'rparen' ? 'Unbalanced parentheses: unexpected ).' : 'Unexpected token.');
    return expr;
  }

  private parseOr(): RuleExpr {
    const items = [this.parseAnd()];
    while (this.tokens[this.index]?.t === 'or') {
      this.index += 1;
      items.push(this.parseAnd());
    }
    return items.length === 1 && items[0] !== undefined ? items[0] : { kind: 'or', items };
  }

  private parseAnd(): RuleExpr {
    const items: RuleExpr[] = [];
    for (;;) {
      const next = this.tokens[this.index];
      if (next === undefined || next.t === 'rparen' || next.t === 'or') break;
      items.push(this.parseUnary());
    }
    if (items.length === 0) throw new RuleSyntaxError('Expected a term: OR and parentheses need something on each side.');
    return items.length === 1 && items[0] !== undefined ? items[0] : { kind: 'and', items };
  }

  private parseUnary(): RuleExpr {
    if (this.tokens[this.index]?.t === 'neg') {
      this.index += 1;
      return { kind: 'not', expr: this.parsePrimary() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): RuleExpr {
    const token = this.tokens[this.index];
    this.index += 1;
    if (token === undefined) throw new RuleSyntaxError('Expected a term after -.');
    switch (token.t) {
      case 'lparen': {
        const inner = this.parseOr();
        if (this.tokens[this.index]?.t !== 'rparen') throw new RuleSyntaxError('Unbalanced parentheses: missing ).');
        this.index += 1;
        return inner;
      }
      case 'phrase':
        return { kind: 'term', term: { op: 'phrase', value: token.value.toLowerCase() } };
      case 'word':
        return { kind: 'term', term: classify(token.value) };
      default:
        throw new RuleSyntaxError('Unexpected operator.');
    }
  }
}

/** Is:/has: operators cannot stand alone, and a rule needs a positive term (as on X). */
function hasPositiveStandalone(expr: RuleExpr, negated: boolean): boolean {
  switch (expr.kind) {
    case 'term':
      return !negated && expr.term.op !== 'is' && expr.term.op !== 'has';
    case 'not':
      return hasPositiveStandalone(expr.expr, !negated);
    case 'and':
      return expr.items.some((item) => hasPositiveStandalone(item, negated));
    case 'or':
      return expr.items.every((item) => hasPositiveStandalone(item, negated));
  }
}

export function parseRule(value: string, maxLength: number): ParsedRule {
  if (value.length > maxLength) return { ok: false, details: [`Rule length exceeds the maximum of ${maxLength} characters.`] };
  try {
    const expr = new Parser(tokenize(value)).parse();
    if (!hasPositiveStandalone(expr, false)) {
      return {
        ok: false,
        details: ['Rules must contain a non-negation term and at least one operator that can stand alone (is: and has: cannot).'],
      };
    }
    return { ok: true, expr };
  } catch (err) {
    if (err instanceof RuleSyntaxError) return { ok: false, details: [err.message] };
    throw err;
  }
}

function matchesTerm(term: RuleTerm, post: MatchablePost): boolean {
  switch (term.op) {
    case 'keyword':
      return /^[\p{L}\p{N}_]+$/u.test(term.value) ? post.words.has(term.value) : post.source.toLowerCase().includes(term.value);
    case 'phrase':
      return post.source.toLowerCase().includes(term.value);
    case 'hashtag':
      return post.hashtags.has(term.value);
    case 'mention':
      return post.mentions.has(term.value);
    case 'cashtag':
      return post.cashtags.has(term.value);
    case 'from':
      return term.value === post.authorId || term.value === post.username;
    case 'is':
      return false;
    case 'has':
      switch (term.value) {
        case 'links':
          return post.hasLinks;
        case 'hashtags':
          return post.hashtags.size > 0;
        case 'mentions':
          return post.mentions.size > 0;
        case 'cashtags':
          return post.cashtags.size > 0;
      }
  }
}

export function matchesRule(expr: RuleExpr, post: MatchablePost): boolean {
  switch (expr.kind) {
    case 'term':
      return matchesTerm(expr.term, post);
    case 'not':
      return !matchesRule(expr.expr, post);
    case 'and':
      return expr.items.every((item) => matchesRule(item, post));
    case 'or':
      return expr.items.some((item) => matchesRule(item, post));
  }
}
