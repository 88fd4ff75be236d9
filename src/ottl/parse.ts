/**
 * A parser for the boolean part of the OpenTelemetry Transformation Language (OTTL), the language
 * of the collector's routing, count and filter conditions. Grammar and names follow OTTL's
 * LANGUAGE.md (opentelemetry-collector-contrib `pkg/ottl`): a condition is Booleans joined by
 * `and` / `or`, negated by `not` (`not` binds tightest, then `and`, then `or`), grouped with
 * parentheses; a Boolean is `true` / `false`, a Converter call (`IsMatch(name, "^GET ")`) or a
 * comparison of two Values with `==`, `!=`, `<`, `<=`, `>`, `>=`. Values are Paths
 * (`attributes["http.route"]`, `resource.attributes["service.name"]`, `name`), literals (strings
 * in double quotes, ints, floats, `true`/`false`, `nil`, bytes `0x0a1b`), Enums (`SPAN_KIND_SERVER`),
 * lists of values (`["a", "b"]`) and Converter calls.
 *
 * A statement (`statement:` of a routing table) is an Editor call with an optional `where` clause:
 * `route() where attributes["tenant"] == "acme"`.
 *
 * Not supported, each a {@link OttlError} naming its column: math expressions (`+ - * /`), map
 * literals (`{...}`), named arguments (`f(x=1)`) and a Path used as a Boolean by itself (OTTL does
 * not allow that either). Which Paths, Enums and functions exist is decided by the compiler
 * (`compile.ts`), not here.
 *
 * Parsing happens once, when the config is loaded; nothing here runs per item.
 */

