import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ChatChange, ChatState } from './chatstate';
import { caretDownIcon } from '@jupyterlab/ui-components';
import { element, iconButton } from './dom';
import { IMessageActions, MessageView } from './messageview';
import { DEFAULT_TAIL_INTERVAL_MS, RenderMode } from './render';

/** How close to the bottom (px) still counts as "following the stream". */
const FOLLOW_SLACK = 40;

/**
 * The scrolling list of messages of one chat. Follows the stream while the user is at the
 * bottom; once they scroll up it stays put and offers "Jump to latest".
 */
export class ChatView {
  constructor(
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _actions: IMessageActions,
    private readonly _mode: RenderMode = 'incremental'
  ) {
    this.node = element('div', 'jp-DeltaChat-view');
    this._list = element('div', 'jp-DeltaChat-messages', { role: 'log', 'aria-label': 'Messages' });
    this._list.addEventListener('scroll', () => this._onScroll());
    this._jump = iconButton(caretDownIcon, 'Jump to latest', () => this.follow(), 'Jump to latest');
    this._jump.classList.add('jp-DeltaChat-jump');
    this._jump.hidden = true;
    this.node.append(this._list, this._jump);
    this._resize = new ResizeObserver(() => this._keepFollowing());
  }

  readonly node: HTMLElement;
  minRenderIntervalMs = DEFAULT_TAIL_INTERVAL_MS;

  show(state: ChatState): void {
    if (this._state === state) {
      return;
    }
    this._state?.changed.disconnect(this._onChange, this);
    this._state = state;
    state.changed.connect(this._onChange, this);
    this._rebuild();
  }

  /** Scroll to the newest message and follow the stream again. */
  follow(): void {
    this._following = true;
    this._jump.hidden = true;
    this._list.scrollTop = this._list.scrollHeight;
  }

  dispose(): void {
    this._resize.disconnect();
    this._views.forEach(view => view.dispose());
    this._views.clear();
  }

  private _onChange(_: ChatState, change: ChatChange): void {
    if (change.kind === 'reset') {
      this._rebuild();
    } else if (change.kind === 'added') {
      this._add(change.message);
    } else {
      const view = this._views.get(change.message.id);
      if (view) {
        view.update(change.message, change.appended);
      } else {
        this._add(change.message);
      }
    }
  }

  private _rebuild(): void {
    this._views.forEach(view => view.dispose());
    this._views.clear();
    this._latest = null;
    this._list.replaceChildren();
    this._state?.messages.forEach(message => this._add(message));
    this.follow();
  }

  private _add(message: ChatState['messages'][number]): void {
    const view = new MessageView(
      message,
      this._rendermime,
      this._actions,
      this._mode,
      this.minRenderIntervalMs
    );
    if (this._latest) {
      this._latest.retryable = false;
    }
    this._latest = view;
    this._views.set(message.id, view);
    this._list.appendChild(view.node);
    this._resize.observe(view.node);
    this._keepFollowing();
  }

  private _onScroll(): void {
    const atBottom =
      this._list.scrollTop + this._list.clientHeight >= this._list.scrollHeight - FOLLOW_SLACK;
    this._following = atBottom;
    this._jump.hidden = atBottom;
  }

  private _keepFollowing(): void {
    if (this._following) {
      this._list.scrollTop = this._list.scrollHeight;
    }
  }

  private _state: ChatState | null = null;
  private _views = new Map<string, MessageView>();
  /** The last message of the list: the one `regenerate` replaces, so the one with Retry. */
  private _latest: MessageView | null = null;
  private _list: HTMLElement;
  private _jump: HTMLButtonElement;
  private _following = true;
  private _resize: ResizeObserver;
}
