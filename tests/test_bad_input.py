"""Malformed comm messages: each gets exactly one ``bad_request`` and changes nothing."""

from __future__ import annotations

import base64
import random
import string
from typing import Any

from kernel_client import CommClient, KernelHarness

CHAT = "bad-input-chat"
VALID: dict[str, dict[str, Any]] = {
    "send": {"type": "send", "request_id": "r-send", "chat_id": CHAT, "content": "hi"},
    "regenerate": {"type": "regenerate", "request_id": "r-regen", "chat_id": CHAT},
    "stop": {"type": "stop", "chat_id": CHAT},
    "sync": {"type": "sync", "chat_id": CHAT},
    "clear": {"type": "clear", "chat_id": CHAT},
    "hello": {"type": "hello", "protocol": 1, "client": "t"},
}
WRONG_VALUES: list[Any] = [None, 0, 1.5, True, [], {}, "", ["x"], {"a": 1}]
BAD_CONFIGS: list[Any] = [
    [],
    "x",
    3,
    {"temperature": 2.5},
    {"temperature": -0.1},
    {"temperature": "hot"},
    {"top_p": 1.5},
    {"top_p": -1},
    {"max_tokens": 0},
    {"max_tokens": 1.5},
    {"max_tokens": True},
    {"max_tokens": -5},
    {"top_k": 0},
    {"top_k": "1"},
    {"frequency_penalty": 2.5},
    {"presence_penalty": -3},
    {"seed": 1},
    {"temperature": [1]},
]
BAD_ATTACHMENTS: list[Any] = [
    "x",
    {},
    [1],
    [None],
    [{"name": 1, "media_type": "image/png", "data": ""}],
    [{"name": "a", "media_type": None, "data": ""}],
    [{"name": "a", "media_type": "x"}],
    [{"name": "a", "media_type": "image/png", "data": "!!not base64!!"}],
]


def malformed_messages() -> list[Any]:
    cases: list[Any] = [None, 0, 1.5, True, "send", [], [1, 2], "x" * 100_000, [{"type": "send"}]]
    cases += [
        {},
        {"type": None},
        {"type": 1},
        {"type": []},
        {"type": {}},
        {"type": ""},
        {"type": "SEND"},
        {"type": "delete"},
        {"type": "x" * 10_000},
        {"kind": "send"},
    ]
    for base in VALID.values():
        for field in base:
            if field == "type":
                continue
            if field != "client":  # hello's client is optional
                cases.append({k: v for k, v in base.items() if k != field})
            for wrong in WRONG_VALUES:
                if (field, wrong) in (("client", ""), ("client", None), ("content", "")):
                    continue  # an empty message (an image alone) and no client name are valid
                if field == "protocol" and type(wrong) is int:
                    continue  # another integer is protocol_version, tested in test_protocol
                cases.append({**base, field: wrong})
    for kind in ("send", "regenerate"):
        cases += [{**VALID[kind], "config": config} for config in BAD_CONFIGS]
        cases += [{**VALID[kind], "model": wrong} for wrong in (1, "", [], {})]
    cases += [{**VALID["send"], "attachments": a} for a in BAD_ATTACHMENTS]
    cases += [{**VALID["stop"], "message_id": wrong} for wrong in (1, "", [], {})]
    cases.append({**VALID["send"], "content": "x" * 1_000_001})
    too_big = base64.b64encode(b"\0" * (20 * 1024 * 1024 + 1)).decode()
    cases.append(
        {**VALID["send"], "attachments": [{"name": "a", "media_type": "x", "data": too_big}]}
    )
    rng = random.Random(20261124)
    while len(cases) < 330:
        cases.append(random_json(rng, depth=0))
    return cases


