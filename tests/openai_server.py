"""A local OpenAI-compatible chat-completions server for the tests (127.0.0.1): per noun, a script
of replies; the `server` fixture of conftest.py starts one."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-test-0123456789-secret"


def answer_json(synonyms=(), hyponyms=(), meronyms=()):
    """An answer's JSON text: the categories related at each level."""
    return json.dumps({"synonyms": list(synonyms), "meronyms": list(meronyms), "hyponyms": list(hyponyms)})


class FakeOpenAI:
    """A chat-completions server: per noun, a script of responses (status, body text, headers)."""

    def __init__(self):
        self.scripts: dict[str, list] = {}
        self.requests: list[dict] = []
        self.auth: set[str] = set()
        self.lock = threading.Lock()
        self.delay_s = 0.0
        self.served_model: str | None = None  # the model the replies name (None: the one asked for)
        self.in_flight = self.max_in_flight = 0
        self.answers_left: int | None = None  # replies before the server goes down (None: never)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                noun = body["messages"][-1]["content"].split("of the noun ")[1].split(" from the")[0]
                with fake.lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                time.sleep(fake.delay_s)
                with fake.lock:
                    fake.in_flight -= 1
                    fake.requests.append({"path": self.path, "body": body, "noun": noun,
                                          "time": time.monotonic()})
                    fake.auth.add(self.headers.get("Authorization", ""))
                    if fake.answers_left is not None:
                        fake.answers_left -= 1
                        if fake.answers_left < 0:  # the server went down: the connection drops, no reply
                            self.close_connection = True
                            return
                    script = fake.scripts.get(noun, [])
                    status, content, headers = script.pop(0) if len(script) > 1 else (script or [(200, answer_json(), {})])[0]
                if isinstance(content, bytes):  # a verbatim body (e.g. not JSON) with this status
                    payload = None
                elif status == 200:
                    payload = {"id": "c1", "object": "chat.completion", "created": 0,
                               "model": fake.served_model or body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": content}}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}
                else:
                    payload = {"error": {"message": content, "type": "server_error"}}
                data = content if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def asked(self, noun: str) -> int:
        return sum(r["noun"] == noun for r in self.requests)
