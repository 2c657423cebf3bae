import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Contents, Kernel } from '@jupyterlab/services';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { UUID } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import {
  addIcon,
  clearIcon,
  lockIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { ChatList, exportFolder } from './chatlist';
import { ChatState } from './chatstate';
import { ChatConnection } from './connection';
import { ChatView } from './chatview';
import { AgentToggle } from './toolcards';
import { EmptyState } from './emptystate';
import { ContextComposer, ERROR_PROMPTS, ErrorAction, hasError } from './context';
import { iconButton, styledSelect, textButton } from './dom';
import { plainWords } from './messageview';
import { ADD_KEY_PREFIX, fillModelPicker } from './picker';
import {
  ExportFormat,
  IChatInfo,
  IContextRef,
  IExported,
  IModelInfo,
  KernelEvent
} from './protocol';
import { DEFAULT_TAIL_INTERVAL_MS, RenderMode } from './render';
import { warmUpRenderer } from './warmup';

export const PANEL_ID = 'jupyter-deltachat-panel';
export const RENDER_MODE_KEY = 'jupyter-deltachat:render-mode';
export const DEFAULT_CHAT = 'default';
export const MODEL_PICKS_KEY = 'jupyter-deltachat:picked-models';

export interface IPanelSettings {
  defaultModel: string;
  sendKey: 'Enter' | 'Ctrl+Enter';
  minRenderIntervalMs: number;
}

export interface IPanelOptions {
  rendermime: IRenderMimeRegistry;
  client: string;
  openKeys: (provider?: string) => void;
  insertCode: (code: string) => void;
  replaceCode: (code: string) => void;
  /** The active notebook cell (with outputs) and notebook as context refs, or null. */
  activeCell: () => IContextRef | null;
  notebook: () => IContextRef | null;
  /** Where exported chats are saved (JupyterLab's contents API) and how they are opened. */
  files: { contents: Contents.IManager; open: (path: string) => void };
}

/**
 * The sidebar chat. Owns one `ChatConnection` at a time (the active notebook's kernel, or
 * a chat kernel of its own), one `ChatState` per chat id, and the controls.
 */
export class ChatPanel extends Widget {
  constructor(private readonly _options: IPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-DeltaChat');
    this.title.caption = 'Chat with language models';

    this._status = div('jp-DeltaChat-status');
    this._status.setAttribute('role', 'status');
    this._statusText = document.createElement('span');
    this._statusText.className = 'jp-DeltaChat-statusText';
    this._status.append(div('jp-DeltaChat-statusDot'), this._statusText);

    this._chatList = new ChatList({
      open: (info, foreign) => this._openChat(info, foreign),
      rename: (info, title) => this._renameChat(info, title),
      delete: info => void this._deleteChat(info),
      exportChat: format => this._exportChat(format),
      openNotebook: path => this._options.files.open(path),
      refresh: () => {
        this._connection?.send({ type: 'list_chats', scope: 'notebook' });
        this._connection?.send({ type: 'list_chats', scope: 'all' });
      }
    });
    const bar = div('jp-DeltaChat-bar jp-Toolbar');
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Chat toolbar');
    bar.append(
      this._chatList.node,
      iconButton(addIcon, 'New chat', () => this.newChat()),
      iconButton(clearIcon, 'Clear chat', () => this.clear()),
      iconButton(lockIcon, 'API keys', () => this._options.openKeys())
    );

    this._view = new ChatView(
      this._options.rendermime,
      {
        retry: () => this.regenerate(),
        insertCode: code => this._options.insertCode(code),
        replaceCode: code => this._options.replaceCode(code),
        approve: (callId, decision) =>
          this._connection?.send({
            type: 'approve',
            chat_id: this._chatId,
            call_id: callId,
            decision
          })
      },
      renderMode()
    );

    this._empty = new EmptyState({
      fill: prompt => {
        this._input.value = prompt;
        this._updateControls();
        this.focusInput();
      },
      openKeys: () => this._options.openKeys()
    });

    this._notice = div('jp-DeltaChat-notice');
    this._notice.setAttribute('role', 'alert');
    this._notice.hidden = true;

    this._modelPicker = document.createElement('select');
    this._modelPicker.addEventListener('change', () => this._onModelPicked());

    this._input = document.createElement('textarea');
    this._input.setAttribute('aria-label', 'Message');
    this._input.placeholder = 'Ask anything (Enter sends, Shift+Enter for a new line)';
    this._input.rows = 3;
    this._input.addEventListener('keydown', event => this._onKey(event));
    this._input.addEventListener('input', () => this._updateControls());
    this._context = new ContextComposer(this._input, {
      listVariables: () => this._connection?.send({ type: 'list_variables' }) ?? false,
      activeCell: () => this._options.activeCell(),
      notebook: () => this._options.notebook(),
      askAboutError: action => this.askAboutError(action),
      notice: text => this._showNotice(text)
    });

    this._send = textButton('Send', 'jp-mod-accept', () => this.send());
    this._stop = textButton('Stop', 'jp-mod-warn', () => this.stop());
    this._stop.prepend(stopIcon.element({ tag: 'span', className: 'jp-DeltaChat-icon' }));
    this._regenerate = iconButton(refreshIcon, 'Regenerate', () => this.regenerate());
    const actions = div('jp-DeltaChat-actions');
    actions.append(
      styledSelect('Model', this._modelPicker),
      this._agent.node,
      this._regenerate,
      this._stop,
      this._send
    );
    const composer = div('jp-DeltaChat-composer');
    composer.append(this._context.node, this._context.completer, this._input, actions);

    this.node.append(
      this._status,
      bar,
      this._view.node,
      this._empty.node,
      this._notice,
      composer
    );
    this._updateControls();
  }

  /** Emitted each time the panel becomes visible; the kernel chooser listens. */
  get shown(): ISignal<this, void> {
    return this._shown;
  }

  get connection(): ChatConnection | null {
    return this._connection;
  }
  get kernel(): Kernel.IKernelConnection | null {
    return this._connection?.kernel ?? null;
  }

  set settings(value: IPanelSettings) {
    this._settings = value;
    this._view.minRenderIntervalMs = value.minRenderIntervalMs;
    this._input.placeholder =
      value.sendKey === 'Enter'
        ? 'Ask anything (Enter sends, Shift+Enter for a new line)'
        : 'Ask anything (Ctrl+Enter sends)';
  }

  /**
   * Talk to this kernel from now on; `label` says which kernel it is to the user, `place`
   * where its chats belong (the notebook's path, or the chat kernel's session path).
   */
  attach(kernel: Kernel.IKernelConnection, label: string, place: string): void {
    this._place = place;
    if (this._connection?.kernel === kernel && !this._connection.isDisposed) {
      this._label = label;
      this._showStatus();
      return;
    }
    this._connection?.dispose();
    warmUpRenderer(this._options.rendermime);
    this._label = label;
    const connection = new ChatConnection(kernel, this._options.client);
    this._connection = connection;
    connection.statusChanged.connect(() => this._onConnectionStatus(connection));
    connection.received.connect((_, event) => this._onEvent(event));
    this._chats.clear();
    this._defaultModel = '';
    this._agent.show(kernel.id, this._chatId);
    this._view.show(this._state(this._chatId));
    this._updateControls();
    void connection.connect();
  }

  /** Show a chat of this kernel; `path` names another notebook's chat (opened by `open_chat`,
   * whose snapshot then fills it). */
  showChat(chatId: string, path: string | null = null): void {
    this._chatId = chatId;
    this._chatList.current = { chatId, path };
    this._agent.show(this.kernel?.id ?? '', chatId);
    this._view.show(this._state(chatId));
    if (path === null) {
      this._connection?.send({ type: 'sync', chat_id: chatId });
    }
    this._pickModel();
  }

  newChat(): void {
    this.showChat(`chat-${UUID.uuid4().slice(0, 8)}`);
    this.focusInput();
  }

  focusInput(): void {
    this._input.focus();
  }

  /** The context of the next message: chips and the `@` completer. */
  get context(): ContextComposer {
    return this._context;
  }

  send(): void {
    if (this._sendMessage(this._input.value, this._context.refs)) {
      this._input.value = '';
      this._context.clear();
      this._updateControls();
    }
  }

  /** "Explain error" / "Fix error": the active cell with its error and the action's prompt. */
  askAboutError(action: ErrorAction): void {
    const cell = this._options.activeCell();
    if (!hasError(cell)) {
      this._showNotice('The active cell has no error output to explain or fix.');
      return;
    }
    this._sendMessage(ERROR_PROMPTS[action], [cell!]);
  }

  private _sendMessage(content: string, context: IContextRef[]): boolean {
    const model = this._modelPicker.value;
    if (!content.trim() || !this._connection) {
      return false;
    }
    const sent = this._connection.send({
      type: 'send',
      request_id: UUID.uuid4(),
      chat_id: this._chatId,
      content,
      ...(model ? { model } : {}),
      ...(context.length ? { context } : {}),
      ...this._agent.request
    });
    if (sent) {
      this._hideNotice();
      this._view.follow();
    }
    return sent;
  }

  stop(): void {
    const streaming = this._state(this._chatId).streamingMessage;
    this._stoppingId = streaming?.id ?? null;
    this._updateControls();
    this._connection?.send({
      type: 'stop',
      chat_id: this._chatId,
      ...(streaming ? { message_id: streaming.id } : {})
    });
  }

  regenerate(): void {
    const model = this._modelPicker.value;
    this._connection?.send({
      type: 'regenerate',
      request_id: UUID.uuid4(),
      chat_id: this._chatId,
      ...(model ? { model } : {}),
      ...this._agent.request
    });
    this._hideNotice();
  }

  clear(): void {
    this._connection?.send({ type: 'clear', chat_id: this._chatId });
  }

  dispose(): void {
    this._chatList.dispose();
    this._connection?.dispose();
    this._view.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._shown.emit();
  }

  private _state(chatId: string): ChatState {
    let state = this._chats.get(chatId);
    if (!state) {
      state = new ChatState(chatId);
      state.changed.connect(() => {
        if (state === this._chats.get(this._chatId)) {
          this._updateControls();
        }
      });
      this._chats.set(chatId, state);
    }
    return state;
  }

  private _onEvent(event: KernelEvent): void {
    switch (event.type) {
      case 'ready':
        this._chatList.setChats('notebook', event.chats);
        this._setModels(event.models, event.default_model);
        this._agent.setTools(event.tools ?? []);
        this._connection?.send({ type: 'sync', chat_id: this._chatId });
        return;
      case 'tools':
        this._agent.setTools(event.tools);
        return;
      case 'models':
        this._setModels(event.models, event.default_model);
        return;
      case 'variables':
        this._context.setVariables(event.variables);
        return;
      case 'chats':
        this._chatList.setChats(event.scope, event.chats);
        return;
      case 'exported':
        void this._saveExport(event);
        return;
      case 'error':
        if (!event.message_id) {
          this._showNotice(plainWords(event.error.code, event.error.message));
          return;
        }
        break;
    }
    const chatId = 'chat_id' in event ? event.chat_id : undefined;
    if (!chatId) {
      return;
    }
    const state = this._state(chatId);
    if (!state.apply(event)) {
      this._connection?.send({ type: 'sync', chat_id: chatId });
    }
  }

  private _setModels(models: IModelInfo[], defaultModel: string): void {
    const previousDefault = this._defaultModel;
    this._models = models;
    this._defaultModel = defaultModel;
    this._pickModel();
    if (previousDefault && defaultModel !== previousDefault) {
      const info = models.find(model => model.id === defaultModel);
      const label = info ? modelName(info) : defaultModel;
      this._showNotice(
        `The default model is now ${label}. Chats where you picked a model keep it.`
      );
    }
  }

  /** The chat's own pick if it made one and it is usable, else the default. */
  private _pickModel(): void {
    const picked = this._picks.get(this._place, this._chatId);
    for (const preferred of [picked, this._settings.defaultModel, this._defaultModel]) {
      if (preferred) {
        fillModelPicker(this._modelPicker, this._models, preferred);
        if (this._modelPicker.value === preferred) {
          break;
        }
      }
    }
    this._updateControls();
  }

  private _onModelPicked(): void {
    const value = this._modelPicker.value;
    if (value.startsWith(ADD_KEY_PREFIX)) {
      this._options.openKeys(value.slice(ADD_KEY_PREFIX.length));
      this._pickModel();
      return;
    }
    this._picks.set(this._place, this._chatId, value);
    this._updateControls();
  }

  private _onKey(event: KeyboardEvent): void {
    if (this._context.handleKey(event)) {
      return;
    }
    if (event.key !== 'Enter' || event.isComposing) {
      return;
    }
    const sends =
      this._settings.sendKey === 'Enter'
        ? !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey
        : event.ctrlKey || event.metaKey;
    if (sends) {
      event.preventDefault();
      if (!this._state(this._chatId).streamingMessage) {
        this.send();
      }
    }
  }

  private _onConnectionStatus(connection: ChatConnection): void {
    if (connection !== this._connection) {
      return;
    }
    this._showStatus();
    this._updateControls();
  }

  private _showStatus(): void {
    const connection = this._connection;
    let text: string;
    if (!connection) {
      text = 'No kernel yet';
    } else {
      const state = connection.status;
      this._status.dataset.state = state;
      if (state === 'ready') {
        const subshell = connection.usesSubshell ? ' (subshell)' : '';
        text = `${this._label}${subshell}`;
      } else if (state === 'failed') {
        text = connection.statusMessage;
      } else {
        text = `${this._label}: ${connection.statusMessage}…`;
      }
    }
    this._statusText.textContent = text;
    // One line in the panel; the whole of it (and the state) in the tooltip.
    const state = connection?.status ?? 'no kernel';
    this._status.title = connection?.status === 'ready' ? `Attached to ${text}` : `${text} (${state})`;
  }

  private _updateControls(): void {
    const ready = this._connection?.status === 'ready';
    const state = this._state(this._chatId);
    const streaming = state.streamingMessage !== null;
    const last = state.messages[state.messages.length - 1];
    this._send.hidden = streaming;
    this._send.disabled = !ready || !this._input.value.trim();
    this._stop.hidden = !streaming;
    const stopping = streaming && state.streamingMessage?.id === this._stoppingId;
    this._stop.lastElementChild!.textContent = stopping ? 'Stopping…' : 'Stop';
    this._stop.dataset.stopping = String(stopping);
    this._regenerate.hidden = streaming || !last || last.role !== 'assistant';
    this._regenerate.disabled = !ready;
    this.node.dataset.streaming = String(streaming);
    const empty = state.messages.length === 0;
    this._view.node.hidden = empty;
    this._empty.node.hidden = !empty;
    if (empty) {
      const picked = this._models.find(info => info.id === this._modelPicker.value);
      const model = picked ? modelName(picked) : '';
      const configured = this._models.some(
        info => info.configured && info.source === 'builtin' && info.provider !== 'demo'
      );
      this._empty.update(model, configured);
    }
  }

  /** This notebook's chat (`sync`), or another notebook's (`open_chat` with its path). */
  private _openChat(info: IChatInfo, foreign: boolean): void {
    if (foreign) {
      this._connection?.send({
        type: 'open_chat',
        chat_id: info.chat_id,
        ...(info.path !== null ? { path: info.path } : {})
      });
    }
    this.showChat(info.chat_id, foreign ? info.path : null);
  }

  private _renameChat(info: IChatInfo, title: string): void {
    this._connection?.send({
      type: 'rename_chat',
      chat_id: info.chat_id,
      title,
      ...(info.path !== null ? { path: info.path } : {})
    });
    this._connection?.send({ type: 'list_chats', scope: 'all' });
  }

  /** Delete after a confirmation; the current chat gives way to the newest other one. */
  private async _deleteChat(info: IChatInfo): Promise<void> {
    const count = info.message_count;
    const result = await showDialog({
      title: 'Delete chat?',
      body: `“${info.title}” and its ${count} message${count === 1 ? '' : 's'} will be deleted from this kernel and from the chat history. This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept || !this._connection) {
      return;
    }
    const { chatId, path } = this._chatList.current;
    if (chatId === info.chat_id && (path === null || path === info.path)) {
      const next = this._chatList.notebookChats.find(other => other.chat_id !== info.chat_id);
      if (next) {
        this.showChat(next.chat_id);
      } else {
        this.newChat();
      }
    }
    this._connection.send({
      type: 'delete_chat',
      chat_id: info.chat_id,
      ...(info.path !== null ? { path: info.path } : {})
    });
    this._connection.send({ type: 'list_chats', scope: 'all' });
  }

  private _exportChat(format: ExportFormat): void {
    const requestId = UUID.uuid4();
    const { chatId, path } = this._chatList.current;
    const sent = this._connection?.send({
      type: 'export',
      request_id: requestId,
      chat_id: chatId,
      format,
      ...(path !== null ? { path } : {})
    });
    if (sent) {
      this._exports.add(requestId);
    }
  }

  /** Save an `exported` file beside the notebook under a name no file has yet, and open it. */
  private async _saveExport(event: IExported): Promise<void> {
    if (!this._exports.delete(event.request_id)) {
      return;
    }
    const { contents, open } = this._options.files;
    const notebookPath = this._chatList.notebookPath ?? this._options.notebook()?.path;
    const folder = exportFolder(notebookPath ?? null);
    const dot = event.filename.lastIndexOf('.');
    const stem = event.filename.slice(0, dot);
    const suffix = event.filename.slice(dot);
    try {
      let path = '';
      for (let n = 1; ; n++) {
        const name = n === 1 ? event.filename : `${stem} (${n})${suffix}`;
        path = folder ? `${folder}/${name}` : name;
        if (!(await exists(contents, path))) {
          break;
        }
      }
      await contents.save(
        path,
        event.format === 'ipynb'
          ? { type: 'notebook', format: 'json', content: JSON.parse(event.content) }
          : { type: 'file', format: 'text', content: event.content }
      );
      open(path);
    } catch (error) {
      this._showNotice(`The chat could not be saved: ${(error as Error).message}`);
    }
  }

  private _showNotice(text: string): void {
    this._notice.textContent = text;
    this._notice.hidden = false;
  }

  private _hideNotice(): void {
    this._notice.hidden = true;
  }

  private _shown = new Signal<this, void>(this);
  private _connection: ChatConnection | null = null;
  private _label = '';
  private _chatId = DEFAULT_CHAT;
  private _chats = new Map<string, ChatState>();
  private _exports = new Set<string>();
  private _models: IModelInfo[] = [];
  private _defaultModel = '';
  private _picks = new ModelPicks();
  /** Where the attached kernel's chats live (a notebook's path): with the chat id, it names a chat. */
  private _place = '';
  private _settings: IPanelSettings = {
    defaultModel: '',
    sendKey: 'Enter',
    minRenderIntervalMs: DEFAULT_TAIL_INTERVAL_MS
  };
  private _status: HTMLElement;
  private _statusText: HTMLElement;
  private _chatList: ChatList;
  private _view: ChatView;
  private _empty: EmptyState;
  private _notice: HTMLElement;
  private _modelPicker: HTMLSelectElement;
  private _input: HTMLTextAreaElement;
  private _context: ContextComposer;
  private _send: HTMLButtonElement;
  private _stop: HTMLButtonElement;
  /** The reply Stop was pressed for: the button says "Stopping…" until its `done`. */
  private _stoppingId: string | null = null;
  private _regenerate: HTMLButtonElement;
  private _agent = new AgentToggle();
}

/** Modes other than `incremental` exist only for benchmarks/render_bench.py. */
function renderMode(): RenderMode {
  try {
    const mode = localStorage.getItem(RENDER_MODE_KEY);
    return mode === 'naive' || mode === 'eager' || mode === 'previous' ? mode : 'incremental';
  } catch {
    return 'incremental';
  }
}

function div(className: string): HTMLDivElement {
  const element = document.createElement('div');
  element.className = className;
  return element;
}

/** A model as the panel names it in sentences: "gpt-5.1 (OpenAI)", "Demo (offline)". */
function modelName(info: IModelInfo): string {
  const label = info.label || info.id;
  return info.provider !== 'demo' && info.provider_label
    ? `${label} (${info.provider_label})`
    : label;
}

/** Whether a file or folder is at `path` (a 404 says no; any other failure is thrown). */
async function exists(contents: Contents.IManager, path: string): Promise<boolean> {
  try {
    await contents.get(path, { content: false });
    return true;
  } catch (error) {
    if ((error as { response?: Response }).response?.status === 404) {
      return false;
    }
    throw error;
  }
}

/**
 * The model the user picked per chat (place + chat id), in the browser's localStorage: a
 * pick is a choice of this user in this browser, like the layout, and it must outlive a
 * page reload and a kernel restart (the kernel forgets; the server stores only secrets).
 */
class ModelPicks {
  get(place: string, chatId: string): string | undefined {
    return this._read()[key(place, chatId)];
  }

  set(place: string, chatId: string, model: string): void {
    const picks = this._read();
    picks[key(place, chatId)] = model;
    try {
      localStorage.setItem(MODEL_PICKS_KEY, JSON.stringify(picks));
    } catch {
      // storage full or blocked: the pick lasts as long as the page
    }
    this._cache = picks;
  }

  private _read(): Record<string, string> {
    if (!this._cache) {
      try {
        const stored: unknown = JSON.parse(localStorage.getItem(MODEL_PICKS_KEY) ?? '{}');
        this._cache =
          stored && typeof stored === 'object' ? (stored as Record<string, string>) : {};
      } catch {
        this._cache = {};
      }
    }
    return this._cache;
  }

  private _cache: Record<string, string> | null = null;
}

function key(place: string, chatId: string): string {
  return `${place}#${chatId}`;
}
