#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A strict fake IMDSv2 on 127.0.0.1: PUT a token (TTL header 1..21600
required), then every GET needs it. Serves one role's credentials, taken
from the environment variables FAKE_AKID, FAKE_SECRET, FAKE_TOKEN, and the
region FAKE_REGION (default us-east-1).

usage: strict_imds.py PORT
"""
import json
import os
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

tokens = {}
ROLE = "cache-node-role"


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body=""):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if self.path != "/latest/api/token" or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400)
        t = secrets.token_hex(16)
        tokens[t] = time.time() + int(ttl)
        self.reply(200, t)

    def do_GET(self):
        t = self.headers.get("X-aws-ec2-metadata-token", "")
        if tokens.get(t, 0) < time.time():
            return self.reply(401)
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self.reply(200, ROLE)
        if self.path == base + ROLE:
            return self.reply(200, json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": "2026-01-01T00:00:00Z",
                "AccessKeyId": os.environ["FAKE_AKID"], "SecretAccessKey": os.environ["FAKE_SECRET"],
                "Token": os.environ["FAKE_TOKEN"], "Expiration": "2099-01-01T00:00:00Z"}))
        if self.path == "/latest/meta-data/placement/region":
            return self.reply(200, os.environ.get("FAKE_REGION", "us-east-1"))
        self.reply(404)


HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
