"""A minimal Streamable HTTP (2025-11-25) front for a stdio MCP server, used only to run the
official conformance suite against stdio servers. One child process per session; JSON-RPC is
relayed as raw lines, untouched, so the same bridge in front of a server directly and in front
of `warden mcp -- <server>` differ only by Warden.

    python bridge.py --port 38201 -- COMMAND [ARGS...]
"""

import argparse
import asyncio
import json
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class Session:
    def __init__(self, proc):
        self.proc = proc
        self.waiters: dict[str, asyncio.Future] = {}
        self.streams: list[asyncio.Queue] = []
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            key = json.dumps(msg.get("id"))
            if "method" not in msg and key in self.waiters:
                self.waiters.pop(key).set_result(msg)
            elif self.streams:
                await self.streams[-1].put(msg)
        for fut in self.waiters.values():
            if not fut.done():
                fut.set_result(None)

    async def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self):
        self.proc.kill()
        await self.proc.wait()


def app(command):
    sessions: dict[str, Session] = {}

    async def post(request: Request):
        try:
            msg = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}, 400)
        sid = request.headers.get("mcp-session-id")
        headers = {}
        if isinstance(msg, dict) and msg.get("method") == "initialize":
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024
            )
            sid = uuid.uuid4().hex
            sessions[sid] = Session(proc)
            headers["mcp-session-id"] = sid
        session = sessions.get(sid or "")
        if session is None:
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "unknown session"}}, 404)
        if not isinstance(msg, dict) or "method" not in msg or "id" not in msg:
            await session.send(msg)
            return Response(status_code=202)
        fut = asyncio.get_running_loop().create_future()
        session.waiters[json.dumps(msg["id"])] = fut
        queue: asyncio.Queue = asyncio.Queue()
        session.streams.append(queue)
        await session.send(msg)

        async def events():
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, fut}, return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        yield f"event: message\ndata: {json.dumps(getter.result())}\n\n"
                        continue
                    getter.cancel()
                    while not queue.empty():
                        yield f"event: message\ndata: {json.dumps(queue.get_nowait())}\n\n"
                    reply = fut.result() or {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "server exited"}}
                    yield f"event: message\ndata: {json.dumps(reply)}\n\n"
                    return
            finally:
                session.streams.remove(queue)

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def other(request: Request):
        if request.method == "DELETE":
            session = sessions.pop(request.headers.get("mcp-session-id", ""), None)
            if session:
                await session.close()
            return Response(status_code=200 if session else 404)
        return Response(status_code=405)

    return Starlette(routes=[Route("/mcp", post, methods=["POST"]), Route("/mcp", other, methods=["GET", "DELETE"])])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    uvicorn.run(app(command), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
