import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { BlockSplitter, codeBlocks, escapeRawHtml, withoutFenceInfo } from './blocks';

const MARKDOWN = 'text/markdown';
/**
 * Finished blocks rendered together into one kept element, up to about this many characters.
 * Each kept element has a fixed cost (a render, a typeset call, a frame); a full-speed 200 KB
 * reply was on screen 4.2 s after its end with 8,000, 6.9 s with 2,000 (render_bench, a
 * loaded machine). A paced stream's steps hold far less, so this only sizes a backlog's.
 */
const CHUNK_CHARS = 8000;
/**
 * Main-thread time one step may spend on finished blocks before letting the browser paint.
 * Each step costs a style, layout and paint pass besides (in a trace of a full-speed 200 KB
 * reply, those passes took about three times the steps' 12 ms), so a backlog is worked off
 * in fewer, fuller steps, still well under a long task (50 ms) with the frame's own passes.
 */
const STEP_BUDGET_MS = 24;
/** Least time between two renders of the growing tail, unless the settings say otherwise. */
export const DEFAULT_TAIL_INTERVAL_MS = 100;

/**
 * `incremental` typesets a finished block's math once it is on screen and the renderer has
 * caught up with the text (the rest when the reply has ended and the browser is idle), all
 * blocks in view in one call, and shows a code block as plain text until it closes;
 * `previous` is the session-4 design (the same, but one typeset call per block); `eager`
 * typesets each finished block's math at once, on screen or not (the session-2 design);
 * `naive` re-renders the whole text each time. All but `incremental` exist for
 * benchmarks/render_bench.py.
 */
export type RenderMode = 'incremental' | 'previous' | 'eager' | 'naive';

/**
 * Called once per rendered block; `code` gives the source text of each code block in it, in
 * order (it lexes the block's text, so it is called only when the block shows code).
 */
export type Decorate = (node: HTMLElement, code: () => string[]) => void;

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
 * Math in finished blocks is typeset on screen first, all blocks in view in one call (`MathQueue`).
 */
