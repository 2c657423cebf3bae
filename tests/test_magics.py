"""``%chat`` / ``%%chat`` in notebooks executed by nbclient on a real kernel.

One notebook runs once per module (a kernel start is the slow part); each test reads the
outputs, iopub messages and execute replies of the cells it is about, found by tag.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_client import CommClient, KernelHarness
from nbclient import NotebookClient

from jupyter_deltachat.kernel.magics import LENGTH_MARK, STOPPED_MARK, extract_code, split_options
from jupyter_deltachat.models.demo import WELCOME
from jupyter_deltachat.models.spec import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_ENV_PREFIXES = ("OPENAI", "ANTHROPIC", "GEMINI", "GOOGLE", "GROQ", "AWS", "OLLAMA")

MODELS = """
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause

@dc.register
def echo(messages):
    for word in ("you said: " + messages[-1].content).split(" "):
        yield word if word == "you" else " " + word

@dc.register
def roles(messages):
    return " ".join(m.role for m in messages)

@dc.register
def coder(messages):
    return "Here:\\n```bash\\npip install x\\n```\\n```python\\nprint('hello')\\n```\\nDone."

@dc.register
def broken(messages):
    raise ValueError("bad key sk-abcdefghijklmnopqrstuvwx")
    yield ""

@dc.register
def slow(messages):
    for i in range(2000):
        yield f"word{i} "
        if pause(0.05):
            return

class Person:
    attr = "x"

name, p, seq = "Ada", Person(), ["first"]
"""

ASLEEP = """
import time

@dc.register
def asleep(messages):
    time.sleep(3600)  # blocked in C: a stop must abandon it
    yield "never"
