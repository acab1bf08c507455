// A small JSON reader: the request becomes a tree of JsonValue.
//
// AssemblyScript has no exceptions to catch, so a malformed request ends the program: the
// reason goes to stderr and the exit status is 1 (agenthost then fails closed). agenthost
// only sends valid JSON, so that is a last resort, not a code path policies need.

/** What a JsonValue is. `Missing` stands for a member that is not there. */
export enum Kind {
  Missing,
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/**
 * One JSON value. Lookups never return null: `get` on a non-object or an absent key gives a
 * value of kind `Missing`, so lookups chain (`request.get("run").get("changed_files")`).
 */
export class JsonValue {
  constructor(
    /** What this value is. */
    public readonly kind: Kind,
    /** A string's text ("" for every other kind: this reader keeps no numbers). */
    public readonly text: string = "",
    /** An array's items, or an object's values (parallel to `names`). */
    private readonly list: JsonValue[] | null = null,
    /** An object's keys, in input order. */
    private readonly names: string[] | null = null,
  ) {}

  get isString(): bool {
    return this.kind == Kind.String;
  }

  /** Whether this is an object with the member `key`. */
  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }

  /** The member `key` of this object (the first, if repeated), or a Missing value. */
  get(key: string): JsonValue {
    const index = this.indexOf(key);
    return index >= 0 ? this.list![index] : MISSING;
  }

  /** This object's keys in input order ([] unless an object). */
  keys(): string[] {
    return this.kind == Kind.Object ? this.names!.slice(0) : [];
  }

  /** This array's items ([] unless an array). */
  items(): JsonValue[] {
    return this.kind == Kind.Array ? this.list!.slice(0) : [];
  }

  private indexOf(key: string): i32 {
    if (this.kind != Kind.Object) return -1;
    const names = this.names!;
    for (let i = 0; i < names.length; i++) {
      if (names[i] == key) return i;
    }
    return -1;
  }
}

// One instance of each value that carries nothing.
const MISSING = new JsonValue(Kind.Missing);
const NULL = new JsonValue(Kind.Null);
const TRUE = new JsonValue(Kind.Bool, "true");
const FALSE = new JsonValue(Kind.Bool, "false");
const NUMBER = new JsonValue(Kind.Number);

/**
 * Parses `data` (UTF-8) as one JSON value; a malformed input ends the program.
 *
 * Object members named in `skip` are scanned but not kept (they read as Missing): review
 * skips the spec and the patch, which can be megabytes, to stay fast and small.
 */
export function parseJson(data: Uint8Array, skip: string[] = []): JsonValue {
  const parser = new Parser(data, skip);
  const value = parser.value(0, true);
  parser.skipSpace();
  if (parser.at < data.length) parser.fail("unexpected text after the JSON value");
  return value;
}

/** Deeper nesting than this is refused rather than overflowing the stack. */
const MAX_DEPTH = 128;

class Parser {
  at: i32 = 0;
  /** Keys seen so far: the same key in a thousand objects is one string. */
  private readonly keys: Map<string, string> = new Map();

  constructor(
    private readonly data: Uint8Array,
    private readonly skip: string[],
  ) {}

  /** The value at the cursor; with `keep` false it is only scanned, and MISSING returned. */
  value(depth: i32, keep: bool): JsonValue {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    this.skipSpace();
    const c = this.peek();
    let value: JsonValue;
    if (c == 0x7b /* { */) value = this.object(depth, keep);
    else if (c == 0x5b /* [ */) value = this.array(depth, keep);
    else if (c == 0x22 /* " */) value = new JsonValue(Kind.String, this.string(keep));
    else if (c == 0x74 /* t */) value = this.literal("true", TRUE);
    else if (c == 0x66 /* f */) value = this.literal("false", FALSE);
    else if (c == 0x6e /* n */) value = this.literal("null", NULL);
    else value = this.number();
    return keep ? value : MISSING;
  }

