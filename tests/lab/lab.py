#!/usr/bin/env python3
"""c9aws network lab: reproduces Cloud9 AMTC failures with network namespaces and the real AWS CLI.

Run through tests/lab/run (as root).  See docs/lab.md.

Environment knobs:
  LAB_CLI=v1|v2|both     which AWS CLI major versions to drive (default: v1, the `aws` on PATH)
  LAB_C9AWS=check|xfail  xfail: c9aws check failures are reported XFAIL and do not fail the run
                         (for use until the routing logic lands); default check
  LAB_SCENARIOS=a,b      subset of scenarios (default: all)
  LAB_JOBS=N             parallel (cli, scenario) units (default: nproc, at least 2)
  LAB_KEEP=1             keep the work directory (front log, homes, per-call output)
  LAB_S3_REFUSAL=InvalidToken|AccessDenied|InvalidAccessKeyId   S3's refusal code (a guess; default InvalidToken)
  LAB_AWS_V1, LAB_AWS_V2 paths of the CLIs (default: `aws` on PATH, /opt/awscli-v2/bin/aws)
  C9AWS_BIN              c9aws binary (default target/release/c9aws, built if missing)
  LAB_CALL_TIMEOUT       seconds per CLI call (default 40)
  LAB_PARTS=a,b          parts to run (default all): calls (the CLI calls of every scenario), and the
                         plug-in modules in tests/lab/ listed in PLUGINS (each: run(lab) -> [(ok, text)])
                         (extras, regions, sqsvpce: an SQS interface endpoint with private DNS under
                         CLI v1 and v2, faults, kube: kubectl via an EKS-like verifier, expiry: expired
                         AMTC and a long call across token rotations; LAB_LONG_LIFE for the latter; swr)
  LAB_NS_PREFIX=x-        namespace/lock/work-dir prefix (default c9lab-): two labs can run side by side
  LAB_BENCH=1            opt-in: time c9aws with hyperfine in the instance namespaces instead of the
                         CLI calls (tests/lab/bench.py, bench/lab.sh); unset, nothing changes
  LAB_BENCH=route        opt-in: the route-table read, direct vs CLI (tests/lab/route_bench.py)
"""
import concurrent.futures as cf
import datetime as dt
import fcntl
import hashlib
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# LAB_NS_PREFIX: another prefix lets two labs run side by side (namespaces, lock and work dirs are
# per prefix; everything else lives inside the namespaces).  It must not start with another run's.
PFX = os.environ.get("LAB_NS_PREFIX") or "c9lab-"
if not (2 <= len(PFX) <= 8 and PFX.endswith("-") and PFX[:-1].replace("-", "").isalnum()) or \
        (PFX != "c9lab-" and PFX.startswith("c9lab")):
    sys.exit("c9aws lab: LAB_NS_PREFIX must be 2-8 characters [a-z0-9-] ending in '-', not starting with 'c9lab' (got %r)" % PFX)
NS_AWS = PFX + "aws"
NS_RTR = PFX + "vpcrtr"
REGION = "ap-northeast-1"

# ---- addresses (only 10.0.0.0/16, 198.51.100.0/24, 203.0.113.0/24, 169.254.169.254) ----------
EP_REGIONAL = "198.51.100.10"   # sts, ec2, sqs, iam, cloud9 ... public endpoints
EP_S3 = "198.51.100.20"         # S3; its "prefix list" is 198.51.100.16/28
S3_PL = "198.51.100.16/28"
EP_DDB = "198.51.100.36"        # DynamoDB; prefix list 198.51.100.32/28
DDB_PL = "198.51.100.32/28"
EP_CHECKIP = "198.51.100.50"
ENI_STS_PDNS = "10.0.200.10"    # STS interface endpoint ENI, private DNS on (scenario stsvpce)
ENI_STS_NOPDNS = "10.0.200.20"  # STS interface endpoint ENI, private DNS off (scenario vpcenodns)
NAT_EIP = "203.0.113.100"
LINK_RTR, LINK_AWS = "10.0.255.1", "10.0.255.2"
VPCE_PDNS = "vpce-0c9a1ab00000000f1-7ab2cd3e.sts.ap-northeast-1.vpce.amazonaws.com"
VPCE_NOPDNS = "vpce-0c9a1ab00000000f2-3xk9qz7w.sts.ap-northeast-1.vpce.amazonaws.com"

BUCKET = "c9lab-bucket"
NOBUCKET = "c9lab-no-such-bucket"

REGIONAL_NAMES = [
    "sts.amazonaws.com", "sts.ap-northeast-1.amazonaws.com", "sts.us-east-1.amazonaws.com",
    "ec2.ap-northeast-1.amazonaws.com", "ec2.us-east-1.amazonaws.com",
    "sqs.ap-northeast-1.amazonaws.com", "ap-northeast-1.queue.amazonaws.com",
    "sqs.us-east-1.amazonaws.com", "queue.amazonaws.com",
    "iam.amazonaws.com", "cloud9.ap-northeast-1.amazonaws.com", "cloud9.us-east-1.amazonaws.com",
    "logs.ap-northeast-1.amazonaws.com", "ssm.ap-northeast-1.amazonaws.com",
    # a region other than the instance's (tests/lab/regions.py: a default profile in eu-west-1)
    "sts.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com",
    "eu-west-1.queue.amazonaws.com",
]
S3_NAMES = ["s3.amazonaws.com", "s3.ap-northeast-1.amazonaws.com", "s3.us-east-1.amazonaws.com",
            "s3.eu-west-1.amazonaws.com"]
for _b in (BUCKET, NOBUCKET):
    S3_NAMES += ["%s.s3.ap-northeast-1.amazonaws.com" % _b, "%s.s3.amazonaws.com" % _b,
                 "%s.s3.us-east-1.amazonaws.com" % _b]
DDB_NAMES = ["dynamodb.ap-northeast-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com",
             "dynamodb.eu-west-1.amazonaws.com"]
CERT_SANS = ["*.amazonaws.com", "*.ap-northeast-1.amazonaws.com", "*.us-east-1.amazonaws.com",
             "*.eu-west-1.amazonaws.com",
             "*.s3.amazonaws.com", "*.s3.ap-northeast-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com",
             "*.sts.ap-northeast-1.vpce.amazonaws.com", "*.queue.amazonaws.com", "*.s3.ap-northeast-1.vpce.amazonaws.com"]

