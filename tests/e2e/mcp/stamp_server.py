#!/usr/bin/env python3
"""A tiny stdio MCP server for the end-to-end tests: one tool, `stamp`, that appends its `text`
to the file named by $STAMP_FILE and answers "stamped: <text>".

MCP's stdio transport is JSON-RPC 2.0, one message per line. This server answers `initialize`,
`ping`, `tools/list` and `tools/call`, ignores notifications, and refuses every other method, which
is all a client such as Codex needs to list the tool and call it. Standard library only.
"""

import json
import os
import sys
import time

TOOL = {
    "name": "stamp",
    "title": "Stamp",
    "description": "Append a line of text to the stamp file and say what was stamped.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text to stamp."}},
        "required": ["text"],
        "additionalProperties": False,
    },
}


def extra_tools():
    """$STAMP_EXTRA_TOOLS more tools (`noop_1`…), for clients that treat many tools differently."""
    n = int(os.environ.get("STAMP_EXTRA_TOOLS", "0") or 0)
    return [{"name": f"noop_{i}", "description": f"Does nothing (tool {i}).",
             "inputSchema": {"type": "object", "properties": {}}} for i in range(1, n + 1)]


def answer(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def call_tool(params):
    if params.get("name") != "stamp":
        return {"content": [{"type": "text", "text": "unknown tool"}], "isError": True}
    text = str((params.get("arguments") or {}).get("text", ""))
    path = os.environ.get("STAMP_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return {"content": [{"type": "text", "text": f"stamped: {text}"}], "isError": False}


def handle(msg):
    method = msg.get("method")
    msg_id = msg.get("id")
    if msg_id is None:
        return  # a notification (notifications/initialized, cancelled, …)
    if method == "initialize":
        # $STAMP_INIT_DELAY seconds before answering: a server that is slow to start.
        time.sleep(float(os.environ.get("STAMP_INIT_DELAY", "0") or 0))
        version = (msg.get("params") or {}).get("protocolVersion", "2025-06-18")
        answer(msg_id, {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "stamp", "version": "1.0.0"},
        })
    elif method == "ping":
        answer(msg_id, {})
    elif method == "tools/list":
        answer(msg_id, {"tools": [TOOL] + extra_tools()})
    elif method == "tools/call":
        answer(msg_id, call_tool(msg.get("params") or {}))
    else:
        answer(msg_id, error={"code": -32601, "message": f"method not found: {method}"})


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            answer(None, error={"code": -32700, "message": "parse error"})
            continue
        for m in msg if isinstance(msg, list) else [msg]:
            handle(m)


if __name__ == "__main__":
    main()
