#!/usr/bin/env python3
"""Fake AWS front for the c9aws network lab.

Runs inside the AWS-side namespace.  It
  * serves HTTPS on :443 (certificate signed by the lab's throwaway CA) and HTTP on :80
    for every address of the namespace (public endpoints and interface-endpoint ENIs);
  * answers checkip.amazonaws.com with the TCP source address;
  * reads the SigV4 access key, service and action of each request and enforces the
    rules of Cloud9's AWS managed temporary credentials (AMTC) for the AMTC keys listed
    in its policy file: accepted only from the environment's public IP, and only for
    actions on AMTC's allow-list (sts / iam / cloud9);
  * answers refusals with the error shape of the service's protocol;
  * refuses an AMTC session token that carries its expiry (`c9exp<unix seconds>`) past it with
    ExpiredToken, and holds S3 UploadPart / PutObject answers N s for a `-slow<N>s` bucket or key
    (tests/lab/expiry.py); presigned requests (tests/lab/eksverify.py) get the same rules;
  * forwards accepted requests, Host header intact, to a moto server it runs on
    127.0.0.1 in the same namespace;
  * writes one line per request to --log:
      src=.. host=.. key=.. who=.. svc=.. action=.. verdict=accepted|refused status=.. tag=.. reason=.. region=..
    (region: the SigV4 credential scope's region, "-" when unsigned)
It exits by itself after --lifetime seconds.
"""
import argparse
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --- AMTC allow-lists (docs: Cloud9 user guide, "AWS managed temporary credentials") ---
STS_ALLOWED = {"GetCallerIdentity", "DecodeAuthorizationMessage"}
IAM_ALLOWED = {
    "AttachRolePolicy", "ChangePassword", "CreatePolicy", "CreatePolicyVersion", "CreateRole",
    "CreateServiceLinkedRole", "DeletePolicy", "DeletePolicyVersion", "DeleteRole",
    "DeleteRolePolicy", "DeleteSSHPublicKey", "DetachRolePolicy", "GetInstanceProfile",
    "GetPolicy", "GetPolicyVersion", "GetRole", "GetRolePolicy", "GetSSHPublicKey", "GetUser",
    "PassRole", "PutRolePolicy", "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy",
    "UpdateRoleDescription", "UpdateSSHPublicKey", "UploadSSHPublicKey",
}
IAM_ROLE_ACTIONS = {
    "AttachRolePolicy", "CreateRole", "DeleteRole", "DeleteRolePolicy", "DetachRolePolicy",
    "GetRole", "GetRolePolicy", "PutRolePolicy", "UpdateAssumeRolePolicy", "UpdateRoleDescription",
}
CLOUD9_ALLOWED = {
    "CreateEnvironmentEC2", "CreateEnvironmentSSH", "DescribeEnvironmentMemberships",
    "DescribeEnvironments", "DescribeEnvironmentStatus", "UpdateEnvironment",
}

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "expect", "content-length"}

CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
S3_VHOST_RE = re.compile(r"^(?P<bucket>.+?)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$")
S3_PATH_RE = re.compile(r"^s3([.-][a-z0-9-]+)?\.amazonaws\.com$")
# A lab AMTC session token may carry its expiry: "...c9exp<unix seconds>..." (real STS tokens
# encode theirs too).  Past it the front answers ExpiredToken, whatever the source address.
EXP_RE = re.compile(r"c9exp(\d{9,11})(?!\d)")
# "-slow<seconds>s" in an S3 object key or bucket: the front holds the answer to each UploadPart /
# PutObject that long (a long
# call that crosses a token rotation, tests/lab/expiry.py).
SLOW_RE = re.compile(r"-slow(\d+(?:\.\d+)?)s")
VPCE_RE = re.compile(r"^vpce-[0-9a-z]+-[0-9a-z]+(-[a-z0-9-]+)?\.(?P<svc>[a-z0-9-]+)\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com$")