/** A parse or compile error; `column` is 1-based within the text, 0 when it concerns the whole text. */
export class OttlError extends Error {
  constructor(
    readonly detail: string,
    readonly column: number,
  ) {
    super(column > 0 ? `${detail} (at column ${column})` : detail);
  }
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A key of a Path or Converter result: `["name"]` or `[0]`. */
export type Key = string | number;

export interface PathField {
  name: string;
  keys: Key[];
}

export type ValueExpr =
  | { type: 'literal'; value: string | number | boolean | null | Uint8Array; int: boolean; pos: number }
  | { type: 'list'; items: ValueExpr[]; pos: number }
  | { type: 'path'; fields: PathField[]; text: string; pos: number }
  | { type: 'enum'; name: string; pos: number }
  | { type: 'call'; name: string; args: ValueExpr[]; keys: Key[]; pos: number };

export type BoolExpr =
  | { type: 'or'; items: BoolExpr[] }
  | { type: 'and'; items: BoolExpr[] }
  | { type: 'not'; expr: BoolExpr }
  | { type: 'bool'; value: boolean }
  | { type: 'compare'; op: CompareOp; left: ValueExpr; right: ValueExpr; pos: number }
  /** A Converter call that gives a boolean (`IsMatch(...)`). */
  | { type: 'call'; call: Extract<ValueExpr, { type: 'call' }> };

export interface Statement {
  editor: { name: string; args: ValueExpr[]; pos: number };
  where: BoolExpr | undefined;
}

type TokenType = 'string' | 'int' | 'float' | 'bytes' | 'ident' | 'op' | 'punct' | 'end';

interface Token {
  type: TokenType;
  text: string;
  /** 0-based offset. */
  pos: number;
  /** Decoded value of string, int, float and bytes tokens. */
  value?: string | number | Uint8Array;
}

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const FLOAT_RE = /[-+]?\d*\.\d+(?:[eE][-+]?\d+)?/y;
const INT_RE = /[-+]?\d+/y;
const BYTES_RE = /0x[0-9a-fA-F]+/y;
const OPS = ['==', '!=', '>=', '<=', '>', '<', '+', '-', '*', '/', '='];
const PUNCT = '()[],.{}:';

/** Whether a sign after a token of this kind is an operator (after a value) rather than part of a number. */
function endsValue(t: Token | undefined): boolean {
  if (!t) return false;
  if (t.type === 'string' || t.type === 'int' || t.type === 'float' || t.type === 'bytes') return true;
  if (t.type === 'ident') return !['and', 'or', 'not', 'where'].includes(t.text);
  return t.type === 'punct' && (t.text === ')' || t.text === ']');
}

/**
 * A string literal's value: `\"` is a quote and `\\` a backslash; any other backslash is kept with
 * the character after it, so a regular expression's `\d` or `\.` arrives as written.
 */
function unquote(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && i + 1 < body.length) {
      const n = body[i + 1]!;
      if (n === '"' || n === '\\') {
        out += n;
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw new OttlError('unterminated string literal', i + 1);
      tokens.push({ type: 'string', text: text.slice(i, j + 1), pos: i, value: unquote(text.slice(i + 1, j)) });
      i = j + 1;
      continue;
    }
    const signed = (c === '-' || c === '+') && !endsValue(tokens[tokens.length - 1]);
    if ((c >= '0' && c <= '9') || c === '.' || signed) {
      BYTES_RE.lastIndex = i;
      const bytes = c === '0' ? BYTES_RE.exec(text) : null;
      if (bytes && !/[A-Za-z0-9_]/.test(text[i + bytes[0].length] ?? '')) {
        const hex = bytes[0].slice(2);
        if (hex.length % 2 !== 0) throw new OttlError(`byte literal ${bytes[0]} needs an even number of hex digits`, i + 1);
        tokens.push({ type: 'bytes', text: bytes[0], pos: i, value: Uint8Array.from(Buffer.from(hex, 'hex')) });
        i += bytes[0].length;
        continue;
      }
      FLOAT_RE.lastIndex = i;
      const f = FLOAT_RE.exec(text);
      if (f) {
        tokens.push({ type: 'float', text: f[0], pos: i, value: Number(f[0]) });
        i += f[0].length;
        continue;
      }
      INT_RE.lastIndex = i;
      const n = INT_RE.exec(text);
      if (n) {
        const v = Number(n[0]);
        if (!Number.isSafeInteger(v)) throw new OttlError(`integer ${n[0]} is out of the range this gateway compares exactly (±2^53)`, i + 1);
        tokens.push({ type: 'int', text: n[0], pos: i, value: v });
        i += n[0].length;
        continue;
      }
      if (c === '.') {
        tokens.push({ type: 'punct', text: '.', pos: i });
        i++;
        continue;
      }
    }
    IDENT_RE.lastIndex = i;
    const id = IDENT_RE.exec(text);
    if (id) {
      tokens.push({ type: 'ident', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ type: 'op', text: op, pos: i });
      i += op.length;
      continue;
    }
    if (PUNCT.includes(c)) {
      tokens.push({ type: 'punct', text: c, pos: i });
      i++;
      continue;
    }
    throw new OttlError(`unexpected character ${JSON.stringify(c)}`, i + 1);
  }
  tokens.push({ type: 'end', text: '', pos: text.length });
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'where', 'true', 'false', 'nil']);
const COMPARE_OPS = new Set<string>(['==', '!=', '<', '<=', '>', '>=']);

