import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { BlockSplitter } from './blocks';

const MARKDOWN = 'text/markdown';
/** Finished blocks rendered in one go, at most this many characters per frame. */
const BLOCK_BUDGET = 2000;

export type RenderMode = 'incremental' | 'naive';

/**
 * Renders one growing Markdown message with JupyterLab's own markdown renderer (the
 * notebooks' parser, sanitizer, LaTeX and highlighting). Incremental: finished blocks are
 * rendered once and kept, only the growing tail is re-rendered; at most one render per
 * animation frame and never two in flight. `naive` re-renders the whole text per frame and
 * exists for the render benchmark.
 */
export class MarkdownStream {
  constructor(
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _decorate: (node: HTMLElement) => void,
    readonly mode: RenderMode = 'incremental',
    private readonly _minIntervalMs = 0
  ) {
    this.node = document.createElement('div');
    this.node.className = 'jp-DeltaChat-markdown';
    this._tail = this._newRenderer();
    this.node.appendChild(this._tail.node);
  }

  readonly node: HTMLElement;

  /** The text this view will show once its renders catch up. */
  get text(): string {
    return this._text;
  }

  /** Number of renders performed (the benchmark reads it). */
  get renders(): number {
    return this._renders;
  }

  /** Resolves when everything set so far is on screen. */
  idle(): Promise<void> {
    if (!this._busy && !this._pendingWork()) {
      return Promise.resolve();
    }
    return new Promise(resolve => this._idleWaiters.push(resolve));
  }

  /** The stream ended: render the tail once more, this time with its math typeset. */
  finish(): void {
    if (this._final) {
      return;
    }
    this._final = true;
    this._shownTail = null;
    this._schedule();
  }

  /** The full text so far; usually the previous text plus a delta. */
  setText(text: string): void {
    if (text === this._text) {
      return;
    }
    if (!text.startsWith(this._text)) {
      this._restart();
    }
    this._text = text;
    this._schedule();
  }

  dispose(): void {
    this._disposed = true;
    cancelAnimationFrame(this._frame);
    window.clearTimeout(this._frame);
    this._tail.dispose?.();
    this._flushIdle();
  }

  private _restart(): void {
    this.node.textContent = '';
    this._splitter = new BlockSplitter();
    this._stableEnd = 0;
    this._shownTail = null;
    this._tail = this._newRenderer();
    this.node.appendChild(this._tail.node);
  }

  private _pendingWork(): boolean {
    if (this.mode === 'naive') {
      return this._shownTail !== this._text;
    }
    this._splitter.feed(this._text);
    return (
      this._splitter.lastBoundary > this._stableEnd ||
      this._shownTail !== this._text.slice(this._stableEnd)
    );
  }

  private _schedule(): void {
    if (this._busy || this._frame || this._disposed) {
      return;
    }
    const wait = this._lastRender + this._minIntervalMs - performance.now();
    if (wait > 0) {
      this._frame = window.setTimeout(() => {
        this._frame = requestAnimationFrame(() => void this._step());
      }, wait);
      return;
    }
    this._frame = requestAnimationFrame(() => void this._step());
  }

  private async _step(): Promise<void> {
    this._frame = 0;
    if (this._disposed) {
      return;
    }
    if (!this._pendingWork()) {
      this._flushIdle();
      return;
    }
    this._busy = true;
    try {
      if (this.mode === 'naive') {
        await this._renderTail(this._text);
      } else if (this._splitter.lastBoundary > this._stableEnd) {
        await this._renderFinishedBlocks();
      } else {
        await this._renderTail(this._text.slice(this._stableEnd));
      }
    } catch (error) {
      console.warn('jupyter-deltachat: markdown render failed', error);
    } finally {
      this._busy = false;
      this._lastRender = performance.now();
    }
    if (this._pendingWork()) {
      this._schedule();
    } else {
      this._flushIdle();
    }
  }

  /** Render the next finished blocks (up to a budget) into a kept element before the tail. */
  private async _renderFinishedBlocks(): Promise<void> {
    const start = this._stableEnd;
    let end = this._splitter.lastBoundary;
    for (const boundary of this._splitter.boundaries) {
      if (boundary > start) {
        end = boundary;
        if (boundary - start >= BLOCK_BUDGET) {
          break;
        }
      }
    }
    const renderer = this._newRenderer();
    this.node.insertBefore(renderer.node, this._tail.node);
    this._stableEnd = end;
    this._shownTail = null;
    await this._render(renderer, this._text.slice(start, end), true);
  }

  private async _renderTail(text: string): Promise<void> {
    this._shownTail = text;
    await this._render(this._tail, text, this._final);
  }

  /** Math in a still-growing tail is typeset only once the stream has ended (it is costly). */
  private async _render(
    renderer: IRenderMime.IRenderer,
    text: string,
    typeset: boolean
  ): Promise<void> {
    this._renders++;
    const model = new MimeModel({ data: { [MARKDOWN]: text }, trusted: false });
    await renderer.renderModel(model);
    if (typeset) {
      // Renderers outside a Lumino attach cycle skip typesetting; do what notebooks do.
      await this._rendermime.latexTypesetter?.typeset(renderer.node);
    }
    this._decorate(renderer.node);
  }

  private _newRenderer(): IRenderMime.IRenderer {
    const renderer = this._rendermime.createRenderer(MARKDOWN);
    renderer.addClass('jp-DeltaChat-block');
    return renderer;
  }

  private _flushIdle(): void {
    const waiters = this._idleWaiters;
    this._idleWaiters = [];
    waiters.forEach(resolve => resolve());
  }

  private _text = '';
  private _tail: IRenderMime.IRenderer;
  private _splitter = new BlockSplitter();
  private _stableEnd = 0;
  private _shownTail: string | null = null;
  private _busy = false;
  private _frame = 0;
  private _lastRender = 0;
  private _renders = 0;
  private _disposed = false;
  private _final = false;
  private _idleWaiters: Array<() => void> = [];
}
