#!/usr/bin/env python3
"""What a NOTIFY costs concurrent commits on this PostgreSQL server.

1, 4 and 16 asyncpg connections each insert --rows / connections rows into a scratch table, one
row per transaction (autocommit), three ways: the insert alone; the insert with `pg_notify` in
the same statement (the notification lock is then held until the commit is on disk); and the
insert followed by `pg_notify` in a statement of its own (a transaction that writes nothing).
Prints commits per second for each. The scratch table `spool_notify_bench` is dropped at the end.

    bench/pg_notify.py --postgres-url postgresql://postgres@127.0.0.1:PORT/scratch [--rows 4000]
"""
import argparse
import asyncio
import time

import asyncpg

WAYS = {
    "insert": ["INSERT INTO spool_notify_bench (q) VALUES ($1)"],
    "insert with pg_notify in it": [
        "WITH i AS (INSERT INTO spool_notify_bench (q) VALUES ($1) RETURNING q) SELECT pg_notify('spool_notify_bench', q) FROM i"],
    "insert, then pg_notify": ["INSERT INTO spool_notify_bench (q) VALUES ($1)", "SELECT pg_notify('spool_notify_bench', $1)"],
}


async def connection(url, statements, rows):
    c = await asyncpg.connect(url)
    try:
        for _ in range(rows):
            for sql in statements:
                await c.execute(sql, "default")
    finally:
        await c.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--rows", type=int, default=4000)
    arguments = parser.parse_args()
    setup = await asyncpg.connect(arguments.postgres_url)
    await setup.execute("DROP TABLE IF EXISTS spool_notify_bench; CREATE TABLE spool_notify_bench (id bigserial PRIMARY KEY, q text)")
    try:
        for way, statements in WAYS.items():
            for count in (1, 4, 16):
                each = arguments.rows // count
                start = time.perf_counter()
                await asyncio.gather(*[connection(arguments.postgres_url, statements, each) for _ in range(count)])
                seconds = time.perf_counter() - start
                print(f"{way:28s} {count:2d} connections: {each * count / seconds:7.0f} commits/s", flush=True)
    finally:
        await setup.execute("DROP TABLE spool_notify_bench")
        await setup.close()


if __name__ == "__main__":
    asyncio.run(main())
