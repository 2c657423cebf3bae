"""Kernel-side model sources that tests register by running them in a real kernel (a
notebook cell in the browser tests, ``KernelHarness.execute`` in the kernel tests)."""

ANALYST = """
import jupyter_deltachat as dc

x = 4

@dc.register("analyst")
def analyst(messages, config):
    if messages[-1].role == "tool":
        yield "Result: " + messages[-1].content
    else:
        yield "Let me compute. "
        yield dc.CallTool("python", {"code": "print(x * 2)\\nx + 1"})
"""
"""``analyst`` (a plain function too, for ``dc.Chat(analyst, ...)``) asks once to run
``print(x * 2)`` / ``x + 1`` with the ``python`` tool (x is 4), then answers ``Result: ``
and the tool's result."""
