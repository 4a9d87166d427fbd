#!/usr/bin/env python3
"""An SMTP server for the tests that keeps every message it receives.

    python3 smtp_sink.py PORT FOLDER [--security none|starttls|tls]
                         [--cert-dir DIR] [--login USER:PASSWORD]
                         [--refuse ADDRESS ...] [--defer ADDRESS ...]

Listens on 127.0.0.1:PORT (aiosmtpd) and writes each message as
FOLDER/<n>.eml (the bytes exactly as received), next to FOLDER/<n>.json with
the envelope and how the client came: {"mail_from": ..., "rcpt_tos": [...],
"tls": bool, "login": user or null}. The .eml appears last and atomically, so
a reader that sees it also finds the envelope. Prints "ready" once it accepts
connections, and runs until it is killed.

--security starttls requires STARTTLS before MAIL; tls speaks TLS from the
first byte. Both use DIR/cert.pem and DIR/key.pem. --login requires that
user and password (AUTH PLAIN or LOGIN, only over TLS) before MAIL.
--refuse answers RCPT TO that address with 550 (an unknown mailbox);
--defer answers it with 450 (greylisting, a full mailbox).
"""

import argparse
import json
import logging
import os
import ssl
import sys
import threading
import time
import uuid
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder, refused, deferred):
        self.folder = folder
        self.refused = {address.lower() for address in refused}
        self.deferred = {address.lower() for address in deferred}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.lower() in self.deferred:
            return "450 4.2.0 <%s>: greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%s" % (time.time_ns(), uuid.uuid4().hex)
        base = os.path.join(self.folder, name)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with open(base + ".json", "w") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    # session.ssl is set by STARTTLS; TLS from the first
                    # byte shows on the transport.
                    "tls": session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
                    "login": login,
                },
                f,
            )
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted for delivery"


def authenticator(user, password):
    expected = LoginPassword(user.encode(), password.encode())

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == expected
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


def main():
    # aiosmtpd warns about its own deprecations and about AUTH without
    # STARTTLS (which is fine over TLS from the first byte).
    warnings.simplefilter("ignore")
    # A client that rejects our test certificate is a test case, not news.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--security", choices=["none", "starttls", "tls"], default="none")
    parser.add_argument("--cert-dir")
    parser.add_argument("--login")
    parser.add_argument("--refuse", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--defer", action="append", default=[], metavar="ADDRESS")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)

    options = {}
    if args.security != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(
            os.path.join(args.cert_dir, "cert.pem"), os.path.join(args.cert_dir, "key.pem")
        )
        if args.security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            # aiosmtpd counts only STARTTLS as TLS when deciding to offer
            # AUTH; over TLS from the first byte the connection is encrypted
            # anyway.
            options.update(ssl_context=context, auth_require_tls=False)
    if args.login:
        user, password = args.login.split(":", 1)
        options.update(authenticator=authenticator(user, password), auth_required=True)

    # Generous: test machines are busy while many tests start at once.
    controller = Controller(
        Sink(args.folder, args.refuse, args.defer), hostname="127.0.0.1", port=args.port, ready_timeout=60, **options
    )
    try:
        controller.start()
    except Exception as err:  # the port was taken, or the server never came up
        print("failed: %s" % err, flush=True)
        sys.exit(2)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
