#!/usr/bin/env python3
"""An SMTP server for the tests that keeps every message it receives.

    python3 smtp_sink.py PORT FOLDER

Listens on 127.0.0.1:PORT (aiosmtpd) and writes each message as
FOLDER/<n>.eml (the bytes exactly as received), next to FOLDER/<n>.json with
the envelope: {"mail_from": ..., "rcpt_tos": [...]}. The .eml appears last and
atomically, so a reader that sees it also finds the envelope. Prints "ready"
once it accepts connections, and runs until it is killed.
"""

import json
import os
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%s" % (time.time_ns(), uuid.uuid4().hex)
        base = os.path.join(self.folder, name)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    folder = sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    # Generous: test machines are busy while many tests start at once.
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port, ready_timeout=60)
    try:
        controller.start()
    except Exception as err:  # the port was taken, or the server never came up
        print("failed: %s" % err, flush=True)
        sys.exit(2)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
