import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { BlockSplitter } from './blocks';

const MARKDOWN = 'text/markdown';
/** Finished blocks rendered together into one kept element, up to about this many characters. */
const CHUNK_CHARS = 2000;
/** Main-thread time one step may spend on finished blocks before letting the browser paint. */
const STEP_BUDGET_MS = 12;
/** Least time between two renders of the growing tail, unless the settings say otherwise. */
export const DEFAULT_TAIL_INTERVAL_MS = 100;

export type RenderMode = 'incremental' | 'naive';

/**
 * Renders one growing Markdown message with JupyterLab's own markdown renderer (the
 * notebooks' parser, sanitizer, LaTeX and highlighting).
 *
 * Incremental: the text is cut at block boundaries (`BlockSplitter`); finished blocks are
 * parsed, sanitized and typeset once, into kept elements, and only the growing tail (the
 * last, unfinished block) is re-rendered. Both happen in one step per tick of
 * `tailIntervalMs`, inside an animation frame, never two steps in flight. A backlog of
 * finished blocks (a fast stream, a reload) is worked off within a time budget per frame,
 * so no task grows long.
 * `naive` re-renders the whole text each time and exists for the render benchmark.
 */
export class MarkdownStream {
  constructor(
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _decorate: (node: HTMLElement) => void,
    readonly mode: RenderMode = 'incremental',
    private readonly _tailIntervalMs = DEFAULT_TAIL_INTERVAL_MS
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

  /** Text added at the end (a delta): O(delta), unlike `setText`, which compares it all. */
  append(delta: string): void {
    if (delta) {
      this._text += delta;
      this._schedule();
    }
  }

  /** The full text so far; a text that does not go on from the current one restarts. */
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
    this._cancel();
    this._tail.dispose?.();
    this._flushIdle();
  }

  private _restart(): void {
    this._cancel();
    this.node.textContent = '';
    this._splitter = new BlockSplitter();
    this._stableEnd = 0;
    this._shownTail = null;
    this._tail = this._newRenderer();
    this.node.appendChild(this._tail.node);
  }

  private _cancel(): void {
    cancelAnimationFrame(this._frame);
    window.clearTimeout(this._timer);
    this._frame = 0;
    this._timer = 0;
  }

  /** Finished blocks not rendered yet (finds the boundaries in text added since). */
  private _backlog(): boolean {
    if (this.mode === 'naive') {
      return false;
    }
    this._splitter.feed(this._text);
    return this._splitter.lastBoundary > this._stableEnd;
  }

  private _pendingWork(): boolean {
    return this._backlog() || this._shownTail !== this._text.slice(this._stableEnd);
  }

  /**
   * One step per tick of `tailIntervalMs` (finished blocks and the tail together, so the
   * page lays out and paints once per tick); the final render, and a backlog left over by
   * the last step's time budget, go at the next animation frame.
   */
  private _schedule(): void {
    if (this._busy || this._frame || this._timer || this._disposed) {
      return;
    }
    const wait =
      this.mode === 'naive' || this._final || this._catchingUp
        ? 0
        : this._lastStep + this._tailIntervalMs - performance.now();
    if (wait > 0) {
      this._timer = window.setTimeout(() => {
        this._timer = 0;
        this._requestFrame();
      }, wait);
    } else {
      this._requestFrame();
    }
  }

  private _requestFrame(): void {
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      void this._step();
    });
  }

  private async _step(): Promise<void> {
    if (this._disposed) {
      return;
    }
    this._busy = true;
    try {
      if (this.mode === 'naive') {
        await this._renderTail(this._text);
      } else {
        await this._renderBacklog();
        if (this._backlog()) {
          // Still behind: the old tail overlaps the blocks just kept, so hide it for now.
          if (this._shownTail) {
            await this._renderTail('');
          }
        } else if (this._shownTail !== this._text.slice(this._stableEnd)) {
          await this._renderTail(this._text.slice(this._stableEnd));
        }
      }
    } catch (error) {
      console.warn('jupyter-deltachat: markdown render failed', error);
    } finally {
      this._busy = false;
      this._lastStep = performance.now();
      this._catchingUp = this._backlog();
    }
    if (this._disposed) {
      return;
    }
    if (this._pendingWork()) {
      this._schedule();
    } else {
      this._flushIdle();
    }
  }

  /** Render finished blocks into kept elements before the tail, within the step's budget. */
  private async _renderBacklog(): Promise<void> {
    const started = performance.now();
    while (this._backlog() && performance.now() - started < STEP_BUDGET_MS) {
      const start = this._stableEnd;
      let end = this._splitter.lastBoundary;
      for (const boundary of this._splitter.boundaries) {
        if (boundary > start) {
          end = boundary;
          if (boundary - start >= CHUNK_CHARS) {
            break;
          }
        }
      }
      const renderer = this._newRenderer();
      this.node.insertBefore(renderer.node, this._tail.node);
      this._stableEnd = end;
      await this._render(renderer, this._text.slice(start, end), true);
    }
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
    if (!text) {
      return;
    }
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
  private _timer = 0;
  private _lastStep = 0;
  private _catchingUp = false;
  private _renders = 0;
  private _disposed = false;
  private _final = false;
  private _idleWaiters: Array<() => void> = [];
}
