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
      } else if (line.trim().startsWith('$$') && !isClosedMath(line.trim())) {
        this._math = true;
      }
    }
    this._afterBlank = blank && !this._fence && !this._math;
  }

  private _scanned = 0;
  private _fence = '';
  private _math = false;
  private _afterBlank = false;
  /** Whether the current block has had a non-blank line, and whether that began a list. */
  private _blockStarted = false;
  private _inList = false;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})/;
const LIST_ITEM = /^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;

function isClosedMath(trimmed: string): boolean {
  return trimmed.length > 4 && trimmed.endsWith('$$');
}
