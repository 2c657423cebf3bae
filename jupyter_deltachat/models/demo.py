"""``demo``: an offline model that streams a useful welcome, so streaming works with no key."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..stop import pause
from ..types import ChatConfig, Finish, Message

WELCOME = r"""## Welcome to deltachat

You are talking to the **demo** model: it runs offline inside your kernel and streams this
text a few words at a time, so you can see how replies arrive. Real models need a key or a
local server.

### Add a key

- Open the **key** button in this panel, pick a provider and paste your key. It is stored
  by the Jupyter server in a file only you can read, and never sent back to the browser.
- Or set the usual environment variable before starting Jupyter, such as `OPENAI_API_KEY`
  or `ANTHROPIC_API_KEY`.
- For local models, run [Ollama](https://ollama.com) and pick an `ollama:` model.

### Use your own Python function as a model

Any function that yields text *deltas* is a model. Run this in a notebook cell:

```python
import jupyter_deltachat as dc

@dc.register
def shout(messages, config):
    for word in messages[-1].content.split():
        yield word.upper() + " "
```

Then pick **shout** in the model list, or type `%chat -m shout hello there` in a cell.

### Markdown and math render as in notebooks

The softmax of a vector $z$ is

$$\sigma(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$$

Try `%chat help` in a notebook for the cell magics.
"""

_WORDS = re.compile(r"\S+\s*|\s+")


def demo_model(messages: list[Message], config: ChatConfig) -> Iterator[str | Finish]:
    """Stream ``WELCOME`` word by word at reading pace (``max_tokens`` caps the words)."""
    limit = config.max_tokens
    for count, word in enumerate(_WORDS.findall(WELCOME)):
        if limit is not None and count >= limit:
            yield Finish("length")
            return
        yield word
        if pause(0.02):
            return
