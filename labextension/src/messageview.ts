import { Clipboard } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { addBelowIcon, copyIcon, editIcon } from '@jupyterlab/ui-components';
import { IChatMessage } from './chatstate';
import { Collapser } from './collapse';
import { contextItemsView } from './context';
import { button, element, iconButton } from './dom';
import { Decision } from './protocol';
import { MarkdownStream, RenderMode } from './render';
import { ReplyParts } from './toolcards';

/** What a message view needs from the panel around it. */
export interface IMessageActions {
  retry(message: IChatMessage): void;
  insertCode(code: string): void;
  replaceCode(code: string): void;
  approve(callId: string, decision: Decision): void;
}

/**
 * One message: role, model, collapsed reasoning, the rendered answer, an inline error with
 * Retry, and Copy. Carries the attributes the browser tests rely on (`data-role`,
 * `data-message-id`, `data-streaming`).
 */
export class MessageView {
  constructor(
    message: IChatMessage,
    rendermime: IRenderMimeRegistry,
    private readonly _actions: IMessageActions,
    mode: RenderMode = 'incremental',
    minIntervalMs = 0
  ) {
    this.node = element('div', 'jp-DeltaChat-message');
    this.node.dataset.role = message.role;
    this.node.dataset.messageId = message.id;

    const header = element('div', 'jp-DeltaChat-messageHeader');
    this._who = element('span', 'jp-DeltaChat-who');
    const tools = element('span', 'jp-DeltaChat-messageTools');
    tools.append(
      iconButton(copyIcon, 'Copy message', () => {
        Clipboard.copyToSystem(this._message.content);
      })
    );
    header.append(this._who, tools);

    this._reasoning = element('details', 'jp-DeltaChat-reasoning');
    const summary = element('summary');
    summary.textContent = 'Reasoning';
    this._reasoningText = element('div', 'jp-DeltaChat-reasoningText');
    this._reasoning.append(summary, this._reasoningText);

    this._error = element('div', 'jp-DeltaChat-error', { role: 'alert' });
    this._ending = element('div', 'jp-DeltaChat-ending');
    this._ending.hidden = true;

    if (message.role === 'assistant') {
      const newStream = () =>
        new MarkdownStream(
          rendermime,
          (node, code) => this._decorateCode(node, code),
          mode,
          minIntervalMs
        );
      this._body = newStream();
      this._parts = new ReplyParts(this._body, newStream, this._actions);
      this.node.append(
        header,
        this._reasoning,
        this._parts.node,
        this._ending,
        this._error
      );
    } else {
      this._plain = document.createElement('div');
      this._plain.className = 'jp-DeltaChat-plain';
      this._collapser = new Collapser(this._plain);
      this.node.append(header, this._plain, this._collapser.toggle, this._error);
      if (message.context?.length) {
        this._collapser.toggle.after(contextItemsView(message.context));
      }
    }
    this._message = message;
    this.update(message);
  }

  readonly node: HTMLElement;

  get message(): IChatMessage {
    return this._message;
  }

  get stream(): MarkdownStream | null {
    return this._body;
  }

  /** Retry regenerates the chat's last reply, so only the chat's last message offers it. */
  set retryable(value: boolean) {
    this._retry.hidden = !value;
  }

  /** Show the message's new state; `appended` is the content just added, if that is all. */
  update(message: IChatMessage, appended?: string): void {
    this._message = message;
    setText(this._who, message.role === 'user' ? 'You' : message.model || message.role);
    setData(this.node, 'streaming', message.streaming ? 'true' : undefined);
    if (message.finish_reason) {
      setData(this.node, 'finishReason', message.finish_reason);
    }
    const ending = message.streaming ? undefined : ENDINGS[message.finish_reason ?? ''];
    if (this._ending.hidden !== !ending) {
      this._ending.hidden = !ending;
    }
    setText(this._ending, ending ?? '');
    if (this._reasoning.hidden !== !message.reasoning) {
      this._reasoning.hidden = !message.reasoning;
    }
    if (message.reasoning) {
      setText(this._reasoningText, message.reasoning);
    }
    if (this._parts) {
      const body = this._parts;
      body.update(message, appended);
      if (message.streaming) {
        setData(this.node, 'rendered', 'false');
      } else {
        // Once per finished message, not per delta: mark it when its render caught up.
        body.finish();
        setData(this.node, 'rendered', 'false');
        const content = message.content;
        void body.idle().then(() => {
          if (body.text === content && this._message.content === content) {
            setData(this.node, 'rendered', 'true');
          }
        });
      }
    } else if (this._plain) {
      setText(this._plain, message.content);
      this._collapser!.content = message.content;
    }
    this._showError(message);
  }

