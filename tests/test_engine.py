"""The engine in-process: coalescing, the frame clock, channels, stop in every mode."""

from __future__ import annotations

import asyncio
import functools
import io
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_deltachat.engine import (
    ADAPTIVE_PACING,
    DeltaFrame,
    FramePacing,
    Reply,
    ReplyEvent,
    call_model,
)
from jupyter_deltachat.stop import on_stop
from jupyter_deltachat.types import ChatConfig, Finish, Message, Reasoning, Usage

WAIT = 10.0


class Recorder:
    """Collects a reply's frames and done, with events to wait on."""

    def __init__(self) -> None:
        self.frames: list[DeltaFrame] = []
        self.frame_arrived = threading.Condition()
        self.done = threading.Event()
        self.done_thread_saw: dict[str, Any] = {}

    def on_event(self, event: ReplyEvent) -> None:
        if not isinstance(event, DeltaFrame):
            self.done.set()
            return
        with self.frame_arrived:
            self.frames.append(event)
            self.frame_arrived.notify_all()

    def wait_for(self, predicate: Callable[[list[DeltaFrame]], bool]) -> None:
        with self.frame_arrived:
            assert self.frame_arrived.wait_for(lambda: predicate(self.frames), timeout=WAIT)

    def text(self, channel: str = "content") -> str:
        return "".join(f.text for f in self.frames if f.channel == channel)


def run(
    model: Any, pacing: FramePacing = ADAPTIVE_PACING, start: bool = True
) -> tuple[Reply, Recorder]:
    recorder = Recorder()
    reply = Reply(
        model,
        [Message(role="user", content="hi")],
        ChatConfig(temperature=0.5),
        recorder.on_event,
        pacing=pacing,
    )
    if start:
        reply.start()
    return reply, recorder


ONE_LONG_INTERVAL = FramePacing(shortest=10, longest=10)


def finished(reply: Reply) -> Reply:
    assert reply.wait(WAIT), "the reply did not finish"
    return reply


def test_first_delta_at_once_then_the_clock_flushes_a_quiet_model() -> None:
    release = threading.Event()
    holder: dict[str, Recorder] = {}

    def model(messages: list[Message]) -> Any:
        yield "a"
        holder["recorder"].wait_for(lambda frames: len(frames) == 1)  # sent before "b" exists
        yield "b"
        yield "c"
        release.wait(WAIT)  # quiet: only the clock can send "bc" now
        yield "d"

    reply, recorder = run(model, FramePacing(shortest=0.05, longest=0.05), start=False)
    holder["recorder"] = recorder
    reply.start()
    recorder.wait_for(lambda frames: [f.text for f in frames] == ["a", "bc"])
    release.set()
    finished(reply)
    assert [f.text for f in recorder.frames] == ["a", "bc", "d"]
    assert [f.seq for f in recorder.frames] == [1, 2, 3]
    assert reply.message.content == "abcd"


def test_a_fast_model_is_coalesced_to_the_frame_interval() -> None:
    count = 200_000

    def model(messages: list[Message]) -> Any:
        for i in range(count):
            yield "xyz"[i % 3]

    began = time.monotonic()
    reply, recorder = run(model)
    finished(reply)
    elapsed = time.monotonic() - began
    assert recorder.text() == ("xyz" * count)[:count]
    assert len(recorder.frames) <= elapsed / 0.033 + 2
    assert reply.finish_reason == "stop"


def test_frames_after_the_first_carry_the_text_target() -> None:
    def model(messages: list[Message]) -> Any:
        yield "a"
        for _ in range(30):
            yield "0123456789"

    reply, recorder = run(model, FramePacing(shortest=0, longest=60, text_target=100))
    finished(reply)
    assert [len(f.text) for f in recorder.frames] == [1, 100, 100, 100]
    assert reply.message.content == "a" + "0123456789" * 30


