import { LabIcon, caretDownEmptyIcon } from '@jupyterlab/ui-components';

/** A plain text button in the panel's look. */
export function button(
  text: string,
  label: string,
  onClick: () => void
): HTMLButtonElement {
  const element = newButton('jp-DeltaChat-button');
  element.textContent = text;
  return labelled(element, label, onClick);
}

/**
 * A compact JupyterLab-style toolbar button: a LabIcon, optionally a short text; the
 * accessible name is `label` (also the tooltip).
 */
export function iconButton(
  icon: LabIcon,
  label: string,
  onClick: () => void,
  text = ''
): HTMLButtonElement {
  const element = newButton(
    'jp-ToolbarButtonComponent jp-Button jp-mod-minimal jp-DeltaChat-iconButton'
  );
  element.append(
    icon.element({
      tag: 'span',
      className: 'jp-DeltaChat-icon',
      elementPosition: 'center',
      height: '16px',
      width: '16px'
    })
  );
  // The per-element id would make two renders of the same message differ.
  element.querySelectorAll('[data-icon-id]').forEach(node => node.removeAttribute('data-icon-id'));
  if (text) {
    const span = document.createElement('span');
    span.className = 'jp-ToolbarButtonComponent-label';
    span.textContent = text;
    element.append(span);
  }
  return labelled(element, label, onClick);
}

/** A JupyterLab dialog-style text button (`jp-mod-accept` primary, `jp-mod-warn` stop). */
export function textButton(label: string, mod: string, onClick: () => void): HTMLButtonElement {
  const element = newButton(`jp-Button jp-mod-styled ${mod} jp-DeltaChat-textButton`);
  const span = document.createElement('span');
  span.textContent = label;
  element.append(span);
  return labelled(element, label, onClick);
}

/** A new `tag` element with `className` and these attributes (`role`, `aria-label`...). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  attributes: Record<string, string> = {}
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  return node;
}

function newButton(className: string): HTMLButtonElement {
  const node = element('button', className);
  node.type = 'button';
  return node;
}

/** The accessible name is also the tooltip, so what a pointer shows is what a reader hears. */
function labelled(
  element: HTMLButtonElement,
  label: string,
  onClick: () => void
): HTMLButtonElement {
  element.setAttribute('aria-label', label);
  element.title = label;
  element.addEventListener('click', onClick);
  return element;
}

/** A `<select>` in JupyterLab's HTMLSelect look (wrapper, caret icon). */
export function styledSelect(label: string, select: HTMLSelectElement): HTMLElement {
  const wrap = element('div', 'jp-HTMLSelect jp-DefaultStyle jp-DeltaChat-select');
  select.setAttribute('aria-label', label);
  select.title = label;
  wrap.append(
    select,
    caretDownEmptyIcon.element({ tag: 'span', className: 'jp-DeltaChat-caret' })
  );
  return wrap;
}