def random_json(rng: random.Random, depth: int) -> Any:
    """Random JSON that is never a valid message: objects get a type that is not known,
    or a known type with its required ids replaced by non-strings."""
    choice = rng.randrange(7 if depth < 3 else 5)
    if choice == 0:
        return rng.randint(-(10**12), 10**12)
    if choice == 1:
        return rng.random() * 1e6
    if choice == 2:
        return "".join(rng.choice(string.printable + "é漢🎉") for _ in range(rng.randrange(40)))
    if choice == 3:
        return rng.choice([None, True, False])
    if choice == 4:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    data = {
        rng.choice(["x", "chat_id", "content", "request_id", "model", "type2"]): random_json(
            rng, depth + 1
        )
        for _ in range(rng.randrange(5))
    }
    if choice == 5:
        data["type"] = rng.choice(["Send", "hello ", "pong", "list-models", "", "snapshot"])
    else:
        kind = rng.choice(["send", "regenerate", "sync", "clear", "stop"])
        data.update({"type": kind, "chat_id": rng.choice([None, 5, [], ""])})
    return data


def test_every_malformed_message_gets_one_bad_request(kernel: KernelHarness) -> None:
    cases = malformed_messages()
    assert len(cases) >= 300
    comm = CommClient(kernel)
    ready = comm.open()
    assert CHAT not in [c["chat_id"] for c in ready["chats"]]
    for case in cases:
        comm.send(case)
    for index, case in enumerate(cases):
        error = comm.next(timeout=60)
        assert error["type"] == "error", f"case {index}: {str(case)[:200]} -> {error}"
        assert error["error"]["code"] == "bad_request", f"case {index}: {error}"
        assert error["error"]["message"], f"case {index} has an empty message"
        expected = case.get("request_id") if isinstance(case, dict) else None
        if not (isinstance(expected, str) and expected):
            expected = None
        assert error.get("request_id") == expected, f"case {index}: {str(case)[:200]}"
    answer = comm.request({"type": "list_models"}, "models")
    assert answer["default_model"] == "demo"
    again = comm.request({"type": "hello", "protocol": 1}, "ready")
    assert CHAT not in [c["chat_id"] for c in again["chats"]]  # nothing was created
    assert comm.drain() == []
    assert kernel.stderr_text() == ""
    comm.close()


def test_messages_say_what_is_wrong(client: CommClient) -> None:
    def message_for(data: Any) -> str:
        return client.request(data, "error")["error"]["message"]

    assert message_for([1]) == "a message must be a JSON object, got list"
    assert message_for({"type": "send", "request_id": "r", "chat_id": "c", "content": 5}) == (
        "send: 'content' must be a string, got int"
    )
    assert message_for({"type": "sync", "chat_id": ""}) == (
        "sync: 'chat_id' must be a non-empty string, got an empty string"
    )
    assert message_for({**VALID["send"], "config": {"temperature": 3}}) == (
        "send: config.temperature must be between 0 and 2, got 3"
    )
    assert message_for({**VALID["send"], "config": {"max_tokens": 0}}) == (
        "send: config.max_tokens must be positive, got 0"
    )
    assert message_for({"type": "hello", "protocol": "1"}) == (
        "hello: 'protocol' must be an integer, got str"
    )


def test_ids_are_at_most_256_characters(client: CommClient) -> None:
    longest, too_long = "i" * 256, "i" * 257
    for kind in ("send", "regenerate", "stop", "sync", "clear"):
        for name in ("chat_id", "request_id"):
            if name not in VALID[kind]:
                continue
            error = client.request({**VALID[kind], name: too_long}, "error")
            assert error["error"] == {
                "code": "bad_request",
                "message": f"{kind}: {name!r} has 257 characters; the limit is 256",
                "retryable": False,
            }
            assert too_long not in str(error)  # an over-long id is never echoed
    error = client.request({**VALID["stop"], "message_id": too_long}, "error")
    assert error["error"]["message"] == "stop: 'message_id' has 257 characters; the limit is 256"
    huge = client.request({"type": "sync", "chat_id": "c" * 5_000_000}, "error")
    assert huge["error"]["message"] == "sync: 'chat_id' has 5,000,000 characters; the limit is 256"
    assert "chat_id" not in huge
    snapshot = client.request({"type": "sync", "chat_id": longest}, "snapshot")
    assert (snapshot["chat_id"], snapshot["messages"]) == (longest, [])
    assert client.drain() == []
