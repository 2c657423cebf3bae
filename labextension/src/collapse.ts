/** A user message longer than this (characters or lines) is shown collapsed. */
export const LONG_MESSAGE_CHARS = 1200;
export const LONG_MESSAGE_LINES = 16;

/**
 * "Show more" / "Show less" for a long pasted message: collapsed, the element keeps a few
 * hundred pixels (style: `[data-collapsed='true']`), so a 200 KB paste does not become a
 * bubble as tall as the chat.
 */
export class Collapser {
  constructor(private readonly _target: HTMLElement) {
    this.toggle = document.createElement('button');
    this.toggle.type = 'button';
    this.toggle.className = 'jp-DeltaChat-more';
    this.toggle.addEventListener('click', () => {
      this._expanded = !this._expanded;
      this._show();
    });
    this.toggle.hidden = true;
  }

  readonly toggle: HTMLButtonElement;

  set content(text: string) {
    this._long = isLong(text);
    this._show();
  }

  private _show(): void {
    const collapsed = this._long && !this._expanded;
    this._target.dataset.collapsed = String(collapsed);
    this.toggle.hidden = !this._long;
    this.toggle.textContent = collapsed ? 'Show more' : 'Show less';
    this.toggle.setAttribute('aria-expanded', String(!collapsed));
  }

  private _long = false;
  private _expanded = false;
}

function isLong(text: string): boolean {
  if (text.length > LONG_MESSAGE_CHARS) {
    return true;
  }
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) {
    if (++lines > LONG_MESSAGE_LINES) {
      return true;
    }
  }
  return false;
}
