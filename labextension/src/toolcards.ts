import { buildIcon } from '@jupyterlab/ui-components';
import { IChatMessage } from './chatstate';
import { button, iconButton } from './dom';
import {
  codePointLength,
  Decision,
  IAttachment,
  IToolCall,
  IToolInfo,
  ToolChoice,
  ToolStatus
} from './protocol';
import { MarkdownStream } from './render';

/** What tool cards need from the panel: the user's decision on a call. */
export interface IToolActions {
  approve(callId: string, decision: Decision): void;
}

/** Status in words (colour only repeats them). */
export const STATUS_WORDS: Record<ToolStatus, string> = {
  awaiting_approval: 'Awaiting approval',
  running: 'Running…',
  done: 'Done',
  error: 'Error',
  denied: 'Denied',
  cancelled: 'Cancelled'
};

/** Figures a card shows inline: raster images only (an SVG could carry script or fetches). */
const FIGURE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * An assistant reply with tool calls: its text cut at each call's `at` (code points, as the
 * kernel counts) into Markdown segments, with a card for each call in place. Every segment
 * is its own `MarkdownStream`; deltas go to the last one, so text after a card streams as
 * any reply does, and segments before a card are finished (their math typeset).
 */
export class ReplyParts {
  constructor(
    first: MarkdownStream,
    private readonly _newStream: () => MarkdownStream,
    private readonly _actions: IToolActions
  ) {
    this.node = document.createElement('div');
    this.node.className = 'jp-DeltaChat-reply';
    this.node.append(first.node);
    this._streams = [first];
  }

  readonly node: HTMLElement;

  /** The text all segments will show once their renders catch up. */
  get text(): string {
    return this._streams.map(stream => stream.text).join('');
  }

  /** Show the message; `appended` is the content just added, if that is all that changed. */
  update(message: IChatMessage, appended?: string): void {
    const calls = message.tool_calls ?? [];
    const last = this._streams[this._streams.length - 1];
    if (appended !== undefined && calls.length === this._cards.size && this._lastAt <= this._length) {
      this._length += codePointLength(appended);
      last.append(appended);
      if (last.node.hidden && appended !== '') {
        last.node.hidden = false; // a reply that started empty: its first text shows
      }
      return;
    }
    this._layout(message.content, calls);
  }

  finish(): void {
    this._streams.forEach(stream => stream.finish());
  }

  idle(): Promise<void> {
    return Promise.all(this._streams.map(stream => stream.idle())).then(() => undefined);
  }

  dispose(): void {
    this._streams.forEach(stream => stream.dispose());
    this._cards.forEach(card => card.dispose());
  }

  private _layout(content: string, calls: IToolCall[]): void {
    const ordered = calls
      .map((call, index) => ({ call, index }))
      .sort((a, b) => a.call.at - b.call.at || a.index - b.index)
      .map(entry => entry.call);
    const offsets = utf16Offsets(
      content,
      ordered.map(call => call.at)
    );
    let structureChanged = ordered.length !== this._order.length;
    ordered.forEach((call, index) => {
      let card = this._cards.get(call.id);
      if (!card) {
        card = new ToolCard(call, this._newStream, this._actions);
        this._cards.set(call.id, card);
        structureChanged = true;
      } else {
        card.update(call);
      }
      if (this._order[index] !== call.id) {
        structureChanged = true;
      }
    });
    while (this._streams.length < ordered.length + 1) {
      this._streams.push(this._newStream());
    }
    if (structureChanged) {
      const nodes: HTMLElement[] = [this._streams[0].node];
      ordered.forEach((call, index) =>
        nodes.push(this._cards.get(call.id)!.node, this._streams[index + 1].node)
      );
      this.node.replaceChildren(...nodes);
      this._order = ordered.map(call => call.id);
    }
    let start = 0;
    this._streams.forEach((stream, index) => {
      const end = index < offsets.length ? offsets[index] : content.length;
      const text = content.slice(start, end);
      stream.setText(text);
      stream.node.hidden = text === '';
      if (index < offsets.length) {
        stream.finish();
      }
      start = end;
    });
    this._length = codePointLength(content);
    this._lastAt = ordered.length ? ordered[ordered.length - 1].at : 0;
  }

