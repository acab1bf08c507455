#!/usr/bin/env python3
"""A scripted stand-in for four model APIs, for driving the real agent CLIs on loopback.

    mock_model_api.py --scenario S.json --port-file P --log L.jsonl

Binds 127.0.0.1 on a free port, writes the port to the port file once it listens, and
serves until killed (SIGTERM or SIGINT). Python 3.11 standard library only.

Wire formats, each as its CLI uses it (see README.md beside this file):

  Anthropic Messages   POST /v1/messages (streaming SSE), /v1/messages/count_tokens   claude
  OpenAI Responses     POST /v1/responses (streaming SSE), GET /v1/models              codex
  OpenAI Chat          POST /v1/chat/completions (streaming or not)                    aider
  Gemini               POST /v1beta/models/M:streamGenerateContent?alt=sse,            gemini
                       :generateContent, :countTokens

A scenario is a JSON list of turns (or {"turns": [...]}); each says what the model does
next:

  {"write": "src/a.txt", "content": "..."}   write a file, relative to the working directory
  {"shell": "ls -la"}                        run a shell command
  {"say": "All done."}                       reply with final text (ends the CLI's turn)
  {"fail": 500, "message": "overloaded"}     answer every request from here on with an error

Each wire format turns "write" into its CLI's own tool: Claude Code's Read then Write (an
absolute path: Write refuses to overwrite a file it has not read), Codex's apply_patch (or
its shell tool), Gemini CLI's write_file, aider's whole-file or SEARCH/REPLACE edit text.
A tool result is answered with the next turn; when the turns run out the model says
"Done." so the CLI exits. Requests that are not the agent loop (title, next-speaker and
routing checks, token counts) get a short answer and do not use up a turn.

Every request is appended to the log as one JSON line: method, path, headers without
secrets, and the JSON body. A request without an API key gets a 401, as from the real
APIs. The log is what tests assert on (for example, that a resumed
session sent the earlier turns).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shlex
import signal
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"}
SECRET_QUERY = {"key"}
FINAL_TEXT = "Done."


# --- the scenario -----------------------------------------------------------------------


class Script:
    """The turns one wire format plays, in order, each expanded to that format's steps.

    A failing turn is sticky: a CLI that retries gets the same error every time.
    """

    def __init__(self, steps: list[dict]):
        self.steps = steps
        self.next = 0
        self.lock = threading.Lock()

    def peek(self) -> dict:
        with self.lock:
            return self.steps[self.next] if self.next < len(self.steps) else {"say": FINAL_TEXT}

    def take(self) -> dict:
        with self.lock:
            if self.next >= len(self.steps):
                return {"say": FINAL_TEXT}
            step = self.steps[self.next]
            if "fail" not in step:
                self.next += 1
            return step


def load_turns(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    turns = data["turns"] if isinstance(data, dict) else data
    for turn in turns:
        kinds = [k for k in ("write", "shell", "say", "fail") if k in turn]
        if len(kinds) != 1:
            raise SystemExit(f"scenario: a turn needs exactly one of write/shell/say/fail: {turn}")
    return turns


def find_cwd(body: object) -> str | None:
    """The working directory the CLI announces in its system prompt or environment text."""
    text = json.dumps(body)
    for pattern in (
        r"Primary working directory: ([^\s\\\"]+)",  # Claude Code
        r"<cwd>([^<]+)</cwd>",  # Codex environment_context
        r"[Ww]orking directory: ([^\s\\\"]+)",
        r"Workspace Directories:\*\*\\n\s*- ([^\s\\\"]+)",  # Gemini CLI: "- **Workspace Directories:**\n  - /p"
    ):
        m = re.search(pattern, text)
        if m:
            return m.group(1).rstrip(".")
    return None


def absolute(cwd: str | None, path: str) -> str:
    return path if os.path.isabs(path) or cwd is None else os.path.join(cwd, path)


def error_status_name(status: int) -> str:
    return {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(status, "UNKNOWN")


def sse(event: str | None, data: object) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class Reply:
    """What a handler sends back: status, content type, body bytes."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json"):
        self.status, self.body, self.content_type = status, body, content_type

    @classmethod
    def json(cls, data: object, status: int = 200) -> "Reply":
        return cls(status, json.dumps(data).encode())

    @classmethod
    def events(cls, chunks: list[bytes]) -> "Reply":
        return cls(200, b"".join(chunks), "text/event-stream")


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# --- Anthropic Messages (Claude Code) ---------------------------------------------------


