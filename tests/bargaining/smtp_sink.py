"""A loopback SMTP server (aiosmtpd) for the digest integration tests and the benchmark.

Run in its own process:

    python tests/bargaining/smtp_sink.py --port 2525 --out DIR [--store full|meta]

Every accepted message is appended as one JSON line to DIR/messages.jsonl before the server
answers 250: {"rcpt": [...], "size": n, "at": unix time, "data": "<the raw bytes as latin-1>"} ("data" only with
--store full). Every refused recipient is appended to DIR/refusals.jsonl as {"rcpt": ..., "code": ...}.

DIR/rules.json, re-read whenever it changes, scripts the answers:
    {"tempfail": {"address": N}, "permfail": ["address"], "delay": seconds per message, "authfail": true}
"tempfail" answers 451 to the first N RCPTs of that address, "permfail" always answers 550, "authfail"
answers 535 to every AUTH (a client that does not log in is served as usual).
"""

import argparse
import asyncio
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


class Sink:
    def __init__(self, out: Path, store: str) -> None:
        self.out = out
        self.store = store
        self.rules_path = out / "rules.json"
        self.rules: dict = {}
        self.rules_mtime = 0.0
        self.tempfailed: Counter[str] = Counter()
        self.messages = (out / "messages.jsonl").open("a", encoding="utf-8")
        self.refusals = (out / "refusals.jsonl").open("a", encoding="utf-8")

    def current_rules(self) -> dict:
        try:
            mtime = self.rules_path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self.rules_mtime:
            self.rules = json.loads(self.rules_path.read_text() or "{}")
            self.rules_mtime = mtime
        return self.rules

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data) -> AuthResult:
        # handled=False: aiosmtpd then answers the refusal itself (535 5.7.8).
        return AuthResult(success=not self.current_rules().get("authfail"), handled=False)

    def refuse(self, address: str, code: int, text: str) -> str:
        self.refusals.write(json.dumps({"rcpt": address, "code": code}) + "\n")
        self.refusals.flush()
        return f"{code} {text}"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options) -> str:
        rules = self.current_rules()
        if address in rules.get("permfail", ()):
            return self.refuse(address, 550, "5.1.1 Mailbox unavailable")
        if self.tempfailed[address] < rules.get("tempfail", {}).get(address, 0):
            self.tempfailed[address] += 1
            return self.refuse(address, 451, "4.3.0 Try again later")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        delay = self.current_rules().get("delay", 0)
        if delay:
            await asyncio.sleep(delay)
        data = envelope.original_content or b""
        record = {"rcpt": envelope.rcpt_tos, "size": len(data), "at": time.time()}
        if self.store == "full":
            record["data"] = data.decode("latin-1")
        # Written and flushed before the 250: whatever the client saw accepted is on disk.
        self.messages.write(json.dumps(record) + "\n")
        self.messages.flush()
        return "250 Message accepted"


async def serve(host: str, port: int, out: Path, store: str) -> None:
    sink = Sink(out, store)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            sink,
            hostname="sink.test",
            decode_data=False,
            data_size_limit=None,
            authenticator=sink.authenticate,
            auth_require_tls=False,
        ),
        host,
        port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    (out / "ready").write_text(str(os.getpid()))
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--store", choices=["full", "meta"], default="full")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.host, args.port, args.out, args.store))


if __name__ == "__main__":
    main()
