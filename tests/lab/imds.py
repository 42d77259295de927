#!/usr/bin/env python3
"""Fake EC2 instance metadata service (IMDSv2 only) for the c9aws network lab.

Runs inside an instance namespace, bound to 169.254.169.254:80.  Serves the
values in a JSON file written by tests/lab/lab.py:

  {"instance_id": ..., "region": ..., "az": ..., "local_ipv4": ..., "public_ipv4": null|"...",
   "mac": ..., "subnet_id": ..., "subnet_cidr": ..., "vpc_id": ..., "vpc_cidrs": [...],
   "role": {"name": ..., "AccessKeyId": ..., "SecretAccessKey": ..., "Token": ...}}

Protocol (as documented for IMDSv2):
  PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds: 1..21600 -> token
  every GET carries X-aws-ec2-metadata-token; missing/unknown/expired -> 401
  unknown path -> 404; a directory lists its children one per line.
The process exits by itself after --lifetime seconds (the lab also stops it).
"""
import argparse
import datetime as dt
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def build_tree(c):
    now = dt.datetime.now(dt.timezone.utc)
    mac = c["mac"]
    iface = {
        "device-number": "0",
        "interface-id": "eni-0c9a1ab0000000" + c["instance_id"][-3:],
        "local-hostname": "ip-%s.%s.compute.internal" % (c["local_ipv4"].replace(".", "-"), c["region"]),
        "local-ipv4s": c["local_ipv4"],
        "mac": mac,
        "owner-id": "123456789012",
        "security-group-ids": "sg-0c9a1ab000000001",
        "subnet-id": c["subnet_id"],
        "subnet-ipv4-cidr-block": c["subnet_cidr"],
        "vpc-id": c["vpc_id"],
        "vpc-ipv4-cidr-block": c["vpc_cidrs"][0],
        "vpc-ipv4-cidr-blocks": "\n".join(c["vpc_cidrs"]),
    }
    md = {
        "ami-id": "ami-0c9a1ab0000000001",
        "hostname": iface["local-hostname"],
        "instance-id": c["instance_id"],
        "instance-type": "t3.small",
        "local-hostname": iface["local-hostname"],
        "local-ipv4": c["local_ipv4"],
        "mac": mac,
        "placement": {
            "availability-zone": c["az"],
            "region": c["region"],
        },
        "network": {"interfaces": {"macs": {mac: iface}}},
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if c.get("public_ipv4"):
        md["public-ipv4"] = c["public_ipv4"]
        md["public-hostname"] = "ec2-%s.%s.compute.amazonaws.com" % (c["public_ipv4"].replace(".", "-"), c["region"])
        iface["public-ipv4s"] = c["public_ipv4"]
        iface["public-hostname"] = md["public-hostname"]
    role = c.get("role")
    if role:
        creds = {
            "Code": "Success",
            "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": role["AccessKeyId"],
            "SecretAccessKey": role["SecretAccessKey"],
            "Token": role["Token"],
            "Expiration": (now + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        md["iam"] = {
            "info": json.dumps({
                "Code": "Success",
                "LastUpdated": creds["LastUpdated"],
                "InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/" + role["name"],
                "InstanceProfileId": "AIPAC9LAB00000000001",
            }, indent=2),
            "security-credentials": {role["name"]: json.dumps(creds, indent=2)},
        }
    doc = {
        "accountId": "123456789012",
        "architecture": "x86_64",
        "availabilityZone": c["az"],
        "imageId": md["ami-id"],
        "instanceId": c["instance_id"],
        "instanceType": md["instance-type"],
        "privateIp": c["local_ipv4"],
        "region": c["region"],
        "version": "2017-09-30",
    }
    return {
        "latest": {
            "meta-data": md,
            "dynamic": {"instance-identity": {"document": json.dumps(doc, indent=2)}},
        }
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # holds the body until the client's delayed ACK (40 ms), a lab artifact that
    # real endpoints do not have and that would swamp what c9aws itself costs.
    disable_nagle_algorithm = True
    server_version = "EC2ws"
    sys_version = ""
    timeout = 10

    def log_message(self, fmt, *args):
        if self.server.logf:
            self.server.logf.write("%s imds %s %s\n" % (time.strftime("%H:%M:%S"), self.client_address[0], fmt % args))
            self.server.logf.flush()

    def _send(self, code, body=b"", ctype="text/plain", extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def _fault(self):
        """--mode hang: never answer (a stuck IMDS); --mode no-token: refuse every token (403)."""
        if self.server.mode == "hang":
            time.sleep(self.server.lifetime)
            return True
        return False

    def do_PUT(self):
        self._drain()
        if self._fault():
            return
        if self.server.mode == "no-token":
            return self._send(403, "Forbidden")
        if self.path != "/latest/api/token":
            return self._send(404, "Not Found")
        if self.headers.get("X-Forwarded-For"):
            return self._send(403, "Forbidden")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(ttl)
        except (TypeError, ValueError):
            return self._send(400, "Bad Request")
        if not 1 <= ttl <= 21600:
            return self._send(400, "Bad Request")
        tok = "AQAEAc9lab" + secrets.token_urlsafe(30)
        with self.server.lock:
            self.server.tokens[tok] = time.time() + ttl
        self._send(200, tok, extra={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})

    def do_GET(self):
        self._drain()
        if self._fault():
            return
        if self.server.mode == "slow-read":
            time.sleep(1.0)  # a loaded instance: the token comes at once, each read a second late
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with self.server.lock:
            exp = self.server.tokens.get(tok or "")
        if exp is None or exp < time.time():
            return self._send(401, "Unauthorized")
        path = self.path.split("?", 1)[0]
        node = self.server.tree
        parts = [p for p in path.split("/") if p]
        for p in parts:
            if isinstance(node, dict) and p in node:
                node = node[p]
            else:
                return self._send(404, "Not Found")
        if isinstance(node, dict):
            names = [k + "/" if isinstance(v, dict) else k for k, v in node.items()]
            return self._send(200, "\n".join(names))
        ctype = "application/json" if node.startswith("{") else "text/plain"
        self._send(200, node, ctype)

    do_HEAD = do_GET

    def do_POST(self):
        self._drain()
        self._send(405, "Method Not Allowed")

    do_DELETE = do_POST


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--lifetime", type=float, default=900)
    ap.add_argument("--log")
    ap.add_argument("--ready")
    ap.add_argument("--mode", choices=["normal", "hang", "no-token", "slow-read"], default="normal",
                    help="faults for tests/lab/faults.py: hang = accept and never answer; no-token = PUT 403; "
                         "slow-read = tokens at once, every GET answered after 1 s")
    a = ap.parse_args()
    with open(a.config) as f:
        c = json.load(f)
    srv = ThreadingHTTPServer((a.bind, a.port), Handler)
    srv.daemon_threads = True
    srv.tree = build_tree(c)
    srv.tokens = {}
    srv.lock = threading.Lock()
    srv.mode = a.mode
    srv.lifetime = a.lifetime
    srv.logf = open(a.log, "a") if a.log else None
    # Bounded: exit on our own even if nobody stops us.
    t = threading.Timer(a.lifetime, lambda: os._exit(3))
    t.daemon = True
    t.start()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(str(os.getpid()))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
