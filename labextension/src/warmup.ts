import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';

/** Common glyphs, a display formula, a list and highlighted code: what replies are made of. */
const SAMPLE = [
  '## Warm-up',
  '',
  '- a *list* with `code` and $x_i^2 + \\alpha\\beta\\gamma\\pi \\le \\sqrt{n}$',
  '',
  '$$\\sum_{i=1}^{n} \\frac{abcdefghijklmnopqrstuvwxyz}{ABCDEFGHIJKLMNOPQRSTUVWXYZ} ' +
    '= \\int_0^1 0123456789 (f+g-h) \\cdot [x] \\, dx$$',
  '',
  '```python',
  'def f(x):',
  '    return [x * 2 for x in range(10)]  # comment',
  '```'
].join('\n');

let started = false;

/**
 * Once per page, when the browser is idle: render a small sample with the real markdown
 * renderer and typesetter, off screen, so the one-time costs (loading the parser, the
 * highlighter's Python mode, MathJax's output fonts) are not paid in the middle of the first
 * streamed reply.
 */
export function warmUpRenderer(rendermime: IRenderMimeRegistry): void {
  if (started) {
    return;
  }
  started = true;
  const idle = window.requestIdleCallback ?? ((fn: () => void) => window.setTimeout(fn, 500));
  idle(() => void run(rendermime));
}

async function run(rendermime: IRenderMimeRegistry): Promise<void> {
  const host = document.createElement('div');
  host.className = 'jp-DeltaChat-warmup';
  host.setAttribute('aria-hidden', 'true');
  document.body.appendChild(host);
  const renderer = rendermime.createRenderer('text/markdown');
  host.appendChild(renderer.node);
  try {
    await renderer.renderModel(
      new MimeModel({ data: { 'text/markdown': SAMPLE }, trusted: false })
    );
    await rendermime.latexTypesetter?.typeset(renderer.node);
  } catch (error) {
    console.debug('jupyter-deltachat: renderer warm-up failed', error);
  } finally {
    renderer.dispose();
    host.remove();
  }
}