  object(depth: i32, keep: bool): JsonValue {
    this.at++; // {
    const names = new Array<string>();
    const values = new Array<JsonValue>();
    this.skipSpace();
    if (this.peek() == 0x7d /* } */) {
      this.at++;
      return new JsonValue(Kind.Object, "", values, names);
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() != 0x22) this.fail("expected a key");
      const name = this.key();
      this.skipSpace();
      this.expect(0x3a /* : */, "expected ':'");
      if (keep && !this.skip.includes(name)) {
        names.push(name);
        values.push(this.value(depth + 1, true));
      } else {
        this.value(depth + 1, false);
      }
      this.skipSpace();
      if (this.peek() == 0x2c /* , */) {
        this.at++;
        continue;
      }
      this.expect(0x7d /* } */, "expected ',' or '}'");
      return new JsonValue(Kind.Object, "", values, names);
    }
  }

  array(depth: i32, keep: bool): JsonValue {
    this.at++; // [
    const items = new Array<JsonValue>();
    this.skipSpace();
    if (this.peek() == 0x5d /* ] */) {
      this.at++;
      return new JsonValue(Kind.Array, "", items);
    }
    for (;;) {
      const item = this.value(depth + 1, keep);
      if (keep) items.push(item);
      this.skipSpace();
      if (this.peek() == 0x2c /* , */) {
        this.at++;
        continue;
      }
      this.expect(0x5d /* ] */, "expected ',' or ']'");
      return new JsonValue(Kind.Array, "", items);
    }
  }

  /** An object key: a string, shared with every earlier equal key. */
  key(): string {
    const text = this.string(true);
    if (this.keys.has(text)) return this.keys.get(text);
    this.keys.set(text, text);
    return text;
  }

  /**
   * A string literal, at its opening quote; "" when not kept (and then its escapes are
   * skipped over, not checked).
   */
  string(keep: bool): string {
    const data = this.data;
    const start = ++this.at;
    let end = start;
    let escaped = false;
    for (;;) {
      if (end >= data.length) this.fail("unterminated string");
      const c = unchecked(data[end]);
      if (c == 0x22 /* " */) break;
      if (c < 0x20) {
        this.at = end;
        this.fail("control character in a string");
      }
      if (c == 0x5c /* \ */) {
        escaped = true;
        end += 2; // the backslash and the character after it, which may be a quote
      } else {
        end++;
      }
    }
    this.at = end + 1;
    if (!keep) return "";
    if (!escaped) {
      return String.UTF8.decodeUnsafe(data.dataStart + <usize>start, <usize>(end - start));
    }
    return this.unescape(start, end);
  }

  /** The text of the string between `start` and `end` (its closing quote), unescaped. */
  private unescape(start: i32, end: i32): string {
    const data = this.data;
    // The UTF-8 of the text is never longer than its escaped source.
    const out = new Uint8Array(end - start);
    let n = 0;
    this.at = start;
    while (this.at < end) {
      const c = data[this.at++];
      if (c != 0x5c) {
        out[n++] = c;
        continue;
      }
      const e = data[this.at++];
      if (e == 0x22 || e == 0x5c || e == 0x2f) out[n++] = e;
      else if (e == 0x62 /* b */) out[n++] = 0x08;
      else if (e == 0x66 /* f */) out[n++] = 0x0c;
      else if (e == 0x6e /* n */) out[n++] = 0x0a;
      else if (e == 0x72 /* r */) out[n++] = 0x0d;
      else if (e == 0x74 /* t */) out[n++] = 0x09;
      else if (e == 0x75 /* u */) n = putUtf8(out, n, this.escapedCodePoint(end));
      else {
        this.at--;
        this.fail("invalid escape in a string");
      }
    }
    this.at = end + 1;
    return String.UTF8.decodeUnsafe(out.dataStart, <usize>n);
  }

  /** The code point of `\uXXXX` (after the `u`), or of a surrogate pair `\uD83D\uDE00`. */
  private escapedCodePoint(end: i32): i32 {
    const point = this.hex4(end);
    if (point >= 0xdc00 && point < 0xe000) this.fail("lone surrogate in a string");
    if (point < 0xd800 || point >= 0xdc00) return point;
    // A high surrogate must come with its low half.
    if (this.at + 2 > end || this.data[this.at] != 0x5c || this.data[this.at + 1] != 0x75) {
      this.fail("lone surrogate in a string");
    }
    this.at += 2;
    const low = this.hex4(end);
    if (low < 0xdc00 || low >= 0xe000) this.fail("lone surrogate in a string");
    return 0x10000 + ((point - 0xd800) << 10) + (low - 0xdc00);
  }

  /** Four hex digits, all before `end`. */
  private hex4(end: i32): i32 {
    let value = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.at < end ? <i32>this.data[this.at] : 0;
      let digit = -1;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
      if (digit < 0) this.fail("invalid \\u escape in a string");
      value = (value << 4) | digit;
      this.at++;
    }
    return value;
  }

  /** A number: checked, not kept (this policy never needs one). */
  number(): JsonValue {
    if (this.peek() == 0x2d /* - */) this.at++;
    if (this.peek() == 0x30 /* 0 */) this.at++;
    else if (!this.digits()) this.fail("expected a value");
    if (this.peek() == 0x2e /* . */) {
      this.at++;
      if (!this.digits()) this.fail("expected a digit");
    }
    if (this.peek() == 0x65 || this.peek() == 0x45 /* e E */) {
      this.at++;
      if (this.peek() == 0x2b || this.peek() == 0x2d /* + - */) this.at++;
      if (!this.digits()) this.fail("expected a digit");
    }
    return NUMBER;
  }

  private digits(): bool {
    const start = this.at;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.at++;
    return this.at > start;
  }

  private literal(word: string, value: JsonValue): JsonValue {
    for (let k = 0; k < word.length; k++) {
      if (<i32>this.peek() != word.charCodeAt(k)) this.fail("expected a value");
      this.at++;
    }
    return value;
  }

  skipSpace(): void {
    const data = this.data;
    while (this.at < data.length) {
      const c = unchecked(data[this.at]);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.at++;
    }
  }

  /** The byte at the cursor, or 0 at the end. */
  private peek(): u8 {
    return this.at < this.data.length ? unchecked(this.data[this.at]) : 0;
  }

  private expect(c: u8, message: string): void {
    if (this.peek() != c) this.fail(message);
    this.at++;
  }

  fail(message: string): void {
    const where = this.at < this.data.length ? "at byte " + this.at.toString() : "at the end";
    process.stderr.write("protected-paths: the request is not valid JSON: " + message + " " + where + "\n");
    process.exit(1);
  }
}

/** Appends the UTF-8 encoding of `point` to `out` at `n`; returns the new length. */
function putUtf8(out: Uint8Array, n: i32, point: i32): i32 {
  if (point < 0x80) {
    out[n++] = <u8>point;
  } else if (point < 0x800) {
    out[n++] = <u8>(0xc0 | (point >> 6));
    out[n++] = <u8>(0x80 | (point & 0x3f));
  } else if (point < 0x10000) {
    out[n++] = <u8>(0xe0 | (point >> 12));
    out[n++] = <u8>(0x80 | ((point >> 6) & 0x3f));
    out[n++] = <u8>(0x80 | (point & 0x3f));
  } else {
    out[n++] = <u8>(0xf0 | (point >> 18));
    out[n++] = <u8>(0x80 | ((point >> 12) & 0x3f));
    out[n++] = <u8>(0x80 | ((point >> 6) & 0x3f));
    out[n++] = <u8>(0x80 | (point & 0x3f));
  }
  return n;
}

/** `s` as a JSON string literal. */
export function quote(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(start, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    start = i + 1;
  }
  return out + s.substring(start) + '"';
}
