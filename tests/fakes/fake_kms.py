#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small fake AWS KMS on 127.0.0.1 that produces the failures moto cannot.

usage: fake_kms.py PORT MODEFILE
The behaviour is read from MODEFILE at every request, so a test switches it
between mounts: ok, disabled, invalid_state, asymmetric, invalid_key_usage,
throttle_then_ok, throttle_most (4 of every 5 requests throttled),
throttle (every request), error500, error503 (a load balancer's plain-text
503), garbage, oversized, xml_denied, not_found, access_denied, down (the
connection is closed without an answer).
Control (GET, for tests of a mounted volume): /_ctl/mode/NAME writes NAME to
MODEFILE; /_ctl/decrypts answers the number of Decrypt calls so far,
/_ctl/calls the number of KMS requests, /_ctl/throttled the number of
ThrottlingException answers; /_ctl/ratelimit/N answers ThrottlingException
to every request beyond N answered in the last second (0: no limit), as
KMS's request quota does; /_ctl/reset zeroes the counters.
Data keys are "wrapped" by XOR with a fixed pad: enough to round-trip.
Requests are served on threads, so many clients at once meet the limit
rather than a queue.
"""
import base64
import collections
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAD = bytes(range(32))
ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"
# requests since the mode last changed: throttle_then_ok throttles the
# first two of them, then answers
count = {"n": 0, "mode": None, "decrypts": 0, "calls": 0, "throttled": 0,
         "limit": 0}
answered = collections.deque()  # when the last `limit` requests were let through
lock = threading.Lock()
MODES = {"ok", "disabled", "invalid_state", "asymmetric", "invalid_key_usage",
         "throttle_then_ok", "throttle_most", "throttle", "error500",
         "error503", "garbage", "oversized", "xml_denied", "not_found",
         "access_denied", "down"}


def rate_limited():
    """True when `limit` requests were let through in the last second."""
    if not count["limit"]:
        return False
    now = time.monotonic()
    while answered and now - answered[0] >= 1.0:
        answered.popleft()
    if len(answered) >= count["limit"]:
        return True
    answered.append(now)
    return False


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/x-amz-json-1.1"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def err(self, status, typ, msg="fake"):
        self.reply(status, json.dumps({"__type": typ, "message": msg}))

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) == 4 and parts[1] == "_ctl" and parts[2] == "mode" and parts[3] in MODES:
            with open(sys.argv[2], "w") as f:
                f.write(parts[3] + "\n")
            return self.reply(200, parts[3] + "\n", "text/plain")
        if len(parts) == 3 and parts[1] == "_ctl" and parts[2] in ("decrypts", "calls", "throttled"):
            return self.reply(200, "%d\n" % count[parts[2]], "text/plain")
        if len(parts) == 4 and parts[1] == "_ctl" and parts[2] == "ratelimit" and parts[3].isdigit():
            with lock:
                count["limit"] = int(parts[3])
                answered.clear()
            return self.reply(200, parts[3] + "\n", "text/plain")
        if self.path == "/_ctl/reset":
            with lock:
                for k in ("decrypts", "calls", "throttled"):
                    count[k] = 0
                answered.clear()
            return self.reply(200, "reset\n", "text/plain")
        return self.reply(404, "unknown control path\n", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        target = self.headers.get("X-Amz-Target", "").split(".")[-1]
        mode = open(sys.argv[2]).read().strip()
        with lock:
            if mode != count["mode"]:
                count["mode"], count["n"] = mode, 0
            count["n"] += 1
            n = count["n"]
            count["calls"] += 1
            if target == "Decrypt":
                count["decrypts"] += 1
            throttle = (rate_limited() or mode == "throttle" or
                        (mode == "throttle_then_ok" and n <= 2) or
                        (mode == "throttle_most" and n % 5 != 0))
            if throttle:
                count["throttled"] += 1
        if mode == "down":
            self.close_connection = True
            return
        if "Authorization" not in self.headers or "AWS4-HMAC-SHA256" not in self.headers["Authorization"]:
            return self.err(400, "MissingAuthenticationTokenException")
        if mode == "disabled":
            return self.err(400, "DisabledException", "key is disabled")
        if mode == "invalid_state":
            return self.err(400, "KMSInvalidStateException", "key is pending deletion")
        if mode == "access_denied":
            return self.err(400, "AccessDeniedException", "not authorized to perform kms:Decrypt")
        if mode == "not_found":
            return self.err(400, "NotFoundException", "Alias is not found.")
        if mode == "invalid_key_usage" and target == "GenerateDataKey":
            return self.err(400, "InvalidKeyUsageException", "not ENCRYPT_DECRYPT")
        if throttle:
            return self.err(400, "ThrottlingException", "Rate exceeded")
        if mode == "error500":
            return self.reply(500, "internal")
        if mode == "error503":
            return self.reply(503, "Service Unavailable", "text/plain")
        if mode == "garbage":
            return self.reply(200, "\x00\x01not json{{{")
        if mode == "oversized":
            return self.reply(200, "{" + " " * (1024 * 1024) + "}")
        if mode == "xml_denied":
            return self.reply(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
                                   "<Message>The request signature we calculated does not match"
                                   "</Message></Error></ErrorResponse>", "text/xml")
        if target == "DescribeKey":
            spec = "RSA_2048" if mode == "asymmetric" else "SYMMETRIC_DEFAULT"
            return self.reply(200, json.dumps({"KeyMetadata": {
                "KeyId": ARN, "Arn": ARN, "KeySpec": spec, "KeyUsage": "ENCRYPT_DECRYPT"}}))
        if target == "GenerateDataKey":
            key = os.urandom(32)
            blob = bytes(a ^ b for a, b in zip(key, PAD)) + json.dumps(
                req.get("EncryptionContext"), sort_keys=True).encode()
            return self.reply(200, json.dumps({"KeyId": ARN,
                "Plaintext": base64.b64encode(key).decode(),
                "CiphertextBlob": base64.b64encode(blob).decode()}))
        if target == "Decrypt":
            blob = base64.b64decode(req["CiphertextBlob"])
            if blob[32:] != json.dumps(req.get("EncryptionContext"), sort_keys=True).encode():
                return self.reply(400, json.dumps({"__type": "InvalidCiphertextException"}))
            key = bytes(a ^ b for a, b in zip(blob[:32], PAD))
            return self.reply(200, json.dumps({"KeyId": ARN,
                "Plaintext": base64.b64encode(key).decode()}))
        return self.err(400, "UnknownOperationException")


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # a fleet connects at once
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
