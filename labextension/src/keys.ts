import { Dialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import { button } from './dom';

interface IField {
  name: string;
  label: string;
  secret: boolean;
  required: boolean;
  env: string[];
  source: string | null;
}

interface IProvider {
  id: string;
  label: string;
  fields: IField[];
  configured: boolean;
  source: string | null;
  hint: string | null;
}

interface IProviders {
  providers: IProvider[];
  editable: boolean;
}

/** The answer to a PUT: a stored key is bound to its URL, so a new URL alone removes it. */
interface ISaved {
  key_removed: boolean;
}

/**
 * Calls `/deltachat/api/...` with the page's token and XSRF handling and returns the parsed
 * JSON body (`undefined` for an empty one). A failure raises `ServerConnection.ResponseError`
 * carrying the server's own message, or `ServerConnection.NetworkError` when no answer came.
 */
async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'deltachat/api', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const error = JSON.parse(text) as { message?: unknown };
      message = typeof error.message === 'string' ? error.message : message;
    } catch {
      // not JSON (a proxy's page, say): the status line says what happened
    }
    throw new ServerConnection.ResponseError(response, message);
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ServerConnection.ResponseError(response, `${path}: the answer is not JSON`);
  }
  return body as T;
}

/**
 * What a provider is set up with, in the dialog's words: a key, or for a provider whose
 * fields are all plain settings (Ollama: its server's URL) that URL.
 */
function credentialNoun(provider: IProvider): string {
  return provider.fields.some(field => field.secret) ? 'key' : 'URL';
}

/**
 * The API keys dialog: a compact list, one row per provider (name, status with the masked
 * hint of a stored key, Edit); Edit opens that provider's form (the fields the server
 * describes, password inputs, Save and Remove), one form at a time. Inputs are emptied as
 * soon as a request is sent, so a key never stays in the DOM or in this object.
 */
