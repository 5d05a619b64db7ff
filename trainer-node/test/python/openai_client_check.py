"""The node's OpenAI surface as a Python app meets it: the official `openai` package against a running node.

Usage: python openai_client_check.py <base_url> <model> <agent_model> <tools.json>
(tools.json: {"required": [tools for a tool_choice "required" call], "agent": [the agent's tools]}, from the Node test)
Prints one JSON object per check on stdout ({"check": name, ...observations}); the Node test
(openai-api.test.ts) asserts on them, so this script only observes and never decides.
"""
import json
import sys

import openai
from openai import OpenAI

base_url, model, agent = sys.argv[1], sys.argv[2], sys.argv[3]
tools = json.loads(sys.argv[4])
client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)


def emit(check, **obs):
    print(json.dumps({"check": check, **obs}), flush=True)


ask = [{"role": "user", "content": "Who is Mr. Darcy?"}]

ids = sorted(m.id for m in client.models.list())
emit("models", ids=ids, version=openai.__version__)

try:
    client.models.retrieve("no-such-model")
    emit("not_found", raised=None)
except openai.NotFoundError as e:
    emit("not_found", raised="NotFoundError", status=e.status_code, message=str(e))

schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
r = client.chat.completions.create(
    model=model,
    messages=ask,
    max_tokens=60,
    response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
)
emit("json_schema", content=r.choices[0].message.content, finish_reason=r.choices[0].finish_reason, schema=schema)

chunks = list(
    client.chat.completions.create(
        model=model, messages=ask, max_tokens=12, stream=True, stream_options={"include_usage": True}
    )
)
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
usage = chunks[-1].usage
emit(
    "stream",
    text=text,
    chunks=len(chunks),
    last_has_choices=bool(chunks[-1].choices),
    completion_tokens=usage.completion_tokens if usage else None,
    prompt_tokens=usage.prompt_tokens if usage else None,
)

question = [{"role": "user", "content": "Will it rain in Meryton?"}]
r = client.chat.completions.create(
    model=model, messages=question, tools=tools["required"], tool_choice="required", temperature=0.6, seed=5, max_tokens=200
)
m = r.choices[0].message
calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in (m.tool_calls or [])]
emit("tools", calls=calls, finish_reason=r.choices[0].finish_reason)
# the tool's answer taken back in a `tool` message
if r.choices[0].finish_reason == "tool_calls":
    r2 = client.chat.completions.create(
        model=model,
        messages=[
            *question,
            {"role": "assistant", "content": None, "tool_calls": [{"id": calls[0]["id"], "type": "function", "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}]},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"sky": "grey"}'},
        ],
        max_tokens=8,
    )
    emit("tool_answer", finish_reason=r2.choices[0].finish_reason, content=r2.choices[0].message.content)

r = client.chat.completions.create(model=model, messages=ask, max_tokens=5, logprobs=True, top_logprobs=3, temperature=0)
lp = r.choices[0].logprobs.content
emit(
    "logprobs",
    tokens=[t.token for t in lp],
    logprobs=[t.logprob for t in lp],
    top=[[{"token": x.token, "logprob": x.logprob} for x in t.top_logprobs] for t in lp],
    completion_tokens=r.usage.completion_tokens,
)

r = client.chat.completions.create(model=model, messages=ask, max_tokens=6, n=2, temperature=1, seed=7)
emit("n", indexes=[c.index for c in r.choices], texts=[c.message.content for c in r.choices])

r = client.completions.create(model=model, prompt="It is a truth universally", max_tokens=8, temperature=0)
emit("completions", text=r.choices[0].text, object=r.object, finish_reason=r.choices[0].finish_reason)

try:
    client.chat.completions.create(model=model, messages=ask, max_tokens=4, extra_body={"top_k": 5})
    emit("refused", raised=None)
except openai.BadRequestError as e:
    emit("refused", raised="BadRequestError", status=e.status_code, message=str(e))

r = client.chat.completions.create(model=agent, messages=[{"role": "user", "content": "Will it rain in Bath?"}], tools=tools["agent"], temperature=0, max_tokens=80)
m = r.choices[0].message
emit("agent", calls=[{"name": c.function.name, "arguments": c.function.arguments} for c in (m.tool_calls or [])], finish_reason=r.choices[0].finish_reason)
