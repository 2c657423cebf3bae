import type * as nbformat from '@jupyterlab/nbformat';
import { closeIcon } from '@jupyterlab/ui-components';
import { button, element, iconButton } from './dom';
import { IContextItem, IContextRef, IVariableInfo } from './protocol';

/** What the context controls need from the panel around them. */
export interface IContextSource {
  /** Ask the kernel for its variables (answered by a `variables` event); false when offline. */
  listVariables(): boolean;
  /** The active notebook cell with its outputs, or null when no notebook cell is active. */
  activeCell(): IContextRef | null;
  /** The active notebook with all its cells, or null when no notebook is open. */
  notebook(): IContextRef | null;
  /** Send the active cell and its error with the prompt of `action`. */
  askAboutError(action: ErrorAction): void;
  /** Tell the user why a control did nothing. */
  notice(text: string): void;
}

export type ErrorAction = 'explain' | 'fix';

/** The message that goes with the failing cell for "Explain error" and "Fix error". */
export const ERROR_PROMPTS: Record<ErrorAction, string> = {
  explain:
    'Explain the error in this cell: what went wrong, where, and why. Keep it short and ' +
    'point at the line that causes it.',
  fix:
    'Fix the error in this cell. Reply with the whole corrected cell in one Python code ' +
    'block, then one or two sentences on what you changed and why.'
};

/** At most this many variables are listed at once; typing narrows the rest. */
const MAX_SHOWN = 50;

