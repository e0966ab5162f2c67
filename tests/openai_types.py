"""Validates Responses events against openai-python's official types (pinned in requirements.txt).

Reads JSON lines from stdin, each an event of the Responses stream, and checks every one with
pydantic against `ResponseStreamEvent` (which includes the full `Response` object of created,
in_progress, completed, failed and incomplete). Prints one line per problem; exits 1 if any.

One deliberate difference: Codex stops only on the `response.failed` codes
`context_length_exceeded` and `insufficient_quota`, which openai-python's closed `ResponseError.code`
list lacks. Those two are checked with the code swapped for `server_error`, so every other field
is still validated.
"""
import json
import sys
import typing

from openai.types.responses import ResponseStreamEvent

CODEX_ONLY_CODES = {"context_length_exceeded", "insufficient_quota"}


def event_classes(tp):
    """Every concrete event model in the (possibly Annotated) union, by its `type` literal."""
    out = {}
    for arg in typing.get_args(tp):
        if hasattr(arg, "model_fields") and "type" in arg.model_fields:
            for literal in typing.get_args(arg.model_fields["type"].annotation):
                out[literal] = arg
        else:
            out.update(event_classes(arg))
    return out


CLASSES = event_classes(ResponseStreamEvent)
problems = 0
checked = 0
for n, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    event = json.loads(line)
    err = (event.get("response") or {}).get("error") or {}
    if err.get("code") in CODEX_ONLY_CODES:
        event["response"]["error"]["code"] = "server_error"
    try:
        cls = CLASSES.get(event.get("type"))
        if cls is None:
            raise ValueError("not an event type openai-python knows")
        cls.model_validate(event)
        checked += 1
    except Exception as e:  # noqa: BLE001 - report every failure
        problems += 1
        print(f"line {n}: {event.get('type')}: {e}".replace("\n", " | "))
print(f"openai-python types: {checked} events valid, {problems} invalid")
sys.exit(1 if problems else 0)