function isUpper(c: string): boolean {
  return c >= 'A' && c <= 'Z';
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  private get t(): Token {
    return this.tokens[this.i]!;
  }

  private peek(n = 1): Token {
    return this.tokens[Math.min(this.i + n, this.tokens.length - 1)]!;
  }

  private fail(message: string, t: Token = this.t): never {
    throw new OttlError(message, t.pos + 1);
  }

  private describe(t: Token): string {
    return t.type === 'end' ? 'the end of the condition' : JSON.stringify(t.text);
  }

  private expect(type: TokenType, text?: string): Token {
    const t = this.t;
    if (t.type !== type || (text !== undefined && t.text !== text)) this.fail(`expected ${text !== undefined ? JSON.stringify(text) : type} but found ${this.describe(t)}`);
    this.i++;
    return t;
  }

  private isWord(word: string): boolean {
    return this.t.type === 'ident' && this.t.text === word;
  }

  private isPunct(p: string): boolean {
    return this.t.type === 'punct' && this.t.text === p;
  }

  end(): void {
    if (this.t.type !== 'end') {
      if (this.t.type === 'op' && '+-*/'.includes(this.t.text)) this.fail('math expressions (+ - * /) are not supported');
      this.fail(`unexpected ${this.describe(this.t)}; join conditions with "and" or "or"`);
    }
  }

  /** boolExpr := term ('or' term)* */
  boolExpr(): BoolExpr {
    const items = [this.term()];
    while (this.isWord('or')) {
      this.i++;
      items.push(this.term());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  /** term := booleanValue ('and' booleanValue)* */
  private term(): BoolExpr {
    const items = [this.booleanValue()];
    while (this.isWord('and')) {
      this.i++;
      items.push(this.booleanValue());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  /** booleanValue := 'not'? (comparison | 'true' | 'false' | converter | '(' boolExpr ')') */
  private booleanValue(): BoolExpr {
    if (this.isWord('not')) {
      this.i++;
      return { type: 'not', expr: this.booleanValue() };
    }
    if (this.isPunct('(')) {
      // A parenthesised condition; math grouping would be a value, which is not supported.
      this.i++;
      const inner = this.boolExpr();
      this.expect('punct', ')');
      return inner;
    }
    const start = this.t;
    const left = this.value();
    if (this.t.type === 'op' && COMPARE_OPS.has(this.t.text)) {
      const op = this.t.text as CompareOp;
      const opToken = this.t;
      this.i++;
      const right = this.value();
      return { type: 'compare', op, left, right, pos: opToken.pos + 1 };
    }
    if (this.t.type === 'op' && '+-*/'.includes(this.t.text)) this.fail('math expressions (+ - * /) are not supported');
    if (left.type === 'literal' && typeof left.value === 'boolean') return { type: 'bool', value: left.value };
    if (left.type === 'call') return { type: 'call', call: left };
    if (left.type === 'path') this.fail(`a path is not a condition by itself; compare it, e.g. ${left.text} == true or ${left.text} != nil`, start);
    this.fail(`${this.text.slice(start.pos, this.t.pos).trim() || this.describe(start)} is not a condition; compare it with == != < <= > >=`, start);
  }

  /** A Value: literal, list, path, enum or converter call. */
  value(): ValueExpr {
    const t = this.t;
    switch (t.type) {
      case 'string':
        this.i++;
        return { type: 'literal', value: t.value as string, int: false, pos: t.pos + 1 };
      case 'int':
        this.i++;
        return { type: 'literal', value: t.value as number, int: true, pos: t.pos + 1 };
      case 'float':
        this.i++;
        return { type: 'literal', value: t.value as number, int: false, pos: t.pos + 1 };
      case 'bytes':
        this.i++;
        return { type: 'literal', value: t.value as Uint8Array, int: false, pos: t.pos + 1 };
      case 'punct':
        if (t.text === '[') return this.list();
        if (t.text === '{') this.fail('map literals are not supported');
        if (t.text === '(') this.fail('parentheses around a value (math grouping) are not supported');
        break;
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') {
          this.i++;
          return { type: 'literal', value: t.text === 'true', int: false, pos: t.pos + 1 };
        }
        if (t.text === 'nil') {
          this.i++;
          return { type: 'literal', value: null, int: false, pos: t.pos + 1 };
        }
        if (KEYWORDS.has(t.text)) break;
        const next = this.peek();
        if (next.type === 'punct' && next.text === '(') {
          if (!isUpper(t.text[0]!)) this.fail(`converter names start with an uppercase letter; "${t.text}" is an editor, which is not allowed in a condition`);
          return this.call();
        }
        if (isUpper(t.text[0]!)) {
          if (/[a-z]/.test(t.text)) this.fail(`"${t.text}" is neither a path (lowercase) nor an enum (UPPERCASE); a converter needs parentheses`);
          this.i++;
          return { type: 'enum', name: t.text, pos: t.pos + 1 };
        }
        return this.path();
      }
      default:
        break;
    }
    this.fail(`expected a value but found ${this.describe(t)}`);
  }

  private list(): ValueExpr {
    const open = this.expect('punct', '[');
    const items: ValueExpr[] = [];
    while (!this.isPunct(']')) {
      if (items.length > 0) this.expect('punct', ',');
      items.push(this.value());
    }
    this.i++;
    return { type: 'list', items, pos: open.pos + 1 };
  }

  private keys(): Key[] {
    const keys: Key[] = [];
    while (this.isPunct('[')) {
      this.i++;
      const k = this.t;
      if (k.type === 'string') keys.push(k.value as string);
      else if (k.type === 'int' && !k.text.startsWith('-') && !k.text.startsWith('+')) keys.push(k.value as number);
      else this.fail(`a key is a string in double quotes or an integer, not ${this.describe(k)}`);
      this.i++;
      this.expect('punct', ']');
    }
    return keys;
  }

  private path(): ValueExpr {
    const start = this.t;
    const fields: PathField[] = [];
    for (;;) {
      const name = this.t;
      if (name.type !== 'ident' || KEYWORDS.has(name.text)) this.fail(`expected a path segment but found ${this.describe(name)}`);
      if (/[A-Z]/.test(name.text)) this.fail(`path segments are lowercase; "${name.text}" is not`);
      this.i++;
      fields.push({ name: name.text, keys: this.keys() });
      if (!this.isPunct('.')) break;
      this.i++;
    }
    return { type: 'path', fields, text: this.text.slice(start.pos, this.t.pos).trim(), pos: start.pos + 1 };
  }

  private args(): ValueExpr[] {
    this.expect('punct', '(');
    const args: ValueExpr[] = [];
    while (!this.isPunct(')')) {
      if (args.length > 0) this.expect('punct', ',');
      if (this.t.type === 'ident' && this.peek().type === 'op' && this.peek().text === '=') this.fail('named arguments are not supported; pass arguments in order');
      args.push(this.value());
    }
    this.i++;
    return args;
  }

  private call(): Extract<ValueExpr, { type: 'call' }> {
    const name = this.expect('ident');
    const args = this.args();
    return { type: 'call', name: name.text, args, keys: this.keys(), pos: name.pos + 1 };
  }

  statement(): Statement {
    const name = this.t;
    if (name.type !== 'ident' || this.peek().type !== 'punct' || this.peek().text !== '(') this.fail('a statement starts with an editor call, e.g. route()');
    if (isUpper(name.text[0]!)) this.fail(`editor names start with a lowercase letter; "${name.text}" is a converter`);
    this.i++;
    const args = this.args();
    if (this.isPunct('[')) this.fail('an editor\'s result cannot be indexed');
    let where: BoolExpr | undefined;
    if (this.isWord('where')) {
      this.i++;
      where = this.boolExpr();
    }
    this.end();
    return { editor: { name: name.text, args, pos: name.pos + 1 }, where };
  }
}

/**
 * Parses an OTTL condition (a Boolean Expression without `where`).
 * @throws OttlError with the column of the first problem.
 */
export function parseCondition(text: string): BoolExpr {
  if (text.trim() === '') throw new OttlError('the condition is empty', 0);
  const p = new Parser(tokenize(text), text);
  const expr = p.boolExpr();
  p.end();
  return expr;
}

/**
 * Parses an OTTL statement: an Editor call, optionally followed by `where` and a condition.
 * @throws OttlError with the column of the first problem.
 */
export function parseStatement(text: string): Statement {
  if (text.trim() === '') throw new OttlError('the statement is empty', 0);
  return new Parser(tokenize(text), text).statement();
}