/** The `@name` being typed right before the caret (with `.attr` / `[key]` steps). */
const AT_TOKEN = /(?:^|\s)@([\w.[\]'"]*)$/;

interface IChip {
  ref: IContextRef;
  label: string;
}

/**
 * The context of the next message: the chips above the input (removable), the one-click
 * "This cell" / "This notebook" buttons, and the `@` completer over the kernel's variables.
 * Refs are what `send.context` carries; the kernel renders them (docs/context.md).
 */
export class ContextComposer {
  constructor(
    private readonly _input: HTMLTextAreaElement,
    private readonly _source: IContextSource
  ) {
    this.node = element('div', 'jp-DeltaChat-context');
    this._chips = element('div', 'jp-DeltaChat-chips', { role: 'list', 'aria-label': 'Context' });
    const add = element('div', 'jp-DeltaChat-contextAdd');
    add.append(
      button('This cell', 'Add this cell as context', () => {
        if (!this.addActiveCell()) {
          _source.notice('No notebook cell is active: open a notebook and select a cell.');
        }
      }),
      button('This notebook', 'Add this notebook as context', () => {
        if (!this.addNotebook()) {
          _source.notice('No notebook is open: open one to add it as context.');
        }
      })
    );
    this._errorActions = document.createElement('div');
    this._errorActions.className = 'jp-DeltaChat-errorActions';
    this._errorActions.hidden = true;
    this._errorActions.append(
      button('Explain error', 'Explain error', () => _source.askAboutError('explain')),
      button('Fix error', 'Fix error', () => _source.askAboutError('fix'))
    );
    this.node.append(this._chips, this._errorActions, add);

    this.completer = document.createElement('ul');
    this.completer.className = 'jp-DeltaChat-completer';
    this.completer.id = `jp-DeltaChat-completer-${++completerCount}`;
    this.completer.setAttribute('role', 'listbox');
    this.completer.setAttribute('aria-label', 'Variables');
    this.completer.hidden = true;
    // A mousedown on the list must not take the focus from the input.
    this.completer.addEventListener('mousedown', event => event.preventDefault());

    _input.setAttribute('aria-autocomplete', 'list');
    _input.setAttribute('aria-controls', this.completer.id);
    _input.setAttribute('aria-expanded', 'false');
    _input.addEventListener('input', () => this._onInput());
    _input.addEventListener('blur', () => this.close());
  }

  /** The chips and the add buttons (above the input). */
  readonly node: HTMLElement;
  /** The completion list; the panel places it over the input. */
  readonly completer: HTMLUListElement;

  /** The refs of the chips, in the order they were added, for `send.context`. */
  get refs(): IContextRef[] {
    return this._items.map(chip => chip.ref);
  }

  /** Offer "Explain error" and "Fix error" while the active cell shows an error. */
  set activeCellHasError(value: boolean) {
    this._errorActions.hidden = !value;
  }

  get isOpen(): boolean {
    return !this.completer.hidden;
  }

  /** The kernel's answer to `list_variables`. */
  setVariables(variables: IVariableInfo[]): void {
    this._variables = variables;
    if (this.isOpen || this._waiting) {
      this._waiting = false;
      this._onInput();
    }
  }

  addVariable(name: string): void {
    this._add({ ref: { kind: 'variable', name }, label: name });
  }

  addActiveCell(): boolean {
    const ref = this._source.activeCell();
    if (ref) {
      this._add({ ref, label: cellLabel(ref) });
    }
    return ref !== null;
  }

  addNotebook(): boolean {
    const ref = this._source.notebook();
    if (ref) {
      this._add({ ref, label: ref.path || 'notebook' });
    }
    return ref !== null;
  }

  /** Forget the chips (after a send) and the variables (the kernel's namespace moves on). */
  clear(): void {
    this._items = [];
    this._variables = null;
    this._renderChips();
    this.close();
  }

  close(): void {
    this._waiting = false;
    if (!this.completer.hidden) {
      this.completer.hidden = true;
      this.completer.replaceChildren();
      this._input.setAttribute('aria-expanded', 'false');
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  /**
   * Keys while the list is open, as JupyterLab's completer: arrows move, Enter or Tab
   * picks, Escape closes. True when the key was the completer's (the panel then ignores it).
   */
  handleKey(event: KeyboardEvent): boolean {
    if (!this.isOpen || event.isComposing) {
      return false;
    }
    const count = this._shown.length;
    switch (event.key) {
      case 'ArrowDown':
        this._select((this._active + 1) % count);
        break;
      case 'ArrowUp':
        this._select((this._active - 1 + count) % count);
        break;
      case 'Enter':
      case 'Tab':
        if (event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) {
          return false;
        }
        this._pick(this._active);
        break;
      case 'Escape':
        this.close();
        break;
      default:
        return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  private _onInput(): void {
    const before = this._input.value.slice(0, this._input.selectionStart ?? 0);
    const match = AT_TOKEN.exec(before);
    if (!match) {
      this.close();
      return;
    }
    // A fresh list at each new `@`: the namespace changes as cells run.
    if (match[1] === '' && !this._waiting) {
      this._waiting = this._source.listVariables();
    }
    if (this._variables === null) {
      return;
    }
    const typed = match[1].toLowerCase();
    const starts = this._variables.filter(v => v.name.toLowerCase().startsWith(typed));
    const contains = this._variables.filter(
      v => !v.name.toLowerCase().startsWith(typed) && v.name.toLowerCase().includes(typed)
    );
    this._shown = [...starts, ...contains].slice(0, MAX_SHOWN);
    if (this._shown.length === 0) {
      this.close();
      return;
    }
    this._token = match[1];
    this.completer.replaceChildren(
      ...this._shown.map((variable, index) => this._option(variable, index))
    );
    this.completer.hidden = false;
    this._input.setAttribute('aria-expanded', 'true');
    this._select(0);
  }

  private _option(variable: IVariableInfo, index: number): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'jp-DeltaChat-completerItem';
    item.id = `${this.completer.id}-${index}`;
    item.setAttribute('role', 'option');
    item.dataset.name = variable.name;
    const name = document.createElement('code');
    name.className = 'jp-DeltaChat-completerName';
    name.textContent = variable.name;
    const summary = document.createElement('span');
    summary.className = 'jp-DeltaChat-completerSummary';
    summary.textContent = variable.summary;
    const type = document.createElement('span');
    type.className = 'jp-DeltaChat-completerType';
    type.textContent = variable.type;
    item.append(name, summary, type);
    item.title = `${variable.name}: ${variable.summary}`;
    item.addEventListener('click', () => this._pick(index));
    return item;
  }

  private _select(index: number): void {
    this._active = index;
    const items = [...this.completer.children] as HTMLElement[];
    items.forEach((item, i) => {
      item.classList.toggle('jp-mod-active', i === index);
      item.setAttribute('aria-selected', String(i === index));
    });
    const active = items[index];
    if (active) {
      this._input.setAttribute('aria-activedescendant', active.id);
      active.scrollIntoView({ block: 'nearest' });
    }
  }

  /** The picked name completes the `@` token in the text and becomes a chip. */
  private _pick(index: number): void {
    const variable = this._shown[index];
    if (!variable) {
      return;
    }
    const caret = this._input.selectionStart ?? this._input.value.length;
    const start = caret - this._token.length;
    const text = this._input.value;
    const completed = `${variable.name} `;
    this._input.value = text.slice(0, start) + completed + text.slice(caret);
    this._input.selectionStart = this._input.selectionEnd = start + completed.length;
    this.close();
    this.addVariable(variable.name);
  }

  private _add(chip: IChip): void {
    const key = refKey(chip.ref);
    this._items = this._items.filter(item => refKey(item.ref) !== key);
    this._items.push(chip);
    this._renderChips();
  }

  private _renderChips(): void {
    this._chips.replaceChildren(
      ...this._items.map(chip => {
        const node = document.createElement('span');
        node.className = 'jp-DeltaChat-chip';
        node.setAttribute('role', 'listitem');
        node.dataset.kind = chip.ref.kind;
        const label = document.createElement('span');
        label.className = 'jp-DeltaChat-chipLabel';
        label.textContent = chip.ref.kind === 'variable' ? `@${chip.label}` : chip.label;
        node.title = chip.label;
        node.append(
          label,
          iconButton(closeIcon, `Remove context ${chip.label}`, () => {
            this._items = this._items.filter(item => item !== chip);
            this._renderChips();
            this._input.focus();
          })
        );
        return node;
      })
    );
    this._chips.hidden = this._items.length === 0;
  }

  private _items: IChip[] = [];
  private _errorActions: HTMLElement;
  private _chips: HTMLElement;
  private _variables: IVariableInfo[] | null = null;
  private _waiting = false;
  private _shown: IVariableInfo[] = [];
  private _active = 0;
  private _token = '';
}

/**
 * The context items stored on a sent user message, as chips; a chip toggles a `<pre>` with
 * exactly the text the model received for it (set as text, never parsed).
 */
export function contextItemsView(items: IContextItem[]): HTMLElement {
  const node = document.createElement('div');
  node.className = 'jp-DeltaChat-messageContext';
  const chips = document.createElement('div');
  chips.className = 'jp-DeltaChat-chips';
  const text = document.createElement('pre');
  text.className = 'jp-DeltaChat-contextText';
  text.hidden = true;
  text.id = `jp-DeltaChat-contextText-${++completerCount}`;
  let shown: IContextItem | null = null;
  const toggles: HTMLButtonElement[] = [];
  items.forEach(item => {
    const label = item.truncated ? `${item.label} (cut)` : item.label;
    const toggle = button(label, `Show context ${item.label}`, () => {
      shown = shown === item ? null : item;
      text.textContent = shown ? shown.text : '';
      text.hidden = shown === null;
      toggles.forEach(other =>
        other.setAttribute('aria-expanded', String(other === toggle && shown !== null))
      );
    });
    toggle.classList.add('jp-DeltaChat-chip');
    toggle.dataset.kind = item.kind;
    toggle.setAttribute('aria-expanded', 'false');
    toggle.setAttribute('aria-controls', text.id);
    toggles.push(toggle);
    chips.append(toggle);
  });
  node.append(chips, text);
  return node;
}

/** A cell chip's label: the kernel's rule (`cell [n]`, else `cell`) unless one is given. */
export function cellLabel(ref: IContextRef): string {
  if (ref.label) {
    return ref.label;
  }
  return typeof ref.execution_count === 'number' ? `cell [${ref.execution_count}]` : 'cell';
}

function refKey(ref: IContextRef): string {
  return ref.kind === 'variable' ? `variable:${ref.name}` : `${ref.kind}:${cellLabel(ref)}`;
}

let completerCount = 0;

/** A `cell` ref from a cell's nbformat JSON: source, type, outputs, execution count. */
export function cellRef(cell: nbformat.ICell): IContextRef {
  const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
  const ref: IContextRef = { kind: 'cell', source, cell_type: cell.cell_type };
  if (cell.cell_type === 'code') {
    const code = cell as nbformat.ICodeCell;
    ref.outputs = code.outputs as unknown as Record<string, unknown>[];
    if (typeof code.execution_count === 'number') {
      ref.execution_count = code.execution_count;
    }
  }
  return ref;
}

/** Whether a cell ref's outputs hold an error (a traceback). */
export function hasError(ref: IContextRef | null): boolean {
  return (ref?.outputs ?? []).some(output => output.output_type === 'error');
}
