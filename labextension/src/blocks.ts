import { Lexer, Token, Tokens } from 'marked';

/**
 * Finds where finished Markdown blocks end in a growing text, so the renderer can keep
 * them and re-render only the tail. A boundary is the start of a non-indented line that
 * follows a blank line, outside fenced code and `$$` math, except a list item that goes on
 * a list (a loose list stays one block, so it renders as one list, as in a one-shot
 * render). Scans each line once.
 */
export class BlockSplitter {
  /** Offsets where a new block starts, in increasing order. */
  readonly boundaries: number[] = [];

  /** Scan the complete lines of `text` not seen yet; `text` only ever grows. */
  feed(text: string): void {
    let pos = this._scanned;
    for (;;) {
      const end = text.indexOf('\n', pos);
      if (end < 0) {
        break;
      }
      this._line(text, pos, end);
      pos = end + 1;
    }
    this._scanned = pos;
  }

  /**
   * Where the line opening a still unclosed code fence starts in the scanned text (its
   * closing line, if any, is not complete yet); -1 outside a fence.
   */
  get openFenceAt(): number {
    return this._fence ? this._fenceAt : -1;
  }

  /** The last boundary at or before the end of the scanned text; 0 if none. */
  get lastBoundary(): number {
    return this.boundaries.length ? this.boundaries[this.boundaries.length - 1] : 0;
  }

  private _line(text: string, start: number, end: number): void {
    const line = text.slice(start, end);
    const blank = line.trim() === '';
    if (this._fence) {
      const close = FENCE.exec(line);
      if (
        close &&
        close[2][0] === this._fence[0] &&
        close[2].length >= this._fence.length &&
        line.trim() === close[2].trim()
      ) {
        this._fence = '';
      }
    } else if (this._math) {
      if (line.trim() === '$$' || line.trimEnd().endsWith('$$')) {
        this._math = false;
      }
    } else {
      const item = LIST_ITEM.test(line);
      if (
        this._afterBlank &&
        !blank &&
        start > 0 &&
        !/^[ \t]/.test(line) &&
        start !== this.lastBoundary &&
        !(item && this._inList)
      ) {
        this.boundaries.push(start);
        this._blockStarted = false;
      }
      if (!blank && !this._blockStarted) {
        this._blockStarted = true;
        this._inList = item;
      }
      const open = FENCE.exec(line);
      if (open) {
        this._fence = open[2];
        this._fenceAt = start;
      } else if (line.trim().startsWith('$$') && !isClosedMath(line.trim())) {
        this._math = true;
      }
    }
    this._afterBlank = blank && !this._fence && !this._math;
  }

  private _scanned = 0;
  private _fence = '';
  private _fenceAt = 0;
  private _math = false;
  private _afterBlank = false;
  /** Whether the current block has had a non-blank line, and whether that began a list. */
  private _blockStarted = false;
  private _inList = false;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})/;
const LIST_ITEM = /^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;

/**
 * `markdown` with the info string (the language) of the fence line at `lineStart` removed,
 * so a code block still growing renders as plain text: highlighting it again on every
 * render of the tail costs time in its length, and it is highlighted once it closes.
 */
export function withoutFenceInfo(markdown: string, lineStart: number): string {
  const end = markdown.indexOf('\n', lineStart);
  const line = markdown.slice(lineStart, end < 0 ? undefined : end);
  const open = FENCE.exec(line);
  if (!open) {
    return markdown;
  }
  return markdown.slice(0, lineStart) + open[0] + markdown.slice(lineStart + line.length);
}

function isClosedMath(trimmed: string): boolean {
  return trimmed.length > 4 && trimmed.endsWith('$$');
}

/**
 * Marks a real `<` (not backslash-escaped) while the reply is lexed: a private-use
 * character, the `<`'s index as private-use hex digits, a private-use terminator. marked
 * treats these as plain text, so nothing they stand for can open HTML during that lex.
 */
