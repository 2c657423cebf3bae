import { PageConfig } from '@jupyterlab/coreutils';
import { caretDownEmptyIcon, deleteIcon, editIcon } from '@jupyterlab/ui-components';
import { element, iconButton, textButton } from './dom';
import { ChatScope, ExportFormat, IChatInfo } from './protocol';

/** What the list asks its owner (the panel) to do; the panel talks to the kernel. */
export interface IChatListActions {
  open(info: IChatInfo, foreign: boolean): void;
  rename(info: IChatInfo, title: string): void;
  delete(info: IChatInfo): void;
  exportChat(format: ExportFormat): void;
  /** Open a notebook (a path under the server's root) in JupyterLab. */
  openNotebook(path: string): void;
  /** Ask the kernel for fresh lists (both scopes); called when the list opens. */
  refresh(): void;
}

/** The chat the panel shows: its id, and its notebook when it is another notebook's. */
export interface ICurrentChat {
  chatId: string;
  path: string | null;
}

/** The panel's own chat kernel keeps its chats under this session path prefix. */
const CHAT_KERNEL_PREFIX = '.deltachat/';

/**
 * The chat picker: a button in the model picker's look showing the current chat's title;
 * it opens a list of this notebook's chats (newest first, with dates, the current one
 * marked) and, under "All chats", those of other notebooks grouped by notebook, filtered
 * by title as you type, each with Rename (inline: Enter keeps, Escape cancels) and Delete,
 * and "Export chat" (Markdown or notebook) for the current one. The kernel sends a fresh
 * list whenever a chat is added, retitled, reordered or starts or ends a reply; an open
 * list follows it (keeping the focused control, and waiting while a title is edited).
 *
 * Another notebook's chat whose id this kernel holds too (every notebook has a `default`)
 * cannot be opened here (the contract's `bad_request`): its row opens that notebook
 * instead, whose kernel continues it.
 */
export class ChatList {
  constructor(private readonly _actions: IChatListActions) {
    this.node = element('div', 'jp-DeltaChat-chatList');

    const wrap = element('div', 'jp-HTMLSelect jp-DefaultStyle jp-DeltaChat-select');
    this._trigger = element('button', 'jp-DeltaChat-chatTrigger', {
      'aria-label': 'Chat',
      'aria-haspopup': 'dialog',
      'aria-expanded': 'false'
    });
    this._trigger.type = 'button';
    this._trigger.addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    this._trigger.addEventListener('keydown', event => {
      if (event.key === 'ArrowDown' && !this.isOpen) {
        event.preventDefault();
        this.open();
      }
    });
    wrap.append(
      this._trigger,
      caretDownEmptyIcon.element({ tag: 'span', className: 'jp-DeltaChat-caret' })
    );

    this._popup = element('div', 'jp-DeltaChat-chatPopup', {
      role: 'dialog',
      'aria-label': 'Chats'
    });
    this._popup.hidden = true;
    this._popup.addEventListener('keydown', event => this._onKey(event));

    this._search = element('input', 'jp-DeltaChat-chatSearch', { 'aria-label': 'Search chats' });
    this._search.type = 'search';
    this._search.placeholder = 'Search chats by title';
    this._search.addEventListener('input', () => this._render());

    this._lists = element('div', 'jp-DeltaChat-chatSections');

    const exportBar = element('div', 'jp-DeltaChat-chatExport');
    const exportLabel = element('h3', 'jp-DeltaChat-chatHeading');
    exportLabel.textContent = 'Export this chat';
    const markdown = textButton('Markdown', 'jp-mod-reject', () =>
      this._export('markdown')
    );
    markdown.setAttribute('aria-label', 'Export chat as Markdown');
    markdown.title = 'Save this chat as a Markdown file next to the notebook and open it';
    const notebook = textButton('Notebook', 'jp-mod-reject', () => this._export('ipynb'));
    notebook.setAttribute('aria-label', 'Export chat as notebook');
    notebook.title = 'Save this chat as a notebook next to the notebook and open it';
    exportBar.append(exportLabel, markdown, notebook);

    this._popup.append(this._search, this._lists, exportBar);
    this.node.append(wrap, this._popup);
    this.node.addEventListener('focusout', event => {
      const next = event.relatedTarget as Node | null;
      if (this.isOpen && next && !this.node.contains(next)) {
        this.close();
      }
    });
    this._onOutsidePointer = (event: PointerEvent) => {
      if (!this.node.contains(event.target as Node)) {
        this.close();
      }
    };
    this._renderTrigger();
  }

  readonly node: HTMLElement;

  get isOpen(): boolean {
    return !this._popup.hidden;
  }

