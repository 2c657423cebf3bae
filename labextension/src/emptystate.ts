import { button, element } from './dom';

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
    this.node = element('div', 'jp-DeltaChat-empty');
    const heading = element('h2');
    heading.textContent = 'Start a conversation';
    this._model = element('p', 'jp-DeltaChat-emptyModel');
    const prompts = element('div', 'jp-DeltaChat-examples', {
      role: 'group',
      'aria-label': 'Example prompts'
    });
    prompts.append(
      ...EXAMPLE_PROMPTS.map(prompt => button(prompt, prompt, () => actions.fill(prompt)))
    );
    this._keys = element('div', 'jp-DeltaChat-emptyKeys');
    const why = element('p');
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