  private _streams: MarkdownStream[];
  private _cards = new Map<string, ToolCard>();
  private _order: string[] = [];
  /** Code points of the content laid out so far, and the last card's offset. */
  private _length = 0;
  private _lastAt = 0;
}

/**
 * One tool call: name, arguments (a `python` call's code highlighted by the reply's own
 * safe renderer, other arguments as JSON text), status in words, the result as text in a
 * collapsible, figures, and Run / Deny / Always while it awaits approval. Everything the
 * model or the tool chose is set as text, never parsed as HTML.
 */
export class ToolCard {
  constructor(
    call: IToolCall,
    newStream: () => MarkdownStream,
    private readonly _actions: IToolActions
  ) {
    this.node = document.createElement('div');
    this.node.className = 'jp-DeltaChat-toolCard';
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-label', `Tool call ${call.name}`);
    this.node.dataset.callId = call.id;
    this.node.dataset.tool = call.name;

    const header = document.createElement('div');
    header.className = 'jp-DeltaChat-toolHeader';
    const name = document.createElement('span');
    name.className = 'jp-DeltaChat-toolName';
    name.textContent = visible(call.name);
    this._status = document.createElement('span');
    this._status.className = 'jp-DeltaChat-toolStatus';
    header.append(name, this._status);

    const code = pythonCode(call);
    if (code !== null) {
      this._code = newStream();
      this._code.node.classList.add('jp-DeltaChat-toolCode');
      this._code.setText(fenced(visible(code), 'python'));
      this._code.finish();
      this._arguments = this._code.node;
    } else {
      const pre = document.createElement('pre');
      pre.className = 'jp-DeltaChat-toolArguments';
      pre.textContent = visible(JSON.stringify(call.arguments, null, 2));
      this._arguments = pre;
    }

    this._decision = document.createElement('div');
    this._decision.className = 'jp-DeltaChat-toolDecision';
    this._run = button('Run', 'Run tool', () => this._decide('allow'));
    this._run.classList.add('jp-mod-accept');
    this._deny = button('Deny', 'Deny tool', () => this._decide('deny'));
    this._always = button('Always in this chat', 'Always allow tool', () =>
      this._decide('allow_chat')
    );
    this._decision.append(this._run, this._deny, this._always);

    this._result = document.createElement('details');
    this._result.className = 'jp-DeltaChat-toolResult';
    this._resultSummary = document.createElement('summary');
    this._resultText = document.createElement('pre');
    this._result.append(this._resultSummary, this._resultText);

    this._figures = document.createElement('div');
    this._figures.className = 'jp-DeltaChat-toolFigures';

    this.node.append(header, this._arguments, this._decision, this._figures, this._result);
    this.update(call);
  }

  readonly node: HTMLElement;

  update(call: IToolCall): void {
    const wasAwaiting = this.node.dataset.status === 'awaiting_approval';
    this.node.dataset.status = call.status;
    this._status.textContent = STATUS_WORDS[call.status] ?? call.status;
    const awaiting = call.status === 'awaiting_approval';
    this._decision.hidden = !awaiting;
    if (awaiting && !wasAwaiting) {
      [this._run, this._deny, this._always].forEach(control => (control.disabled = false));
      // Focus once the card is in the page (it is placed right after it is made).
      requestAnimationFrame(() => {
        if (this.node.isConnected && this.node.dataset.status === 'awaiting_approval') {
          this._run.focus();
        }
      });
    }
    const hasResult = call.result !== undefined && call.result !== null;
    this._result.hidden = !hasResult;
    if (hasResult) {
      this._resultSummary.textContent = call.truncated ? 'Result (truncated)' : 'Result';
      this._resultText.textContent = call.truncated
        ? `${call.result}\n… truncated: the model got only this much.`
        : call.result!;
    }
    this._showFigures(call.outputs ?? []);
  }

  dispose(): void {
    this._code?.dispose();
  }

  private _decide(decision: Decision): void {
    [this._run, this._deny, this._always].forEach(control => (control.disabled = true));
    this._actions.approve(this.node.dataset.callId!, decision);
  }

  private _showFigures(outputs: IAttachment[]): void {
    const figures = outputs.filter(
      output => FIGURE_TYPES.has(output.media_type) && BASE64.test(output.data)
    );
    if (figures.length === this._figures.childElementCount) {
      this._figures.hidden = figures.length === 0;
      return;
    }
    this._figures.replaceChildren(
      ...figures.map(figure => {
        const image = document.createElement('img');
        image.alt = figure.name || 'Figure';
        image.src = `data:${figure.media_type};base64,${figure.data}`;
        return image;
      })
    );
    this._figures.hidden = figures.length === 0;
  }

