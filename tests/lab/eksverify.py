#!/usr/bin/env python3
"""An EKS-like token verifier for the c9aws network lab (tests/lab/kube.py).

Runs in the AWS-side namespace on its own address (--addr, e.g. 198.51.100.60:6443), standing for
the EKS control plane.  kubectl sends `Authorization: Bearer k8s-aws-v1.<base64url of a presigned
sts:GetCallerIdentity URL>` (what `aws eks get-token` prints); like aws-iam-authenticator it

  * decodes the URL, accepts only https://sts[.<region>].amazonaws.com/?Action=GetCallerIdentity
    with a SigV4 query signature whose X-Amz-SignedHeaders include x-k8s-aws-id;
  * presents it to STS (the lab's front, --sts-addr) **from its own address** (--addr), with the
    header `x-k8s-aws-id: <cluster>` (--cluster must match), as the EKS control plane does;
  * answers 200 with the caller's ARN when STS accepted it, else 401 in the Kubernetes API
    server's shape ("Unauthorized"), which kubectl prints as
    "error: You must be logged in to the server (Unauthorized)".

The request to the front carries `exec-env/<tag>` in its User-Agent, the tag being the client's
X-Lab-Tag header, so the front's log tells which call's token was presented, with which key.
One line per request to --log.  It exits by itself after --lifetime seconds.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STS_HOST_RE = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com$")
UNAUTHORIZED = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "Unauthorized", "reason": "Unauthorized", "code": 401})


class Verifier(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def _answer(self, status, body, why, tag):
        b = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
        with self.server.loglock:
            self.server.logf.write("ts=%.3f tag=%s status=%d why=%s\n" % (time.time(), tag, status, why.replace(" ", "_")))
            self.server.logf.flush()

    def do_GET(self):
        tag = self.headers.get("X-Lab-Tag") or "-"
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer k8s-aws-v1."):
            return self._answer(401, UNAUTHORIZED, "no k8s-aws-v1 bearer token", tag)
        b64 = auth[len("Bearer k8s-aws-v1."):].strip()
        try:
            url = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return self._answer(401, UNAUTHORIZED, "token is not base64url", tag)
        u = urllib.parse.urlsplit(url)
        q = urllib.parse.parse_qs(u.query)
        if u.scheme != "https" or not STS_HOST_RE.match(u.hostname or "") or u.path not in ("", "/"):
            return self._answer(401, UNAUTHORIZED, "not an STS URL: %s://%s%s" % (u.scheme, u.hostname, u.path), tag)
        if q.get("Action") != ["GetCallerIdentity"]:
            return self._answer(401, UNAUTHORIZED, "action %s" % q.get("Action"), tag)
        signed = (q.get("X-Amz-SignedHeaders") or [""])[0].split(";")
        if "x-k8s-aws-id" not in signed or not q.get("X-Amz-Signature"):
            return self._answer(401, UNAUTHORIZED, "x-k8s-aws-id not signed (%s)" % ";".join(signed), tag)
        # Present it to STS from this address, as the control plane does.  Plain HTTP on :80 of the
        # front: SigV4 covers the host, not the scheme.
        conn = http.client.HTTPConnection(self.server.sts_addr, 80, timeout=20,
                                          source_address=(self.server.addr, 0))
        try:
            conn.request("GET", "/?" + u.query, headers={
                "Host": u.hostname, "x-k8s-aws-id": self.server.cluster,
                "User-Agent": "c9lab-eksverify exec-env/%s" % tag, "Accept": "application/json"})
            r = conn.getresponse()
            data = r.read().decode(errors="replace")
        except OSError as e:
            return self._answer(401, UNAUTHORIZED, "STS unreachable: %s" % e, tag)
        finally:
            conn.close()
        if r.status != 200:
            code = re.search(r"<Code>([^<]+)</Code>", data)
            return self._answer(401, UNAUTHORIZED, "STS said %d %s" % (r.status, code.group(1) if code else "?"), tag)
        arn = re.search(r"<Arn>([^<]+)</Arn>", data) or re.search(r'"Arn"\s*:\s*"([^"]+)"', data)
        body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [],
                           "user": arn.group(1) if arn else "?"})
        return self._answer(200, body, "accepted %s" % (arn.group(1) if arn else "?"), tag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=6443)
    ap.add_argument("--sts-addr", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=float, default=900)
    ap.add_argument("--ready", required=True)
    a = ap.parse_args()
    t = threading.Timer(a.lifetime, lambda: os._exit(3))
    t.daemon = True
    t.start()
    srv = ThreadingHTTPServer((a.addr, a.port), Verifier)
    srv.daemon_threads = True
    srv.addr, srv.sts_addr, srv.cluster = a.addr, a.sts_addr, a.cluster
    srv.logf = open(a.log, "a", buffering=1)
    srv.loglock = threading.Lock()
    with open(a.ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(a.ready + ".tmp", a.ready)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
