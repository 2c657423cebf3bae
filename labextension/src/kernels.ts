import { ISessionContext } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import {
  Kernel,
  KernelConnection,
  KernelSpecAPI,
  ServerConnection,
  ServiceManager
} from '@jupyterlab/services';
import { ChatPanel } from './panel';

/** The chat kernel's notebook path: the scope of its chats (the server gives it to the
 * kernel as `JPY_SESSION_NAME`, server/chat_kernel.py). */
export const CHAT_SESSION_PATH = '.deltachat/chat';

/**
 * Decides which kernel the panel talks to: the active notebook's (following focus), or,
 * with no notebook open, a chat kernel of its own that survives page reloads. The chat
 * kernel is private to the extension (`/deltachat/api/kernels`, not `/api/kernels`), so it
 * never shows in notebooks' kernel pickers or the Running sidebar.
 */
export class ChatKernels {
  constructor(
    private readonly _services: ServiceManager.IManager,
    private readonly _notebooks: INotebookTracker | null,
    private readonly _panel: ChatPanel
  ) {
    _notebooks?.currentChanged.connect(this._follow, this);
    _panel.shown.connect(() => this.ensure());
  }

  /** Attach the panel to some kernel if it has none yet; also starts following focus. */
  ensure(): void {
    this._active = true;
    const notebook = this._notebooks?.currentWidget;
    if (notebook) {
      this._follow();
    } else if (!this._panel.kernel || this._panel.kernel.isDisposed) {
      void this._useChatKernel();
    }
  }

  dispose(): void {
    this._notebooks?.currentChanged.disconnect(this._follow, this);
    this._watched?.kernelChanged.disconnect(this._follow, this);
  }

  private _follow(): void {
    if (!this._active) {
      return;
    }
    const notebook = this._notebooks?.currentWidget ?? null;
    if (!notebook) {
      return;
    }
    this._watch(notebook.sessionContext);
    void this._attachNotebook(notebook);
  }

  private _watch(context: ISessionContext): void {
    if (this._watched === context) {
      return;
    }
    this._watched?.kernelChanged.disconnect(this._follow, this);
    this._watched = context;
    context.kernelChanged.connect(this._follow, this);
  }

  private async _attachNotebook(notebook: NotebookPanel): Promise<void> {
    await notebook.sessionContext.ready;
    if (this._notebooks?.currentWidget !== notebook) {
      return;
    }
    const kernel = notebook.sessionContext.session?.kernel;
    if (!kernel) {
      return;
    }
    this._panel.attach(
      kernel,
      `${notebook.title.label} · ${displayName(this._services, kernel)}`,
      notebook.context.path
    );
  }

  private async _useChatKernel(): Promise<void> {
    if (this._starting) {
      return;
    }
    this._starting = true;
    try {
      let kernel = this._chatKernel;
      if (!kernel || kernel.isDisposed || kernel.status === 'dead') {
        kernel?.dispose();
        kernel = this._chatKernel = await startChatKernel(this._services);
      }
      if (!this._notebooks?.currentWidget) {
        this._panel.attach(
          kernel,
          `Chat kernel · ${displayName(this._services, kernel)}`,
          CHAT_SESSION_PATH
        );
      }
    } catch (error) {
      console.error('jupyter-deltachat: could not start a chat kernel', error);
    } finally {
      this._starting = false;
    }
  }

  private _chatKernel: Kernel.IKernelConnection | null = null;
  private _active = false;
  private _starting = false;
  private _watched: ISessionContext | null = null;
}

function displayName(services: ServiceManager.IManager, kernel: Kernel.IKernelConnection): string {
  return services.kernelspecs.specs?.kernelspecs[kernel.name]?.display_name ?? kernel.name;
}

/**
 * A connection to the chat kernel, started if none runs: the server keeps one for all
 * pages, so a reloaded page finds the same kernel and its chats.
 */
async function startChatKernel(
  services: ServiceManager.IManager
): Promise<Kernel.IKernelConnection> {
  await services.kernelspecs.ready;
  const server = services.serverSettings;
  const settings = ServerConnection.makeSettings({
    ...server,
    baseUrl: URLExt.join(server.baseUrl, 'deltachat/'),
    wsUrl: URLExt.join(server.wsUrl, 'deltachat/')
  });
  const response = await ServerConnection.makeRequest(
    URLExt.join(settings.baseUrl, 'api/kernels'),
    {
      method: 'POST',
      body: JSON.stringify({ name: services.kernelspecs.specs?.default ?? 'python3' })
    },
    settings
  );
  if (!response.ok) {
    throw await ServerConnection.ResponseError.create(response);
  }
  const model = (await response.json()) as Kernel.IModel;
  return new KernelConnection({
    model,
    serverSettings: settings,
    kernelSpecAPIClient: new KernelSpecAPI.KernelSpecAPIClient({ serverSettings: server })
  });
}