  private _code: MarkdownStream | null = null;
  private _arguments: HTMLElement;
  private _status: HTMLElement;
  private _decision: HTMLElement;
  private _run: HTMLButtonElement;
  private _deny: HTMLButtonElement;
  private _always: HTMLButtonElement;
  private _result: HTMLDetailsElement;
  private _resultSummary: HTMLElement;
  private _resultText: HTMLElement;
  private _figures: HTMLElement;
}

/**
 * The agent toggle beside the model picker: tools on or off for the next sends of the
 * current chat. Remembered per kernel and chat in `sessionStorage`: it survives a reload of
 * the tab, and a new tab or browser session starts with tools off (tools are off unless the
 * user turns them on, and no on-switch outlives the session it was made in).
 */
export class AgentToggle {
  constructor() {
    this.node = iconButton(buildIcon, 'Use tools', () => this._toggle(), 'Tools');
    this.node.classList.add('jp-DeltaChat-agentToggle');
    this._render();
  }

  readonly node: HTMLButtonElement;

  /** The tools the kernel offers (`ready.tools`, then each unasked `tools`). */
  setTools(tools: IToolInfo[]): void {
    this._tools = tools;
    this._render();
  }

  /** Which chat the next sends go to: `scope` names its kernel. */
  show(scope: string, chatId: string): void {
    this._key = `${STORAGE_PREFIX}${scope}:${chatId}`;
    this._on = readFlag(this._key);
    this._render();
  }

  /** The `tools` field of the next `send` or `regenerate`. */
  get request(): { tools?: ToolChoice } {
    return this._on ? { tools: 'all' } : {};
  }

  private _toggle(): void {
    this._on = !this._on;
    writeFlag(this._key, this._on);
    this._render();
  }

  private _render(): void {
    this.node.setAttribute('aria-pressed', String(this._on));
    const names = this._tools.map(tool => tool.name).join(', ') || 'none';
    this.node.title = this._on
      ? `Use tools: on. The model may call ${names}; code runs only after you approve it.`
      : `Use tools: off. Turn on to let the model call ${names}.`;
  }

  private _tools: IToolInfo[] = [];
  private _on = false;
  private _key = '';
}

const STORAGE_PREFIX = 'jupyter-deltachat:tools:';

function readFlag(key: string): boolean {
  try {
    return sessionStorage.getItem(key) === 'on';
  } catch {
    return false;
  }
}

function writeFlag(key: string, on: boolean): void {
  try {
    if (on) {
      sessionStorage.setItem(key, 'on');
    } else {
      sessionStorage.removeItem(key);
    }
  } catch {
    // Storage refused (private mode): the toggle still works for this page.
  }
}

/** A `python` call's code (its only argument), or null for any other call. */
function pythonCode(call: IToolCall): string | null {
  const code = call.arguments.code;
  const only = Object.keys(call.arguments).length === 1;
  return call.name === 'python' && only && typeof code === 'string' ? code : null;
}

/** Characters that could hide or reorder what is shown: controls but newline and tab, DEL
 * and C1, the bidirectional marks, overrides and isolates ("Trojan Source"). */
const HIDING = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every hiding character written as its Python escape (`\r`, `\x1b`,
 * `\u202e`), as `%chat` shows code for approval: what is approved shows all it does.
 */
export function visible(text: string): string {
  return text.replace(HIDING, char => {
    const code = char.charCodeAt(0);
    if (char === '\r') {
      return '\\r';
    }
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `code` as one fenced Markdown block that nothing inside it can close. */
export function fenced(code: string, language: string): string {
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map(run => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${code}\n${fence}`;
}

/** The UTF-16 index of each code-point offset (ascending) in `text`, clamped to its end. */
function utf16Offsets(text: string, points: number[]): number[] {
  const out: number[] = [];
  let point = 0;
  let index = 0;
  for (const target of points) {
    while (point < target && index < text.length) {
      const c = text.charCodeAt(index);
      index += c >= 0xd800 && c <= 0xdbff && index + 1 < text.length ? 2 : 1;
      point++;
    }
    out.push(index);
  }
  return out;
}