class KeysBody extends Widget {
  constructor(private _focus?: string) {
    super();
    this._expanded = _focus ?? null;
    this.addClass('jp-DeltaChat-keys');
    this._message = document.createElement('div');
    this._message.className = 'jp-DeltaChat-keysMessage';
    this._message.setAttribute('role', 'status');
    this._list = document.createElement('div');
    this.node.append(this._message, this._list);
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      const data = await requestAPI<IProviders>('providers');
      this._list.replaceChildren(
        ...data.providers.map(provider => this._provider(provider, data.editable))
      );
      this.node.dataset.loaded = 'true';
      const focus = this._focus && this.node.querySelector(`[data-provider="${this._focus}"] input`);
      (focus as HTMLInputElement | null)?.focus();
      this._focus = undefined;
    } catch (error) {
      this._say(`Could not load providers: ${(error as Error).message}`);
    }
  }

  private _provider(provider: IProvider, editable: boolean): HTMLElement {
    const form = document.createElement('form');
    form.className = 'jp-DeltaChat-provider';
    form.dataset.provider = provider.id;
    form.dataset.configured = String(provider.configured);
    form.setAttribute('aria-label', `${provider.label} credentials`);
    const title = document.createElement('h3');
    title.textContent = provider.label;
    const noun = credentialNoun(provider);
    const status = document.createElement('div');
    status.className = 'jp-DeltaChat-providerStatus';
    status.textContent = provider.configured
      ? `Configured${provider.hint ? ` (${provider.hint})` : ''}${provider.source ? ` from ${provider.source}` : ''}`
      : `No ${noun}`;
    const fields = document.createElement('div');
    fields.className = 'jp-DeltaChat-providerFields';
    fields.id = `jp-DeltaChat-keys-${provider.id}`;
    const expanded = this._expanded === provider.id;
    fields.hidden = !expanded;
    const edit = button('Edit', `Edit ${provider.label}`, () => {
      this._expanded = this._expanded === provider.id ? null : provider.id;
      this._showExpanded();
    });
    edit.setAttribute('aria-expanded', String(expanded));
    edit.setAttribute('aria-controls', fields.id);
    edit.classList.add('jp-DeltaChat-providerEdit');
    const row = document.createElement('div');
    row.className = 'jp-DeltaChat-providerRow';
    const heading = document.createElement('div');
    heading.className = 'jp-DeltaChat-providerName';
    heading.append(title, status);
    row.append(heading, edit);
    form.append(row, fields);
    const inputs: HTMLInputElement[] = [];
    for (const field of provider.fields) {
      const label = document.createElement('label');
      const name = document.createElement('span');
      name.textContent = field.label + (field.env.length ? ` (or $${field.env[0]})` : '');
      const input = document.createElement('input');
      input.type = field.secret ? 'password' : 'text';
      input.name = field.name;
      input.autocomplete = 'off';
      input.setAttribute('aria-label', `${provider.label} ${field.label}`);
      input.disabled = !editable;
      inputs.push(input);
      label.append(name, input);
      fields.appendChild(label);
    }
    const save = button('Save', `Save ${provider.label} ${noun}`, () =>
      void this._save(provider, inputs)
    );
    save.disabled = !editable;
    const remove = button('Remove', `Remove ${provider.label} ${noun}`, () =>
      void this._remove(provider)
    );
    // Whatever the store holds can be removed: a key, or a URL left without its key.
    remove.disabled = !editable || !provider.fields.some(field => field.source === 'store');
    const actions = document.createElement('div');
    actions.className = 'jp-DeltaChat-providerActions';
    actions.append(save, remove);
    fields.appendChild(actions);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this._save(provider, inputs);
    });
    return form;
  }

  private async _save(provider: IProvider, inputs: HTMLInputElement[]): Promise<void> {
    const noun = credentialNoun(provider);
    const body: Record<string, string> = {};
    for (const input of inputs) {
      if (input.value) {
        body[input.name] = input.value;
      }
      input.value = '';
    }
    if (!Object.keys(body).length) {
      this._say(`Nothing to save for ${provider.label}: enter its ${noun} first.`);
      return;
    }
    try {
      const saved = await requestAPI<ISaved>(`credentials/${encodeURIComponent(provider.id)}`, {
        method: 'PUT',
        body: JSON.stringify(body)
      });
      this._say(
        saved.key_removed
          ? `Saved. The stored ${provider.label} key was for the old URL and has been removed: enter the key for the new URL.`
          : `Saved the ${provider.label} ${noun}.`
      );
    } catch (error) {
      this._say(`Could not save the ${provider.label} ${noun}: ${(error as Error).message}`);
    }
    await this.reload();
  }

  private async _remove(provider: IProvider): Promise<void> {
    const noun = credentialNoun(provider);
    try {
      await requestAPI<void>(`credentials/${encodeURIComponent(provider.id)}`, {
        method: 'DELETE'
      });
      this._say(`Removed the ${provider.label} ${noun}.`);
    } catch (error) {
      this._say(`Could not remove the ${provider.label} ${noun}: ${(error as Error).message}`);
    }
    await this.reload();
  }

  /** One provider's form open at a time: the one whose Edit was pressed last. */
  private _showExpanded(): void {
    for (const form of this._list.querySelectorAll<HTMLFormElement>('form[data-provider]')) {
      const open = form.dataset.provider === this._expanded;
      form.querySelector<HTMLElement>('.jp-DeltaChat-providerFields')!.hidden = !open;
      form
        .querySelector('.jp-DeltaChat-providerEdit')!
        .setAttribute('aria-expanded', String(open));
      if (open) {
        form.querySelector('input')?.focus();
      }
    }
  }

  private _say(text: string): void {
    this._message.textContent = text;
  }

  private _message: HTMLElement;
  private _list: HTMLElement;
  private _expanded: string | null;
}

/** A dialog whose Enter key in a key field saves that provider instead of closing. */
class KeysDialog extends Dialog<unknown> {
  handleEvent(event: Event): void {
    const target = event.target as HTMLElement | null;
    if (
      event.type === 'keydown' &&
      (event as KeyboardEvent).key === 'Enter' &&
      target instanceof HTMLInputElement &&
      target.form?.classList.contains('jp-DeltaChat-provider')
    ) {
      event.preventDefault();
      event.stopPropagation();
      target.form.requestSubmit();
      return;
    }
    super.handleEvent(event);
  }
}

/** Open the keys dialog, optionally with one provider's first field focused. */
export async function openKeysDialog(provider?: string): Promise<void> {
  const dialog = new KeysDialog({
    title: 'API keys',
    body: new KeysBody(provider),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
  dialog.addClass('jp-DeltaChat-keysDialog');
  await dialog.launch();
  dialog.dispose();
}