def test_a_slow_model_gets_fewer_fuller_frames_than_the_fixed_interval() -> None:
    paced = threading.Event()

    def model(messages: list[Message]) -> Any:
        for _ in range(400):
            yield "x" * 5
            paced.wait(0.002)  # about 2,000 characters a second

    pacing = FramePacing(shortest=1 / 30, longest=0.25, text_target=800)
    began = time.monotonic()
    reply, recorder = run(model, pacing)
    finished(reply)
    elapsed = time.monotonic() - began
    assert recorder.text() == "x" * 2000
    # 30 frames a second would be ~elapsed * 30; text_target and longest bound them
    assert len(recorder.frames) <= 2000 / pacing.text_target + elapsed / pacing.longest + 2


def test_text_that_reached_the_target_goes_at_the_shortest_interval_if_the_model_goes_quiet() -> (
    None
):
    release = threading.Event()
    holder: dict[str, Recorder] = {}

    def model(messages: list[Message]) -> Any:
        yield "a"
        holder["recorder"].wait_for(lambda frames: len(frames) == 1)
        yield "01234"  # below the target: the clock waits for longest (60 s)
        yield "56789"  # the target: the clock now sends it once shortest has passed
        holder["recorder"].wait_for(lambda frames: len(frames) == 2)
        release.wait(WAIT)

    pacing = FramePacing(shortest=0.05, longest=60, text_target=10)
    reply, recorder = run(model, pacing, start=False)
    holder["recorder"] = recorder
    reply.start()
    recorder.wait_for(lambda frames: [f.text for f in frames] == ["a", "0123456789"])
    release.set()
    finished(reply)


def test_done_flushes_pending_text_at_once_whatever_the_pacing_waits_for() -> None:
    holder: dict[str, Recorder] = {}

    def model(messages: list[Message]) -> Any:
        yield "a"  # the first delta goes at once
        holder["recorder"].wait_for(lambda frames: len(frames) == 1)
        yield "b"  # pending: the pacing alone would hold it for 60 s

    reply, recorder = run(model, FramePacing(shortest=60, longest=60), start=False)
    holder["recorder"] = recorder
    reply.start()
    finished(reply)
    assert [(f.seq, f.text) for f in recorder.frames] == [(1, "a"), (2, "b")]


def test_frame_pacing_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="shortest <= longest, got 0.5 and 0.1"):
        FramePacing(shortest=0.5, longest=0.1)


def test_reasoning_usage_and_finish() -> None:
    def model(messages: list[Message], config: ChatConfig) -> Any:
        yield Reasoning("let me ")
        yield Reasoning("think")
        yield "the answer"
        yield Usage(input_tokens=3, output_tokens=4)
        yield Finish("length")

    reply, recorder = run(model, ONE_LONG_INTERVAL)  # runs become frames
    finished(reply)
    assert [(f.channel, f.text, f.seq) for f in recorder.frames] == [
        ("reasoning", "let me ", 1),
        ("reasoning", "think", 2),
        ("content", "the answer", 3),
    ]
    assert reply.message.content == "the answer"
    assert reply.message.reasoning == "let me think"
    assert reply.usage == Usage(3, 4)
    assert reply.finish_reason == "length"


def test_pending_runs_of_both_channels_flush_in_order() -> None:
    def model(messages: list[Message]) -> Any:
        yield "first"  # sent at once
        yield Reasoning("r1")
        yield Reasoning("r2")
        yield "c1"
        yield "c2"

    reply, recorder = run(model, ONE_LONG_INTERVAL)
    finished(reply)
    assert [(f.channel, f.text) for f in recorder.frames] == [
        ("content", "first"),
        ("reasoning", "r1r2"),
        ("content", "c1c2"),
    ]


def test_stop_closes_a_sync_generator_in_the_thread_that_runs_it() -> None:
    seen: dict[str, Any] = {}

    def model(messages: list[Message]) -> Any:
        seen["runner"] = threading.current_thread()
        try:
            while True:
                yield "."
                time.sleep(0.001)
        finally:
            seen["closer"] = threading.current_thread()

    reply, recorder = run(model)
    recorder.wait_for(lambda frames: len(frames) >= 2)
    reply.stop()
    finished(reply)
    assert reply.finish_reason == "cancelled"
    assert seen["closer"] is seen["runner"] is not threading.current_thread()
    assert reply.message.content == recorder.text() and set(reply.message.content) == {"."}