  /** A fresh list from the kernel (`ready.chats` or a `chats` event). */
  setChats(scope: ChatScope, chats: readonly IChatInfo[]): void {
    if (scope === 'notebook') {
      this._notebook = [...chats];
    } else {
      this._all = [...chats];
    }
    this._renderTrigger();
    if (this.isOpen) {
      this._render();
    }
  }

  /** Whether this kernel holds a chat with `info`'s id that is not `info` (it belongs
   * to another notebook): opening, renaming or deleting `info` here would be refused. */
  heldHere(info: IChatInfo): boolean {
    const { chatId, path } = this._current;
    return (
      this._notebook.some(own => own.chat_id === info.chat_id && own.path !== info.path) ||
      (path === null && chatId === info.chat_id && this.notebookPath !== info.path)
    );
  }

  /** This notebook's chats as last listed (newest first). */
  get notebookChats(): readonly IChatInfo[] {
    return this._notebook;
  }

  /** The notebook this kernel belongs to, as its chats say (null: not known yet). */
  get notebookPath(): string | null {
    return this._notebook.find(info => info.path !== null)?.path ?? null;
  }

  set current(value: ICurrentChat) {
    this._current = value;
    this._renderTrigger();
    if (this.isOpen) {
      this._render();
    }
  }
  get current(): ICurrentChat {
    return this._current;
  }

  /** The current chat's listing, if the kernel has listed it. */
  get currentInfo(): IChatInfo | null {
    const { chatId, path } = this._current;
    const own = this._notebook.find(info => info.chat_id === chatId);
    if (own && path === null) {
      return own;
    }
    return this._all.find(info => info.chat_id === chatId && info.path === path) ?? own ?? null;
  }

  open(): void {
    if (this.isOpen) {
      return;
    }
    this._popup.hidden = false;
    this._trigger.setAttribute('aria-expanded', 'true');
    this._search.value = '';
    this._render();
    this._actions.refresh();
    document.addEventListener('pointerdown', this._onOutsidePointer, true);
    this._search.focus();
  }

  close(focusTrigger = false): void {
    if (!this.isOpen) {
      return;
    }
    this._popup.hidden = true;
    this._trigger.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', this._onOutsidePointer, true);
    if (focusTrigger) {
      this._trigger.focus();
    }
  }

  dispose(): void {
    document.removeEventListener('pointerdown', this._onOutsidePointer, true);
  }

  private _export(format: ExportFormat): void {
    this.close(true);
    this._actions.exportChat(format);
  }

  private _renderTrigger(): void {
    const title = this.currentInfo?.title ?? 'New chat';
    this._trigger.textContent = title;
    this._trigger.title = `Chat: ${title}`;
  }

  /** Both sections, filtered by the search text; the focused control keeps the focus. An
   * edited title is never replaced: the list is drawn again when the edit ends. */
  private _render(): void {
    if (this._lists.querySelector('.jp-DeltaChat-chatRename')) {
      this._stale = true;
      return;
    }
    this._stale = false;
    const focused = document.activeElement;
    const refocus =
      focused instanceof HTMLElement && this._lists.contains(focused)
        ? {
            row: focused.closest<HTMLElement>('.jp-DeltaChat-chatRow')?.dataset.key,
            label: focused.getAttribute('aria-label')
          }
        : null;
    this._draw();
    if (refocus) {
      const row = [...this._lists.querySelectorAll<HTMLElement>('.jp-DeltaChat-chatRow')].find(
        element => element.dataset.key === refocus.row
      );
      const control = [...(row?.querySelectorAll<HTMLElement>('button') ?? [])].find(
        button => button.getAttribute('aria-label') === refocus.label
      );
      control?.focus();
    }
  }

  private _draw(): void {
    const query = this._search.value.trim().toLocaleLowerCase();
    const matches = (info: IChatInfo) =>
      !query || info.title.toLocaleLowerCase().includes(query);
    const own = [...this._notebook];
    const { chatId, path } = this._current;
    if (path === null && !own.some(info => info.chat_id === chatId)) {
      own.unshift(placeholder(chatId, this.notebookPath));
    }
    const ownKeys = new Set(own.map(key));
    const others = new Map<string, IChatInfo[]>();
    for (const info of this._all) {
      if (!ownKeys.has(key(info)) && matches(info)) {
        const group = info.path ?? '';
        others.set(group, [...(others.get(group) ?? []), info]);
      }
    }

    const sections: HTMLElement[] = [];
    const shown = own.filter(matches);
    const mine = section('This notebook');
    if (shown.length) {
      mine.append(this._rows(shown, false));
    } else {
      mine.append(empty(query ? 'No chat of this notebook matches.' : 'No chats yet.'));
    }
    sections.push(mine);

    const all = section('All chats');
    if (others.size === 0) {
      all.append(
        empty(query ? 'No chat of another notebook matches.' : 'No chats of other notebooks.')
      );
    }
    for (const [group, chats] of others) {
      const heading = document.createElement('div');
      heading.className = 'jp-DeltaChat-chatGroup';
      heading.textContent = notebookLabel(group);
      heading.title = group || 'Chats with no notebook';
      all.append(heading, this._rows(chats, true, notebookLabel(group)));
    }
    sections.push(all);
    this._lists.replaceChildren(...sections);
  }

