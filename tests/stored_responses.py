"""Drives codex-shim's stored responses with the official openai-python SDK, as a user's app would.

    stored_responses.py BASE_URL MODEL PHASE [IDS_JSON]

PHASE is `conversation` (every feature once, in a fixed order, so the Rust test can script the
fake upstream's replies and check what reached it), `restart-1` / `restart-2` (a chain started
before a restart and continued after it). Prints one JSON object of ids and answers; any
assertion here fails the test with the SDK's own view of what went wrong.
"""

import json
import sys

import openai
from openai import OpenAI

base, model, phase = sys.argv[1:4]
client = OpenAI(base_url=base + "/v1", api_key="unused-by-the-shim", max_retries=0)
out = {}

WEATHER = [{
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}]


def user(text):
    """A user turn the way the Vercel AI SDK writes one (no `type`)."""
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def streamed(**kwargs):
    """responses.create(stream=True): the final Response from the terminal event."""
    final = None
    kinds = []
    for event in client.responses.create(stream=True, **kwargs):
        kinds.append(event.type)
        if event.type in ("response.completed", "response.incomplete", "response.failed"):
            final = event.response
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    return final


def expect_error(kind, fn):
    try:
        fn()
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__}")


if phase == "conversation":
    # Three text turns: JSON, streamed, JSON.
    r1 = client.responses.create(model=model, input="My name is Ada.", instructions="Answer briefly.")
    assert r1.store is True and r1.previous_response_id is None, r1
    assert r1.output_text == "Hello Ada.", r1.output_text
    r2 = streamed(model=model, input="What is my name?", previous_response_id=r1.id)
    assert r2.previous_response_id == r1.id and r2.output_text == "Your name is Ada.", r2
    r3 = client.responses.create(model=model, input="Thanks", previous_response_id=r2.id)
    out.update(r1=r1.id, r2=r2.id, r3=r3.id, r1_message=r1.output[0].id)

    # Retrieve gives the Response the client got; input_items lists a response's own input,
    # newest first unless asked.
    got = client.responses.retrieve(r2.id)
    assert got.id == r2.id and got.output_text == "Your name is Ada." and got.previous_response_id == r1.id, got
    items = client.responses.input_items.list(r3.id).data
    assert [i.content[0].text for i in items] == ["Thanks"], items
    assert items[0].id, "every listed item has an id"

    # A tool loop over three turns, each chained to the last.
    t1 = client.responses.create(model=model, input="Weather in Paris?", tools=WEATHER)
    assert t1.tools[0].name == "get_weather", "the Response echoes the request's tools"
    call = next(i for i in t1.output if i.type == "function_call")
    t2 = client.responses.create(
        model=model, previous_response_id=t1.id, tools=WEATHER,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"}],
    )
    assert t2.output_text == "It is 18C and sunny.", t2.output_text
    t3 = client.responses.create(model=model, previous_response_id=t2.id, tools=WEATHER, input="And tomorrow?")
    assert t3.output_text == "Tomorrow too.", t3.output_text
    listed = client.responses.input_items.list(t2.id).data
    assert [i.type for i in listed] == ["function_call_output"], listed
    out.update(t1=t1.id, t2=t2.id, t3=t3.id, call_id=call.call_id, t1_items=[i.id for i in t1.output])

    # input_items pages: `limit`, `order`, `after` (the SDK follows `has_more` by itself).
    m = client.responses.create(model=model, input=[user("one"), user("two"), user("three")])
    page = client.responses.input_items.list(m.id, limit=2)
    assert [i.content[0].text for i in page.data] == ["three", "two"] and page.has_more, page
    assert [i.content[0].text for i in client.responses.input_items.list(m.id, limit=2)] == ["three", "two", "one"]
    asc = client.responses.input_items.list(m.id, order="asc", after=page.data[-1].id)
    assert [i.content[0].text for i in asc.data] == ["three"] and not asc.has_more, asc
    asc = client.responses.input_items.list(m.id, order="asc", limit=1)
    assert asc.data[0].content[0].text == "one" and asc.first_id == asc.last_id == asc.data[0].id, asc

    # The AI SDK's shape: earlier assistant turns as item references, no previous_response_id.
    ref = client.responses.create(model=model, input=[
        user("My name is Ada."), {"type": "item_reference", "id": r1.output[0].id}, user("Spell it."),
    ])
    assert ref.output_text == "A-D-A.", ref.output_text
    # …and its tool steps: the reasoning and the call by reference, then the result.
    step = client.responses.create(model=model, tools=WEATHER, input=[
        user("Weather in Paris?"),
        *[{"type": "item_reference", "id": i.id} for i in t1.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"},
    ])
    assert step.output_text == "Done.", step.output_text

    # store: false keeps nothing.
    gone = client.responses.create(model=model, input="Forget this.", store=False)
    assert gone.store is False
    expect_error(openai.NotFoundError, lambda: client.responses.retrieve(gone.id))

    # Deleted: no longer retrievable, and chaining from it is OpenAI's 400.
    d = client.responses.create(model=model, input="Bye.")
    assert client.responses.delete(d.id) is None
    expect_error(openai.NotFoundError, lambda: client.responses.retrieve(d.id))
    e = expect_error(openai.BadRequestError, lambda: client.responses.create(model=model, input="Again?", previous_response_id=d.id))
    assert e.code == "previous_response_not_found" and e.param == "previous_response_id", e.body
    assert d.id in e.message, e.message
    e = expect_error(openai.BadRequestError, lambda: client.responses.create(model=model, input=[{"type": "item_reference", "id": "msg_nowhere"}]))
    assert "msg_nowhere" in e.message, e.message
    e = expect_error(openai.NotFoundError, lambda: client.responses.input_items.list(d.id))
    out.update(deleted=d.id, store_false=gone.id)

elif phase == "restart-1":
    r1 = client.responses.create(model=model, input="My name is Ada.")
    r2 = client.responses.create(model=model, input="What is my name?", previous_response_id=r1.id)
    out.update(r1=r1.id, r2=r2.id)

elif phase == "restart-2":
    ids = json.loads(sys.argv[4])
    assert client.responses.retrieve(ids["r2"]).output_text == "Your name is Ada."
    r3 = client.responses.create(model=model, input="Thanks", previous_response_id=ids["r2"])
    assert r3.output_text == "You're welcome.", r3.output_text
    out.update(r3=r3.id)

else:
    sys.exit(f"unknown phase {phase}")

print(json.dumps(out))