# Plug-in modules run after the calls, while the servers are still up: each exposes
# run(lab) -> list of (ok, text) checks (see docs/lab.md).
PLUGINS = ["extras", "regions", "sqsvpce", "faults", "kube", "expiry", "swr"]

# ---- keys (moto accepts any key; these only have to be distinct and recognisable in the log) ----
FALLBACK_KEY = ("AKIAC9LABFALLBACK001", "c9labFallbackSecret0000000000000000000001")
ENV_KEY = ("AKIAC9LABENVUSER0001", "c9labEnvUserSecret00000000000000000000001")
STATIC_KEY = ("AKIAC9LABSTATIC00001", "c9labStaticSecret000000000000000000000001")
ROLE_KEY = ("ASIAC9LABROLE0000001", "c9labRoleSecret00000000000000000000000001")
# A fallback key the front refuses every EC2 action (tests/lab/faults.py: no ec2:Describe*).
NOEC2_KEY = ("AKIAC9LABNOEC2000001", "c9labNoEc2Secret000000000000000000000001")


@dataclass
class Scenario:
    name: str
    idx: int
    desc: str
    public_ip: str = None          # None: no public IPv4 (private subnet)
    cloud9: bool = True            # False: static keys, no Cloud9 header, no IMDS
    nat: bool = False              # egress through the NAT gateway
    s3_gateway: bool = False       # S3 gateway endpoint on this subnet's route table
    hosts_override: dict = field(default_factory=dict)

    @property
    def ns(self):
        return PFX + "i-" + self.name

    @property
    def subnet(self):
        return "10.0.%d.0/24" % self.idx

    @property
    def local_ip(self):
        return "10.0.%d.10" % self.idx

    @property
    def gw(self):
        return "10.0.%d.1" % self.idx

    @property
    def amtc_key(self):
        return "ASIAC9LABAMTC%07d" % self.idx

    @property
    def mac(self):
        return "02:c9:1a:b0:00:%02x" % self.idx


SCENARIOS = [
    Scenario("public", 1, "public subnet, internet gateway, no endpoints", public_ip="203.0.113.11"),
    Scenario("private", 2, "private subnet behind a NAT gateway", nat=True),
    Scenario("stsvpce", 3, "public subnet + STS interface endpoint, private DNS on", public_ip="203.0.113.13",
             hosts_override={"sts.ap-northeast-1.amazonaws.com": ENI_STS_PDNS, VPCE_PDNS: ENI_STS_PDNS}),
    Scenario("s3gw", 4, "public subnet + S3 gateway endpoint", public_ip="203.0.113.14", s3_gateway=True),
    Scenario("vpcenodns", 5, "public subnet + STS interface endpoint, private DNS off", public_ip="203.0.113.15",
             hosts_override={VPCE_NOPDNS: ENI_STS_NOPDNS}),
    Scenario("nonc9", 6, "not Cloud9: static keys, no IMDS reachable", public_ip="203.0.113.16", cloud9=False),
]


@dataclass
class Call:
    id: str
    args: list
    svc: str
    actions: set
    who: str = "default"     # default: the default credentials; "fallback": --profile; "env": env keys
    upload: bool = False
    download: bool = False
    ordinary_fail: bool = False


COMMON_CALLS = [
    Call("sts", ["sts", "get-caller-identity"], "sts", {"GetCallerIdentity"}),
    Call("s3-ls", ["s3", "ls"], "s3", {"ListBuckets"}),
    Call("s3api-lb", ["s3api", "list-buckets"], "s3", {"ListBuckets"}),
    Call("sqs", ["sqs", "list-queues"], "sqs", {"ListQueues"}),
    Call("ddb", ["dynamodb", "list-tables"], "dynamodb", {"ListTables"}),
    Call("ec2", ["ec2", "describe-vpcs"], "ec2", {"DescribeVpcs"}),
    Call("iam-cu", ["iam", "create-user", "--user-name", "{uniq}"], "iam", {"CreateUser"}),
    Call("cp-up", ["s3", "cp", "-", "s3://%s/{uniq}.bin" % BUCKET], "s3",
         {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}, upload=True),
    Call("cp-down", ["s3", "cp", "s3://%s/{uniq}.bin" % BUCKET, "-"], "s3", {"GetObject", "HeadObject"},
         download=True),
    Call("nsb", ["s3", "ls", "s3://%s" % NOBUCKET], "s3", {"ListObjectsV2", "ListObjects"}, ordinary_fail=True),
    Call("profile", ["--profile", "c9-fallback", "sts", "get-caller-identity"], "sts", {"GetCallerIdentity"},
         who="fallback"),
    Call("envkeys", ["s3api", "list-buckets"], "s3", {"ListBuckets"}, who="env"),
]
EXTRA_CALLS = {
    "stsvpce": [Call("sts-use1", ["sts", "get-caller-identity", "--region", "us-east-1"], "sts",
                     {"GetCallerIdentity"})],
    "vpcenodns": [Call("sts-vpce", ["sts", "get-caller-identity", "--endpoint-url", "https://" + VPCE_NOPDNS],
                       "sts", {"GetCallerIdentity"})],
}

# Where AMTC must be refused (the field report + cloud9-amtc.md §3).  Written by hand, NOT derived
# from the front's rules, so that the lab checks the front as well as the CLI.
ALL_DEFAULT = {c.id for c in COMMON_CALLS if c.who == "default"}
AMTC_REFUSED = {
    "public": {"iam-cu"},
    "private": ALL_DEFAULT,
    "stsvpce": {"sts", "iam-cu"},
    "s3gw": {"s3-ls", "s3api-lb", "cp-up", "cp-down", "nsb", "iam-cu"},
    "vpcenodns": {"sts-vpce", "iam-cu"},
    "nonc9": set(),
}


def calls_for(sc):
    return COMMON_CALLS + EXTRA_CALLS.get(sc.name, [])


# ---------------------------------------------------------------------------------------------
class LabError(Exception):
    pass


