"""Tests of mock_model_api.py without any agent CLI: each wire format answers a scripted
turn the way its CLI expects. Standard library only:

    python3 -m unittest discover -s host/tests/agents -p 'test_*.py'
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mock_model_api as mock  # noqa: E402

CWD = "/work/repo"
KEY = {"x-api-key": "test", "authorization": "Bearer test", "x-goog-api-key": "test"}


class Server:
    """A MockServer on a thread for one test."""

    def __init__(self, turns: list[dict]):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "log.jsonl")
        self.server = mock.MockServer(turns, self.log)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.dir.cleanup()

    def post(self, path: str, body: dict, headers: dict | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", **(KEY if headers is None else headers)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def entries(self) -> list[dict]:
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


def events(body: bytes) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in body.decode().splitlines() if line.startswith("data: ")]


class MockTest(unittest.TestCase):
    def serve(self, turns: list[dict]) -> Server:
        server = Server(turns)
        self.addCleanup(server.close)
        return server


class AnthropicTest(MockTest):
    def request(self, messages: list | None = None) -> dict:
        return {"model": "claude-x", "stream": True, "tools": [{"name": "Write"}],
                "system": [{"type": "text", "text": f"Primary working directory: {CWD}\nIs a git repository: true"}],
                "messages": messages or [{"role": "user", "content": "go"}]}

    def tool_use(self, body: bytes) -> dict:
        for event in events(body):
            if event["type"] == "content_block_start" and event["content_block"]["type"] == "tool_use":
                start = event["content_block"]
            if event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta":
                return {**start, "input": json.loads(event["delta"]["partial_json"])}
        self.fail(f"no tool_use in {body!r}")

    def test_write_is_read_then_write_with_an_absolute_path(self):
        server = self.serve([{"write": "a/b.txt", "content": "x\n"}, {"say": "ok"}])
        status, body = server.post("/v1/messages?beta=true", self.request())
        self.assertEqual(status, 200)
        self.assertEqual(self.tool_use(body)["name"], "Read")
        self.assertEqual(self.tool_use(body)["input"], {"file_path": f"{CWD}/a/b.txt"})
        _, body = server.post("/v1/messages?beta=true", self.request())
        self.assertEqual(self.tool_use(body)["input"], {"file_path": f"{CWD}/a/b.txt", "content": "x\n"})
        stop = [e for e in events(body) if e["type"] == "message_delta"][0]["delta"]["stop_reason"]
        self.assertEqual(stop, "tool_use")
        _, body = server.post("/v1/messages?beta=true", self.request())
        texts = [e["delta"]["text"] for e in events(body) if e["type"] == "content_block_delta"]
        self.assertEqual(texts, ["ok"])
        _, body = server.post("/v1/messages?beta=true", self.request())
        self.assertIn("Done.", body.decode())

    def test_side_requests_use_no_turn_and_count_tokens_answers(self):
        server = self.serve([{"say": "the turn"}])
        _, body = server.post("/v1/messages", {"model": "m", "stream": False, "messages": []})
        self.assertEqual(json.loads(body)["content"][0]["text"], "Done.")
        status, body = server.post("/v1/messages/count_tokens", {"messages": []})
        self.assertEqual(status, 200)
        self.assertIn("input_tokens", json.loads(body))
        _, body = server.post("/v1/messages", self.request())
        self.assertIn("the turn", body.decode())

    def test_a_failure_is_sticky_and_a_missing_key_is_401(self):
        server = self.serve([{"fail": 500, "message": "boom"}])
        for _ in range(2):
            status, body = server.post("/v1/messages", self.request())
            self.assertEqual(status, 500)
            self.assertEqual(json.loads(body)["error"], {"type": "api_error", "message": "boom"})
        status, body = server.post("/v1/messages", self.request(), headers={})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["type"], "authentication_error")

    def test_the_log_keeps_bodies_and_hides_secrets(self):
        server = self.serve([])
        server.post("/v1/messages?beta=true", self.request())
        entry = server.entries()[0]
        self.assertEqual(entry["headers"]["x-api-key"], "<secret>")
        self.assertEqual(entry["body"]["model"], "claude-x")
        self.assertEqual((entry["method"], entry["path"], entry["query"]), ("POST", "/v1/messages", "beta=true"))


class ResponsesTest(MockTest):
    CODE_MODE = {"type": "additional_tools", "tools": [{"type": "namespace", "name": "functions", "tools": [
        {"type": "custom", "name": "exec"}, {"type": "function", "name": "wait"}]}]}

    def request(self, tools: list | None = None, extra: list | None = None) -> dict:
        context = {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"<environment_context>\n  <cwd>{CWD}</cwd>\n</environment_context>"}]}
        return {"model": "gpt-x", "stream": True, "tools": tools or [], "input": [context, *(extra or [])]}

    def item(self, body: bytes) -> dict:
        evs = events(body)
        self.assertEqual(evs[0]["type"], "response.created")
        self.assertEqual(evs[-1]["type"], "response.completed")
        return evs[-1]["response"]["output"][0]

    def test_code_mode_writes_through_exec_and_apply_patch(self):
        server = self.serve([{"write": "n.txt", "content": "one\ntwo\n"}, {"shell": "ls"}])
        _, body = server.post("/v1/responses", self.request(extra=[self.CODE_MODE]))
        item = self.item(body)
        self.assertEqual((item["type"], item["name"]), ("custom_tool_call", "exec"))
        patch = "*** Begin Patch\n*** Add File: n.txt\n+one\n+two\n*** End Patch"
        self.assertEqual(item["input"], f"text(JSON.stringify(await tools.apply_patch({json.dumps(patch)})));")
        _, body = server.post("/v1/responses", self.request(extra=[self.CODE_MODE]))
        self.assertIn('tools.exec_command({cmd: "ls"})', self.item(body)["input"])

    def test_plain_tools(self):
        server = self.serve([{"write": "n.txt", "content": "x"}, {"shell": "ls"}, {"say": "bye"}])
        _, body = server.post("/v1/responses", self.request([{"type": "custom", "name": "apply_patch"},
                                                             {"type": "function", "name": "shell"}]))
        self.assertEqual(self.item(body)["type"], "custom_tool_call")
        _, body = server.post("/v1/responses", self.request([{"type": "function", "name": "shell"}]))
        item = self.item(body)
        self.assertEqual(item["name"], "shell")
        self.assertEqual(json.loads(item["arguments"]), {"command": ["bash", "-lc", "ls"]})
        _, body = server.post("/v1/responses", self.request([{"type": "function", "name": "shell"}]))
        self.assertEqual(self.item(body)["content"][0]["text"], "bye")

    def test_errors_in_the_openai_shape(self):
        server = self.serve([{"fail": 401, "message": "bad key"}])
        status, body = server.post("/v1/responses", self.request(extra=[self.CODE_MODE]))
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["message"], "bad key")

    def test_websocket_with_warm_up_and_previous_response_id(self):
        server = self.serve([{"write": "n.txt", "content": "x"}, {"say": "after"}])
        ws = WebSocket(server.port, "/v1/responses")
        self.addCleanup(ws.close)
        ws.send({"type": "response.create", **self.request(extra=[self.CODE_MODE]), "input": [], "generate": False})
        warm = ws.until_completed()
        self.assertEqual(warm[-1]["response"]["output"], [])
        ws.send({"type": "response.create", **self.request(extra=[self.CODE_MODE])})
        first = ws.until_completed()
        call = first[-1]["response"]["output"][0]
        self.assertEqual(call["name"], "exec")
        # Only the new item and the previous response's id: the tools come from the history.
        output = {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "ok"}
        ws.send({"type": "response.create", "model": "gpt-x", "stream": True, "tools": [],
                 "previous_response_id": first[-1]["response"]["id"], "input": [output]})
        second = ws.until_completed()
        self.assertEqual(second[-1]["response"]["output"][0]["content"][0]["text"], "after")
        methods = [e["method"] for e in server.entries()]
        self.assertEqual(methods, ["WEBSOCKET"] + ["WEBSOCKET-MESSAGE"] * 3)

    def test_a_websocket_without_a_key_is_refused(self):
        server = self.serve([])
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(b"GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 401"))


class WebSocket:
    """Just enough of a WebSocket client for the test: masked text frames out, text in."""

    def __init__(self, port: int, path: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           "Authorization: Bearer test\r\n\r\n").encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        assert b" 101 " in status, status
        while self.file.readline() not in (b"\r\n", b""):
            pass

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
                                if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self) -> dict:
        head = self.file.read(2)
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.file.read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.file.read(8))[0]
        return json.loads(self.file.read(n))

    def until_completed(self) -> list[dict]:
        out = [self.receive()]
        while out[-1]["type"] != "response.completed":
            out.append(self.receive())
        return out

    def close(self) -> None:
        self.sock.close()


class ChatTest(MockTest):
    def request(self, system: str, stream: bool = False, files: str = "") -> dict:
        return {"model": "mock", "stream": stream, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": files + "do it"}]}

    def text(self, body: bytes, stream: bool = False) -> str:
        if stream:
            return "".join(e["choices"][0]["delta"].get("content", "") for e in events(body[:-len(b"data: [DONE]\n\n")]))
        return json.loads(body)["choices"][0]["message"]["content"]

    TURNS = [{"write": "README.md", "content": "new\n"}, {"write": "d/n.md", "content": "n\n"}, {"say": "ok"}]

    def test_whole_format_is_one_reply_then_done(self):
        server = self.serve(self.TURNS)
        _, body = server.post("/v1/chat/completions", self.request("Act as an expert.", stream=True))
        self.assertTrue(body.endswith(b"data: [DONE]\n\n"))
        self.assertEqual(self.text(body, stream=True), "README.md\n```\nnew\n```\n\nd/n.md\n```\nn\n```\n\nok\n")
        _, body = server.post("/v1/chat/completions", self.request("Act as an expert."))
        self.assertEqual(self.text(body), "Done.")

    def test_search_replace_and_udiff_use_the_text_in_the_chat(self):
        files = "README.md\n```\nold\n```\n"
        server = self.serve(self.TURNS)
        _, body = server.post("/v1/chat/completions", self.request("Use SEARCH/REPLACE blocks.", files=files))
        self.assertIn("README.md\n```\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n```", self.text(body))
        self.assertIn("d/n.md\n```\n<<<<<<< SEARCH\n=======\nn\n>>>>>>> REPLACE\n```", self.text(body))
        server = self.serve(self.TURNS)
        _, body = server.post("/v1/chat/completions", self.request("like a unified diff like `diff -U0`",
                                                                   files=files))
        self.assertIn("--- README.md\n+++ README.md\n@@ ... @@\n-old\n+new\n", self.text(body))
        self.assertIn("--- /dev/null\n+++ d/n.md\n@@ ... @@\n+n\n", self.text(body))

    def test_a_failure_before_any_edit(self):
        server = self.serve([{"fail": 401, "message": "nope"}])
        status, body = server.post("/v1/chat/completions", self.request("x"))
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["code"], "invalid_api_key")


class GeminiTest(MockTest):
    PATH = "/v1beta/models/gemini-x:streamGenerateContent"

    def request(self) -> dict:
        return {"contents": [{"role": "user", "parts": [{"text": f"- **Workspace Directories:**\n  - {CWD}\n"}]}],
                "tools": [{"functionDeclarations": [{"name": "write_file"}, {"name": "run_shell_command"}]}]}

    def parts(self, body: bytes) -> list[dict]:
        return events(body)[0]["candidates"][0]["content"]["parts"]

    def test_function_calls_then_text(self):
        server = self.serve([{"write": "a.txt", "content": "x"}, {"shell": "ls"}])
        _, body = server.post(self.PATH + "?alt=sse", self.request())
        call = self.parts(body)[0]["functionCall"]
        self.assertEqual((call["name"], call["args"]), ("write_file", {"file_path": f"{CWD}/a.txt", "content": "x"}))
        _, body = server.post(self.PATH + "?alt=sse", self.request())
        self.assertEqual(self.parts(body)[0]["functionCall"]["args"]["command"], "ls")
        _, body = server.post(self.PATH + "?alt=sse", self.request())
        self.assertEqual(self.parts(body), [{"text": "Done."}])

    def test_side_checks_get_json_and_use_no_turn(self):
        server = self.serve([{"say": "turn"}])
        schema = {"type": "OBJECT", "properties": {"next_speaker": {"type": "STRING"},
                                                   "complexity_score": {"type": "INTEGER"}}}
        _, body = server.post("/v1beta/models/flash:generateContent", {
            "contents": [], "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}})
        answer = json.loads(json.loads(body)["candidates"][0]["content"]["parts"][0]["text"])
        self.assertEqual(answer, {"next_speaker": "user", "complexity_score": 1})
        _, body = server.post("/v1beta/models/x:countTokens", {"contents": []})
        self.assertIn("totalTokens", json.loads(body))
        _, body = server.post(self.PATH + "?alt=sse", self.request())
        self.assertEqual(self.parts(body), [{"text": "turn"}])

    def test_errors_and_the_key_in_the_query(self):
        server = self.serve([{"fail": 500, "message": "down"}])
        status, body = server.post(self.PATH + "?alt=sse&key=test", self.request(), headers={})
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(body)["error"], {"code": 500, "message": "down", "status": "INTERNAL"})
        self.assertIn("key=%3Csecret%3E", server.entries()[0]["query"])


class CommandLineTest(unittest.TestCase):
    def test_port_file_and_scenario_validation(self):
        import subprocess
        import time
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as f:
                json.dump([{"write": "a", "say": "b"}], f)
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mock_model_api.py")
            run = subprocess.run([sys.executable, script, "--scenario", bad, "--port-file", os.path.join(d, "p")],
                                 capture_output=True, text=True, timeout=30)
            self.assertNotEqual(run.returncode, 0)
            self.assertIn("exactly one of", run.stderr)
            good = os.path.join(d, "good.json")
            with open(good, "w") as f:
                json.dump({"turns": [{"say": "hi"}]}, f)
            port_file = os.path.join(d, "port")
            child = subprocess.Popen([sys.executable, script, "--scenario", good, "--port-file", port_file])
            try:
                deadline = time.time() + 10
                while not os.path.exists(port_file) and time.time() < deadline:
                    time.sleep(0.02)
                with open(port_file) as f:
                    port = int(f.read())
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    pass
            finally:
                child.terminate()
                self.assertEqual(child.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
