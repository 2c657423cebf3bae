"""``demo``: an offline model that streams a useful welcome, so streaming works with no key.

With tools on, a question about the user's variables or data makes it call
``list_variables`` (or, when only ``python`` is enabled, the ``python`` tool, which the user
approves) and answer from the result, so agent mode works with no key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..stop import pause
from ..types import CallTool, ChatConfig, Finish, Message

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


_ASKS_ABOUT_DATA = re.compile(r"\b(variables?|data|dataframes?|namespace)\b", re.IGNORECASE)
LOOK_AT_VARIABLES = (
    "{name: type(value).__name__ for name, value in globals().items()\n"
    " if not name.startswith('_') and name not in ('In', 'Out', 'exit', 'quit', 'get_ipython')\n"
    " and not callable(value) and type(value).__name__ != 'module'}"
)
DENIED = "the user denied this call"


def demo_model(messages: list[Message], config: ChatConfig) -> Iterator[str | Finish | CallTool]:
    """Stream ``WELCOME`` word by word at reading pace (``max_tokens`` caps the words); with
    the ``python`` tool enabled, answer a question about the user's data by calling it."""
    tools = {tool.name for tool in getattr(config, "tools", [])}
    last = messages[-1] if messages else None
    if last is not None and last.role == "tool":
        yield from _paced(_answer_from(last.content), config.max_tokens)
    elif (
        last is not None
        and tools & {"list_variables", "python"}
        and _ASKS_ABOUT_DATA.search(last.content)
    ):
        yield "Let me look at the variables in your kernel. "
        if "list_variables" in tools:
            yield CallTool("list_variables", {})
        else:
            yield CallTool("python", {"code": LOOK_AT_VARIABLES})
    else:
        yield from _paced(WELCOME, config.max_tokens)


def _answer_from(result: str) -> str:
    if result == DENIED:
        return "You denied the call, so I cannot see your variables."
    return (
        "Your kernel holds these variables, as the tool call above found:\n\n"
        f"```\n{result}\n```\n\nA real model would now answer your question from them."
    )


def _paced(text: str, limit: int | None) -> Iterator[str | Finish]:
    for count, word in enumerate(_WORDS.findall(text)):
        if limit is not None and count >= limit:
            yield Finish("length")
            return
        yield word
        if pause(0.02):
            return