const MARK_OPEN = '\uE000';
const MARK_CLOSE = '\uE001';
const MARK_DIGIT = 0xe010;
const MARK = /\uE000([\uE010-\uE01F]+)\uE001/g;
const MARK_CHARS = /[\uE000-\uE01F]/g;
/** What follows the `<` of an autolink (CommonMark's URI autolink, without backticks). */
const AUTOLINK = /[a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s\x00-\x1f<>`\uE000-\uE01F]*>/y;

/**
 * The reply's Markdown with its raw HTML shown as text: every `<` outside code spans and
 * fenced or indented code becomes `&lt;` (which renders as `<`), so a reply can bring no
 * element, attribute, class or style of its own (docs/security.md). Code keeps its text.
 *
 * What is code is decided by marked's lexer, the tokenizer of JupyterLab's Markdown parser,
 * on the text with each `<` replaced by an inert mark (so the result of escaping is what
 * was lexed): marks inside code tokens become `<` again, and so do those that open an
 * autolink (`<https://…>`, no backtick in it, so no code span can change); all others
 * `&lt;`. The result is lexed once more and, should marked find any HTML in it, every `<`
 * is escaped instead. Math is not seen here: JupyterLab takes it out before the parser and
 * escapes it itself.
 */
export function escapeRawHtml(markdown: string): string {
  return neutralized(markdown).markdown;
}

/**
 * The text of each fenced or indented code block `escapeRawHtml(markdown)` renders, in
 * document order: what Copy and Insert take, never the rendered DOM.
 */
export function codeBlocks(markdown: string): string[] {
  return neutralized(markdown).code;
}

interface INeutralized {
  markdown: string;
  /** Lexed only when asked for: most renders have no code block to decorate. */
  readonly code: string[];
}

/** The last text neutralized: a render asks twice (its parser, then its code buttons). */
let lastNeutralized: { source: string; result: INeutralized } | null = null;

function neutralized(markdown: string): INeutralized {
  if (lastNeutralized?.source !== markdown) {
    lastNeutralized = { source: markdown, result: neutralize(markdown) };
  }
  return lastNeutralized.result;
}

function neutralize(markdown: string): INeutralized {
  if (!markdown.includes('<')) {
    return withCode(markdown, () => lex(markdown));
  }
  const source = markdown.replace(MARK_CHARS, '\uFFFD');
  let count = 0;
  let marked = '';
  let from = 0;
  for (let at = source.indexOf('<'); at >= 0; at = source.indexOf('<', at + 1)) {
    if (escapedByBackslash(source, at)) {
      continue;
    }
    marked += source.slice(from, at) + mark(count++);
    from = at + 1;
  }
  marked += source.slice(from);
  const inCode = new Set<string>();
  visit(lex(marked), token => {
    if (token.type === 'code' || token.type === 'codespan') {
      for (const found of (token.text as string).matchAll(MARK)) {
        inCode.add(found[1]);
      }
    }
  });
  const escaped = marked.replace(MARK, (found: string, digits: string, at: number) =>
    inCode.has(digits) || opensAutolink(marked, at + found.length) ? '<' : '&lt;'
  );
  const tokens = lex(escaped);
  let html = false;
  visit(tokens, token => {
    html ||= token.type === 'html';
  });
  if (!html) {
    return withCode(escaped, () => tokens);
  }
  const allEscaped = marked.replace(MARK, '&lt;');
  return withCode(allEscaped, () => lex(allEscaped));
}

function withCode(markdown: string, tokens: () => Token[]): INeutralized {
  let code: string[] | null = null;
  return {
    markdown,
    get code(): string[] {
      code ??= codeTexts(tokens());
      return code;
    }
  };
}

function lex(markdown: string): Token[] {
  return new Lexer({ gfm: true }).lex(markdown);
}

function codeTexts(tokens: Token[]): string[] {
  const code: string[] = [];
  visit(tokens, token => {
    if (token.type === 'code') {
      code.push(token.text as string);
    }
  });
  return code;
}

/** Every token, depth first in document order (marked's `walkTokens` costs half a lex). */
function visit(tokens: Token[], see: (token: Token) => void): void {
  for (const token of tokens) {
    see(token);
    if (token.type === 'table') {
      const table = token as Tokens.Table;
      for (const cell of [...table.header, ...table.rows.flat()]) {
        visit(cell.tokens, see);
      }
    } else if (token.type === 'list') {
      visit((token as Tokens.List).items, see);
    } else if ('tokens' in token && token.tokens) {
      visit(token.tokens, see);
    }
  }
}

function opensAutolink(text: string, at: number): boolean {
  AUTOLINK.lastIndex = at;
  return AUTOLINK.test(text);
}

function mark(index: number): string {
  const digits = [...index.toString(16)].map(digit =>
    String.fromCharCode(MARK_DIGIT + parseInt(digit, 16))
  );
  return MARK_OPEN + digits.join('') + MARK_CLOSE;
}

/** Whether an odd number of backslashes precede `at`: then `\<` is Markdown for a plain `<`. */
function escapedByBackslash(text: string, at: number): boolean {
  let slashes = 0;
  while (at - slashes > 0 && text[at - slashes - 1] === '\\') {
    slashes++;
  }
  return slashes % 2 === 1;
}