def sh(*cmd, check=True, quiet=False, timeout=30, input=None):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise LabError("command failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout, r.stderr))
    return r


def nsx(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


def list_lab_netns():
    r = sh("ip", "-json", "netns", "list", check=False)
    try:
        names = [n["name"] for n in json.loads(r.stdout or "[]")]
    except ValueError:
        names = [l.split()[0] for l in r.stdout.splitlines() if l.strip()]
    return [n for n in names if n.startswith(PFX)]


def kill_ns_processes(ns):
    """Kill the processes living in a lab namespace (only ever lab-made ones), by pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        r = sh("ip", "netns", "pids", ns, check=False)
        pids = [int(p) for p in r.stdout.split() if p.isdigit() and int(p) != os.getpid()]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.3)


def teardown_all(verbose=False):
    for ns in list_lab_netns():
        kill_ns_processes(ns)
        sh("ip", "netns", "del", ns, check=False)
        if verbose:
            print("  removed namespace %s" % ns)
    base = Path("/etc/netns")
    if base.is_dir():
        for d in base.glob(PFX + "*"):
            shutil.rmtree(d, ignore_errors=True)


def pdeathsig():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass


# ---------------------------------------------------------------------------------------------
def make_certs(work):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c9aws lab throwaway CA %d" % os.getpid())])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.amazonaws.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in CERT_SANS]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (work / "ca.pem").write_bytes(ca.public_bytes(pem))
    (work / "front.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (work / "front.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    os.chmod(work / "front.key", 0o600)


def hosts_for(sc):
    m = {}
    for n in REGIONAL_NAMES:
        m[n] = EP_REGIONAL
    for n in S3_NAMES:
        m[n] = EP_S3
    for n in DDB_NAMES:
        m[n] = EP_DDB
    m["checkip.amazonaws.com"] = EP_CHECKIP
    m.update(sc.hosts_override)
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "%s\tip-%s.%s.compute.internal ip-%s" % (sc.local_ip, sc.local_ip.replace(".", "-"), REGION,
                                                      sc.local_ip.replace(".", "-"))]
    lines += ["%s\t%s" % (ip, n) for n, ip in sorted(m.items())]
    return "\n".join(lines) + "\n"


def build_network(scens):
    nss = [NS_AWS, NS_RTR] + [s.ns for s in scens]
    for ns in nss:
        sh("ip", "netns", "add", ns)
        nsx(ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # router <-> AWS side
    sh("ip", "-n", NS_RTR, "link", "add", "wan", "type", "veth", "peer", "name", "vpc", "netns", NS_AWS)
    sh("ip", "-n", NS_RTR, "addr", "add", LINK_RTR + "/30", "dev", "wan")
    sh("ip", "-n", NS_AWS, "addr", "add", LINK_AWS + "/30", "dev", "vpc")
    sh("ip", "-n", NS_RTR, "link", "set", "wan", "up")
    sh("ip", "-n", NS_AWS, "link", "set", "vpc", "up")
    for a in (EP_REGIONAL, EP_S3, EP_DDB, EP_CHECKIP, ENI_STS_PDNS, ENI_STS_NOPDNS):
        sh("ip", "-n", NS_AWS, "addr", "add", a + "/32", "dev", "lo")
    sh("ip", "-n", NS_AWS, "route", "add", "203.0.113.0/24", "via", LINK_RTR)
    sh("ip", "-n", NS_AWS, "route", "add", "10.0.0.0/16", "via", LINK_RTR)
    sh("ip", "-n", NS_RTR, "route", "add", "198.51.100.0/24", "via", LINK_AWS)
    sh("ip", "-n", NS_RTR, "route", "add", "10.0.200.0/24", "via", LINK_AWS)
    # Off the instance, IMDS packets vanish (as off EC2): a route exists, so nobody answers "unreachable",
    # and the forward chain below drops them. A client must rely on its own timeout.
    sh("ip", "-n", NS_RTR, "route", "add", "blackhole", "169.254.0.0/16")
    nsx(NS_RTR, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    # instances
    for s in scens:
        ifn = "i-" + s.name
        sh("ip", "-n", NS_RTR, "link", "add", ifn, "type", "veth", "peer", "name", "eth0", "netns", s.ns)
        sh("ip", "-n", s.ns, "link", "set", "eth0", "address", s.mac)
        sh("ip", "-n", NS_RTR, "addr", "add", s.gw + "/24", "dev", ifn)
        sh("ip", "-n", s.ns, "addr", "add", s.local_ip + "/24", "dev", "eth0")
        sh("ip", "-n", NS_RTR, "link", "set", ifn, "up")
        sh("ip", "-n", s.ns, "link", "set", "eth0", "up")
        sh("ip", "-n", s.ns, "route", "add", "default", "via", s.gw)
        if s.cloud9:
            sh("ip", "-n", s.ns, "addr", "add", "169.254.169.254/32", "dev", "lo")
        d = Path("/etc/netns") / s.ns
        d.mkdir(parents=True, exist_ok=True)
        (d / "hosts").write_text(hosts_for(s))
        # Nothing answers DNS: unknown names fail at once (ICMP port unreachable on loopback).
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    # router rules: internet gateway (1:1 SNAT), NAT gateway, gateway endpoint, nothing else exists
    post = ["ip daddr 10.0.0.0/16 accept comment \"in-VPC: interface endpoint ENIs\""]
    for s in scens:
        if s.s3_gateway:
            post.append("ip saddr %s ip daddr @s3_pl accept comment \"%s: route table sends pl-s3 to the "
                        "gateway endpoint\"" % (s.subnet, s.name))
    for s in scens:
        if s.nat:
            post.append("ip saddr %s snat to %s comment \"%s: NAT gateway\"" % (s.subnet, NAT_EIP, s.name))
        elif s.public_ip:
            post.append("ip saddr %s snat to %s comment \"%s: internet gateway 1:1\"" % (s.local_ip, s.public_ip, s.name))
    ruleset = """
table ip c9lab {
  set s3_pl { type ipv4_addr; flags interval; elements = { %s } }
  set ddb_pl { type ipv4_addr; flags interval; elements = { %s } }
  chain lab_forward {
    type filter hook forward priority filter; policy accept;
    ip daddr 169.254.0.0/16 drop comment "no IMDS off the instance: connect() times out, as off EC2"
    ip daddr != { 10.0.0.0/16, 198.51.100.0/24, 203.0.113.0/24 } reject with icmp type net-unreachable
  }
  chain lab_postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    %s
  }
}
""" % (S3_PL, DDB_PL, "\n    ".join(post))
    nsx(NS_RTR, "nft", "-f", "-", input=ruleset)
    return ruleset


# ---------------------------------------------------------------------------------------------
def cloud9_credentials(sc, secret, token, when):
    hexline = hashlib.sha256(("c9lab" + sc.name).encode()).hexdigest()
    return ("# Do not modify this file, if this file is modified it will not be updated. If the file is "
            "deleted, it will be recreated on %s.\n# %s #\n\n[default]\naws_access_key_id = %s\n"
            "aws_secret_access_key = %s\naws_session_token = %s\nregion = %s\n"
            % (when, hexline, sc.amtc_key, secret, token, REGION))


def make_home(work, cli, sc):
    home = work / "home" / ("%s-%s" % (cli, sc.name))
    (home / ".aws").mkdir(parents=True)
    when = dt.datetime.now(dt.timezone.utc).strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    fb = "[profile c9-fallback]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n" % (
        FALLBACK_KEY[0], FALLBACK_KEY[1], REGION)
    if sc.cloud9:
        token = "IQoJb3JpZ2luX2VjE" + hashlib.sha256(sc.name.encode()).hexdigest() * 4
        secret = hashlib.sha1(sc.amtc_key.encode()).hexdigest()[:40]
        (home / ".aws" / "credentials").write_text(cloud9_credentials(sc, secret, token, when))
        (home / ".aws" / "config").write_text(fb)
        (home / ".c9").mkdir()
        (home / ".c9" / "c9.lab").write_text("c9aws lab stand-in for the Cloud9 IDE install\n")
        (home / "environment").mkdir()
    else:
        (home / ".aws" / "credentials").write_text(
            "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % STATIC_KEY)
        (home / ".aws" / "config").write_text("[default]\nregion = %s\n\n%s" % (REGION, fb))
    (home / ".config" / "c9aws").mkdir(parents=True)
    (home / ".config" / "c9aws" / "config").write_text("fallback_profile = c9-fallback\n")
    return home


def key_label(k):
    return {FALLBACK_KEY[0]: "fallback", ENV_KEY[0]: "env", STATIC_KEY[0]: "static", ROLE_KEY[0]: "role", NOEC2_KEY[0]: "noec2"}.get(k)


def who_of(key):
    lab = key_label(key)
    if lab:
        return lab
    for s in SCENARIOS:
        if key == s.amtc_key:
            return "amtc"
    return "other" if key not in ("-", None) else "unsigned"


# ---------------------------------------------------------------------------------------------
class Lab:
    def __init__(self):
        self.t0 = time.time()
        self.procs = []
        self.work = None
        self.keep = os.environ.get("LAB_KEEP") == "1"
        self.c9mode = os.environ.get("LAB_C9AWS", "check")
        if self.c9mode not in ("check", "xfail"):
            raise LabError("LAB_C9AWS must be check or xfail, not %r" % self.c9mode)
        clis = os.environ.get("LAB_CLI", "v1")
        self.clis = {"v1": ["v1"], "v2": ["v2"], "both": ["v1", "v2"]}.get(clis)
        self.cli_choice = clis
        if not self.clis:
            raise LabError("LAB_CLI must be v1, v2 or both, not %r" % clis)
        want = os.environ.get("LAB_SCENARIOS")
        self.scens = [s for s in SCENARIOS if not want or s.name in want.split(",")]
        if not self.scens:
            raise LabError("LAB_SCENARIOS selects nothing; names: %s" % ",".join(s.name for s in SCENARIOS))
        self.jobs = int(os.environ.get("LAB_JOBS") or max(2, os.cpu_count() or 2))
        self.call_timeout = int(os.environ.get("LAB_CALL_TIMEOUT") or 40)
        self.results = {}
        self.leak_checks = []
        self.stopping = False
        self.lock = threading.Lock()

    # -- tools -------------------------------------------------------------------------
    def find_clis(self):
        self.cli_path = {}
        self.cli_version = {}
        v1 = os.environ.get("LAB_AWS_V1") or shutil.which("aws")
        if v1 and "v1" in self.clis:
            try:
                if "pyenv" in Path(v1).read_text(errors="replace")[:2000]:  # a pyenv shim: use the real script
                    r = sh("pyenv", "which", "aws", check=False)
                    if r.returncode == 0:
                        v1 = r.stdout.strip()
            except OSError:
                pass
        cand = {"v1": v1, "v2": os.environ.get("LAB_AWS_V2") or "/opt/awscli-v2/bin/aws"}
        for c in self.clis:
            p = cand[c]
            if not p or not os.access(p, os.X_OK):
                raise LabError("AWS CLI %s not found (looked at %r); set LAB_AWS_%s or LAB_CLI" % (c, p, c.upper()))
            r = sh(p, "--version", check=False)
            ver = (r.stdout + r.stderr).split()[0] if (r.stdout + r.stderr).strip() else "?"
            if not ver.startswith("aws-cli/%s." % c[1]):
                raise LabError("%s is %s, not CLI %s" % (p, ver, c))
            bindir = self.work / ("bin-" + c)
            bindir.mkdir()
            os.symlink(os.path.realpath(p) if c == "v1" else p, bindir / "aws")
            self.cli_path[c] = str(bindir)
            self.cli_version[c] = ver

    def find_c9aws(self):
        self.c9aws = os.environ.get("C9AWS_BIN") or str(REPO / "target" / "release" / "c9aws")
        self.c9aws_problem = None
        if os.access(self.c9aws, os.X_OK):
            return
        if os.environ.get("C9AWS_BIN"):
            self.c9aws_problem = "C9AWS_BIN=%s is not an executable file" % self.c9aws
            return
        print("c9aws: %s missing; running `cargo build --release` ..." % self.c9aws, flush=True)
        try:
            r = subprocess.run(["cargo", "build", "--release"], cwd=REPO, capture_output=True,
                               text=True, timeout=900)
            if r.returncode != 0 or not os.access(self.c9aws, os.X_OK):
                tail = "\n".join((r.stderr or "").strip().splitlines()[-15:])
                self.c9aws_problem = "cargo build --release failed (exit %d):\n%s" % (r.returncode, tail)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.c9aws_problem = "cargo build --release could not run: %s" % e

    # -- servers -----------------------------------------------------------------------
    def start(self, ns, argv, ready, what, wait=30):
        log = open(self.work / ("%s.out" % what), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, preexec_fn=pdeathsig)
        self.procs.append((what, p))
        t_end = time.time() + wait
        while time.time() < t_end:
            if Path(ready).exists():
                return p
            if p.poll() is not None:
                break
            time.sleep(0.05)
        out = (self.work / ("%s.out" % what)).read_text(errors="replace")[-3000:]
        raise LabError("%s did not start (exit %s):\n%s" % (what, p.poll(), out))

    def start_servers(self):
        policy = {
            "amtc": {s.amtc_key: {"scenario": s.name, "allowed_ips": [s.public_ip] if s.public_ip else []}
                     for s in SCENARIOS if s.cloud9},
            "labels": {FALLBACK_KEY[0]: "fallback", ENV_KEY[0]: "env", STATIC_KEY[0]: "static",
                       ROLE_KEY[0]: "role", NOEC2_KEY[0]: "noec2", **{s.amtc_key: "amtc:" + s.name for s in SCENARIOS}},
            "s3_refusal_code": os.environ.get("LAB_S3_REFUSAL", "InvalidToken"),
            "deny_ec2": [NOEC2_KEY[0]],
            "seed": {"region": REGION, "buckets": [BUCKET], "queues": ["c9lab-queue"], "tables": ["c9lab-table"],
                     "vpcs": [{"name": s.name, "subnet": s.subnet, "nat": s.nat, "s3_gateway": s.s3_gateway,
                               "sts_interface": {"stsvpce": True, "vpcenodns": False}.get(s.name)}
                              for s in self.scens if s.cloud9]},
        }
        (self.work / "policy.json").write_text(json.dumps(policy, indent=2))
        py = sys.executable
        lifetime = str(int(os.environ.get("LAB_SERVER_LIFETIME") or 3600))
        self.front_log = self.work / "front.log"
        self.front_log.touch()
        self.start(NS_AWS, [py, str(HERE / "front.py"), "--policy", str(self.work / "policy.json"),
                            "--cert", str(self.work / "front.pem"), "--key", str(self.work / "front.key"),
                            "--log", str(self.front_log), "--lifetime", lifetime,
                            "--ready", str(self.work / "front.ready")],
                   self.work / "front.ready", "front", wait=60)
        self.topology = json.loads((self.work / "front.ready.topology").read_text())
        for s in self.scens:
            if not s.cloud9:
                continue
            topo = self.topology.get(s.name, {})
            if "error" in topo:
                print("WARNING: moto VPC for %s not created (%s); IMDS serves made-up ids" % (s.name, topo["error"]))
            cfg = {"instance_id": "i-0c9a1ab00000000%02d" % s.idx, "region": REGION, "az": REGION + "a",
                   "local_ipv4": s.local_ip, "public_ipv4": s.public_ip, "mac": s.mac,
                   "subnet_id": topo.get("subnet_id", "subnet-0c9a1ab00000000%02d" % s.idx), "subnet_cidr": s.subnet,
                   "vpc_id": topo.get("vpc_id", "vpc-0c9a1ab00000000%02d" % s.idx), "vpc_cidrs": ["10.0.0.0/16"],
                   "role": {"name": "AWSCloud9SSMAccessRole", "AccessKeyId": ROLE_KEY[0],
                            "SecretAccessKey": ROLE_KEY[1], "Token": "IQoJb3JpZ2luX2VjEc9labrole" + "0" * 60}}
            cf_ = self.work / ("imds-%s.json" % s.name)
            cf_.write_text(json.dumps(cfg))
            self.start(s.ns, [py, str(HERE / "imds.py"), "--config", str(cf_), "--lifetime", lifetime,
                              "--log", str(self.work / ("imds-%s.log" % s.name)),
                              "--ready", str(self.work / ("imds-%s.ready" % s.name))],
                       self.work / ("imds-%s.ready" % s.name), "imds-" + s.name)

    def server_cpu(self):
        """CPU seconds used so far by the servers (front+moto, IMDS), from /proc."""
        tck = os.sysconf("SC_CLK_TCK")
        out = {}
        for what, p in self.procs:
            try:
                f = Path("/proc/%d/stat" % p.pid).read_text().rsplit(")", 1)[1].split()
                out[what.split("-")[0]] = out.get(what.split("-")[0], 0) + (int(f[11]) + int(f[12])) / tck
            except (OSError, IndexError, ValueError):
                pass
        return out

    def stop_servers(self):
        for what, p in self.procs:
            if p.poll() is None:
                p.terminate()
        for what, p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    # -- smoke: the plumbing itself, before any CLI call -------------------------------------
    def smoke(self):
        probes = []
        for s in self.scens:
            exp_ip = NAT_EIP if s.nat else s.public_ip
            r = nsx(s.ns, sys.executable, "-c", SMOKE_PY, str(self.work / "ca.pem"), "1" if s.cloud9 else "0",
                    check=False, timeout=30)
            try:
                got = json.loads(r.stdout)
            except ValueError:
                raise LabError("smoke test in %s failed:\n%s%s" % (s.ns, r.stdout, r.stderr))
            probes.append((s, exp_ip, got))
        # Nothing can leave: no lab namespace has a route to an address outside the lab ranges
        # (a route lookup only: no packet is sent), and no lab interface sits in the root namespace.
        for ns in [NS_RTR, NS_AWS] + [s.ns for s in self.scens]:
            for probe in ("9.9.9.9", "192.0.2.1"):
                r = sh("ip", "-n", ns, "route", "get", probe, check=False)
                via = " ".join(r.stdout.split())
                ok = r.returncode != 0 or (ns.startswith(PFX + "i-") and (" via 10.0." in via))
                self.leak_checks.append((ok, "%s: route to %s: %s" % (ns, probe, (via or r.stderr.strip())[:80])))
        return probes

    # -- calls -------------------------------------------------------------------------
    def payload(self, cli, sc, tool):
        rnd = random.Random("%s/%s/%s" % (cli, sc.name, tool))
        return rnd.randbytes(96 * 1024) + b"\r\n\x00end\n"

    def run_call(self, cli, sc, tool, call, home):
        uniq = "c9lab-%s-%s-%s" % (cli, sc.name, tool)
        tag = "c9lab-%s-%s-%s-%s" % (cli, sc.name, tool, call.id)
        args = [a.replace("{uniq}", uniq) for a in call.args]
        env = {
            "PATH": self.cli_path[cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home), "USER": "ec2-user", "LOGNAME": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
            "AWS_CA_BUNDLE": str(self.work / "ca.pem"), "SSL_CERT_FILE": str(self.work / "ca.pem"),
            "AWS_EXECUTION_ENV": tag, "C9AWS_FALLBACK_PROFILE": "c9-fallback",
        }
        if sc.cloud9:
            env.update({"C9_PID": hashlib.md5(sc.name.encode()).hexdigest(), "C9_USER": "c9lab-user",
                        "C9_PROJECT": "c9lab-" + sc.name})
        if call.who == "env":
            env.update({"AWS_ACCESS_KEY_ID": ENV_KEY[0], "AWS_SECRET_ACCESS_KEY": ENV_KEY[1]})
        stdin = self.payload(cli, sc, tool) if call.upload else None
        prog = [self.c9aws] if tool == "c9aws" else ["aws"]
        argv = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(self.call_timeout)] + prog + args
        t = time.time()
        try:
            r = subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                               capture_output=True, env=env, timeout=self.call_timeout + 10, cwd=str(home))
            rc, out, err = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = 124, e.stdout or b"", (e.stderr or b"") + b"\n[lab: python-side timeout]"
        res = {"rc": rc, "out": out, "err": err.decode(errors="replace"), "secs": time.time() - t, "tag": tag,
               "argv": [("c9aws" if tool == "c9aws" else "aws")] + args}
        with self.lock:
            self.results[(cli, sc.name, tool, call.id)] = res
        return res

    def run_unit(self, cli, sc):
        home = make_home(self.work, cli, sc)
        for call in calls_for(sc):
            if self.stopping:
                return
            self.run_call(cli, sc, "aws", call, home)
            if not self.c9aws_problem and not self.stopping:
                self.run_call(cli, sc, "c9aws", call, home)

    # -- checks ------------------------------------------------------------------------
    def parse_log(self):
        by_tag = {}
        untagged = []
        for line in self.front_log.read_text(errors="replace").splitlines():
            kv = dict(p.split("=", 1) for p in line.split(" ") if "=" in p)
            if kv.get("tag") == "c9lab-smoke":
                continue
            if kv.get("tag", "-") == "-":
                untagged.append(kv)
            else:
                by_tag.setdefault(kv["tag"], []).append(kv)
        return by_tag, untagged

    def expected_key(self, sc, call, tool):
        """(label of the key the request must carry, is AMTC refused for this call here)"""
        if call.who == "fallback":
            return "fallback", False
        if call.who == "env":
            return "env", False
        if not sc.cloud9:
            return "static", False
        refused = call.id in AMTC_REFUSED[sc.name]
        if tool == "aws":
            return "amtc", refused
        return ("fallback" if refused else "amtc"), refused

    def evaluate(self):
        by_tag, untagged = self.parse_log()
        checks = []  # (status, tool, text)
        cells = {}   # (cli, scen, tool, call) -> short cell

        def add(ok, cli, sc, tool, call, what, detail):
            st = "PASS" if ok else "FAIL"
            if not ok and tool == "c9aws" and self.c9mode == "xfail":
                st = "XFAIL"
            checks.append((st, "%-5s %s %-9s %-5s %-8s %-6s %s" % (st, cli, sc.name, tool, call.id, what, detail)))

        for cli in self.clis:
            ref_nsb = self.results.get((cli, "public", "aws", "nsb"), {}).get("rc")
            for sc in self.scens:
                for call in calls_for(sc):
                    for tool in ("aws", "c9aws"):
                        if tool == "c9aws" and self.c9aws_problem:
                            add(False, cli, sc, tool, call, "run", "c9aws unavailable (see above)")
                            cells[(cli, sc.name, tool, call.id)] = "n/a"
                            continue
                        r = self.results.get((cli, sc.name, tool, call.id))
                        if r is None:
                            add(False, cli, sc, tool, call, "run", "not run")
                            cells[(cli, sc.name, tool, call.id)] = "n/a"
                            continue
                        lines = [l for l in by_tag.get(r["tag"], [])
                                 if l.get("svc") == call.svc and l.get("action") in call.actions]
                        want_who, refused = self.expected_key(sc, call, tool)
                        got = ["%s:%s" % (who_of(l.get("key")), l.get("verdict")) for l in lines]
                        summ = ",".join(got) or "no request"
                        errl = [x for x in r["err"].strip().splitlines() if x.strip()]
                        err1 = (errl[-1][:110] if errl else "")
                        # cell for the tables
                        n_ref = sum(1 for l in lines if l.get("verdict") == "refused")
                        if n_ref:
                            cell = "REF"
                        elif r["rc"] == 0:
                            cell = "ok"
                        elif lines:
                            cell = "err%d" % r["rc"]
                        else:
                            cell = "x%d" % r["rc"]
                        if tool == "c9aws" and lines and cell != "REF":
                            w = who_of(lines[-1].get("key"))
                            cell = {"amtc": "amtc", "fallback": "fb", "static": "stat"}.get(w, w)
                            if r["rc"] != 0:
                                cell += "!" + str(r["rc"])
                        cells[(cli, sc.name, tool, call.id)] = cell

                        # 1. exit code
                        if tool == "aws" and refused:
                            ok = r["rc"] != 0
                            want = "non-zero (AMTC refused)"
                        elif call.ordinary_fail:
                            want_rc = ref_nsb if ref_nsb not in (None, 0) else None
                            ok = r["rc"] != 0 and (want_rc is None or r["rc"] == want_rc)
                            want = "%s (plain aws, public subnet)" % (want_rc if want_rc is not None else "non-zero")
                        else:
                            ok = r["rc"] == 0
                            want = "0"
                        add(ok, cli, sc, tool, call, "exit", "exit=%d want %s%s" % (
                            r["rc"], want, "" if ok else "  stderr: " + err1))
                        # 2. which key, accepted or refused (from the front's log)
                        if tool == "aws" and refused:
                            ok = bool(lines) and all(who_of(l.get("key")) == "amtc" for l in lines) and \
                                any(l.get("verdict") == "refused" for l in lines)
                            want = "amtc:refused"
                        else:
                            ok = bool(lines) and all(who_of(l.get("key")) == want_who and l.get("verdict") == "accepted"
                                                     for l in lines)
                            want = "%s:accepted only" % want_who
                            if tool == "c9aws" and refused:
                                want += " (AMTC would be refused; decided before the call)"
                        add(ok, cli, sc, tool, call, "key", "log %s want %s" % (summ, want))
                        # 3. bytes
                        if call.download:
                            exp = self.payload(cli, sc, tool)
                            if tool == "aws" and refused:
                                ok = r["out"] == b""
                                add(ok, cli, sc, tool, call, "bytes", "%d bytes on stdout, want none (refused)"
                                    % len(r["out"]))
                            else:
                                ok = r["out"] == exp
                                add(ok, cli, sc, tool, call, "bytes", "%d bytes, %s the %d uploaded by cp-up" % (
                                    len(r["out"]), "equal to" if ok else "NOT equal to", len(exp)))
                        if call.ordinary_fail and tool == "aws" and not refused:
                            ok = any(l.get("verdict") == "accepted" and l.get("status") == "404" for l in lines)
                            add(ok, cli, sc, tool, call, "cause", "NoSuchBucket from the service (404 accepted), "
                                "not a refusal: %s" % ("yes" if ok else "no"))
        return checks, cells, untagged

    def tables(self, cells):
        out = []
        for cli in self.clis:
            for tool, title in (("aws", "plain aws (the baseline: must fail exactly where Cloud9 fails)"),
                                ("c9aws", "c9aws (must succeed, with AMTC where it works: amtc = AMTC key, fb = fallback)")):
                ids = []
                for sc in self.scens:
                    for c in calls_for(sc):
                        if c.id not in ids:
                            ids.append(c.id)
                out.append("")
                out.append("%s %s - %s" % (cli, self.cli_version.get(cli, ""), title))
                out.append("%-10s" % "scenario" + "".join("%-9s" % i for i in ids).rstrip())
                for sc in self.scens:
                    row = "%-10s" % sc.name
                    names = {c.id for c in calls_for(sc)}
                    for i in ids:
                        row += "%-9s" % (cells.get((cli, sc.name, tool, i), "?") if i in names else "-")
                    out.append(row.rstrip())
        out.append("")
        out.append("cells: ok = exit 0 and every request accepted; REF = a request refused by the AMTC rules;")
        out.append("       errN = accepted but exit N (ordinary failure); c9aws rows show the key of the last request:")
        out.append("       amtc, fb (c9-fallback), env (user's env keys), stat (static keys); !N = exit N;")
        out.append("       xN = exit N without reaching the front; n/a = not run")
        return "\n".join(out)

    # -- main --------------------------------------------------------------------------
    def run(self):
        print("c9aws network lab - %s" % time.strftime("%Y-%m-%d %H:%M:%S"), flush=True)
        # Work dirs of crashed runs (still marked running; we hold the lock, so none is live) go too.
        for d in Path(tempfile.gettempdir()).glob(PFX + "*"):
            if (d / ".lab-running").exists():
                shutil.rmtree(d, ignore_errors=True)
        self.work = Path(tempfile.mkdtemp(prefix=PFX))
        (self.work / ".lab-running").touch()
        os.chmod(self.work, 0o755)
        print("work dir: %s%s" % (self.work, "" if self.keep else " (removed at exit; LAB_KEEP=1 keeps it)"))
        teardown_all(verbose=True)
        self.find_clis()
        for c in self.clis:
            print("CLI %s: %s" % (c, self.cli_version[c]))
        self.find_c9aws()
        if self.c9aws_problem:
            print("\n" + "!" * 78 + "\nc9aws NOT AVAILABLE: %s\nevery c9aws check below fails%s\n" % (
                self.c9aws_problem, " (XFAIL: LAB_C9AWS=xfail)" if self.c9mode == "xfail" else "") + "!" * 78,
                flush=True)
        else:
            print("c9aws: %s" % self.c9aws)
        print("c9aws checks: %s" % ("XFAIL mode (LAB_C9AWS=xfail): c9aws failures are listed as XFAIL and do "
                                    "NOT fail the run"
                                    if self.c9mode == "xfail" else
                                    "counted (LAB_C9AWS=check)"))
        make_certs(self.work)
        build_network(self.scens)
        self.start_servers()
        print("network up, front and %d IMDS servers ready (%.1fs)" % (
            sum(1 for s in self.scens if s.cloud9), time.time() - self.t0), flush=True)

        pre = []  # plumbing checks
        for s, exp_ip, got in self.smoke():
            pre.append((got.get("checkip") == exp_ip, "%s: checkip.amazonaws.com sees %s, want %s" % (
                s.name, got.get("checkip"), exp_ip)))
            if s.cloud9:
                pre.append((got.get("imds_public") == (s.public_ip or 404) and got.get("imds_bad_token") == 401
                            and got.get("imds_unknown") == 404 and got.get("imds_role", "").startswith("ASIA"),
                            "%s: IMDS public-ipv4=%s bad-token=%s unknown=%s role-key=%s" % (
                                s.name, got.get("imds_public"), got.get("imds_bad_token"), got.get("imds_unknown"),
                                got.get("imds_role"))))
                want_sub = self.topology.get(s.name, {}).get("subnet_id")
                pre.append((got.get("imds_subnet") == want_sub,
                            "%s: IMDS subnet-id %s is the subnet moto's EC2 knows (%s)" % (
                                s.name, got.get("imds_subnet"), want_sub)))
            else:
                pre.append((got.get("imds_error") is not None and got.get("imds_secs", 99) < 3,
                            "%s: IMDS unreachable (%s) after %.1fs" % (s.name, got.get("imds_error"),
                                                                        got.get("imds_secs", -1))))

        pre += self.leak_checks
        if os.environ.get("LAB_BENCH") == "1":  # opt-in benchmark mode (bench/lab.sh); default: never taken
            import bench
            return bench.run(self, pre)
        if os.environ.get("LAB_BENCH") == "route":  # opt-in: the route-table read, direct vs CLI
            import route_bench
            return route_bench.run(self, pre)
        parts = (os.environ.get("LAB_PARTS") or ",".join(["calls"] + PLUGINS)).split(",")
        unknown = [p for p in parts if p not in ["calls"] + PLUGINS]
        if unknown:
            raise LabError("LAB_PARTS: unknown part(s) %s; parts: %s" % (",".join(unknown), ",".join(["calls"] + PLUGINS)))
        units = [(cli, sc) for cli in self.clis for sc in self.scens] if "calls" in parts else []
        t = time.time()
        ex = cf.ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futs = [ex.submit(self.run_unit, cli, sc) for cli, sc in units]
            for f in cf.as_completed(futs):
                f.result()
        finally:
            self.stopping = True
            ex.shutdown(wait=False, cancel_futures=True)
        ncalls = len(self.results)
        print("%d CLI calls in %.1fs (%d parallel units)" % (ncalls, time.time() - t, self.jobs), flush=True)
        with open(self.work / "results.tsv", "w") as f:
            for k, r in sorted(self.results.items()):
                f.write("%s\t%d\t%.2f\t%s\n" % ("\t".join(k), r["rc"], r["secs"], " ".join(r["argv"])))
        time.sleep(0.2)
        checks, cells, untagged = self.evaluate() if "calls" in parts else ([], {}, [])
        for name in PLUGINS:
            if name not in parts:
                continue
            t = time.time()
            try:
                got = importlib.import_module(name).run(self)
            except LabError:
                raise
            except Exception as e:  # a crashing plug-in is one failure, not a lost run
                import traceback
                got = [(False, "crashed: %s\n%s" % (e, traceback.format_exc()))]
            for ok, text in got:
                checks.append(("PASS" if ok else "FAIL", "%-5s %s %s" % ("PASS" if ok else "FAIL", name, text)))
            print("%s: %d checks in %.1fs" % (name, len(got), time.time() - t), flush=True)

        print("\n== checks")
        npass = nfail = nxfail = 0
        for ok, text in pre:
            print("%-5s plumbing %s" % ("PASS" if ok else "FAIL", text))
            npass += ok
            nfail += not ok
        for st, text in checks:
            print(text)
            if st == "PASS":
                npass += 1
            elif st == "XFAIL":
                nxfail += 1
            else:
                nfail += 1
        if "calls" in parts:
            print(self.tables(cells))
        if untagged:
            kinds = {}
            for l in untagged:
                k = "%s %s %s %s" % (l.get("src"), l.get("svc"), l.get("action"), l.get("verdict"))
                kinds[k] = kinds.get(k, 0) + 1
            print("\nrequests without a call tag (c9aws's own probes?): " +
                  "; ".join("%s x%d" % kv for kv in sorted(kinds.items())))
        cpu = self.server_cpu()
        print("\nwall time %.1fs; server CPU: %s; load average now: %s" % (
            time.time() - self.t0, ", ".join("%s %.1fs" % kv for kv in sorted(cpu.items())),
            " ".join(Path("/proc/loadavg").read_text().split()[:3])))
        if self.c9mode == "xfail":
            print("%d expected failures (c9aws checks, LAB_C9AWS=xfail: not counted below)" % nxfail)
        print("%d passed, %d failed" % (npass, nfail), flush=True)
        return 0 if nfail == 0 else 1

    def cleanup(self):
        self.stopping = True
        for s in self.scens:  # CLI calls still running (interrupt): kill them by pid first
            kill_ns_processes(s.ns)
        self.stop_servers()
        teardown_all()
        if self.work and self.work.exists():
            if self.keep:
                (self.work / ".lab-running").unlink(missing_ok=True)
                print("kept %s" % self.work)
            else:
                shutil.rmtree(self.work, ignore_errors=True)


SMOKE_PY = r"""
import json, socket, ssl, sys, time, urllib.request
ca, c9 = sys.argv[1], sys.argv[2] == "1"
out = {}
ctx = ssl.create_default_context(cafile=ca)
try:
    r = urllib.request.Request("https://checkip.amazonaws.com/", headers={"User-Agent": "c9lab-smoke exec-env/c9lab-smoke"})
    out["checkip"] = urllib.request.urlopen(r, context=ctx, timeout=5).read().decode().strip()
except Exception as e:
    out["checkip"] = "error: %s" % e
def req(method, path, headers):
    r = urllib.request.Request("http://169.254.169.254" + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=2) as f:
            return f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code
t = time.time()
try:
    tok = req("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    h = {"X-aws-ec2-metadata-token": tok}
    out["imds_public"] = req("GET", "/latest/meta-data/public-ipv4", h)
    out["imds_bad_token"] = req("GET", "/latest/meta-data/local-ipv4", {"X-aws-ec2-metadata-token": "nope"})
    out["imds_unknown"] = req("GET", "/latest/meta-data/no-such-item", h)
    mac = req("GET", "/latest/meta-data/mac", h)
    out["imds_subnet"] = req("GET", "/latest/meta-data/network/interfaces/macs/%s/subnet-id" % mac, h)
    role = req("GET", "/latest/meta-data/iam/security-credentials/", h)
    out["imds_role"] = json.loads(req("GET", "/latest/meta-data/iam/security-credentials/" + role, h))["AccessKeyId"]
except Exception as e:
    out["imds_error"] = type(e).__name__ + ":" + str(getattr(e, "reason", e))
out["imds_secs"] = time.time() - t
print(json.dumps(out))
"""


def main():
    if os.geteuid() != 0:
        print("!" * 78 + "\nc9aws lab: NOT RUN - it must run as root (network namespaces, nftables).\n"
              "Nothing was tested. Run: sudo tests/lab/run\n" + "!" * 78, file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    lockf = open("%s/%slab.lock" % ("/run" if os.path.isdir("/run") else "/tmp", PFX), "w")
    try:
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("c9aws lab: another lab run holds the lock; waiting ...", flush=True)
        fcntl.flock(lockf, fcntl.LOCK_EX)

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    # SIGINT too, explicitly: a shell starts background jobs with SIGINT ignored, and Ctrl-C / kill -INT
    # must still clean up.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    lab = None
    rc = 1
    try:
        lab = Lab()
        rc = lab.run()
    except KeyboardInterrupt as e:
        print("\nc9aws lab: INTERRUPTED (%s) - cleaning up; nothing counts as passed" % (e or "Ctrl-C"), flush=True)
        print("0 passed, 1 failed")
        rc = 130
    except LabError as e:
        print("\n" + "!" * 78 + "\nc9aws lab: SETUP FAILED: %s\n" % e + "!" * 78, flush=True)
        print("0 passed, 1 failed")
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if lab is not None:
            lab.cleanup()
        else:
            teardown_all()
        left = list_lab_netns()
        if left:
            print("c9aws lab: WARNING namespaces left behind: %s" % " ".join(left), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
