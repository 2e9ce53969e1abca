#!/usr/bin/env python3
"""A TCP proxy on a loopback port that hands on every chunk it reads DELAY_MS later, in order:
a database a network away, for measuring how many round trips a workload makes.

    bench/delayproxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS

Each direction is delayed, so a round trip through it takes 2 × DELAY_MS more. Point the bench at
it (`spool bench w2 --store postgres://postgres@127.0.0.1:LISTEN_PORT/...`); end it with SIGINT.
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    finally:
        queue.put_nowait((0, None))
        await delivering


async def main(listen, upstream, delay):
    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
    except KeyboardInterrupt:
        pass