def amtc_allows(svc, action, params):
    """Return None when AMTC allows the action, else a reason."""
    if svc == "sts" and action not in STS_ALLOWED:
        return "sts action not in AMTC allow-list"
    if svc == "iam":
        if not (action in IAM_ALLOWED or action.startswith("List")):
            return "iam action not in AMTC allow-list"
        if action in IAM_ROLE_ACTIONS:
            role = params.get("RoleName", "")
            if not role.startswith("Cloud9-"):
                return "iam role action on a role not named Cloud9-*"
    if svc == "cloud9" and action not in CLOUD9_ALLOWED:
        return "cloud9 action not in AMTC allow-list"
    return None


def s3_action(method, host, path, query):
    bucket = None
    key = ""
    m = S3_VHOST_RE.match(host)
    p = urllib.parse.unquote(path)
    if m and not S3_PATH_RE.match(host):
        bucket = m.group("bucket")
        key = p.lstrip("/")
    else:
        segs = p.lstrip("/").split("/", 1)
        if segs[0]:
            bucket = segs[0]
            key = segs[1] if len(segs) > 1 else ""
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    if bucket is None:
        return "ListBuckets" if method == "GET" else method + "Service"
    if not key:
        if method == "GET":
            for sub, name in (("location", "GetBucketLocation"), ("versioning", "GetBucketVersioning"),
                              ("policy", "GetBucketPolicy"), ("acl", "GetBucketAcl"),
                              ("uploads", "ListMultipartUploads"), ("versions", "ListObjectVersions")):
                if sub in q:
                    return name
            return "ListObjectsV2" if q.get("list-type") == ["2"] else "ListObjects"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket",
                "POST": "DeleteObjects" if "delete" in q else "PostBucket"}.get(method, method + "Bucket")
    if method == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "partNumber" in q:
            return "UploadPart"
        return "PutObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        return "PostObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    return method + "Object"


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # holds the body until the client's delayed ACK (40 ms), a lab artifact that
    # real endpoints do not have and that would swamp what c9aws itself costs.
    disable_nagle_algorithm = True
    server_version = "AmazonLab"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):  # silence the default access log
        pass

    # ---- helpers ---------------------------------------------------------------------
    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(65537)
                if len(out) > 64 << 20:
                    raise ValueError("body too large")
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 << 20:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _reply(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        hs = dict(headers or {})
        hs.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in hs.items():
            self.send_header(k, v)
        if "Content-Length" not in hs and "content-length" not in hs:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _log(self, **kv):
        order = ["src", "host", "key", "who", "svc", "action", "verdict", "status", "tag", "reason", "region"]
        line = "ts=%.3f " % time.time() + " ".join("%s=%s" % (k, str(kv.get(k, "-")).replace(" ", "_") or "-") for k in order)
        with self.server.loglock:
            self.server.logf.write(line + "\n")
            self.server.logf.flush()

    # ---- main entry ------------------------------------------------------------------
    def _handle(self):
        src = self.client_address[0]
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        ua = self.headers.get("User-Agent") or ""
        m = re.search(r"exec-env/(\S+)", ua)
        tag = m.group(1) if m else "-"
        try:
            body = self._read_body()
        except Exception as e:  # noqa: BLE001
            self.close_connection = True
            self._reply(400, "bad request body: %s" % e)
            return
        path, _, query = self.path.partition("?")

        if host == "checkip.amazonaws.com":
            self._reply(200, src + "\n", {"Content-Type": "text/plain;charset=UTF-8"})
            self._log(src=src, host=host, key="-", who="-", svc="checkip", action="CheckIp",
                      verdict="accepted", status=200, tag=tag)
            return

        auth = self.headers.get("Authorization") or ""
        qs = urllib.parse.parse_qs(query, keep_blank_values=True)
        cm = CRED_RE.search(auth)
        if cm:
            key, _, region, svc = cm.groups()
        elif "X-Amz-Credential" in qs:
            parts = qs["X-Amz-Credential"][0].split("/")
            key, region, svc = parts[0], parts[2] if len(parts) > 2 else "-", parts[3] if len(parts) > 3 else "-"
        else:
            key, region, svc = "-", "-", "-"
        if svc == "-":
            svc = "s3" if (S3_VHOST_RE.match(host) or S3_PATH_RE.match(host)) else host.split(".")[0]

        target = self.headers.get("X-Amz-Target")
        params = {}
        if target:
            proto = "json"
            action = target.rsplit(".", 1)[-1]
        elif svc == "s3":
            proto = "s3"
            action = s3_action(self.command, host, path, query)
        else:
            proto = "ec2" if svc == "ec2" else "query"
            ctype = self.headers.get("Content-Type") or ""
            if "x-www-form-urlencoded" in ctype and body:
                params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
            params.update({k: v[0] for k, v in qs.items() if k not in params})
            action = params.get("Action", "-")

        pol = self.server.policy
        who = pol["labels"].get(key, "other" if key != "-" else "unsigned")
        reason = None
        amtc = pol["amtc"].get(key)
        token = self.headers.get("X-Amz-Security-Token") or (qs.get("X-Amz-Security-Token") or [""])[0]
        em = EXP_RE.search(token) if amtc is not None else None
        if em and time.time() > int(em.group(1)):
            # Checked first: an expired token is refused as expired wherever it comes from.
            status = self._expired(proto, svc)
            self._log(src=src, host=host, key=key, who=who, svc=svc, action=action, verdict="refused",
                      status=status, tag=tag, reason="ExpiredToken: expired %ds ago" % (time.time() - int(em.group(1))),
                      region=region)
            return
        if amtc is not None:
            if src not in amtc["allowed_ips"]:
                reason = "AMTC key from %s, environment IP is %s" % (src, ",".join(amtc["allowed_ips"]) or "none")
            else:
                reason = amtc_allows(svc, action, params)

        if not reason and svc == "ec2" and key in pol.get("deny_ec2", []):
            # A fallback profile without ec2:Describe* (tests/lab/faults.py): EC2's AccessDenied shape.
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation'
                    '</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors>'
                    '<RequestID>%s</RequestID></Response>' % uuid.uuid4())
            self._reply(403, body, {"Content-Type": "text/xml;charset=UTF-8"})
            self._log(src=src, host=host, key=key, who=who, svc=svc, action=action, verdict="refused",
                      status=403, tag=tag, reason="deny_ec2", region=region)
            return
        if reason:
            status = self._refuse(proto, svc)
            self._log(src=src, host=host, key=key, who=who, svc=svc, action=action, verdict="refused",
                      status=status, tag=tag, reason=reason, region=region)
            return

        status = self._forward(host, body, delay=self._slow(svc, action, path, host))
        self._log(src=src, host=host, key=key, who=who, svc=svc, action=action, verdict="accepted",
                  status=status, tag=tag, region=region)

    def _refuse(self, proto, svc):
        rid = str(uuid.uuid4())
        msg = "The security token included in the request is invalid."
        if proto == "json":
            body = json.dumps({"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": msg})
            hs = {"Content-Type": self.headers.get("Content-Type") or "application/x-amz-json-1.0",
                  "x-amzn-RequestId": rid}
            if svc == "sqs":
                hs["x-amzn-query-error"] = "InvalidClientTokenId;Sender"
            self.close_connection = False
            self._reply(400, body, hs)
            return 400
        if proto == "s3":
            code = self.server.policy.get("s3_refusal_code", "InvalidToken")
            smsg = {"InvalidToken": "The provided token is malformed or otherwise invalid.",
                    "AccessDenied": "Access Denied",
                    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records."}.get(code, msg)
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
                    '<RequestId>%s</RequestId><HostId>c9lab</HostId></Error>' % (code, smsg, rid[:16]))
            self._reply(403, body, {"Content-Type": "application/xml", "x-amz-request-id": rid[:16]})
            return 403
        if proto == "ec2":
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidClientTokenId</Code>'
                    '<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>' % (msg, rid))
            self._reply(403, body, {"Content-Type": "text/xml;charset=UTF-8"})
            return 403
        body = ('<ErrorResponse xmlns="https://%s.amazonaws.com/doc/"><Error><Type>Sender</Type>'
                '<Code>InvalidClientTokenId</Code><Message>%s</Message></Error><RequestId>%s</RequestId>'
                '</ErrorResponse>' % (svc, msg, rid))
        self._reply(403, body, {"Content-Type": "text/xml", "x-amzn-RequestId": rid})
        return 403

    def _slow(self, svc, action, path, host):
        if svc != "s3" or action not in ("UploadPart", "PutObject"):
            return 0
        m = SLOW_RE.search(urllib.parse.unquote(path)) or SLOW_RE.search(host)
        return min(float(m.group(1)), 20.0) if m else 0

    def _expired(self, proto, svc):
        """ExpiredToken in the shape each protocol uses (the field report: "(ExpiredToken) when calling
        the ListBuckets operation: The provided token has expired.")."""
        rid = str(uuid.uuid4())
        if proto == "json":
            body = json.dumps({"__type": "com.amazon.coral.service#ExpiredTokenException",
                               "message": "The security token included in the request is expired"})
            self._reply(400, body, {"Content-Type": self.headers.get("Content-Type") or "application/x-amz-json-1.0",
                                    "x-amzn-RequestId": rid})
            return 400
        if proto == "s3":
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ExpiredToken</Code><Message>The provided '
                    'token has expired.</Message><RequestId>%s</RequestId><HostId>c9lab</HostId></Error>' % rid[:16])
            self._reply(400, body, {"Content-Type": "application/xml", "x-amz-request-id": rid[:16]})
            return 400
        msg = "The security token included in the request is expired"
        if proto == "ec2":
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestExpired</Code>'
                    '<Message>Request has expired.</Message></Error></Errors><RequestID>%s</RequestID></Response>' % rid)
            self._reply(400, body, {"Content-Type": "text/xml;charset=UTF-8"})
            return 400
        body = ('<ErrorResponse xmlns="https://%s.amazonaws.com/doc/"><Error><Type>Sender</Type>'
                '<Code>ExpiredToken</Code><Message>%s</Message></Error><RequestId>%s</RequestId>'
                '</ErrorResponse>' % (svc, msg, rid))
        self._reply(403, body, {"Content-Type": "text/xml", "x-amzn-RequestId": rid})
        return 403

    def _forward(self, host, body, delay=0):
        fwd_host = self.headers.get("Host") or host
        vm = VPCE_RE.match(host)
        if vm:  # an endpoint-specific name: moto routes by the standard name
            fwd_host = "%s.%s.amazonaws.com" % (vm.group("svc"), vm.group("region"))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=30)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", fwd_host)
            for k, v in self.headers.items():
                if k.lower() in HOP or k.lower() == "host":
                    continue
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            if delay:
                time.sleep(delay)
            hs = {}
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() in HOP:
                    if k.lower() == "content-length" and self.command == "HEAD":
                        hs["Content-Length"] = v
                    continue
                self.send_header(k, v)
            self.send_header("Content-Length", hs.get("Content-Length", str(len(data))))
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)
            return resp.status
        except (OSError, http.client.HTTPException) as e:
            self._reply(502, "lab front: moto unreachable: %s" % e)
            return 502
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Handshake lazily in the handler thread, so one slow client cannot block accept().
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class PlainServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def seed(moto_port, seeds):
    import boto3  # moto depends on boto3
    kw = dict(endpoint_url="http://127.0.0.1:%d" % moto_port, region_name=seeds["region"],
              aws_access_key_id="AKIAC9LABSEED0000001", aws_secret_access_key="seed")
    s3 = boto3.client("s3", **kw)
    for b in seeds.get("buckets", []):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": seeds["region"]})
    for q in seeds.get("queues", []):
        boto3.client("sqs", **kw).create_queue(QueueName=q)
    for t in seeds.get("tables", []):
        boto3.client("dynamodb", **kw).create_table(
            TableName=t, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    # The VPCs the instances live in, so that EC2 answers (DescribeSubnets, DescribeRouteTables,
    # DescribeVpcEndpoints, DescribePrefixLists) agree with the lab's network and with IMDS.
    topo = {}
    ec2 = boto3.client("ec2", **kw)
    region = seeds["region"]
    for v in seeds.get("vpcs", []):
        try:
            topo[v["name"]] = seed_vpc(ec2, region, v)
        except Exception as e:  # noqa: BLE001 - the lab still runs; IMDS then serves made-up ids
            topo[v["name"]] = {"error": "%s: %s" % (type(e).__name__, e)}
    # Warm up the backends the calls use: moto builds some (EC2 above all) on first use, seconds each.
    ec2.describe_vpcs()
    boto3.client("sts", **kw).get_caller_identity()
    boto3.client("iam", **dict(kw, region_name="us-east-1")).list_users()
    return topo


def seed_vpc(ec2, region, v):
    """One VPC per scenario: 10.0.0.0/16, the instance's subnet with its own route table, and the
    scenario's internet gateway / NAT gateway / endpoints."""
    def tag(kind, name):
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": "c9lab-%s-%s" % (v["name"], name)}]}]

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tag("vpc", "vpc"))["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock=v["subnet"], AvailabilityZone=region + "a",
                            TagSpecifications=tag("subnet", "instance"))["Subnet"]["SubnetId"]
    rtb = ec2.create_route_table(VpcId=vpc, TagSpecifications=tag("route-table", "instance"))["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=sub)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    out = {"vpc_id": vpc, "subnet_id": sub, "route_table_id": rtb}
    if v.get("nat"):
        pub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.%d.0/24" % (100 + int(v["subnet"].split(".")[2])),
                                AvailabilityZone=region + "a", TagSpecifications=tag("subnet", "public"))["Subnet"]["SubnetId"]
        prt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=prt, SubnetId=pub)
        ec2.create_route(RouteTableId=prt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=pub, AllocationId=eip)["NatGateway"]["NatGatewayId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        out["nat_gateway_id"] = nat
    else:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    if v.get("s3_gateway"):
        out["s3_gateway_endpoint"] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName="com.amazonaws.%s.s3" % region, VpcEndpointType="Gateway",
            RouteTableIds=[rtb])["VpcEndpoint"]["VpcEndpointId"]
    if v.get("sts_interface") is not None:
        out["sts_interface_endpoint"] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName="com.amazonaws.%s.sts" % region, VpcEndpointType="Interface",
            SubnetIds=[sub], PrivateDnsEnabled=bool(v["sts_interface"]))["VpcEndpoint"]["VpcEndpointId"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--moto-port", type=int, default=5000)
    ap.add_argument("--lifetime", type=float, default=900)
    ap.add_argument("--ready")
    a = ap.parse_args()

    t = threading.Timer(a.lifetime, lambda: os._exit(3))
    t.daemon = True
    t.start()

    with open(a.policy) as f:
        policy = json.load(f)

    from moto.server import ThreadedMotoServer
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=a.moto_port, verbose=False)
    moto.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", a.moto_port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    topo = seed(a.moto_port, policy.get("seed", {}))
    with open(a.ready + ".topology", "w") as f:
        json.dump(topo, f, indent=2)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    logf = open(a.log, "a", buffering=1)
    servers = [TLSServer(("0.0.0.0", 443), Front, ctx), PlainServer(("0.0.0.0", 80), Front)]
    for s in servers:
        s.policy = policy
        s.moto_port = a.moto_port
        s.logf = logf
        s.loglock = threading.Lock()
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(a.ready + ".tmp", a.ready)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.shutdown()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