def test_on_stop_aborts_a_blocked_read_and_the_failure_is_a_cancellation() -> None:
    def model(messages: list[Message]) -> Any:
        aborted = threading.Event()
        on_stop(aborted.set)
        yield "waiting"
        if aborted.wait(WAIT):
            raise ConnectionResetError("socket shut down")  # what an aborted SDK read does

    reply, recorder = run(model)
    recorder.wait_for(lambda frames: len(frames) == 1)
    began = time.monotonic()
    reply.stop()
    finished(reply)
    assert time.monotonic() - began < 1
    assert reply.finish_reason == "cancelled"
    assert reply.error is None
    assert reply.message.content == "waiting"


def test_stopping_an_async_model_cancels_its_await_and_runs_finally_first() -> None:
    cleaned = threading.Event()

    async def model(messages: list[Message]) -> Any:
        try:
            yield "one"
            await asyncio.sleep(60)
            yield "never"
        finally:
            cleaned.set()

    reply, recorder = run(model)
    recorder.wait_for(lambda frames: len(frames) == 1)
    reply.stop()
    finished(reply)
    assert cleaned.is_set()
    assert reply.finish_reason == "cancelled"
    assert reply.message.content == "one"


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (None, "model returned NoneType, expected str, an iterator of str or an awaitable"),
        (42, "model returned int, expected str, an iterator of str or an awaitable"),
        (iter(["ok", b"bytes"]), "model yielded bytes, expected str"),
        (iter([{"text": "x"}]), "model yielded dict, expected str"),
    ],
)
def test_wrong_types_are_model_errors(result: Any, message: str) -> None:
    reply, _ = run(lambda messages: result)
    finished(reply)
    assert reply.finish_reason == "error"
    assert reply.error is not None
    assert reply.error.to_json() == {"code": "model_error", "message": message, "retryable": False}


def test_call_model_passes_config_only_to_models_that_take_it() -> None:
    config = ChatConfig(max_tokens=7)
    messages = [Message(role="user", content="m")]

    def one(messages: list[Message]) -> str:
        return "one"

    def two(messages: list[Message], config: ChatConfig) -> str:
        return f"two {config.max_tokens}"

    def star(*args: Any) -> str:
        return f"star {len(args)}"

    class Callable2:
        def __call__(self, messages: list[Message], config: ChatConfig) -> str:
            return f"instance {config.max_tokens}"

    partial = functools.partial(lambda prefix, messages: prefix + messages[0].content, "p:")
    assert call_model(one, messages, config) == "one"
    assert call_model(two, messages, config) == "two 7"
    assert call_model(star, messages, config) == "star 2"
    assert call_model(Callable2(), messages, config) == "instance 7"
    assert call_model(partial, messages, config) == "p:m"


def test_a_model_blocked_in_c_is_abandoned_reported_once_and_its_output_discarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel_log = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", kernel_log)
    release, returned = threading.Event(), threading.Event()

    def blocked(messages: list[Message]) -> Any:
        try:
            yield "before "
            release.wait()  # a lock wait: no KeyboardInterrupt reaches it
            yield "after"
        finally:
            returned.set()

    reply, recorder = run(blocked)
    recorder.wait_for(lambda frames: len(frames) == 1)
    reply.stop()
    finished(reply)
    assert (reply.finish_reason, reply.message.content) == ("cancelled", "before ")
    release.set()
    assert returned.wait(WAIT)
    assert recorder.text() == "before " and reply.message.content == "before "
    assert kernel_log.getvalue() == (
        "[jupyter_deltachat] model 'blocked' did not stop within 0.6 s (blocked outside "
        "Python); its thread is abandoned and whatever it produces later is discarded\n"
    )


def test_a_model_spinning_in_python_gets_a_keyboard_interrupt() -> None:
    interrupted = threading.Event()

    def spin(messages: list[Message]) -> Any:
        yield "spinning"
        try:
            while True:
                pass
        except KeyboardInterrupt:
            interrupted.set()
            raise

    reply, recorder = run(spin)
    recorder.wait_for(lambda frames: len(frames) == 1)
    reply.stop()
    finished(reply)
    assert interrupted.is_set()  # it ended in its own thread, before the reply concluded
    assert (reply.finish_reason, reply.error, reply.message.content) == (
        "cancelled",
        None,
        "spinning",
    )