"""

CELLS: list[tuple[str, str]] = [
    ("load", "%load_ext jupyter_deltachat"),
    ("define", MODELS),
    ("demo", "%chat -m demo --new What is this?"),
    ("interpolate", "%chat -m echo --chat t1 hi {name}, {p.attr}, {seq[0]}, {{literal}}"),
    ("unknown-name", "%chat -m echo --chat t1 hello {nobody}"),
    ("no-interpolate", "%chat -m echo --chat t1 --no-interpolate keep {braces}"),
    ("history", "%chat history --chat t1"),
    ("cell", "%%chat -m echo --chat t2 -o answer\nline one\nline two {name}"),
    ("output", "print(repr(answer))"),
    ("code", "%chat -m coder --chat t3 -f code write hello"),
    ("text", "%chat -m echo --chat t3 -f text plain please"),
    ("max-tokens", "%chat -m demo --chat t3 --max-tokens 3 hi"),
    ("models", "%chat models"),
    ("use", "%chat use echo"),
    ("use-default", "%chat --chat t4 what's up?"),
    ("use-unknown", "%chat use nope"),
    ("use-demo", "%chat use demo"),
    ("register-fn", "def shout(messages):\n    return messages[-1].content.upper()"),
    ("register", "%chat register loud shout"),
    ("register-use", "%chat -m loud --chat t5 hey there"),
    ("system", '%chat -m roles --chat t6 -s "Be brief." hi'),
    ("system-again", '%chat -m roles --chat t6 -s "Be brief." again'),
    ("bad-format", "%chat -f pdf hi"),
    ("model-error", "%chat -m broken --chat t8 hi"),
    ("help", "%chat help"),
    ("clear", "%chat clear --chat t1"),
    ("cleared", "%chat history --chat t1"),
    ("interrupt", "%chat -m slow --chat t7 go"),
    ("after-interrupt", "1 + 1"),
    ("stopped-history", "%chat history --chat t7"),
    ("reuse", "%chat -m echo --chat t7 still here"),
    ("define-asleep", ASLEEP),
    ("interrupt-blocked", "%chat -m asleep --chat t9 go"),
    ("after-blocked", "%chat -m echo --chat t9 free again"),
]


class RecordingClient(NotebookClient):
    """nbclient's client, also keeping each cell's iopub messages and execute reply; it
    interrupts the kernel when the cell tagged ``interrupt`` shows its first streamed text,
    and when the one tagged ``interrupt-blocked`` shows its first output."""

    def __init__(self, nb: Any, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.replies: dict[int, dict[str, Any]] = {}
        self.on_cell_executed = self._keep_reply
        self._interrupted = False
        self._interrupted_blocked = False

    def _keep_reply(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        self.replies[cell_index] = execute_reply

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        self.messages.setdefault(cell_index, []).append(msg)
        tags = cell.metadata.get("tags", [])
        first_update = msg["msg_type"] == "update_display_data" and not self._interrupted
        first_display = msg["msg_type"] == "display_data" and not self._interrupted_blocked
        if "interrupt" in tags and first_update:
            self._interrupted = True
            asyncio.get_running_loop().create_task(self.km.interrupt_kernel())
        if "interrupt-blocked" in tags and first_display:
            self._interrupted_blocked = True
            asyncio.get_running_loop().create_task(self.km.interrupt_kernel())
        return super().process_message(msg, cell, cell_index)


def kernel_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["JUPYTER_DELTACHAT_CREDENTIALS"] = str(tmp / "credentials.json")
    return env


def run_notebook(nb: Any, tmp: Path) -> RecordingClient:
    client = RecordingClient(
        nb,
        timeout=120,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(env=kernel_env(tmp))
    return client


class Run:
    def __init__(self, client: RecordingClient, nb: Any) -> None:
        self.client, self.nb = client, nb
        self.index = {tag: i for i, (tag, _) in enumerate(CELLS)}

    def outputs(self, tag: str) -> list[dict[str, Any]]:
        return self.nb.cells[self.index[tag]].outputs

    def only_output(self, tag: str) -> dict[str, Any]:
        outputs = self.outputs(tag)
        assert len(outputs) == 1, outputs
        return outputs[0]

    def data(self, tag: str) -> dict[str, Any]:
        shown = [o for o in self.outputs(tag) if o["output_type"] != "error"]
        assert len(shown) == 1 and shown[0]["output_type"] == "display_data", shown
        return dict(shown[0]["data"])

    def stdout(self, tag: str) -> str:
        output = self.only_output(tag)
        assert output["output_type"] == "stream" and output["name"] == "stdout", output
        return output["text"]

    def error(self, tag: str) -> tuple[str, str, list[str]]:
        errors = [o for o in self.outputs(tag) if o["output_type"] == "error"]
        assert len(errors) == 1, self.outputs(tag)
        return errors[0]["ename"], errors[0]["evalue"], errors[0]["traceback"]

    def reply(self, tag: str) -> dict[str, Any]:
        return self.client.replies[self.index[tag]]["content"]

    def updates(self, tag: str) -> list[dict[str, Any]]:
        msgs = self.client.messages[self.index[tag]]
        return [m for m in msgs if m["msg_type"] == "update_display_data"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    nb = nbformat.v4.new_notebook()
    for tag, source in CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [tag]}))
    client = run_notebook(nb, tmp_path_factory.mktemp("magics"))
    return Run(client, nb)


def markdown(text: str) -> dict[str, str]:
    return {"text/markdown": text, "text/plain": text}


def error_line(message: str) -> list[str]:
    return [f"\x1b[0;31mChatError\x1b[0m: {message}"]


def test_streams_then_ends_with_the_exact_reply(run: Run) -> None:
    assert run.data("demo") == markdown(WELCOME)
    updates = run.updates("demo")
    assert len(updates) >= 5, "the reply must stream, not arrive only as the final result"
    assert updates[-1]["content"]["data"] == markdown(WELCOME)
    streamed = [u["content"]["data"]["text/markdown"] for u in updates[:-1]]
    assert all(WELCOME.startswith(text) for text in streamed)
    assert len(set(streamed)) == len(streamed)
    display_ids = {u["content"]["transient"]["display_id"] for u in updates}
    assert len(display_ids) == 1


def test_updates_are_throttled_to_ten_a_second(run: Run) -> None:
    times = [u["header"]["date"] for u in run.updates("demo")[:-1]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.095, gaps


def test_interpolation_and_escapes(run: Run) -> None:
    assert run.data("interpolate") == markdown("you said: hi Ada, x, first, {literal}")


def test_unknown_name_is_an_error_that_names_it(run: Run) -> None:
    message = (
        "name 'nobody' is not defined (in {nobody} in the prompt); define it, write {{ and }} "
        "for literal braces, or use --no-interpolate"
    )
    assert run.error("unknown-name") == ("ChatError", message, error_line(message))
    assert run.reply("unknown-name")["status"] == "error"


def test_no_interpolate_sends_braces(run: Run) -> None:
    assert run.data("no-interpolate") == markdown("you said: keep {braces}")


def test_history_shows_the_chat_without_the_failed_prompt(run: Run) -> None:
    expected = (
        "**user**\n\nhi Ada, x, first, {literal}\n\n---\n\n"
        "**assistant** (echo)\n\nyou said: hi Ada, x, first, {literal}\n\n---\n\n"
        "**user**\n\nkeep {braces}\n\n---\n\n"
        "**assistant** (echo)\n\nyou said: keep {braces}"
    )
    plain = (
        "[user] hi Ada, x, first, {literal}\n\n[assistant] you said: hi Ada, x, first, {literal}"
        "\n\n[user] keep {braces}\n\n[assistant] you said: keep {braces}"
    )
    assert run.data("history") == {"text/markdown": expected, "text/plain": plain}


def test_cell_magic_and_output_variable(run: Run) -> None:
    assert run.data("cell") == markdown("you said: line one\nline two Ada")
    assert run.stdout("output") == "'you said: line one\\nline two Ada'\n"


def test_format_code_puts_the_code_in_a_new_cell(run: Run) -> None:
    reply = "Here:\n```bash\npip install x\n```\n```python\nprint('hello')\n```\nDone."
    assert run.data("code") == markdown(reply)
    payload = run.reply("code")["payload"]
    assert payload == [{"source": "set_next_input", "text": "print('hello')", "replace": False}]


def test_format_text_is_plain_only(run: Run) -> None:
    assert run.data("text") == {"text/plain": "you said: plain please"}
    assert run.reply("text")["payload"] == []


def test_max_tokens_marks_the_cut(run: Run) -> None:
    assert run.data("max-tokens") == markdown(f"## Welcome to \n\n{LENGTH_MARK}")


def test_models_table(run: Run) -> None:
    data = run.data("models")
    lines = data["text/markdown"].split("\n")
    assert lines[:2] == ["| id | provider | configured |", "|---|---|---|"]
    assert lines[2:8] == [
        "| demo (default) | demo | yes |",
        "| echo | kernel | yes |",
        "| roles | kernel | yes |",
        "| coder | kernel | yes |",
        "| broken | kernel | yes |",
        "| slow | kernel | yes |",
    ]
    assert lines[8:] == [
        f"| {provider}:{model} | {provider} | no |"
        for provider, entry in PROVIDERS.items()
        for model in entry.default_models
    ]
    plain = [re.split(r"\s{2,}", row) for row in data["text/plain"].split("\n")]
    assert plain[:3] == [
        ["id", "provider", "configured"],
        ["demo (default)", "demo", "yes"],
        ["echo", "kernel", "yes"],
    ]
    assert len(plain) == len(lines) - 1


def test_use_sets_the_default_model(run: Run) -> None:
    assert run.stdout("use") == "default model: echo\n"
    assert run.data("use-default") == markdown("you said: what's up?")
    ename, evalue, _ = run.error("use-unknown")
    assert ename == "ChatError"
    assert evalue.startswith("unknown model 'nope'; known: broken, coder, demo, echo, roles, slow")
    assert evalue.endswith("(unknown_model)")
    assert run.stdout("use-demo") == "default model: demo\n"


def test_register_a_function_from_the_namespace(run: Run) -> None:
    assert run.stdout("register") == "registered model 'loud': %chat -m loud ...\n"
    assert run.data("register-use") == markdown("HEY THERE")


def test_system_message_is_added_once(run: Run) -> None:
    assert run.data("system") == markdown("system user")
    assert run.data("system-again") == markdown("system user assistant user")


def test_bad_arguments_are_one_line(run: Run) -> None:
    message = "argument -f/--format: invalid choice: 'pdf' (choose from 'markdown', 'text', 'code')"
    assert run.error("bad-format") == ("ChatError", message, error_line(message))


def test_model_errors_are_one_redacted_line_and_where_the_model_raised(run: Run) -> None:
    message = "ValueError: bad key [redacted] (model_error)"
    ename, evalue, shown = run.error("model-error")
    assert (ename, evalue) == ("ChatError", message)
    assert shown[:2] == [
        *error_line(message),
        "Traceback (the model's frames, most recent call last):",
    ]
    assert len(shown) == 3
    frames = shown[2].splitlines()
    assert len(frames) == 2, shown[2]
    assert frames[0].startswith('  File "') and frames[0].endswith(", in broken")
    assert frames[1] == '    raise ValueError("bad key [redacted]")'
    display = [o for o in run.outputs("model-error") if o["output_type"] == "display_data"]
    assert [o["data"] for o in display] == [markdown("")]


def test_help(run: Run) -> None:
    text = run.stdout("help")
    assert "%chat register NAME FUNCTION" in text
    assert "-f <{markdown,text,code}>, --format <{markdown,text,code}>" in text
    assert "(%%chat: the cell body)" in text


def test_clear(run: Run) -> None:
    assert run.stdout("clear") == "cleared chat 't1'\n"
    assert run.stdout("cleared") == "chat 't1' is empty\n"


def test_interrupt_keeps_the_partial_reply_and_the_kernel_usable(run: Run) -> None:
    data = run.data("interrupt")
    assert STOPPED_MARK == "*stopped*"
    assert data["text/markdown"].endswith(f"\n\n{STOPPED_MARK}")
    partial = data["text/markdown"].removesuffix(f"\n\n{STOPPED_MARK}")
    words = partial.split(" ")
    assert words[-1] == "" and words[:-1] == [f"word{i}" for i in range(len(words) - 1)]
    assert 1 <= len(words) - 1 < 2000
    assert data["text/plain"] == data["text/markdown"]
    message = "stopped; the partial reply is kept in chat 't7'"
    assert run.error("interrupt") == ("ChatError", message, error_line(message))
    assert run.nb.cells[run.index["after-interrupt"]].outputs[0]["data"] == {"text/plain": "2"}
    history = run.data("stopped-history")["text/markdown"]
    assert history == f"**user**\n\ngo\n\n---\n\n**assistant** (slow) — cancelled\n\n{partial}"
    assert run.data("reuse") == markdown("you said: still here")


def test_interrupting_a_model_blocked_in_c_frees_the_chat(run: Run) -> None:
    assert run.data("interrupt-blocked") == markdown(STOPPED_MARK)
    message = "stopped; the partial reply is kept in chat 't9'"
    assert run.error("interrupt-blocked") == ("ChatError", message, error_line(message))
    assert run.data("after-blocked") == markdown("you said: free again")


def test_a_chat_cell_shows_up_on_a_comm(kernel: KernelHarness, client: CommClient) -> None:
    kernel.execute("%chat -m demo --chat shared --max-tokens 4 hello sidebar")
    message = client.next("message")
    assert message["chat_id"] == "shared"
    assert message["message"]["role"] == "user"
    assert message["message"]["content"] == "hello sidebar"
    stream = client.stream()
    assert stream.start is not None and stream.start["model"] == "demo"
    assert stream.text() == "## Welcome to deltachat\n\n"
    assert stream.done["finish_reason"] == "length"
    snapshot = client.request({"type": "sync", "chat_id": "shared"}, "snapshot")
    contents = [(m["role"], m["content"]) for m in snapshot["messages"]]
    assert contents == [("user", "hello sidebar"), ("assistant", "## Welcome to deltachat\n\n")]


@pytest.mark.parametrize(
    ("line", "tokens", "prompt"),
    [
        ('-m demo -s "be terse" what\'s {x}?', ["-m", "demo", "-s", "be terse"], "what's {x}?"),
        ("--new -- -1 is negative", ["--new"], "-1 is negative"),
        ("  hello   there ", [], "hello   there"),
        ("--chat=a --max-tokens 3", ["--chat=a", "--max-tokens", "3"], ""),
    ],
)
def test_split_options(line: str, tokens: list[str], prompt: str) -> None:
    assert split_options(line) == (tokens, prompt)


def test_extract_code_prefers_python() -> None:
    assert extract_code("a\n```sh\nls\n```\n```py\nx = 1\n```\n") == "x = 1"
    assert extract_code("a\n```sh\nls\n```\n") == "ls"
    assert extract_code("  x = 1\n") == "x = 1"


@pytest.mark.parametrize("name", ["magics", "widget"])
def test_example_notebook_runs_offline(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(ROOT / "examples" / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute(env=kernel_env(tmp_path))
    sources = {cell.source: cell for cell in nb.cells if cell.cell_type == "code"}
    if name == "magics":
        interpolated = sources[
            "scores = [3, 1, 2]\n%chat first {scores[0]} of {scores} in {{braces}}"
        ]
        assert interpolated.outputs[0]["data"] == markdown("{braces} in 2] 1, [3, of 3 first ")
        assert sources["answer"].outputs[0]["data"] == {"text/plain": "'one two three '"}
    else:
        listing = sources["[(m.role, m.content) for m in chat.value]"].outputs[0]["data"]
        assert listing == {
            "text/plain": "[('system', 'Be brief.'),\n ('user', 'streams into the widget above'),\n"
            " ('assistant', 'streams into the widget above ')]"
        }
