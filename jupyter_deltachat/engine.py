"""The delta engine: runs one model reply off the kernel's main thread and streams it.

A model returns a ``str``, an awaitable, a sync iterator or an async iterator of deltas.
A ``Reply`` runs it in a worker thread (async ones on one shared background event loop),
accumulates the deltas, and reports through one callback: coalesced ``DeltaFrame``s (the
first delta at once, then as its ``FramePacing`` says; a quiet model's pending text is
flushed by the shared ``FrameClock``), then one ``ReplyDone``, its outcome.
The reply writes no chat: ``ChatService`` records what the events say. A stop is checked
between deltas; the generator is then closed from the thread that runs it, so its
``finally`` blocks run there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import ctypes
import dataclasses
import heapq
import inspect
import itertools
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .context.builtins import user_frames
from .errors import BadRequestError, DeltaChatError, ModelError
from .redact import redact
from .stop import StopSignal, bind
from .types import (
    CallTool,
    ChatConfig,
    Finish,
    FinishReason,
    Message,
    ModelConfig,
    Reasoning,
    ToolCall,
    ToolMessage,
    Usage,
    new_id,
)

if TYPE_CHECKING:
    from .tools import Tool

_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
"""A provider call id the engine keeps as the call's id (anything else gets its own id)."""
DEFAULT_MAX_STEPS = 10  # model calls per reply when tools are on
STOP_INTERRUPT_AFTER = 0.2  # a model still running then gets a KeyboardInterrupt
STOP_ABANDON_AFTER = 0.6  # one still running then (blocked in C) is abandoned: done at once

log = logging.getLogger(__name__)

Channel = Literal["content", "reasoning"]


@dataclass(frozen=True)
class DeltaFrame:
    """One coalesced ``delta`` frame of protocol v1 (without the chat id)."""

    message_id: str
    seq: int
    text: str
    channel: Channel


@dataclass(frozen=True)
class ReplyDone:
    """A reply's outcome, its last event: what the frames held and why it ended."""

    message_id: str
    seq: int
    content: str
    reasoning: str | None
    finish_reason: FinishReason
    error: DeltaChatError | None
    usage: Usage | None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ToolUpdate:
    """A tool call of the reply changed (a copy of it): sent as a ``tool`` event."""

    message_id: str
    call: ToolCall


ReplyEvent = DeltaFrame | ToolUpdate | ReplyDone


@dataclass(frozen=True)
class FramePacing:
    """When a reply's next frame goes out after its first (which goes at once).

    Every frame is a whole Jupyter message (about 780 bytes of header, parent header and
    fields besides its text), so a frame carrying a few characters is mostly envelope. A
    frame goes ``shortest`` seconds after the
    previous one at the earliest, and then as soon as its text reaches ``text_target``
    characters or ``longest`` seconds have passed: a fast stream gets 1/``shortest`` frames a
    second, a slow one fewer, fuller frames, and never waits longer than ``longest``.
    ``done`` never waits: the reply's end flushes what is pending at once.
    """

    shortest: float = 1 / 30
    longest: float = 0.4
    text_target: int = 1024

    def __post_init__(self) -> None:
        if not 0 <= self.shortest <= self.longest:
            raise ValueError(
                f"frame pacing needs 0 <= shortest <= longest, got {self.shortest} and "
                f"{self.longest}"
            )


ADAPTIVE_PACING = FramePacing()
FIXED_PACING = FramePacing(longest=1 / 30, text_target=0)
"""Protocol 1.0's pacing (a frame every 1/30 s whatever it carries), for the benchmark."""


class FrameClock:
    """One daemon thread that flushes replies whose model went quiet with text pending."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call_at(self, due: float, callback: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._order), callback))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="deltachat-frame-clock", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, callback = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            callback()


class _EventLoopThread:
    """The one background asyncio loop that runs every async model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="deltachat-async-models", daemon=True
                ).start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


_clock = FrameClock()
_async_models = _EventLoopThread()


def call_model(model: Callable[..., Any], messages: list[Message], config: ChatConfig) -> Any:
    """Call ``model`` with ``(messages, config)`` or ``(messages)``, as its signature takes."""
    try:
        parameters = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return model(messages, config)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return model(messages, config)
    return model(messages)