  private _rows(chats: IChatInfo[], foreign: boolean, group = ''): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'jp-DeltaChat-chatRows';
    if (group) {
      list.setAttribute('aria-label', group);
    }
    const now = new Date();
    for (const info of chats) {
      const row = document.createElement('li');
      row.className = 'jp-DeltaChat-chatRow';
      row.dataset.chatId = info.chat_id;
      row.dataset.key = key(info);
      const { chatId, path } = this._current;
      const isCurrent =
        info.chat_id === chatId && (foreign ? info.path === path : path === null);
      const openButton = document.createElement('button');
      openButton.type = 'button';
      openButton.className = 'jp-DeltaChat-chatOpen';
      openButton.setAttribute('aria-label', `Open chat ${info.title}`);
      if (isCurrent) {
        row.setAttribute('aria-current', 'true');
        openButton.setAttribute('aria-current', 'true');
      }
      const title = document.createElement('span');
      title.className = 'jp-DeltaChat-chatTitle';
      title.textContent = info.title;
      const date = document.createElement('span');
      date.className = 'jp-DeltaChat-chatDate';
      date.textContent = info.streaming ? 'replying…' : chatDate(info.updated, now);
      openButton.title = `${info.title}\n${new Date(info.updated).toLocaleString()}`;
      openButton.append(title, date);
      row.append(openButton);
      if (foreign && this.heldHere(info)) {
        this._elsewhere(row, openButton, info, group);
        list.append(row);
        continue;
      }
      openButton.addEventListener('click', () => {
        this.close(true);
        this._actions.open(info, foreign);
      });
      if (info.message_count > 0 || info.persisted) {
        row.append(
          iconButton(editIcon, `Rename chat ${info.title}`, () =>
            this._startRename(openButton, info)
          ),
          iconButton(deleteIcon, `Delete chat ${info.title}`, () => {
            this.close(true);
            this._actions.delete(info);
          })
        );
      }
      list.append(row);
    }
    return list;
  }

  /** The row of another notebook's chat this kernel cannot hold (its id is taken here): it
   * opens that notebook, whose own kernel continues the chat; the chat kernel's chats and
   * notebooks outside the server's root cannot be opened, and say where the chat is. */
  private _elsewhere(
    row: HTMLElement,
    openButton: HTMLButtonElement,
    info: IChatInfo,
    group: string
  ): void {
    row.classList.add('jp-mod-elsewhere');
    const notebook = info.path === null ? null : contentsPath(info.path);
    const hint = openButton.querySelector('.jp-DeltaChat-chatDate')!;
    const reason = `This kernel has a chat “${info.chat_id}” of its own, so this one is continued in its notebook's kernel.`;
    if (notebook === null || notebook.startsWith(CHAT_KERNEL_PREFIX)) {
      openButton.setAttribute('aria-disabled', 'true');
      openButton.setAttribute('aria-label', `Chat ${info.title}, in ${group} only`);
      hint.textContent = 'in its notebook';
      openButton.title = `${info.title}\n${reason}`;
      return;
    }
    openButton.setAttribute('aria-label', `Open ${group} to continue chat ${info.title}`);
    hint.textContent = 'Open notebook';
    openButton.title = `${info.title}\n${reason} Open ${notebook} to continue it.`;
    openButton.addEventListener('click', () => {
      this.close(true);
      this._actions.openNotebook(notebook);
    });
  }

  /** Inline rename: an input in place of the row's button; Enter or leaving it keeps the
   * title, Escape puts the old one back. */
  private _startRename(openButton: HTMLElement, info: IChatInfo): void {
    const input = document.createElement('input');
    input.type = 'text';
    input.className = 'jp-DeltaChat-chatRename';
    input.value = info.title;
    input.maxLength = 200;
    input.setAttribute('aria-label', 'Chat title');
    let finished = false;
    const finish = (keep: boolean) => {
      if (finished) {
        return;
      }
      finished = true;
      const title = input.value.trim();
      if (keep && title && title !== info.title) {
        info.title = title;
        retitle(openButton, info);
        this._renderTrigger();
        this._actions.rename(info, title);
      }
      input.replaceWith(openButton);
      openButton.focus();
      if (this._stale) {
        this._render();
      }
    };
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        finish(true);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener('blur', () => finish(true));
    openButton.replaceWith(input);
    input.focus();
    input.select();
  }

  private _onKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.preventDefault();
      this.close(true);
      return;
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
      return;
    }
    const buttons = [
      ...this._popup.querySelectorAll<HTMLElement>('.jp-DeltaChat-chatOpen')
    ];
    if (!buttons.length) {
      return;
    }
    event.preventDefault();
    const index = buttons.indexOf(document.activeElement as HTMLElement);
    const step = event.key === 'ArrowDown' ? 1 : -1;
    const next =
      index < 0
        ? step > 0
          ? 0
          : buttons.length - 1
        : Math.min(buttons.length - 1, Math.max(0, index + step));
    buttons[next].focus();
  }

  private _trigger: HTMLButtonElement;
  private _popup: HTMLElement;
  private _search: HTMLInputElement;
  private _lists: HTMLElement;
  private _notebook: IChatInfo[] = [];
  private _all: IChatInfo[] = [];
  /** A list came while a title was being edited: draw it when the edit ends. */
  private _stale = false;
  private _current: ICurrentChat = { chatId: 'default', path: null };
  private _onOutsidePointer: (event: PointerEvent) => void;
}

