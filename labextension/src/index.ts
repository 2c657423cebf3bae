import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-deltachat:plugin',
  description: 'A sidebar chat with language models running in the kernel.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new Widget();
    panel.id = 'jupyter-deltachat-panel';
    panel.title.caption = 'Chat';
    panel.title.label = 'Chat';
    panel.addClass('jp-DeltaChat');
    app.shell.add(panel, 'right', { rank: 500 });
    restorer?.add(panel, 'jupyter-deltachat-panel');
  }
};

export default plugin;