  dispose(): void {
    this._parts?.dispose();
    this.node.remove();
  }

  private _showError(message: IChatMessage): void {
    const error = message.error;
    if (this._error.hidden !== !error) {
      this._error.hidden = !error;
    }
    if (!error || this._error.dataset.code === error.code) {
      return;
    }
    this._error.dataset.code = error.code;
    const text = document.createElement('div');
    text.className = 'jp-DeltaChat-errorText';
    text.textContent = plainWords(error.code, error.message);
    const parts: HTMLElement[] = [text];
    if (error.traceback) {
      const traceback = document.createElement('details');
      traceback.className = 'jp-DeltaChat-traceback';
      const summary = document.createElement('summary');
      summary.textContent = 'Traceback';
      const pre = document.createElement('pre');
      pre.textContent = error.traceback;
      traceback.append(summary, pre);
      parts.push(traceback);
    }
    this._error.replaceChildren(...parts, this._retry);
  }

  /**
   * Copy and Insert-below buttons on each code block, added once per rendered block. What
   * they take is the block's text in the Markdown source (`sources`, in document order), never
   * the rendered DOM; a block whose shown text is not exactly its source gets no buttons.
   */
  private _decorateCode(node: HTMLElement, sources: () => string[]): void {
    const blocks = node.querySelectorAll('pre');
    if (!blocks.length) {
      return;
    }
    const code = sources();
    let next = 0;
    blocks.forEach(pre => {
      const shown = (pre.textContent ?? '').replace(/\n$/, '');
      const index = code.indexOf(shown, next);
      if (index < 0) {
        return;
      }
      next = index + 1;
      const source = code[index];
      const wrap = document.createElement('div');
      wrap.className = 'jp-DeltaChat-code';
      const bar = document.createElement('div');
      bar.className = 'jp-DeltaChat-codeBar';
      bar.append(
        iconButton(copyIcon, 'Copy code', () => Clipboard.copyToSystem(source)),
        iconButton(addBelowIcon, 'Insert code below the active cell', () =>
          this._actions.insertCode(source)
        ),
        iconButton(editIcon, 'Replace active cell', () => this._actions.replaceCode(source))
      );
      pre.replaceWith(wrap);
      wrap.append(bar, pre);
    });
  }

  private _message: IChatMessage;
  private _retry = button('Retry', 'Retry', () => this._actions.retry(this._message));
  private _who: HTMLElement;
  private _reasoning: HTMLDetailsElement;
  private _reasoningText: HTMLElement;
  private _error: HTMLElement;
  private _ending: HTMLElement;
  private _body: MarkdownStream | null = null;
  /** The reply's text segments and tool cards (`_body` is the first segment). */
  private _parts: ReplyParts | null = null;
  private _plain: HTMLElement | null = null;
  private _collapser: Collapser | null = null;
}

/** The muted line under a reply that ended without finishing its answer. */
const ENDINGS: Record<string, string> = {
  cancelled: 'Stopped',
  length: 'Cut off at the token limit'
};

/** DOM writes only when something changed: a write per delta costs style and layout. */
function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

function setData(node: HTMLElement, key: string, value: string | undefined): void {
  if (node.dataset[key] === value) {
    return;
  }
  if (value === undefined) {
    delete node.dataset[key];
  } else {
    node.dataset[key] = value;
  }
}

/** Errors in plain words: what happened and what to do. */
export function plainWords(code: string, message: string): string {
  const lead: Record<string, string> = {
    auth: 'The provider rejected the key. Check it with the "API keys" button.',
    rate_limit: 'The provider is rate-limiting requests. Wait a moment and retry.',
    connection: 'Could not reach the model provider.',
    truncated: 'The reply was cut off before it finished.',
    model_error: 'The model raised an error.',
    unknown_model: 'That model is not available in this kernel.',
    busy: 'This chat is still answering. Stop it or wait.',
    provider: 'The provider returned an error.'
  };
  return `${lead[code] ?? 'Something went wrong.'} ${message}`;
}