class Reply:
    """One assistant reply being produced: its deltas, frames, stop and outcome.

    ``on_event`` receives each ``DeltaFrame`` and then one ``ReplyDone``, in order and
    never two at once (the reply's lock is held while it runs). ``message`` is the reply's
    own record of the assistant message (its id and model; the final text once done).
    """

    def __init__(
        self,
        model: Callable[..., Any],
        messages: list[Message],
        config: ChatConfig,
        on_event: Callable[[ReplyEvent], None],
        *,
        model_id: str | None = None,
        message_id: str | None = None,
        pacing: FramePacing = ADAPTIVE_PACING,
        tools: list[Tool] | None = None,
        allowed_tools: set[str] | None = None,
    ) -> None:
        self.model = model
        self.messages = messages
        self.config = config
        self.message = Message(role="assistant", content="", model=model_id)
        if message_id is not None:
            self.message.id = message_id
        self.pacing = pacing
        self.outcome: ReplyDone | None = None
        self.seq = 0
        self.finish_reason: FinishReason | None = None
        self.error: DeltaChatError | None = None
        self.usage: Usage | None = None
        self._on_event = on_event
        self._lock = threading.RLock()  # held while frames and done are handed out
        self._stop = StopSignal()
        self._done_event = threading.Event()
        self._pending: list[tuple[Channel, list[str]]] = []
        self._pending_size = 0  # characters in _pending
        self._sent: dict[Channel, list[str]] = {"content": [], "reasoning": []}
        self._next_due = 0.0  # the earliest time of the next frame (shortest)
        self._latest_due = 0.0  # the time by which pending text goes out (longest)
        self._clock_at: float | None = None  # when the frame clock looks at this reply next
        self._model_finish: FinishReason | None = None
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._thread: threading.Thread | None = None
        self._concluded = False  # the outcome is out; nothing of this reply is sent again
        self.tools = {tool.info.name: tool for tool in tools or []}
        self.allowed_tools = allowed_tools if allowed_tools is not None else set()
        self.tool_calls: list[ToolCall] = []
        self._step_calls: list[ToolCall] = []
        self._earlier_ids = {call.id for m in messages for call in m.tool_calls}
        self._argument_errors: dict[str, str] = {}  # call id -> why its arguments were unreadable
        self._awaiting: dict[str, tuple[threading.Event, list[str]]] = {}

    # -- control, from any thread ------------------------------------------------------

    def start(self) -> None:
        context = contextvars.copy_context()
        context.run(bind, self._stop)
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="deltachat-reply", daemon=True
        )
        self._thread.start()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def finished(self) -> bool:
        return self._done_event.is_set()

    def stop(self) -> None:
        """Ask the reply to stop: pending text is kept and flushed, done says cancelled.

        A model that does not return within ``STOP_INTERRUPT_AFTER`` gets a
        ``KeyboardInterrupt`` in its thread (it ends one running Python code), unless it
        registered ``on_stop`` callbacks (providers: an exception must not land inside their
        HTTP client); one still running at ``STOP_ABANDON_AFTER`` is abandoned.
        """
        with self._lock:
            if self._concluded:
                return
            callbacks = self._stop.set()
            task = self._task
        if callbacks is None:
            return
        now = time.monotonic()
        if not callbacks:  # a model with on_stop callbacks said how it stops: no interrupt
            _clock.call_at(now + STOP_INTERRUPT_AFTER, self._interrupt)
        _clock.call_at(now + STOP_ABANDON_AFTER, self._abandon)
        if task is not None:
            loop, running = task
            loop.call_soon_threadsafe(running.cancel)
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - a failed abort must not break the stop
                log.debug("a stop callback failed: %s", redact(repr(exc)))

    def wait(self, timeout: float | None = None) -> bool:
        return self._done_event.wait(timeout)

    def _interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` in the worker, if it still runs the model (clock thread).

        Sent with the lock held, so it never lands while the worker hands out a frame or
        the outcome. Async models are left to their task's cancellation.
        """
        with self._lock:
            thread = self._thread
            if self._concluded or self._task is not None or thread is None:
                return
            if thread.ident is not None and thread.is_alive():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
                )

    def _abandon(self) -> None:
        """Conclude a stopped reply whose model is blocked in C (clock thread)."""
        with self._lock:
            if self._concluded:
                return
            self._conclude()
        name = getattr(self.model, "__name__", type(self.model).__name__)
        kernel_log(
            f"model {name!r} did not stop within {STOP_ABANDON_AFTER} s (blocked outside "
            "Python); its thread is abandoned and whatever it produces later is discarded"
        )

    # -- the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            try:
                self._steps()
            except BaseException as exc:  # noqa: BLE001 - every failure ends the reply cleanly
                if not self._stop.is_set():
                    self.error = as_chat_error(exc)
            finally:
                with self._lock:
                    if not self._concluded:
                        self._conclude()
        except KeyboardInterrupt:  # the stop's interrupt, landing after the model returned
            if not self._stop.is_set():
                raise

    def _steps(self) -> None:
        """Call the model; while it calls tools, run them and call it again with the results."""
        messages = list(self.messages)
        config = ModelConfig(**self.config.to_json())
        config.max_steps = None
        config.tools = [tool.info for tool in self.tools.values()]
        max_steps = self.config.max_steps or DEFAULT_MAX_STEPS
        totals: list[int] | None = None
        for step in range(1, max_steps + 1):
            step_start = self._content_length()
            self._step_calls = []
            self.usage = None
            self._model_finish = None  # a step's Finish speaks for that step only
            self._consume(call_model(self.model, messages, config))
            with self._lock:
                self._task = None
            if self.usage is not None:
                totals = [
                    a + b for a, b in zip(totals or [0, 0], _usage_pair(self.usage), strict=True)
                ]
            calls, self._step_calls = self._step_calls, []
            if not calls or self._stop.is_set():
                break
            if step == max_steps:
                for call in calls:
                    self._update(call, status="error", result=_not_run_after(max_steps))
                self._model_finish = "max_steps"
                break
            text = self._content_since(step_start)
            step = Message(role="assistant", content=text, model=self.message.model)
            messages.append(step)
            for call in calls:
                self._run_call(call)
                if self._stop.is_set():
                    return
                messages.append(
                    ToolMessage(content=call.result or "", tool_call_id=call.id, name=call.name)
                )
            step.tool_calls = [dataclasses.replace(_copy(c), at=c.at - step_start) for c in calls]
        if totals is not None:
            self.usage = Usage(input_tokens=totals[0], output_tokens=totals[1])

    def _content_length(self) -> int:
        """Code points of content handed out or pending (lock taken)."""
        with self._lock:
            sent = sum(len(part) for part in self._sent["content"])
            pending = sum(
                len(part)
                for channel, parts in self._pending
                if channel == "content"
                for part in parts
            )
            return sent + pending

    def _content_since(self, start: int) -> str:
        with self._lock:
            if self._pending:
                self._flush(time.monotonic())
            return "".join(self._sent["content"])[start:]

    def _call_tool(self, item: CallTool) -> None:
        """Note a call the model made; it runs when the model's step has ended.

        A provider's own call id becomes the call's id (so its result goes back under it)
        unless it is unusable or already taken in this chat (some servers number the calls
        of every reply from ``call_0``).
        """
        if not isinstance(item.name, str) or not isinstance(item.arguments, dict):
            raise ModelError("CallTool needs a tool name (str) and arguments (dict)")
        taken = self._earlier_ids | {c.id for c in [*self.tool_calls, *self._step_calls]}
        usable = isinstance(item.id, str) and _CALL_ID.fullmatch(item.id) and item.id not in taken
        call = ToolCall(
            id=item.id if usable else new_id("call"),  # type: ignore[arg-type]
            name=item.name,
            arguments=dict(item.arguments),
            status="running",
            at=self._content_length(),
            provider=item.provider if isinstance(item.provider, str) else None,
        )
        if item.arguments_error:
            self._argument_errors[call.id] = str(item.arguments_error)
        self._step_calls.append(call)

    def _run_call(self, call: ToolCall) -> None:
        """Approve (or not), run and record one call; every change is a ``ToolUpdate``."""
        from .tools.run import as_result, bounded, check_arguments

        unreadable = self._argument_errors.pop(call.id, None)
        if unreadable is not None:
            self._update(call, status="error", result=bounded(unreadable)[0])
            return
        tool = self.tools.get(call.name)
        if tool is None:
            enabled = ", ".join(self.tools) or "none (tools are off)"
            self._update(
                call,
                status="error",
                result=f"tool {call.name!r} is not enabled in this chat; enabled: {enabled}",
            )
            return
        problem = check_arguments(tool.fn, call.arguments)
        if problem is not None:
            self._update(call, status="error", result=problem)
            return
        if tool.info.approval == "ask" and call.name not in self.allowed_tools:
            decision = self._await_approval(call)
            if decision is None:
                self._update(call, status="cancelled")
                return
            if decision == "deny":
                self._update(call, status="denied", result="the user denied this call")
                return
        self._update(call, status="running")
        try:
            result = as_result(self._invoke(tool, call.arguments))
        except BaseException as exc:  # noqa: BLE001 - a tool's failure is its result
            if self._stop.is_set():
                self._update(call, status="cancelled", result="stopped by the user")
                return
            if not isinstance(exc, Exception):
                raise
            text, truncated = bounded(f"{type(exc).__name__}: {exc}")
            self._update(call, status="error", result=text, truncated=truncated or None)
            return
        text, truncated = bounded(result.text)
        self._update(
            call,
            status="error" if result.is_error else "done",
            result=text,
            truncated=truncated or None,
            outputs=list(result.outputs),
        )

    def _invoke(self, tool: Tool, arguments: dict[str, Any]) -> Any:
        value = tool.fn(**arguments)
        if inspect.isawaitable(value):
            future = _async_models.submit(_awaited(value))
            remove = self._stop.add(future.cancel)
            try:
                return future.result()
            except concurrent.futures.CancelledError:
                raise KeyboardInterrupt from None
            finally:
                remove()
        return value

    def _await_approval(self, call: ToolCall) -> str | None:
        """Wait for the user's decision; None when the reply is stopped meanwhile."""
        woken = threading.Event()
        decision: list[str] = []
        with self._lock:
            self._awaiting[call.id] = (woken, decision)
        self._update(call, status="awaiting_approval")
        remove = self._stop.add(woken.set)  # a stop wakes the wait (and sends no interrupt)
        try:
            woken.wait()
        finally:
            remove()
            with self._lock:
                self._awaiting.pop(call.id, None)
        return decision[0] if decision and not self._stop.is_set() else None

    def approve(self, call_id: str, decision: str) -> None:
        """The user's ``approve``: ``allow``, ``deny`` or ``allow_chat`` (later calls too)."""
        with self._lock:
            waiting = self._awaiting.get(call_id)
            if waiting is None or waiting[1]:
                raise BadRequestError(f"tool call {call_id[:80]!r} is not awaiting approval")
            woken, chosen = waiting
            if decision == "allow_chat":
                name = next(c.name for c in self.tool_calls if c.id == call_id)
                self.allowed_tools.add(name)
            chosen.append(decision)
        woken.set()

    def _update(self, call: ToolCall, **changes: Any) -> None:
        """Change ``call`` and hand out a copy, after the text that came before it."""
        with self._lock:
            for name, value in changes.items():
                setattr(call, name, value)
            if self._concluded:
                return
            if all(c.id != call.id for c in self.tool_calls):
                self.tool_calls.append(call)
            if self._pending:
                self._flush(time.monotonic())
            self._on_event(ToolUpdate(self.message.id, _copy(call)))

    def _consume(self, result: Any) -> None:
        if isinstance(result, str):
            self._push(result)
        elif hasattr(result, "__aiter__") or inspect.isawaitable(result):
            value = _async_models.submit(self._consume_async(result)).result()
            if value is not None:
                self._consume(value)
        elif isinstance(result, Iterable) and not isinstance(result, (bytes, dict)):
            self._consume_iterator(iter(result))
        else:
            raise ModelError(
                f"model returned {type(result).__name__}, expected str, an iterator of str "
                "or an awaitable"
            )

    def _consume_iterator(self, iterator: Any) -> None:
        push, stopped = self._push, self._stop.is_set
        try:
            for item in iterator:
                if stopped():
                    break
                push(item)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    async def _consume_async(self, result: Any) -> Any:
        with self._lock:
            stopped_already = self._stop.is_set()
            if not stopped_already:
                self._task = (asyncio.get_running_loop(), asyncio.current_task())  # type: ignore[assignment]
        if stopped_already:
            close = getattr(result, "aclose", None) or getattr(result, "close", None)
            if close is not None and inspect.isawaitable(closing := close()):
                await closing
            return None
        if not hasattr(result, "__aiter__"):
            return await result  # an awaitable: its value is consumed like a return value
        push, stopped = self._push, self._stop.is_set
        try:
            async for item in result:
                if stopped():
                    break
                push(item)
        finally:
            aclose = getattr(result, "aclose", None)
            if aclose is not None:
                await aclose()
        return None

    def _push(self, item: Any) -> None:
        kind = type(item)
        if kind is str:
            channel: Channel = "content"
        elif kind is Reasoning:
            channel = "reasoning"
        elif isinstance(item, str):
            channel = "content"
        elif isinstance(item, Usage):
            self.usage = item
            return
        elif isinstance(item, Finish):
            self._model_finish = item.reason
            return
        elif isinstance(item, CallTool):
            self._call_tool(item)
            return
        else:
            raise ModelError(f"model yielded {kind.__name__}, expected str")
        if not item:
            return
        with self._lock:
            if self._concluded:
                return  # an abandoned model woke up: its output is discarded
            pending = self._pending
            if pending and pending[-1][0] == channel:
                pending[-1][1].append(item)
            else:
                pending.append((channel, [item]))
            self._pending_size += len(item)
            now = time.monotonic()
            if not self._frame_due(now):
                self._arm_clock()
                return
            self._flush(now)
        # A fast model holds the GIL for whole 5 ms switch intervals; yield it briefly so the
        # kernel's IOPub thread sends this frame now (measured: first-delta latency 3 -> 1 ms).
        time.sleep(0.0005)

    def _frame_due(self, now: float) -> bool:
        """Whether the pending text goes out now (lock held)."""
        if now < self._next_due:
            return False
        return self._pending_size >= self.pacing.text_target or now >= self._latest_due

    def _arm_clock(self) -> None:
        """Have the clock send the pending text when it is due, should no delta follow."""
        full = self._pending_size >= self.pacing.text_target
        due = self._next_due if full else self._latest_due
        if self._clock_at is None or due < self._clock_at:
            self._clock_at = due
            _clock.call_at(due, self._on_clock)

    def _on_clock(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._clock_at is None or now < self._clock_at:
                return  # superseded by an earlier call, which set the time of the next one
            self._clock_at = None
            if not self._pending or self.finish_reason is not None:
                return
            if self._frame_due(now):
                self._flush(now)
            else:  # the worker flushed since the clock was armed
                self._arm_clock()

    def _flush(self, now: float) -> None:
        """Send all pending text, one frame per channel run (lock held)."""
        for channel, parts in self._pending:
            text = "".join(parts)
            self.seq += 1
            self._sent[channel].append(text)
            self._on_event(DeltaFrame(self.message.id, self.seq, text, channel))
        self._pending = []
        self._pending_size = 0
        self._next_due = now + self.pacing.shortest
        self._latest_due = now + self.pacing.longest

    def _conclude(self) -> None:
        """Flush what is pending and hand out the outcome, once (lock held)."""
        self._concluded = True
        try:
            if self._pending:
                self._flush(time.monotonic())
        finally:
            if self._stop.is_set():
                self.finish_reason = "cancelled"
                self._cancel_running_calls()
            elif self.error is not None:
                self.finish_reason = "error"
            else:
                self.finish_reason = self._model_finish or "stop"
            outcome = self.outcome = ReplyDone(
                message_id=self.message.id,
                seq=self.seq,
                content="".join(self._sent["content"]),
                reasoning="".join(self._sent["reasoning"]) or None,
                finish_reason=self.finish_reason,
                error=self.error,
                usage=self.usage,
                tool_calls=[_copy(c) for c in self.tool_calls],
            )
            self.message.content = outcome.content
            self.message.tool_calls = outcome.tool_calls
            self.message.reasoning = outcome.reasoning
            self.message.finish_reason = outcome.finish_reason
            if outcome.error is not None:
                self.message.error = outcome.error.to_json()
            try:
                self._on_event(outcome)
            finally:
                self._done_event.set()

    def _cancel_running_calls(self) -> None:
        """A stop that concludes the reply while a tool still runs (abandoned, blocked in C)
        says on the call's card that it was stopped: the tool's later result is discarded
        like the rest of the abandoned thread's output (lock held)."""
        for call in self.tool_calls:
            if call.status == "running":
                call.status, call.result = "cancelled", "stopped by the user"
                self._on_event(ToolUpdate(self.message.id, _copy(call)))


def _copy(call: ToolCall) -> ToolCall:
    return dataclasses.replace(call, arguments=dict(call.arguments), outputs=list(call.outputs))


def _usage_pair(usage: Usage) -> tuple[int, int]:
    return usage.input_tokens, usage.output_tokens


def _not_run_after(max_steps: int) -> str:
    return f"not run: the reply reached its limit of {max_steps} model calls (max_steps)"


async def _awaited(value: Any) -> Any:
    return await value


def kernel_log(line: str) -> None:
    """One line in the kernel process's own stderr (the server's log), never a cell's output."""
    stream = sys.__stderr__
    if stream is not None:
        print(f"[jupyter_deltachat] {redact(line)}", file=stream, flush=True)


def as_chat_error(exc: BaseException) -> DeltaChatError:
    """The protocol error for whatever a model raised (custom models: ``model_error``)."""
    if isinstance(exc, DeltaChatError):
        return exc
    detail = str(exc)
    name = type(exc).__name__
    return ModelError(f"{name}: {detail}" if detail else name, traceback=model_traceback(exc))


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def model_traceback(exc: BaseException) -> str | None:
    """Where a custom model raised: the user's frames only (not this package's or the
    libraries'), so the panel and ``%chat`` can show the line to fix."""
    frames = [
        frame for frame in user_frames(exc) if not (frame.filename or "").startswith(_PACKAGE_DIR)
    ]
    if not frames:
        return None
    return "".join(traceback.format_list(frames)).rstrip("\n")