class AnthropicMessages:
    """POST /v1/messages as Claude Code uses it: streaming SSE, tool_use blocks."""

    def __init__(self, turns: list[dict]):
        steps = []
        for turn in turns:
            if "write" in turn:
                # Write refuses an existing file that was not read first; Read of a missing
                # file is a harmless tool error.
                steps.append({"read": turn["write"]})
            steps.append(turn)
        self.script = Script(steps)

    def handle(self, path: str, body: dict) -> Reply:
        if path.endswith("/count_tokens"):
            return Reply.json({"input_tokens": len(json.dumps(body)) // 4})
        model = body.get("model", "claude-mock")
        if not body.get("tools"):
            # Not the agent loop: a title, a quota check, a summary.
            return self.respond(body, model, [{"type": "text", "text": FINAL_TEXT}], "end_turn")
        step = self.script.take()
        if "fail" in step:
            return anthropic_error(step)
        cwd = find_cwd(body)
        if "say" in step:
            return self.respond(body, model, [{"type": "text", "text": step["say"]}], "end_turn")
        if "read" in step:
            call = ("Read", {"file_path": absolute(cwd, step["read"])})
        elif "write" in step:
            call = ("Write", {"file_path": absolute(cwd, step["write"]), "content": step["content"]})
        else:
            call = ("Bash", {"command": step["shell"], "description": "Run a command"})
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": call[0], "input": call[1]}
        return self.respond(body, model, [block], "tool_use")

    def respond(self, body: dict, model: str, content: list[dict], stop: str) -> Reply:
        usage = {"input_tokens": 10, "output_tokens": 10, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0}
        message = {"id": new_id("msg_"), "type": "message", "role": "assistant", "model": model}
        if not body.get("stream"):
            return Reply.json({**message, "content": content, "stop_reason": stop, "stop_sequence": None,
                               "usage": usage})
        out = [sse("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1}}})]
        for index, block in enumerate(content):
            if block["type"] == "text":
                start, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
            else:
                start = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            out.append(sse("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": start}))
            out.append(sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        out.append(sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": 10}}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        return Reply.events(out)


def anthropic_error(step: dict) -> Reply:
    kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error",
            529: "overloaded_error"}.get(step["fail"], "api_error")
    return Reply.json({"type": "error", "error": {"type": kind, "message": step.get("message", "mock failure")}},
                      step["fail"])


# --- OpenAI Responses (Codex CLI) -------------------------------------------------------


class OpenAIResponses:
    """POST /v1/responses as `codex exec` uses it: streaming SSE, function or custom tools."""

    def __init__(self, turns: list[dict]):
        self.script = Script(list(turns))

    def handle(self, path: str, body: dict) -> Reply:
        model = body.get("model", "mock")
        tools = self.tools(body)
        if not tools:
            return self.respond(model, [self.message(FINAL_TEXT)])
        step = self.script.take()
        if "fail" in step:
            return openai_error(step)
        if "say" in step:
            return self.respond(model, [self.message(step["say"])])
        if "write" in step:
            patch = self.patch(find_cwd(body), step["write"], step["content"])
            if "exec" in tools and "apply_patch" not in tools:
                # Code mode (the default model's tools in 0.171): one JavaScript cell that
                # calls the nested tools; json.dumps makes a valid JS string literal.
                item = {"type": "custom_tool_call", "name": "exec",
                        "input": f"text(JSON.stringify(await tools.apply_patch({json.dumps(patch)})));"}
            elif tools.get("apply_patch", {}).get("type") == "custom":
                item = {"type": "custom_tool_call", "name": "apply_patch", "input": patch}
            elif "apply_patch" in tools:
                item = self.function("apply_patch", {"input": patch})
            else:
                item = self.shell(tools, f"apply_patch {shlex.quote(patch)}")
        elif "exec" in tools and "exec_command" not in tools:
            item = {"type": "custom_tool_call", "name": "exec",
                    "input": f"text(JSON.stringify(await tools.exec_command({{cmd: {json.dumps(step['shell'])}}})));"}
        else:
            item = self.shell(tools, step["shell"])
        item.update({"id": new_id("fc_"), "call_id": new_id("call_"), "status": "completed"})
        return self.respond(model, [item])

    @staticmethod
    def tools(body: dict) -> dict[str, dict]:
        """Every tool the request offers by name: `tools`, and the namespaces of an
        `additional_tools` input item (where Codex 0.171 puts them)."""
        found: dict[str, dict] = {}

        def walk(tools: list) -> None:
            for tool in tools or []:
                if tool.get("type") == "namespace":
                    walk(tool.get("tools"))
                elif tool.get("name"):
                    found[tool["name"]] = tool

        walk(body.get("tools"))
        for item in body.get("input") or []:
            if isinstance(item, dict) and item.get("type") == "additional_tools":
                walk(item.get("tools"))
        return found

    @staticmethod
    def patch(cwd: str | None, path: str, content: str) -> str:
        """An apply_patch envelope that writes the whole file: Add File overwrites an
        existing file (Delete and Add of one path in one patch is refused)."""
        added = "".join(f"+{line}\n" for line in content.splitlines() or [""])
        return f"*** Begin Patch\n*** Add File: {path}\n{added}*** End Patch"

    @staticmethod
    def function(name: str, arguments: dict) -> dict:
        return {"type": "function_call", "name": name, "arguments": json.dumps(arguments)}

    def shell(self, tools: dict, command: str) -> dict:
        if "exec_command" in tools:
            return self.function("exec_command", {"cmd": command})
        if "shell_command" in tools:
            return self.function("shell_command", {"command": command})
        return self.function("shell", {"command": ["bash", "-lc", command]})

    @staticmethod
    def message(text: str) -> dict:
        return {"type": "message", "id": new_id("msg_"), "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}

    def respond(self, model: str, items: list[dict]) -> Reply:
        rid = new_id("resp_")
        base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model}
        out = [sse("response.created", {"type": "response.created", "response": {**base, "status": "in_progress"}})]
        for index, item in enumerate(items):
            out.append(sse("response.output_item.added", {"type": "response.output_item.added",
                                                          "output_index": index, "item": item}))
            if item["type"] == "message":
                text = item["content"][0]["text"]
                out.append(sse("response.output_text.delta", {"type": "response.output_text.delta",
                                                              "item_id": item["id"], "output_index": index,
                                                              "content_index": 0, "delta": text}))
            out.append(sse("response.output_item.done", {"type": "response.output_item.done",
                                                         "output_index": index, "item": item}))
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 10,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 20}
        out.append(sse("response.completed", {"type": "response.completed", "response": {
            **base, "status": "completed", "output": items, "usage": usage}}))
        return Reply.events(out)


def openai_error(step: dict) -> Reply:
    status = step["fail"]
    kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    code = {401: "invalid_api_key"}.get(status)
    return Reply.json({"error": {"message": step.get("message", "mock failure"), "type": kind, "param": None,
                                 "code": code}}, status)


# --- OpenAI Chat Completions (aider through litellm) ------------------------------------


class OpenAIChat:
    """POST /v1/chat/completions as aider uses it: plain-text edits, no tools.

    aider makes one request per message and applies every edit in the reply, so the whole
    script is one reply: each write as an edit in the format aider's system prompt asks for
    (whole file, SEARCH/REPLACE or udiff), each shell command as a ```bash block (aider
    offers to run it, but --yes-always does not say yes to that) or, in the whole format,
    inline.
    """

    def __init__(self, turns: list[dict]):
        self.turns = turns
        self.served = False
        self.lock = threading.Lock()

    def handle(self, path: str, body: dict) -> Reply:
        model = body.get("model", "mock")
        with self.lock:
            first, self.served = not self.served, True
        fail = next((t for t in self.turns if "fail" in t), None)
        if fail and not any("write" in t or "shell" in t for t in self.turns[: self.turns.index(fail)]):
            return openai_error(fail)
        text = self.reply_text(body) if first else FINAL_TEXT
        if not body.get("stream"):
            return Reply.json({"id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
                               "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                   "role": "assistant", "content": text}}],
                               "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
        cid, created = new_id("chatcmpl-"), int(time.time())

        def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
            return sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                              "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

        return Reply.events([
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": text}),
            chunk({}, "stop", usage={"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}),
            b"data: [DONE]\n\n",
        ])

    def reply_text(self, body: dict) -> str:
        system = " ".join(m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
                          for m in body.get("messages", []) if m.get("role") == "system")
        if "like a unified diff" in system or "diff -U0" in system:
            edit_format = "udiff"
        elif "SEARCH/REPLACE" in system:
            edit_format = "search-replace"
        else:
            edit_format = "whole"
        parts = []
        for turn in self.turns:
            if "fail" in turn:
                break
            if "write" in turn:
                parts.append(self.edit(body, turn["write"], turn["content"], edit_format))
            elif "shell" in turn and edit_format == "whole":
                # In the whole format a fence with no file name before it is taken as the
                # new text of the file in the chat: say the command inline instead.
                parts.append(f"Run `{turn['shell']}`.\n")
            elif "shell" in turn:
                parts.append(f"```bash\n{turn['shell']}\n```\n")
            elif "say" in turn:
                parts.append(turn["say"] + "\n")
        return "\n".join(parts) or FINAL_TEXT

    @staticmethod
    def current_text(body: dict, path: str) -> str | None:
        """A file's text as aider put it in the chat ("path\n```\ntext\n```"), if it did."""
        found = None
        for m in body.get("messages", []):
            text = m.get("content") if isinstance(m.get("content"), str) else ""
            match = re.search(rf"(?m)^{re.escape(path)}\n```[^\n]*\n(.*?)^```", text, re.S)
            if match:
                found = match.group(1)
        return found

    def edit(self, body: dict, path: str, content: str, edit_format: str) -> str:
        """One file's edit in aider's format: `whole` (the whole text in a fence),
        SEARCH/REPLACE (an empty SEARCH creates a file), or a `diff -U0`-like udiff."""
        content = content if content.endswith("\n") else content + "\n"
        if edit_format == "whole":
            return f"{path}\n```\n{content}```\n"
        old = self.current_text(body, path)
        if edit_format == "search-replace":
            return f"{path}\n```\n<<<<<<< SEARCH\n{old or ''}=======\n{content}>>>>>>> REPLACE\n```\n"
        removed = "".join(f"-{line}\n" for line in (old or "").splitlines())
        added = "".join(f"+{line}\n" for line in content.splitlines())
        source = path if old is not None else "/dev/null"
        return f"```diff\n--- {source}\n+++ {path}\n@@ ... @@\n{removed}{added}```\n"


# --- Gemini (Gemini CLI) ----------------------------------------------------------------


class Gemini:
    """POST /v1beta/models/MODEL:streamGenerateContent?alt=sse (and the rest) as Gemini CLI
    uses them: functionCall parts for tools; JSON-schema answers for its side checks."""

    def __init__(self, turns: list[dict]):
        self.script = Script(list(turns))

    def handle(self, path: str, body: dict) -> Reply:
        method = path.rsplit(":", 1)[-1]
        if method == "countTokens":
            return Reply.json({"totalTokens": len(json.dumps(body)) // 4})
        if method == "embedContent":
            return Reply.json({"embedding": {"values": [0.0] * 8}})
        stream = method == "streamGenerateContent"
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if schema or config.get("responseMimeType") == "application/json":
            # A side check (next speaker, model routing, loop detection): answer it in JSON.
            return self.respond(stream, [{"text": json.dumps(self.fill(schema or {}))}])
        tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        if not tools:
            return self.respond(stream, [{"text": FINAL_TEXT}])
        step = self.script.take()
        if "fail" in step:
            return gemini_error(step)
        if "say" in step:
            return self.respond(stream, [{"text": step["say"]}])
        cwd = find_cwd(body)
        if "write" in step:
            call = {"name": "write_file", "args": {"file_path": absolute(cwd, step["write"]),
                                                   "content": step["content"]}}
        else:
            call = {"name": "run_shell_command", "args": {"command": step["shell"], "description": "Run a command"}}
        call["id"] = new_id("call_")
        return self.respond(stream, [{"functionCall": call}])

    def fill(self, schema: dict) -> object:
        """A value for a JSON schema, steering Gemini CLI's side checks to "carry on"."""
        kind = str(schema.get("type", "object")).lower()
        if kind == "object":
            out = {}
            for name, sub in (schema.get("properties") or {}).items():
                if name == "next_speaker":
                    out[name] = "user"
                else:
                    out[name] = self.fill(sub)
            return out
        if "enum" in schema:
            return schema["enum"][0]
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        return {"string": "mock", "boolean": False, "array": []}.get(kind, "mock")

    @staticmethod
    def respond(stream: bool, parts: list[dict]) -> Reply:
        data = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 20},
                "modelVersion": "mock"}
        return Reply.events([sse(None, data)]) if stream else Reply.json(data)


def gemini_error(step: dict) -> Reply:
    status = step["fail"]
    return Reply.json({"error": {"code": status, "message": step.get("message", "mock failure"),
                                 "status": error_status_name(status)}}, status)


# --- the server -------------------------------------------------------------------------


class MockServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, turns: list[dict], log_path: str | None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.anthropic = AnthropicMessages(turns)
        self.responses = OpenAIResponses(turns)
        self.chat = OpenAIChat(turns)
        self.gemini = Gemini(turns)
        self.log_path = log_path
        self.log_lock = threading.Lock()

    def route(self, method: str, path: str, body: object, key: bool) -> Reply:
        """`key`: whether the request carried an API key. The real APIs refuse a request
        without one (Codex with only OPENAI_API_KEY sends none), and so does the mock."""
        if not key and method == "POST":
            no_key = {"fail": 401, "message": "mock: the request carries no API key"}
            if path.startswith("/v1/messages"):
                return anthropic_error(no_key)
            if "/models/" in path and ":" in path:
                return gemini_error(no_key)
            return openai_error(no_key)
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return Reply.json({"object": "list", "data": [{"id": "mock", "object": "model", "owned_by": "mock"}],
                               "models": []})
        if method != "POST" or not isinstance(body, dict):
            return Reply.json({"error": {"message": f"mock: no route for {method} {path}"}}, 404)
        if path.startswith("/v1/messages"):
            return self.anthropic.handle(path, body)
        if path.endswith("/responses"):
            return self.responses.handle(path, body)
        if path.endswith("/chat/completions"):
            return self.chat.handle(path, body)
        if "/models/" in path and ":" in path:
            return self.gemini.handle(path, body)
        return Reply.json({"error": {"message": f"mock: no route for {method} {path}"}}, 404)

    def handle_error(self, request, client_address) -> None:
        # A CLI that gives up on a connection (a retry, a time-out) is no error of the mock's.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def record(self, entry: dict) -> None:
        if not self.log_path:
            return
        with self.log_lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MockServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def serve(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        raw = self.read_body()
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        url = urlsplit(self.path)
        query = [(k, v if k not in SECRET_QUERY else "<secret>") for k, v in parse_qsl(url.query)]
        headers = {k.lower(): ("<secret>" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}
        try:
            reply = self.server.route(self.command, url.path, body, self.has_key(url.query))
        except Exception as e:  # a bug here should show, not hang the CLI
            reply = Reply.json({"error": {"message": f"mock: {type(e).__name__}: {e}"}}, 500)
            print(f"mock_model_api: {self.command} {url.path}: {e!r}", file=sys.stderr)
        self.server.record({"time": time.time(), "method": self.command, "path": url.path,
                            "query": urlencode(query), "headers": headers, "body": body, "status": reply.status})
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.content_type == "text/event-stream":
            self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(reply.body)

    do_POST = do_GET = do_PUT = do_DELETE = serve

    def has_key(self, query: str) -> bool:
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer").strip()
        return bool(bearer or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")
                    or dict(parse_qsl(query)).get("key"))

    def safe_headers(self) -> dict:
        return {k.lower(): ("<secret>" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}

    def websocket(self) -> None:
        """The Responses API over a WebSocket, as Codex prefers it: each text message from
        the client is a `response.create` with the request body; each event goes back as
        one text message, the same JSON as the SSE stream's data lines. A failing turn
        refuses the handshake with its status, as an API refusing the key would."""
        path = urlsplit(self.path).path
        entry = {"time": time.time(), "method": "WEBSOCKET", "path": path, "headers": self.safe_headers()}
        step = self.server.responses.script.peek() if path.endswith("/responses") else {"fail": 404}
        if not self.has_key(urlsplit(self.path).query):
            step = {"fail": 401, "message": "mock: the request carries no API key"}
        if "fail" in step:
            reply = openai_error(step)
            self.server.record({**entry, "body": None, "status": reply.status})
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        accept = base64.b64encode(hashlib.sha1(
            self.headers["Sec-WebSocket-Key"].encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        self.server.record({**entry, "body": None, "status": 101})
        # What the connection remembers, as the real API does: a request may name a
        # previous_response_id and send only the new input items.
        history: dict[str, list] = {}
        while (message := self.ws_read()) is not None:
            try:
                body = json.loads(message)
            except ValueError:
                continue
            if not isinstance(body, dict) or body.get("type") != "response.create":
                continue
            request = {k: v for k, v in body.items() if k != "type"}
            request["input"] = history.get(request.pop("previous_response_id", None) or "", []) + list(
                request.get("input") or [])
            if request.pop("generate", True) is False:
                # A warm-up: Codex sends the request without input first and generates nothing.
                reply = self.server.responses.respond(request.get("model", "mock"), [])
            else:
                reply = self.server.responses.handle(path, request)
            self.server.record({**entry, "method": "WEBSOCKET-MESSAGE", "body": body, "status": reply.status})
            if reply.content_type != "text/event-stream":
                error = json.loads(reply.body).get("error", {})
                self.ws_send(json.dumps({"type": "error", "status": reply.status, "error": error}))
                continue
            for chunk in reply.body.decode().split("\n\n"):
                for line in chunk.splitlines():
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[len("data: "):])
                    if event.get("type") == "response.completed":
                        done = event["response"]
                        history[done["id"]] = request["input"] + done.get("output", [])
                    self.ws_send(line[len("data: "):])
        self.close_connection = True

    def ws_read(self) -> str | None:
        """One whole text message (None when the client closes)."""
        message = b""
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return None
            fin, opcode = head[0] & 0x80, head[0] & 0x0F
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 0x8:  # close
                self.ws_frame(0x8, payload[:2])
                return None
            if opcode == 0x9:  # ping
                self.ws_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if fin:
                    return message.decode("utf-8", "replace")

    def ws_send(self, text: str) -> None:
        self.ws_frame(0x1, text.encode())

    def ws_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else
                                         bytes([126]) + struct.pack(">H", n) if n < 65536 else
                                         bytes([127]) + struct.pack(">Q", n))
        self.wfile.write(head + payload)
        self.wfile.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True, help="JSON list of turns")
    parser.add_argument("--port-file", required=True, help="where to write the port once listening")
    parser.add_argument("--log", help="JSONL file every request is appended to")
    args = parser.parse_args()
    server = MockServer(load_turns(args.scenario), args.log)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
