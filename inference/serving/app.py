"""The OpenAI-compatible server of one checkpoint: GET /v1/models, POST /v1/chat/completions (JSON, or SSE
`data:` chunks ending with `data: [DONE]` when "stream" is true), GET /health. A Starlette app on uvicorn around
the studio's own engine, so a served answer is prompted with the checkpoint's chat format (training/engine/chat.py,
the tokens it was trained on), stops at EOT and uses LIMA's decoding, with the repetition penalty sparing EOT and
the chat markers, as generation runs do (see README: "Serving checkpoints and model endpoints" for why not
`transformers serve`).

An API key, when set, is required as `Authorization: Bearer KEY` on every /v1 path; it is compared in constant time
and never written to a log or an answer.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import sys
import time
import uuid

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from inference.engine.decoding import DecodingSettings
from inference.serving.batcher import Batcher
from inference.serving.requests import RequestError, cut_at_stop, read_request


def error_response(message: str, status: int = 400, param: str | None = None, kind: str = "invalid_request_error"):
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status_code=status)


class Server:
    """What the routes share: the loaded Generator, its batcher, the served name and the key."""

    def __init__(self, generator, name: str, api_key: str = "", batch_size: int = 16,
                 defaults: DecodingSettings = DecodingSettings()):
        self.generator = generator
        self.name = name
        self.api_key = api_key
        self.defaults = defaults
        self.batcher = Batcher(generator, batch_size)
        self.created = int(time.time())

    def authorised(self, request: Request) -> bool:
        if not self.api_key:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict:
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    def chunk(self, ident, delta, finish_reason=None, usage=None) -> str:
        payload = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": self.name,
                   "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        if usage is not None:
            payload["usage"] = usage
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def build_app(server: Server) -> Starlette:
    async def guard(request):
        if not server.authorised(request):
            return error_response("A valid API key is required (Authorization: Bearer …).", 401,
                                  kind="authentication_error")
        return None

    async def models(request):
        refused = await guard(request)
        if refused:
            return refused
        return JSONResponse({"object": "list", "data": [
            {"id": server.name, "object": "model", "created": server.created, "owned_by": "lima-studio"},
        ]})

    async def health(request):
        return JSONResponse({"status": "ok"})

    async def chat_completions(request):
        refused = await guard(request)
        if refused:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return error_response("The request body is not JSON.")
        try:
            asked = read_request(body, server.name, server.defaults)
        except RequestError as error:
            return error_response(str(error), error.status, error.param)
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        if asked.stream:
            return StreamingResponse(_stream(server, asked, ident), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        answer = await asyncio.wrap_future(server.batcher.submit(asked.turns, asked.settings, asked.seed))
        text, stopped = cut_at_stop(answer.text, asked.stop)
        finish = "stop" if stopped else server.generator.finish_reason(answer.new_ids)
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": int(time.time()), "model": server.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": server.usage(answer.prompt_tokens, len(answer.new_ids)),
        })

    return Starlette(routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])


def _pieces(server: Server, asked, info: dict):
    """The model's text pieces, under the model lock, cut at the first stop string (held back until it cannot
    be the start of one)."""
    hold = max((len(s) for s in asked.stop), default=1) - 1
    with server.batcher.model_lock:
        pieces = server.generator.stream(asked.turns, asked.settings, seed=asked.seed, info=info)
        written = ""
        sent = 0
        try:
            for piece in pieces:
                written += piece
                text, stopped = cut_at_stop(written, asked.stop)
                if stopped:
                    info["stopped_by_string"] = True
                    if len(text) > sent:
                        yield text[sent:]
                    return
                safe = len(written) - hold if asked.stop else len(written)
                if safe > sent:
                    yield written[sent:safe]
                    sent = safe
            if len(written) > sent:
                yield written[sent:]
        finally:
            pieces.close()


async def _stream(server: Server, asked, ident):
    info: dict = {}
    yield server.chunk(ident, {"role": "assistant", "content": ""})
    try:
        async for piece in iterate_in_threadpool(_pieces(server, asked, info)):
            yield server.chunk(ident, {"content": piece})
    except Exception as error:  # the status line has gone: the error travels as a chunk
        yield f"data: {json.dumps({'error': {'message': f'{type(error).__name__}: {error}', 'type': 'server_error'}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    new_ids = info.get("new_ids", [])
    finish = "stop" if info.get("stopped_by_string") else server.generator.finish_reason(new_ids)
    yield server.chunk(ident, {}, finish)
    if asked.include_usage:
        yield server.chunk(ident, None, usage=server.usage(info.get("prompt_tokens", 0), len(new_ids)))
    yield "data: [DONE]\n\n"


def emit(**event) -> None:
    """A JSON line on stdout for whoever started the server (the model-server job waits for "ready")."""
    print(json.dumps(event), flush=True)


def run(generator, *, name: str, host: str, port: int, api_key: str = "", batch_size: int = 16,
        log_level: str = "warning") -> None:
    """Serve until SIGINT/SIGTERM. Prints {"event": "ready", "url": ..., "model": ...} once it listens."""
    import uvicorn

    server = Server(generator, name, api_key, batch_size)

    class Announcing(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:
                bound = self.servers[0].sockets[0].getsockname()
                emit(event="ready", url=f"http://{_url_host(host)}:{bound[1]}/v1", model=name, port=bound[1])

    config = uvicorn.Config(build_app(server), host=host, port=port, log_level=log_level, access_log=False,
                            lifespan="off")
    Announcing(config).run()
    sys.stdout.flush()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
