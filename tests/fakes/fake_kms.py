#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small fake AWS KMS on 127.0.0.1 that produces the failures moto cannot.

usage: fake_kms.py PORT MODEFILE
The behaviour is read from MODEFILE at every request, so a test switches it
between mounts: ok, disabled, invalid_state, asymmetric, invalid_key_usage,
throttle_then_ok, error500, garbage, oversized, xml_denied, not_found.
Data keys are "wrapped" by XOR with a fixed pad: enough to round-trip.
"""
import base64
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PAD = bytes(range(32))
ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"
# requests since the mode last changed: throttle_then_ok throttles the
# first two of them, then answers
count = {"n": 0, "mode": None}


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

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        target = self.headers.get("X-Amz-Target", "").split(".")[-1]
        mode = open(sys.argv[2]).read().strip()
        if mode != count["mode"]:
            count["mode"], count["n"] = mode, 0
        count["n"] += 1
        if "Authorization" not in self.headers or "AWS4-HMAC-SHA256" not in self.headers["Authorization"]:
            return self.err(400, "MissingAuthenticationTokenException")
        if mode == "disabled":
            return self.err(400, "DisabledException", "key is disabled")
        if mode == "invalid_state":
            return self.err(400, "KMSInvalidStateException", "key is pending deletion")
        if mode == "not_found":
            return self.err(400, "NotFoundException", "Alias is not found.")
        if mode == "invalid_key_usage" and target == "GenerateDataKey":
            return self.err(400, "InvalidKeyUsageException", "not ENCRYPT_DECRYPT")
        if mode == "throttle_then_ok" and count["n"] <= 2:
            return self.err(400, "ThrottlingException", "Rate exceeded")
        if mode == "error500":
            return self.reply(500, "internal")
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


HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
