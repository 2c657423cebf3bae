import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { cellRef, hasError } from './context';
import { ChatKernels } from './kernels';
import { openKeysDialog } from './keys';
import { ChatPanel, IPanelSettings, PANEL_ID } from './panel';
import { LabIcon } from '@jupyterlab/ui-components';

/** The sidebar tab's icon: a speech bubble, drawn like JupyterLab's own (jp-icon3 fill). */
const chatIcon = new LabIcon({
  name: 'jupyter-deltachat:chat',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 ' +
    '2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 ' +
    '0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z"/></svg>'
});

/** The bundler resolves this at build time; the compiled `lib/` sits beside package.json. */
declare function require(path: '../package.json'): { version: string };

const PLUGIN_ID = 'jupyter-deltachat:plugin';
const VERSION = require('../package.json').version;

namespace CommandIDs {
  export const open = 'deltachat:open';
  export const newChat = 'deltachat:new-chat';
  export const stop = 'deltachat:stop';
  export const focusInput = 'deltachat:focus-input';
  export const keys = 'deltachat:keys';
  export const explainError = 'deltachat:explain-error';
  export const fixError = 'deltachat:fix-error';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A sidebar chat with language models that run in the kernel.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [INotebookTracker, ISettingRegistry, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new ChatPanel({
      rendermime,
      client: `jupyterlab-deltachat/${VERSION}`,
      openKeys: provider => void openKeysDialog(provider),
      insertCode: code => {
        const notebook = notebooks?.currentWidget;
        if (!notebook) {
          return;
        }
        NotebookActions.insertBelow(notebook.content);
        notebook.content.activeCell?.model.sharedModel.setSource(code);
        app.shell.activateById(notebook.id);
      },
      replaceCode: code => {
        const notebook = notebooks?.currentWidget;
        const cell = notebook?.content.activeCell;
        if (!notebook || !cell) {
          return;
        }
        cell.model.sharedModel.setSource(code);
        app.shell.activateById(notebook.id);
      },
      activeCell: () => {
        const cell = notebooks?.activeCell;
        return cell ? cellRef(cell.model.toJSON()) : null;
      },
      notebook: () => {
        const notebook = notebooks?.currentWidget;
        if (!notebook) {
          return null;
        }
        const cells = notebook.content.widgets.map(cell => cellRef(cell.model.toJSON()));
        return { kind: 'notebook', path: notebook.context.path, cells };
      },
      files: {
        contents: app.serviceManager.contents,
        open: path => void app.commands.execute('docmanager:open', { path })
      }
    });
    panel.title.icon = chatIcon;
    app.shell.add(panel, 'right', { rank: 500 });
    restorer?.add(panel, PANEL_ID);

    const kernels = new ChatKernels(app.serviceManager, notebooks, panel);
    panel.disposed.connect(() => kernels.dispose());

    const { commands } = app;
    const show = () => {
      app.shell.activateById(PANEL_ID);
      kernels.ensure();
    };
    /** A command's action that needs the panel: shown first. */
    const showThen = (action: () => void) => () => {
      show();
      action();
    };
    commands.addCommand(CommandIDs.open, {
      label: 'Chat',
      caption: 'Open the chat with language models',
      execute: show
    });
    commands.addCommand(CommandIDs.newChat, {
      label: 'New Chat',
      execute: showThen(() => panel.newChat())
    });
    commands.addCommand(CommandIDs.stop, {
      label: 'Stop Chat Reply',
      execute: () => panel.stop()
    });
    commands.addCommand(CommandIDs.focusInput, {
      label: 'Focus Chat Input',
      execute: showThen(() => panel.focusInput())
    });
    commands.addCommand(CommandIDs.keys, {
      label: 'Chat API Keys…',
      execute: () => void openKeysDialog()
    });
    const activeCellHasError = () =>
      hasError(notebooks?.activeCell ? cellRef(notebooks.activeCell.model.toJSON()) : null);
    const showErrorActions = () => {
      panel.context.activeCellHasError = activeCellHasError();
    };
    notebooks?.activeCellChanged.connect(showErrorActions);
    NotebookActions.executed.connect(showErrorActions);
    commands.addCommand(CommandIDs.explainError, {
      label: 'Explain Error in Chat',
      caption: 'Send this cell and its error to the chat, asking what went wrong',
      isEnabled: activeCellHasError,
      execute: showThen(() => panel.askAboutError('explain'))
    });
    commands.addCommand(CommandIDs.fixError, {
      label: 'Fix Error in Chat',
      caption: 'Send this cell and its error to the chat, asking for a corrected cell',
      isEnabled: activeCellHasError,
      execute: showThen(() => panel.askAboutError('fix'))
    });
    for (const [rank, command] of [CommandIDs.explainError, CommandIDs.fixError].entries()) {
      app.contextMenu.addItem({ command, selector: '.jp-Notebook .jp-CodeCell', rank: 20 + rank });
    }
    for (const command of Object.values(CommandIDs)) {
      palette?.addItem({ command, category: 'Chat' });
    }

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          panel.settings = {
            defaultModel: settings.get('defaultModel').composite as string,
            sendKey: settings.get('sendKey').composite as IPanelSettings['sendKey'],
            minRenderIntervalMs: settings.get('frameIntervalMs').composite as number
          };
        };
        apply();
        settings.changed.connect(apply);
      });
    }
  }
};

export default plugin;
