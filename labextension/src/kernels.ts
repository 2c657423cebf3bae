import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, ServiceManager, Session } from '@jupyterlab/services';
import { ChatPanel } from './panel';

/** Where the panel's own chat kernel is registered, so a reloaded page finds it again. */
export const CHAT_SESSION_PATH = '.deltachat/chat';

/**
 * Decides which kernel the panel talks to: the active notebook's (following focus), or,
 * with no notebook open, a chat kernel of its own that survives page reloads.
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
      await this._services.ready;
      const sessions = this._services.sessions;
      const existing = await sessions.findByPath(CHAT_SESSION_PATH);
      let session: Session.ISessionConnection;
      if (existing) {
        session = sessions.connectTo({ model: existing });
      } else {
        await this._services.kernelspecs.ready;
        session = await sessions.startNew(
          {
            path: CHAT_SESSION_PATH,
            name: 'Chat',
            type: 'deltachat',
            kernel: { name: this._services.kernelspecs.specs?.default ?? 'python3' }
          },
          {}
        );
      }
      const kernel = session.kernel;
      if (kernel && !this._notebooks?.currentWidget) {
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

  private _active = false;
  private _starting = false;
  private _watched: ISessionContext | null = null;
}

function displayName(services: ServiceManager.IManager, kernel: Kernel.IKernelConnection): string {
  return services.kernelspecs.specs?.kernelspecs[kernel.name]?.display_name ?? kernel.name;
}