export class MarkdownStream {
  constructor(
    rendermime: IRenderMimeRegistry,
    private readonly _decorate: Decorate,
    readonly mode: RenderMode = 'incremental',
    private readonly _tailIntervalMs = DEFAULT_TAIL_INTERVAL_MS
  ) {
    this._rendermime = replyRendermime(rendermime, this._loadedImages);
    this.node = document.createElement('div');
    this.node.className = 'jp-DeltaChat-markdown';
    this.node.addEventListener('click', event => this._loadImage(event));
    this._math = new MathQueue(
      this._rendermime.latexTypesetter,
      this.node,
      () => {
        if (!this._busy && !this._frame && !this._timer && !this._pendingWork()) {
          this._flushIdle();
        }
      },
      mode === 'incremental'
    );
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

  /**
   * Resolves when everything set so far is on screen: every block rendered, the math of
   * those in view typeset (math further off screen follows in idle time: `settled`).
   */
  idle(): Promise<void> {
    if (!this._busy && !this._pendingWork() && !this._math.visiblePending) {
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
    this._math.dispose();
    this._tail.dispose?.();
    this._flushIdle();
  }

  private _restart(): void {
    this._cancel();
    this._math.clear();
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

  /** Whether finished blocks' math goes to the queue (else it is typeset at once). */
  private get _queued(): boolean {
    return this.mode === 'incremental' || this.mode === 'previous';
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
      // Blocks only pass through the view while a backlog is worked off: their math waits.
      this._math.held = this._catchingUp && this._queued;
    }
    if (this._disposed) {
      return;
    }
    if (this._pendingWork()) {
      this._schedule();
      return;
    }
    if (this._final) {
      // Math out of view waits until the whole reply is on screen, not to delay that.
      this._math.background = true;
    }
    if (!this._math.visiblePending) {
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
    const fenceAt = this._splitter.openFenceAt - this._stableEnd;
    const shown =
      !this._final && this._queued && fenceAt >= 0
        ? withoutFenceInfo(text, fenceAt)
        : text;
    await this._render(this._tail, shown, this._final);
  }

  /**
   * Math in a still-growing tail is typeset only once the stream has ended (it is costly);
   * a finished block's math goes to the queue, unless the mode typesets it at once.
   */
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
    if (typeset && (renderer === this._tail || !this._queued)) {
      // Renderers outside a Lumino attach cycle skip typesetting; do what notebooks do.
      await this._rendermime.latexTypesetter?.typeset(renderer.node);
    }
    this._decorate(renderer.node, () => codeBlocks(text));
    if (typeset && renderer !== this._tail && this._queued) {
      this._math.add(renderer.node, text);
    }
  }

  /** A click on a held image's button: this message may now load that image, and does. */
  private _loadImage(event: MouseEvent): void {
    const target = event.target as Element | null;
    const load = target?.closest?.(`.${IMAGE_LOAD_CLASS}`);
    const held = load?.closest(`.${HELD_IMAGE_CLASS}`);
    if (!held || !this.node.contains(held)) {
      return;
    }
    event.preventDefault(); // a held image inside a link loads; the link is not followed
    const src = held.getAttribute(HELD_SRC) ?? '';
    this._loadedImages.add(src);
    const image = document.createElement('img');
    image.alt = held.getAttribute(HELD_ALT) ?? '';
    const title = held.getAttribute(HELD_TITLE);
    if (title !== null) {
      image.title = title;
    }
    image.src = src;
    held.replaceWith(image);
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

  private readonly _rendermime: IRenderMimeRegistry;
  private readonly _math: MathQueue;
  /** Remote images the user chose to load in this message (its later renders keep them). */
  private readonly _loadedImages = new Set<string>();
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

/** Text that may hold math for JupyterLab's typesetter: every delimiter has a `$` or a backslash. */
const MATH_CANDIDATE = /[$\\]/;
/** Longest wait for an idle moment before typesetting math out of view anyway. */
const IDLE_TIMEOUT_MS = 1000;
/**
 * Most block text whose math one call typesets out of view (in idle time), so that call
 * stays well under a long task; the blocks in view go in one call whatever their size.
 */
const IDLE_BATCH_CHARS = 16000;

/**
 * What JupyterLab's MathJax 3 typesetter (@jupyterlab/mathjax-extension) exposes besides
 * `typeset`: the one MathJax document it renders every element with.
 */
interface IMathJaxTypesetter extends IRenderMime.ILatexTypesetter {
  mathDocument(): Promise<{
    options: { elements?: HTMLElement[] };
    clear(): { render(): unknown };
  }>;
}

function isMathJaxTypesetter(
  typesetter: IRenderMime.ILatexTypesetter
): typesetter is IMathJaxTypesetter {
  return typeof (typesetter as Partial<IMathJaxTypesetter>).mathDocument === 'function';
}

/**
 * Typesets the math of several elements in one MathJax render: MathJax measures the font
 * around its math (`getMetrics`, a forced layout) once per render, so one render for all the
 * blocks of a frame costs one layout instead of one per block. Links in the math get what
 * JupyterLab's own `typeset` gives them (`noopener`, a new tab). Other typesetters (KaTeX)
 * typeset element by element.
 */
async function typesetAll(
  typesetter: IRenderMime.ILatexTypesetter,
  elements: HTMLElement[]
): Promise<void> {
  if (!isMathJaxTypesetter(typesetter)) {
    for (const element of elements) {
      await typesetter.typeset(element);
    }
    return;
  }
  const document = await typesetter.mathDocument();
  const connected = elements.filter(element => element.isConnected);
  if (!connected.length) {
    return;
  }
  document.options.elements = connected;
  try {
    document.clear().render();
  } finally {
    delete document.options.elements;
  }
  for (const element of connected) {
    for (const link of element.querySelectorAll<HTMLAnchorElement>('.MathJax a')) {
      const rel = new Set(link.rel.split(/\s+/).filter(Boolean));
      rel.add('noopener');
      link.rel = [...rel].join(' ');
      link.target = '_blank';
    }
  }
}

/**
 * Typesets the math of finished blocks, in batches, each in its own task so input and
 * painting go between: all blocks in view in one call (an IntersectionObserver reports
 * them), the others once `background` is set (the reply ended), in idle time, a bounded
 * batch per idle moment. Typesetting is most of a reply's render cost, and each call lays
 * out the page (MathJax measures the font around the math), so math out of view waits while
 * the reply streams, and a call takes every block it can (`typesetAll`). The root carries
 * `data-math-pending` while any math waits.
 */
class MathQueue {
  constructor(
    private readonly _typesetter: IRenderMime.ILatexTypesetter | null,
    private readonly _root: HTMLElement,
    private readonly _onVisibleDone: () => void,
    private readonly _batch: boolean
  ) {
    this._observer = new IntersectionObserver(entries => this._seen(entries));
  }

  /** Whether math in view (or not yet known to be out of view) still waits. */
  get visiblePending(): boolean {
    return this._unseen.size > 0 || this._visible.size > 0 || this._currentVisible;
  }

  /** While set, no math is typeset (the renderer is catching up: blocks only pass by). */
  set held(value: boolean) {
    if (this._held !== value) {
      this._held = value;
      void this._pump();
    }
  }

  /** The reply ended and is all on screen: typeset the math out of view too, in idle time. */
  set background(value: boolean) {
    this._background = value;
    void this._pump();
  }

  /** Queue the math of a finished block (in the document), if its text may hold any. */
  add(block: HTMLElement, text: string): void {
    if (!this._typesetter || !MATH_CANDIDATE.test(text)) {
      return;
    }
    this._waiting.set(block, text.length);
    this._unseen.add(block);
    this._observer.observe(block);
    this._mark();
  }

  /** Forget all waiting math (the text restarted). */
  clear(): void {
    this._observer.disconnect();
    this._waiting.clear();
    this._unseen.clear();
    this._visible.clear();
    this._mark();
  }

  dispose(): void {
    this._disposed = true;
    this.clear();
  }

  private _seen(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const element = entry.target as HTMLElement;
      this._unseen.delete(element);
      if (entry.isIntersecting && this._waiting.has(element)) {
        this._visible.add(element);
      } else {
        this._visible.delete(element);
      }
    }
    if (this._running) {
      return;
    }
    if (this.visiblePending) {
      void this._pump();
    } else {
      this._onVisibleDone();
      void this._pump();
    }
  }

  /** The next blocks to typeset together: those in view, else (idle) a batch of the rest. */
  private _nextBatch(idle: boolean): HTMLElement[] {
    if (!this._batch) {
      const next = first(this._visible) ?? (idle ? first(this._waiting.keys()) : undefined);
      return next ? [next] : [];
    }
    if (this._visible.size || !idle) {
      return [...this._visible];
    }
    const batch: HTMLElement[] = [];
    let chars = 0;
    for (const [block, length] of this._waiting) {
      if (batch.length && chars + length > IDLE_BATCH_CHARS) {
        break;
      }
      batch.push(block);
      chars += length;
    }
    return batch;
  }

  private async _pump(): Promise<void> {
    if (this._running || this._held || this._disposed || !this._typesetter) {
      return;
    }
    this._running = true;
    try {
      for (;;) {
        let batch = this._nextBatch(false);
        if (!batch.length) {
          if (!this._background || !this._waiting.size || this._unseen.size) {
            break;
          }
          await idleMoment();
          if (this._disposed || this._held) {
            break;
          }
          batch = this._nextBatch(true);
          if (!batch.length) {
            break;
          }
        }
        this._currentVisible = batch.some(block => this._visible.has(block));
        for (const block of batch) {
          this._visible.delete(block);
          this._waiting.delete(block);
          this._unseen.delete(block);
          this._observer.unobserve(block);
        }
        await typesetAll(this._typesetter, batch);
        this._currentVisible = false;
        this._mark();
        if (!this.visiblePending) {
          this._onVisibleDone();
        }
        await nextTask();
        if (this._disposed || this._held) {
          break;
        }
      }
    } finally {
      this._running = false;
      this._currentVisible = false;
    }
  }

  private _mark(): void {
    const pending = this._waiting.size > 0;
    if (pending !== (this._root.dataset.mathPending !== undefined)) {
      if (pending) {
        this._root.dataset.mathPending = '';
      } else {
        delete this._root.dataset.mathPending;
      }
    }
  }

  private readonly _observer: IntersectionObserver;
  /** Elements whose math is not typeset yet, in document order, with their text's length. */
  private readonly _waiting = new Map<HTMLElement, number>();
  /** Waiting elements the observer has not reported on yet. */
  private readonly _unseen = new Set<HTMLElement>();
  /** Waiting elements in view. */
  private readonly _visible = new Set<HTMLElement>();
  private _background = false;
  private _held = false;
  private _running = false;
  private _currentVisible = false;
  private _disposed = false;
}

function first<T>(items: Iterable<T>): T | undefined {
  return items[Symbol.iterator]().next().value;
}

/** Resolves in a new task, so input and painting may go first. */
function nextTask(): Promise<void> {
  return new Promise(resolve => window.setTimeout(resolve, 0));
}

function idleMoment(): Promise<void> {
  return new Promise(resolve =>
    window.requestIdleCallback(() => resolve(), { timeout: IDLE_TIMEOUT_MS })
  );
}

/** Largest `data:` image a reply may show without a click (characters of its URL). */
const MAX_DATA_IMAGE_CHARS = 256 * 1024;
const DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp)[;,]/i;
const HELD_IMAGE_CLASS = 'jp-DeltaChat-heldImage';
const IMAGE_LOAD_CLASS = 'jp-DeltaChat-loadImage';
const HELD_SRC = 'data-src';
const HELD_ALT = 'data-alt';
const HELD_TITLE = 'data-title';
/** Attributes marked, the highlighter and mermaid put on elements; all else is dropped. */
const KEPT_ATTRIBUTES = new Set([
  'align',
  'alt',
  'checked',
  'class',
  'colspan',
  'data-jupyter-id',
  'disabled',
  'height',
  'href',
  'id',
  'rowspan',
  'src',
  'start',
  'title',
  'type',
  'width'
]);
/** Classes of code highlighting and of JupyterLab's mermaid figures. */
const KEPT_CLASS = /^(?:language-[\w+#.-]*|cm-[\w-]+|tok-[\w-]+|ͼ[\da-z]+|jp-RenderedMermaid[\w-]*)$/;

/**
 * The registry a reply renders with: JupyterLab's own, whose Markdown parser first shows
 * raw HTML as text (`escapeRawHtml`) and whose sanitizer's output is then held to the
 * elements Markdown makes (`restrictReplyHtml`), before it is ever parsed into live DOM.
 */
function replyRendermime(
  rendermime: IRenderMimeRegistry,
  loadedImages: ReadonlySet<string>
): IRenderMimeRegistry {
  const parser = rendermime.markdownParser;
  const sanitizer = rendermime.sanitizer;
  return rendermime.clone({
    markdownParser: {
      render: async (source: string) =>
        parser ? parser.render(escapeRawHtml(source)) : `<pre>${escapeHtml(source)}</pre>`
    },
    sanitizer: {
      allowNamedProperties: sanitizer.allowNamedProperties,
      getAutolink: () => sanitizer.getAutolink?.() ?? true,
      sanitize: (dirty, options) =>
        restrictReplyHtml(sanitizer.sanitize(dirty, options), loadedImages)
    }
  });
}

/**
 * Sanitized reply HTML, held in an inert template (nothing in it loads or runs): keeps only
 * the attributes and classes Markdown rendering makes, and turns every image that would
 * load from another origin (or is an SVG or a large `data:` URL) into a placeholder with a
 * button that loads it on click, unless this message already loaded it.
 */
export function restrictReplyHtml(html: string, loadedImages: ReadonlySet<string>): string {
  const template = document.createElement('template');
  template.innerHTML = html;
  for (const element of template.content.querySelectorAll('*')) {
    for (const name of element.getAttributeNames()) {
      if (!KEPT_ATTRIBUTES.has(name)) {
        element.removeAttribute(name);
      }
    }
    const classes = [...element.classList].filter(name => KEPT_CLASS.test(name));
    if (classes.length) {
      element.className = classes.join(' ');
    } else {
      element.removeAttribute('class');
    }
  }
  for (const image of template.content.querySelectorAll('img')) {
    const src = image.getAttribute('src') ?? '';
    if (!imageLoadsWithoutClick(src, image, loadedImages)) {
      image.replaceWith(heldImage(image, src));
    }
  }
  return template.innerHTML;
}

function imageLoadsWithoutClick(
  src: string,
  image: Element,
  loadedImages: ReadonlySet<string>
): boolean {
  if (loadedImages.has(src)) {
    return true;
  }
  if (/^\s*data:/i.test(src)) {
    if (image.closest('.jp-RenderedMermaid') && /^data:image\/svg\+xml,/.test(src)) {
      return true; // JupyterLab's own mermaid figure: an SVG image can neither run nor fetch
    }
    return DATA_IMAGE.test(src) && src.length <= MAX_DATA_IMAGE_CHARS;
  }
  const url = parseUrl(src);
  return (
    url !== null &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.origin === window.location.origin
  );
}

function heldImage(image: Element, src: string): HTMLElement {
  const doc = image.ownerDocument;
  const url = parseUrl(src);
  const held = doc.createElement('span');
  held.className = HELD_IMAGE_CLASS;
  held.setAttribute(HELD_SRC, src);
  const alt = image.getAttribute('alt') ?? '';
  held.setAttribute(HELD_ALT, alt);
  const title = image.getAttribute('title');
  if (title !== null) {
    held.setAttribute(HELD_TITLE, title);
  }
  const label = doc.createElement('span');
  label.className = 'jp-DeltaChat-heldImageAlt';
  label.textContent = alt || 'Image';
  held.append(label);
  if (url?.protocol === 'http:' || url?.protocol === 'https:') {
    const button = doc.createElement('button');
    button.type = 'button';
    button.className = `jp-DeltaChat-button ${IMAGE_LOAD_CLASS}`;
    button.textContent = `Load image from ${url.host}`;
    button.title = `Load ${src.length > 200 ? `${src.slice(0, 200)}…` : src}`;
    held.append(button);
  }
  return held;
}

function parseUrl(src: string): URL | null {
  try {
    return new URL(src, document.baseURI);
  } catch {
    return null;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
