import { button } from './dom';

/** What an empty chat offers to send; a click puts the prompt into the input. */
export const EXAMPLE_PROMPTS = [
  'Explain the difference between a list and a tuple in Python',
  'Write a function that reads a CSV file and plots one of its columns',
  'How do I find out which line of my code is slow?'
];

export interface IEmptyStateActions {
  fill: (prompt: string) => void;
  openKeys: () => void;
}

/**
 * Shown instead of the message list while the chat has no messages: which model answers,
 * a few example prompts, and (while no provider has a key) the way to add one.
 */
export class EmptyState {
  constructor(actions: IEmptyStateActions) {
    this.node = document.createElement('div');
    this.node.className = 'jp-DeltaChat-empty';
    const heading = document.createElement('h2');
    heading.textContent = 'Start a conversation';
    this._model = document.createElement('p');
    this._model.className = 'jp-DeltaChat-emptyModel';
    const prompts = document.createElement('div');
    prompts.className = 'jp-DeltaChat-examples';
    prompts.setAttribute('role', 'group');
    prompts.setAttribute('aria-label', 'Example prompts');
    prompts.append(
      ...EXAMPLE_PROMPTS.map(prompt => button(prompt, prompt, () => actions.fill(prompt)))
    );
    this._keys = document.createElement('div');
    this._keys.className = 'jp-DeltaChat-emptyKeys';
    const why = document.createElement('p');
    why.textContent = 'No provider has a key yet: the offline demo model answers until you add one.';
    this._keys.append(why, button('Add an API key…', 'Add an API key', actions.openKeys));
    this.node.append(heading, this._model, prompts, this._keys);
  }

  readonly node: HTMLElement;

  /** `model`: the picked model's label ('' while the kernel has not listed them yet). */
  update(model: string, anyProviderConfigured: boolean): void {
    this._model.textContent = model ? `Replies come from ${model}.` : 'Waiting for the kernel…';
    this._keys.hidden = anyProviderConfigured;
  }

  private _model: HTMLElement;
  private _keys: HTMLElement;
}