/** "just now", "5 min ago", "3 h ago" today; else a short date ("Nov 28", "Nov 28, 2025"). */
export function chatDate(iso: string, now: Date): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  if (date.toDateString() === now.toDateString()) {
    const minutes = Math.floor((now.getTime() - date.getTime()) / 60_000);
    if (minutes < 1) {
      return 'just now';
    }
    return minutes < 60 ? `${minutes} min ago` : `${Math.floor(minutes / 60)} h ago`;
  }
  const sameYear = date.getFullYear() === now.getFullYear();
  return date.toLocaleDateString(undefined, {
    month: 'short',
    day: 'numeric',
    ...(sameYear ? {} : { year: 'numeric' })
  });
}

/**
 * A chat's notebook as a path under the server's root (kernels know it as the absolute
 * path jupyter_server gave them in JPY_SESSION_NAME); null when it is not under the root.
 */
export function contentsPath(path: string): string | null {
  const root = PageConfig.getOption('serverRoot').replace(/\/+$/, '');
  if (!path.startsWith('/')) {
    return path;
  }
  return root && path.startsWith(`${root}/`) ? path.slice(root.length + 1) : null;
}

/** The name a group of other notebooks' chats is shown under. */
export function notebookLabel(path: string): string {
  if (!path) {
    return 'No notebook';
  }
  const relative = contentsPath(path);
  if (relative?.startsWith(CHAT_KERNEL_PREFIX)) {
    return 'Chat kernel (no notebook)';
  }
  return relative ?? path;
}

/** The folder exports of this notebook's chats go to: beside it; the root for the chat
 * kernel or a notebook outside the server's root. */
export function exportFolder(notebookPath: string | null): string {
  const relative = notebookPath ? contentsPath(notebookPath) : null;
  if (!relative || relative.startsWith(CHAT_KERNEL_PREFIX)) {
    return '';
  }
  const slash = relative.lastIndexOf('/');
  return slash < 0 ? '' : relative.slice(0, slash);
}

function key(info: IChatInfo): string {
  return `${info.path ?? ''}\u0000${info.chat_id}`;
}

function placeholder(chatId: string, path: string | null): IChatInfo {
  return {
    chat_id: chatId,
    title: 'New chat',
    updated: new Date().toISOString(),
    message_count: 0,
    streaming: false,
    path,
    persisted: false
  };
}

function section(label: string): HTMLElement {
  const element = document.createElement('section');
  element.className = 'jp-DeltaChat-chatSection';
  element.setAttribute('aria-label', label);
  const heading = document.createElement('h3');
  heading.className = 'jp-DeltaChat-chatHeading';
  heading.textContent = label;
  element.append(heading);
  return element;
}

function empty(text: string): HTMLElement {
  const element = document.createElement('p');
  element.className = 'jp-DeltaChat-chatEmpty';
  element.textContent = text;
  return element;
}

function retitle(openButton: HTMLElement, info: IChatInfo): void {
  openButton.setAttribute('aria-label', `Open chat ${info.title}`);
  openButton.querySelector('.jp-DeltaChat-chatTitle')!.textContent = info.title;
}
