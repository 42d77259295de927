#!/usr/bin/env python3
"""Differential test: c9aws's prediction against what the running AWS CLI does.

Run it with the Python of the CLI under test:

    python3 tests/differential/trace.py --c9aws target/debug/c9aws                 # CLI v1
    /opt/awscli-v2/bin/python tests/differential/trace.py --c9aws target/debug/c9aws  # CLI v2

argv.py and endpoints.py compare c9aws with the CLI's parser and with botocore clients built by
hand; neither sees what the CLI layer itself does between the command line and the wire (v1's
overridesslcommonname rewriting the sqs/emr/rds/health endpoints, customizations that build STS,
S3, SNS or IAM clients of their own, s3 commands that HeadObject first, …). Here the truth is the
CLI itself, run on each command line:

1. Corpus: every `aws ...` line of the installed awscli's `examples/**/*.rst` (argv.py's
   extraction), plus FOCUS lines (the customizations and endpoint rewrites named in issue 14) under
   every VARIANT (global options, AWS_* variables, profiles, the aws / aws-cn / aws-us-gov
   partitions), plus every variant over a seeded sample of the corpus.
2. Trace: each line runs through the CLI's own entry point, in process, offline: v1
   `awscli.clidriver.create_clidriver().main(argv)`, v2 `awscli.clidriver.AWSCLIEntryPoint().main
   (argv)` (what v2's `aws` runs: create_clidriver(argv), auto-prompt resolution, the top-level
   error handlers). Hooks record
     - every client the CLI creates (`botocore.session.Session.create_client`): service, the region
       the CLI asked for (the `region_name` argument, else the session's `region`, as botocore
       does), `client.meta.endpoint_url`, `client.meta.region_name`, or the error;
     - the first request that reaches the wire: `botocore.endpoint.Endpoint._send` (after the
       `before-send` handlers, so requests answered locally, e.g. v2's CRT serializer or
       --generate-cli-skeleton, do not count), v2's CRT `S3Client.make_request` (the CRT client is
       replaced by a recorder), botocore's raw `URLLib3Session.send` (IMDS/container fetchers);
       the request is recorded (method, URL, host, service, operation) and a private exception is
       raised in its place, so nothing is sent; v1's fetch of an http(s):// parameter value
       (awscli paramfile.get_uri) is recorded as a `fetch` and answered with the URL itself, so the
       CLI goes on to its AWS request, which is the one compared;
     - socket connects and name lookups (refused and recorded as requests: e.g. `deploy install`
       probes IMDS with urllib), subprocesses (refused, recorded), and writes outside the line's
       own HOME / working directory / /tmp (refused, recorded).
   Each line runs in a process of its own, forked from a worker that has imported the CLI once
   (two workers, fed batches): a fresh driver, session and environment per line, no state carried
   from one line to the next, and a hard per-line timeout (the child is killed). The worker keeps
   one botocore data loader whose cache the children inherit (the loader calls a child made are
   replayed in the worker): the JSON models are parsed once per worker instead of once per line
   (~8x faster); a child's changes to that cache die with the child.
   Each child gets a fresh empty working directory and a HOME restored to the same files c9aws
   sees (config, credentials), stdin /dev/null, AWS_* variables scrubbed and set per line.
3. c9aws: `c9aws explain --json -- ARGV` with the same HOME files and environment.
4. Fields compared (see `compare`):
     kind       the CLI `sends` when a request reached a hook, else it did not; c9aws agrees when
                its kind is `calls` exactly when the CLI sends;
     command / operation   what the CLI's parsers resolved (the last main parse, then the first
                service/sub-command parse), unless c9aws declined the line (`unpredictable`) and
                the CLI sent nothing;
   and, only for lines where the CLI sends:
     services   the set of services of every client the CLI created before its first request.
                A client created but not (yet) sent with counts: the trace stops at the first
                request, so "never sends" cannot be told from "sends after the first answer", and
                a client is the CLI's credentials in use (eks get-token presigns with one without
                sending); for routing c9aws must cover it either way. Clients created after the
                first request (error handling after the refused send) are recorded, not compared;
     region     the region the CLI asked for when creating the primary client (the client of the
                command's own service, else the one that sent, else the first), not
                client.meta.region_name, which botocore turns into `aws-global` for global services;
     endpoints  per service, the first client's client.meta.endpoint_url against c9aws's
                `endpoints`;
     hosts      the host of the first request must be among c9aws's `hosts`.

Exit status 0 when every miss is listed, under the cause it has now, in
`tests/differential/trace_known_misses.md`; listed entries that now match are reported (delete
them, or run with --update-known-misses, which rewrites the file from this run). A socket
connect, a line that times out, a worker that dies or a c9aws that does not answer fail the run.

Runtime and sampling: a line costs ~85 ms of CPU (a fresh driver, session and plugin set-up,
fork and copy-on-write included), so the full corpus (~8,500 lines per major) is ~730 CPU-s,
~6 min on 2 idle cores: over the ~4 min CI budget. A default run therefore traces a
deterministic half of the example corpus (`in_sample`: every command's first example, then the
lines whose SHA-1 is even), plus every focus and variant line: ~5,250 lines, ~450 CPU-s, under
4 min on 2 idle cores. `--full` traces everything; the known-miss file is written from full runs,
so a default run's misses are a subset of it (stale entries are reported by full runs only).
Options: --full, --jobs N (workers, default 2), --limit N, --grep REGEX (lines whose argv
matches), --dump FILE (every line with both answers, JSON lines), --reuse-traces DUMP (the CLI
side from an earlier dump, only c9aws runs: seconds instead of minutes when iterating on c9aws),
--show N, --update-known-misses (with --full).
"""

import argparse
import collections
import gc
import hashlib
import importlib
import io
import json
import os
import queue
import random
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_MISSES = os.path.join(HERE, "trace_known_misses.md")
SEED = 20261206
LINE_TIMEOUT = 30.0
BATCH = 40
BUCKET = "c9aws-trace-bucket"

CONFIG = """\
[default]
region = us-west-2
output = json

[profile p]
region = eu-north-1

[profile noregion]
output = text

[profile cn]
region = cn-northwest-1

[profile gov]
region = us-gov-east-1

[profile fips]
region = us-east-2
use_fips_endpoint = true

[profile dual]
region = ap-southeast-1
use_dualstack_endpoint = true

[profile legacy]
region = us-east-1
sts_regional_endpoints = legacy
s3 =
    us_east_1_regional_endpoint = legacy

[profile ep]
region = eu-central-1
endpoint_url = https://profile.c9aws-trace.example.com

[profile svcep]
region = eu-central-1
services = trace-services

[services trace-services]
sqs =
    endpoint_url = http://localhost:9324
s3 =
    endpoint_url = https://s3.c9aws-trace.example.com
sts =
    endpoint_url = https://sts.c9aws-trace.example.com

[profile crt]
region = us-east-1
s3 =
    preferred_transfer_client = crt

[profile pathstyle]
region = eu-west-2
s3 =
    addressing_style = path
"""

PROFILES = ["default", "p", "noregion", "cn", "gov", "fips", "dual", "legacy", "ep", "svcep", "crt",
            "pathstyle"]
CREDENTIALS = "".join(
    "[%s]\naws_access_key_id = AKIAC9AWSTRACE%04d\naws_secret_access_key = c9aws-trace-secret\n\n"
    % (p, i) for i, p in enumerate(PROFILES))

# Lines that exercise the CLI layer: endpoint rewrites, customizations with clients of their own,
# high-level s3. {bucket} is BUCKET. `files` are created in the line's working directory.
FOCUS = [
    "sts get-caller-identity",
    "s3 ls",
    "s3 ls s3://{bucket}/prefix/",
    "s3 cp s3://{bucket}/key -",
    "s3 cp s3://{bucket}/key s3://{bucket}-copy/key",
    "s3 cp hello.txt s3://{bucket}/hello.txt",
    "s3 sync . s3://{bucket}/prefix",
    "s3 rm s3://{bucket}/key",
    "s3 mb s3://{bucket}",
    "s3 presign s3://{bucket}/key",
    "s3api list-objects-v2 --bucket {bucket}",
    "s3api list-buckets",
    "sqs list-queues",
    "emr list-clusters",
    "rds describe-db-instances",
    "rds generate-db-auth-token --hostname db.example.com --port 5432 --username u",
    "docdb describe-db-clusters",
    "neptune describe-db-clusters",
    "health describe-events",
    "eks get-token --cluster-name c9aws",
    "eks get-token --cluster-name c9aws --role-arn arn:aws:iam::123456789012:role/c9aws",
    "eks update-kubeconfig --name c9aws",
    "cloudtrail create-subscription --name c9aws --s3-new-bucket {bucket}-trail "
    "--sns-new-topic c9aws-topic",
    "cloudtrail validate-logs --trail-arn arn:aws:cloudtrail:us-west-2:123456789012:trail/c9aws "
    "--start-time 2024-01-01T00:00:00Z",
    "deploy push --application-name app --s3-location s3://{bucket}/app.zip --source .",
    "deploy register --instance-name c9aws --iam-user-arn arn:aws:iam::123456789012:user/c9aws",
    "deploy uninstall",
    "cloudformation package --template-file template.yaml --s3-bucket {bucket}",
    "cloudformation deploy --template-file template.yaml --stack-name c9aws",
    "iam list-users",
    "ec2 describe-vpcs",
    "dynamodb list-tables",
    "lambda list-functions",
    "logs describe-log-groups",
    "ecr get-login-password",
    "organizations list-accounts",
    "route53 list-hosted-zones",
    "ssm get-parameter --name c9aws",
    "sns list-topics",
    "configservice subscribe --s3-bucket {bucket} --sns-topic arn:aws:sns:us-west-2:1:t "
    "--iam-role arn:aws:iam::123456789012:role/config",
]
FOCUS_FILES = {
    "hello.txt": "hello\n",
    "appspec.yml": "version: 0.0\nos: linux\n",
    # an artifact to upload, so that `cloudformation package` has something to send
    "template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n"
                     "    Type: AWS::Serverless::Function\n    Properties:\n"
                     "      Handler: index.handler\n      Runtime: python3.12\n"
                     "      CodeUri: src\n",
    "src/index.py": "def handler(event, context):\n    return event\n",
}

# (name, global options put after the program name, environment)
VARIANTS = [
    ("plain", [], {}),
    ("--region eu-west-1", ["--region", "eu-west-1"], {}),
    ("--region us-east-1", ["--region", "us-east-1"], {}),
    ("--region cn-north-1", ["--region", "cn-north-1"], {}),
    ("--region us-gov-west-1", ["--region", "us-gov-west-1"], {}),
    ("--endpoint-url", ["--endpoint-url", "https://flag.c9aws-trace.example.com"], {}),
    ("--no-verify-ssl", ["--no-verify-ssl"], {}),
    ("--profile p", ["--profile", "p"], {}),
    ("--profile cn", ["--profile", "cn"], {}),
    ("--profile gov", ["--profile", "gov"], {}),
    ("--profile nosuch", ["--profile", "nosuch"], {}),
    ("--profile noregion", ["--profile", "noregion"], {}),
    ("--profile fips", ["--profile", "fips"], {}),
    ("--profile dual", ["--profile", "dual"], {}),
    ("--profile legacy", ["--profile", "legacy"], {}),
    ("--profile ep", ["--profile", "ep"], {}),
    ("--profile svcep", ["--profile", "svcep"], {}),
    ("--profile crt", ["--profile", "crt"], {}),
    ("--profile pathstyle", ["--profile", "pathstyle"], {}),
    ("AWS_REGION", [], {"AWS_REGION": "ap-southeast-2"}),
    ("AWS_DEFAULT_REGION", [], {"AWS_DEFAULT_REGION": "ca-central-1"}),
    ("AWS_REGION+AWS_DEFAULT_REGION", [], {"AWS_REGION": "ap-southeast-2",
                                           "AWS_DEFAULT_REGION": "ca-central-1"}),
    ("AWS_DEFAULT_REGION cn", [], {"AWS_DEFAULT_REGION": "cn-north-1"}),
    ("AWS_USE_FIPS_ENDPOINT", [], {"AWS_USE_FIPS_ENDPOINT": "true"}),
    ("AWS_USE_DUALSTACK_ENDPOINT", [], {"AWS_USE_DUALSTACK_ENDPOINT": "true"}),
    ("FIPS+dual-stack us-east-1", [], {"AWS_USE_FIPS_ENDPOINT": "true",
                                       "AWS_USE_DUALSTACK_ENDPOINT": "true",
                                       "AWS_DEFAULT_REGION": "us-east-1"}),
    ("AWS_STS_REGIONAL_ENDPOINTS=legacy", [], {"AWS_STS_REGIONAL_ENDPOINTS": "legacy",
                                               "AWS_DEFAULT_REGION": "us-east-1"}),
    ("AWS_STS_REGIONAL_ENDPOINTS=regional", [], {"AWS_STS_REGIONAL_ENDPOINTS": "regional",
                                                 "AWS_DEFAULT_REGION": "us-east-1"}),
    ("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional", [], {
        "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional", "AWS_DEFAULT_REGION": "us-east-1"}),
    ("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=legacy", [], {
        "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "legacy", "AWS_DEFAULT_REGION": "us-east-1"}),
    ("AWS_ENDPOINT_URL", [], {"AWS_ENDPOINT_URL": "https://env.c9aws-trace.example.com"}),
    ("AWS_ENDPOINT_URL_<SVC>", [], {"AWS_ENDPOINT_URL_{ID}": "https://svc.c9aws-trace.example.com"}),
    ("AWS_PROFILE", [], {"AWS_PROFILE": "p"}),
    ("AWS_DEFAULT_PROFILE+AWS_PROFILE", [], {"AWS_DEFAULT_PROFILE": "cn", "AWS_PROFILE": "p"}),
    ("AWS_PROFILE=nosuch", [], {"AWS_PROFILE": "nosuch"}),
]
SAMPLE_PER_VARIANT = 10


# ============================================================================================
# Worker: runs in the CLI's Python, one line per forked child.

class _Sent(Exception):
    """Raised in place of the first request (and every later one): nothing is ever sent."""


class _Refused(Exception):
    """A socket connect or name lookup: refused, never made."""


T = None  # the child's trace record (a dict), None in the worker


def _now_seq():
    T["seq"] += 1
    return T["seq"]


def _record_request(kind, method, url, service=None, operation=None):
    with _LOCK:
        if T is None:
            return
        host = urlsplit(url).hostname if "://" in url else url
        T["requests"].append({"via": kind, "method": method, "url": url.split("?")[0],
                              "host": host, "service": service, "operation": operation,
                              "seq": _now_seq()})


_LOCK = threading.Lock()
_TLS = threading.local()
_LOADER_CALLS = None     # set of (method, args) the child called on the shared loader
_SHARED_LOADERS = {}     # data_path -> Loader (the worker's, inherited by the children)
_ALLOWED_ROOTS = []
_WORKER_MODULES = set()  # modules the worker has imported (the children import the others)


def install_hooks(major):
    """Hooks on the CLI's and botocore's classes; inert until a child sets T."""
    import botocore.session
    import botocore.endpoint
    import botocore.httpsession
    import botocore.loaders
    import awscli.argparser as ap
    import awscli.clidriver as cd

    # -- clients
    orig_create = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        if T is None:
            return orig_create(self, *args, **kwargs)
        names = ["service_name", "region_name", "api_version", "use_ssl", "verify",
                 "endpoint_url"]
        bound = dict(zip(names, args))
        bound.update(kwargs)
        service = bound.get("service_name")
        region = bound.get("region_name")
        cfg = bound.get("config")
        if region is None:
            if cfg is not None and getattr(cfg, "region_name", None) is not None:
                region = cfg.region_name
            else:
                try:
                    region = self.get_config_variable("region")
                except Exception:  # noqa: BLE001 - ProfileNotFound: create_client raises it next
                    region = None
        rec = {"service": service, "region": region, "endpoint_url_arg": bound.get("endpoint_url"),
               "seq": None}
        try:
            client = orig_create(self, *args, **kwargs)
        except BaseException as e:
            with _LOCK:
                rec["seq"] = _now_seq()
                rec["error"] = type(e).__name__
                T["clients"].append(rec)
            raise
        with _LOCK:
            rec["seq"] = _now_seq()
            rec["endpoint"] = client.meta.endpoint_url
            rec["client_region"] = client.meta.region_name
            T["clients"].append(rec)
        return client

    botocore.session.Session.create_client = create_client

    # -- requests through a client
    orig_send_request = botocore.endpoint.Endpoint._send_request

    def _send_request(self, request_dict, operation_model):
        _TLS.op = operation_model
        return orig_send_request(self, request_dict, operation_model)

    botocore.endpoint.Endpoint._send_request = _send_request

    def _send(self, request):
        op = getattr(_TLS, "op", None)
        if T is None:
            raise _Refused("request outside a traced line")
        _record_request("endpoint", request.method, request.url,
                        op.service_model.service_name if op else None, op.name if op else None)
        raise _Sent(request.url)

    botocore.endpoint.Endpoint._send = _send

    # -- presigned URLs made by the CLI itself (eks get-token, s3 presign,
    #    rds generate-db-auth-token): the credentials are used where the URL is sent, so a
    #    presign counts as a request. Presigns inside an API call (ec2 copy-snapshot's
    #    PresignedUrl) are part of that call and do not count.
    import botocore.client
    import botocore.signers
    orig_api_call = botocore.client.BaseClient._make_api_call

    def _make_api_call(self, operation_name, api_params):
        _TLS.depth = getattr(_TLS, "depth", 0) + 1
        try:
            return orig_api_call(self, operation_name, api_params)
        finally:
            _TLS.depth -= 1

    botocore.client.BaseClient._make_api_call = _make_api_call
    orig_presign = botocore.signers.RequestSigner.generate_presigned_url

    def generate_presigned_url(self, request_dict, operation_name, *args, **kwargs):
        url = orig_presign(self, request_dict, operation_name, *args, **kwargs)
        if T is not None and not getattr(_TLS, "depth", 0):
            full = url if "://" in url else "https://" + url
            _record_request("presign", request_dict.get("method"), full,
                            getattr(self, "_service_id", None) and
                            self._service_id.hyphenize(), operation_name)
        return url

    botocore.signers.RequestSigner.generate_presigned_url = generate_presigned_url
    if hasattr(botocore.signers, "S3PostPresigner"):
        orig_post = botocore.signers.S3PostPresigner.generate_presigned_post

        def generate_presigned_post(self, request_dict, *args, **kwargs):
            out = orig_post(self, request_dict, *args, **kwargs)
            if T is not None and not getattr(_TLS, "depth", 0):
                _record_request("presign", "POST", out.get("url", ""), "s3", "PostObject")
            return out

        botocore.signers.S3PostPresigner.generate_presigned_post = generate_presigned_post

    class _Fetched:
        # What v1's paramfile.get_uri reads of a response: the status and the text.
        status_code = 200

        def __init__(self, text):
            self.text = text

    def raw_send(self, request):
        caller = sys._getframe(1)
        if caller.f_code.co_name == "get_uri" and "paramfile" in caller.f_code.co_filename:
            # v1 follows an http(s):// parameter value (cli_follow_urlparam): an unsigned GET
            # before any client. Recorded as a fetch, answered with the URL itself as the
            # value (as if not followed), so the CLI goes on to its AWS request.
            _record_request("fetch", request.method, request.url)
            return _Fetched(request.url)
        _record_request("http", request.method, request.url)
        raise _Sent(request.url)

    botocore.httpsession.URLLib3Session.send = raw_send

    # -- v2's CRT S3 client: a recorder instead of the native client
    try:
        import awscli.customizations.s3.factory as s3factory
    except ImportError:
        s3factory = None
    if s3factory is not None and hasattr(s3factory, "create_s3_crt_client"):
        class CrtRecorder:
            def __init__(self, **kwargs):
                self.region = kwargs.get("region")

            def make_request(self, **kwargs):
                req = kwargs.get("request")
                host = req.headers.get("host") if req is not None else None
                _record_request("crt", getattr(req, "method", None),
                                "https://%s%s" % (host, getattr(req, "path", "")), "s3",
                                str(kwargs.get("type")))
                raise _Sent(host)

        def create_crt(**kwargs):
            with _LOCK:
                T["crt_clients"].append({"region": kwargs.get("region"), "seq": _now_seq()})
            return CrtRecorder(**kwargs)

        s3factory.create_s3_crt_client = create_crt

    # -- what the parsers resolved: command, then operation
    def wrap_parse(cls, which):
        orig = cls.__dict__.get("parse_known_args") or getattr(cls, "parse_known_args")

        def parse_known_args(self, args, namespace=None):
            result = orig(self, args, namespace)
            if T is None or not isinstance(result, tuple) or not result:
                return result
            parsed = result[0]
            if not isinstance(parsed, argparse.Namespace):
                return result
            if which == "main":
                T["command"] = getattr(parsed, "command", None)
                T["operation"] = None
                T["op_seen"] = False
                T["command_service"] = {"s3": "s3", "ddb": "dynamodb"}.get(T["command"])
            elif not T.get("op_seen"):
                T["op_seen"] = True
                if which == "service":
                    T["operation"] = getattr(parsed, "operation", None)
                    T["command_service"] = getattr(self, "_service_name", None)
                else:
                    op = getattr(parsed, "subcommand", None)
                    if op is None and getattr(parsed, "help", None) == "help":
                        op = "help"
                    T["operation"] = op
            return result

        cls.parse_known_args = parse_known_args

    wrap_parse(ap.MainArgParser, "main")
    wrap_parse(ap.ServiceArgParser, "service")
    wrap_parse(ap.ArgTableArgParser, "table")

    orig_error = ap.CLIArgParser.error

    def error(self, message):
        if T is not None:
            T["usage_error"] = str(message).split("\n")[0][:200]
        return orig_error(self, message)

    ap.CLIArgParser.error = error

    # -- the exception the CLI stopped on
    def note_exc(e):
        if T is not None and e is not None and T.get("exception") is None:
            T["exception"] = type(e).__name__

    if major == 1:
        orig_write = cd.write_exception

        def write_exception(ex, outfile):
            note_exc(ex)
            return orig_write(ex, outfile)

        cd.write_exception = write_exception
        orig_show = cd.CLIDriver._show_error

        def _show_error(self, msg):
            note_exc(sys.exc_info()[1])
            return orig_show(self, msg)

        cd.CLIDriver._show_error = _show_error
    else:
        import awscli.errorhandler as eh
        orig_handle = eh.ChainedExceptionHandler.handle_exception

        def handle_exception(self, exception, stdout, stderr, **kwargs):
            note_exc(exception)
            return orig_handle(self, exception, stdout, stderr, **kwargs)

        eh.ChainedExceptionHandler.handle_exception = handle_exception

    # -- one data loader per worker, its cache inherited by the children
    def _register_data_loader(self):
        self._components.lazy_register_component(
            "data_loader", lambda: shared_loader(self.get_config_variable("data_path")))

    botocore.session.Session._register_data_loader = _register_data_loader

    for name in ("list_available_services", "determine_latest_version", "list_api_versions",
                 "load_service_model", "load_data_with_path"):
        orig = getattr(botocore.loaders.Loader, name)

        def make(orig, name):
            def method(self, *args, **kwargs):
                if _LOADER_CALLS is not None and hasattr(self, "_c9aws_data_path"):
                    _LOADER_CALLS.add((self._c9aws_data_path, name, tuple(args),
                                       tuple(sorted(kwargs.items()))))
                return orig(self, *args, **kwargs)
            return method

        setattr(botocore.loaders.Loader, name, make(orig, name))


def shared_loader(data_path):
    """The worker's loader for this data path (created on first use)."""
    if data_path not in _SHARED_LOADERS:
        import botocore.loaders
        loader = botocore.loaders.create_loader(data_path)
        loader._c9aws_data_path = data_path
        _SHARED_LOADERS[data_path] = loader
    return _SHARED_LOADERS[data_path]


def install_child_guards():
    """No network, no programs, no writes outside the line's own directories."""
    import builtins
    import socket
    import subprocess as sp

    def refuse_connect(what, address):
        host = address[0] if isinstance(address, tuple) and address else str(address)
        _record_request("socket", what, str(host))
        raise _Refused("%s %s" % (what, host))

    socket.socket.connect = lambda self, address: refuse_connect("connect", address)
    socket.socket.connect_ex = lambda self, address: refuse_connect("connect", address)
    socket.create_connection = lambda address, *a, **k: refuse_connect("connect", address)
    socket.getaddrinfo = lambda host, *a, **k: refuse_connect("getaddrinfo", (host,))

    def refuse_program(args):
        # CLI v2 asks `lsb_release -a` for the user agent (the `distro` package) on every
        # line; refused like any program, but not worth recording.
        first = args[0] if isinstance(args, (list, tuple)) and args else args
        if os.path.basename(str(first)) != "lsb_release":
            with _LOCK:
                T["programs"].append(str(args)[:200])
        raise FileNotFoundError(2, "refused by trace.py", str(args)[:80])

    def popen_init(self, args, *a, **k):
        refuse_program(args)

    sp.Popen.__init__ = popen_init
    os.system = lambda cmd: (T["programs"].append(str(cmd)[:200]), 127)[1]
    for name in ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe",
                 "posix_spawn", "posix_spawnp", "spawnv", "spawnve", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            setattr(os, name, lambda *a, **k: refuse_program(a[:2]))

    def allowed(path):
        if isinstance(path, int):
            return True
        try:
            p = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return True
        return p == "/dev/null" or any(p == r or p.startswith(r + os.sep) for r in _ALLOWED_ROOTS)

    def refuse_write(path):
        with _LOCK:
            T["writes"].append(os.fsdecode(path) if not isinstance(path, int) else str(path))
        raise PermissionError(13, "refused by trace.py", os.fsdecode(path))

    orig_open = builtins.open

    def guarded_open(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+") and not allowed(file):
            refuse_write(file)
        return orig_open(file, mode, *a, **k)

    builtins.open = guarded_open
    io.open = guarded_open
    orig_os_open = os.open

    def guarded_os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND) \
                and not allowed(path):
            refuse_write(path)
        return orig_os_open(path, flags, *a, **k)

    os.open = guarded_os_open
    for name in ("remove", "unlink", "rmdir", "mkdir", "makedirs", "chmod", "chown", "truncate",
                 "symlink", "link", "utime"):
        orig = getattr(os, name)

        def make(orig):
            def guarded(path, *a, **k):
                if not allowed(path):
                    refuse_write(path)
                return orig(path, *a, **k)
            return guarded

        setattr(os, name, make(orig))
    for name in ("rename", "replace"):
        orig = getattr(os, name)

        def make2(orig):
            def guarded(src, dst, *a, **k):
                if not allowed(src) or not allowed(dst):
                    refuse_write(dst)
                return orig(src, dst, *a, **k)
            return guarded

        setattr(os, name, make2(orig))


def write_home(home):
    aws = os.path.join(home, ".aws")
    for name in os.listdir(home):
        p = os.path.join(home, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            os.unlink(p)
    os.makedirs(aws)
    with open(os.path.join(aws, "config"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(aws, "credentials"), "w") as f:
        f.write(CREDENTIALS)


def child_main(item, major, home, cwd, out_path, wfd):
    global T, _LOADER_CALLS
    os.chdir(cwd)
    os.environ.update(item["env"])
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _ALLOWED_ROOTS[:] = [os.path.realpath(home), os.path.realpath(cwd),
                         os.path.realpath(tempfile.gettempdir())]
    T = {"seq": 0, "clients": [], "crt_clients": [], "requests": [], "programs": [],
         "writes": [], "command": None, "operation": None, "command_service": None,
         "usage_error": None, "exception": None, "rc": None}
    _LOADER_CALLS = set()
    install_child_guards()
    import awscli.clidriver as cd
    sys.argv = ["aws"] + list(item["argv"])
    t_start = time.time()
    try:
        if major == 1:
            rc = cd.create_clidriver().main(list(item["argv"]))
        else:
            rc = cd.AWSCLIEntryPoint().main(list(item["argv"]))
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        T["exception"] = T["exception"] or "SystemExit"
    except BaseException as e:  # noqa: BLE001 - the outcome is the answer
        rc = None
        T["exception"] = T["exception"] or type(e).__name__
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    with _LOCK:
        out = dict(T)
        out["requests"] = list(T["requests"])
        out["clients"] = list(T["clients"])
        T = None
    out["rc"] = rc
    out["cli_seconds"] = round(time.time() - t_start, 3)
    try:
        with io.FileIO(out_path, "r") as f:
            text = f.read(200000).decode("utf-8", "replace")
    except OSError:
        text = ""
    out["output"] = text[-1500:]
    out["loader_calls"] = list(_LOADER_CALLS)
    out["modules"] = sorted(set(sys.modules) - _WORKER_MODULES)
    data = json.dumps(out, default=str).encode()
    view = memoryview(data)
    while view:
        n = os.write(wfd, view)
        view = view[n:]


def run_in_child(item, major, home, cwd, out_path, timeout):
    write_home(home)
    for name in os.listdir(cwd):
        p = os.path.join(cwd, name)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    for name, text in item.get("files", {}).items():
        os.makedirs(os.path.dirname(os.path.join(cwd, name)), exist_ok=True)
        with open(os.path.join(cwd, name), "w") as f:
            f.write(text)
    sys.stdout.flush()
    sys.stderr.flush()
    # Objects that exist now are the worker's: a child's garbage collections must not walk
    # (and so copy) their pages.
    gc.collect()
    gc.freeze()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            child_main(item, major, home, cwd, out_path, w)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = time.time() + timeout
    timed_out = False
    while True:
        left = deadline - time.time()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            continue
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"harness_error": "timeout after %.0f s" % timeout}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"harness_error": "child died (status %d) without an answer" % status}


def worker_main(home, cwd):
    """Reads batches (JSON lines) on stdin, answers one JSON line per item, then `done`."""
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin = open(os.devnull)
    import awscli
    import botocore.loaders
    major = int(awscli.__version__.split(".")[0])
    install_hooks(major)
    _WORKER_MODULES.update(sys.modules)
    out_path = os.path.join(cwd + ".out")
    loaded = set()
    for line in proto_in:
        batch = json.loads(line)
        for item in batch["items"]:
            ans = run_in_child(item, major, home, cwd, out_path, batch.get("timeout", LINE_TIMEOUT))
            calls = ans.pop("loader_calls", [])
            # Import what the child imported (the CLI's plugins, yaml, ...): module imports are
            # the bulk of a fresh driver's start, and a module's import does the same in the
            # worker as in the child.
            for name in ans.pop("modules", []):
                if name not in sys.modules and name != "__main__":
                    try:
                        importlib.import_module(name)
                    except BaseException:  # noqa: BLE001
                        pass
            _WORKER_MODULES.update(sys.modules)
            # Warm the worker's loader with what the child loaded (children inherit it); start a
            # new loader when too many service models are held.
            models = {c[2][0] for c in calls if c[1] == "load_service_model" and c[2]}
            if len(loaded | models) > 60:
                _SHARED_LOADERS.clear()
                loaded = set()
            for data_path, name, args, kwargs in calls:
                try:
                    getattr(shared_loader(data_path), name)(*args, **dict(kwargs))
                except Exception:  # noqa: BLE001 - the child saw the same error
                    pass
            loaded |= models
            proto_out.write(json.dumps({"i": item["i"], "trace": ans}) + "\n")
            proto_out.flush()
        proto_out.write(json.dumps({"done": True}) + "\n")
        proto_out.flush()


# ============================================================================================
# Parent: corpus, workers, c9aws, comparison.

def scrubbed_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "C9AWS_", "C9_"))}
    env.update({"HOME": home, "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    return env


def line_id(major, item):
    key = json.dumps([major, item["argv"], sorted(item["env"].items())])
    return hashlib.sha1(key.encode()).hexdigest()[:10]


class CliInfo:
    """The command table of the CLI under test: command -> service, service -> endpoint id."""

    def __init__(self):
        import awscli
        from awscli import clidriver
        self.version = awscli.__version__
        self.major = int(self.version.split(".")[0])
        self.examples_dir = os.path.join(os.path.dirname(awscli.__file__), "examples")
        driver = clidriver.create_clidriver()
        self.session = driver.session
        self.services = {}
        for name, cmd in driver._get_command_table().items():
            svc = getattr(cmd, "_service_name", None)
            if svc:
                self.services[name] = svc
        self.services.update({"s3": "s3", "ddb": "dynamodb"})
        self._ids = {}

    def endpoint_env(self, service):
        if service not in self._ids:
            try:
                sid = self.session.get_service_model(service).service_id
                self._ids[service] = "AWS_ENDPOINT_URL_" + str(sid).replace(" ", "_").upper()
            except Exception:  # noqa: BLE001
                self._ids[service] = None
        return self._ids[service]


def in_sample(argv, first_of_command):
    """The deterministic half of the examples corpus a default run traces: every command's
    first example, and the lines whose digest is even."""
    if first_of_command:
        return True
    return int(hashlib.sha1("\0".join(argv).encode()).hexdigest(), 16) % 2 == 0


def build_items(info, argvmod, full):
    corpus, dropped = argvmod.build_corpus(info.examples_dir)
    items = []
    seen_commands = set()
    for c in corpus:
        first = c["argv"][0] not in seen_commands
        seen_commands.add(c["argv"][0])
        if full or in_sample(c["argv"], first):
            items.append({"argv": c["argv"], "env": {}, "origin": c["origin"]})
    n_corpus = len(items)
    rng = random.Random(SEED + info.major)
    pool = [c for c in corpus if c["argv"] and c["argv"][0] in info.services]
    focus = []
    for line in FOCUS:
        argv = shlex.split(line.format(bucket=BUCKET))
        focus.append({"argv": argv, "files": FOCUS_FILES, "origin": "focus"})
    sample_n = SAMPLE_PER_VARIANT
    for name, opts, env in VARIANTS:
        chosen = focus + [{"argv": c["argv"], "origin": "sample " + c["origin"]}
                          for c in rng.sample(pool, sample_n)]
        for base in chosen:
            if name == "plain" and base["origin"] != "focus":
                continue
            e = {}
            for k, v in env.items():
                if "{ID}" in k:
                    svc = info.services.get(base["argv"][0])
                    envname = info.endpoint_env(svc) if svc else None
                    if not envname:
                        continue
                    e[envname] = v
                else:
                    e[k] = v
            it = {"argv": list(opts) + list(base["argv"]), "env": e,
                  "origin": "%s, variant %s" % (base["origin"], name)}
            if base.get("files"):
                it["files"] = base["files"]
            items.append(it)
    seen = set()
    out = []
    for it in items:
        key = (tuple(it["argv"]), tuple(sorted(it["env"].items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(it)
    return out, n_corpus, len(corpus), dropped


class Workers:
    def __init__(self, jobs, tmp):
        self.jobs = jobs
        self.tmp = tmp

    def _start(self, k):
        home = os.path.join(self.tmp, "w%d-home" % k)
        cwd = os.path.join(self.tmp, "w%d-cwd" % k)
        os.makedirs(home, exist_ok=True)
        os.makedirs(cwd, exist_ok=True)
        env = scrubbed_env(home)
        return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", home, cwd],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                text=True, bufsize=1)

    def run(self, items, progress=None):
        # Group by command so a worker's loader serves many lines of one service.
        order = sorted(range(len(items)), key=lambda i: (items[i]["argv"][:1], i))
        batches = queue.Queue()
        for k in range(0, len(order), BATCH):
            batches.put(order[k:k + BATCH])
        results = [None] * len(items)
        done = [0]
        lock = threading.Lock()

        def drive(k):
            proc = self._start(k)
            while True:
                try:
                    batch = batches.get_nowait()
                except queue.Empty:
                    break
                msg = {"items": [dict(items[i], i=i) for i in batch]}
                pending = set(batch)
                try:
                    proc.stdin.write(json.dumps(msg) + "\n")
                    proc.stdin.flush()
                    while True:
                        line = proc.stdout.readline()
                        if not line:
                            raise EOFError
                        ans = json.loads(line)
                        if ans.get("done"):
                            break
                        results[ans["i"]] = ans["trace"]
                        pending.discard(ans["i"])
                        with lock:
                            done[0] += 1
                            if progress:
                                progress(done[0])
                except (EOFError, BrokenPipeError, ValueError):
                    for i in pending:
                        results[i] = {"harness_error": "worker died"}
                    proc.kill()
                    proc.wait()
                    proc = self._start(k)
            proc.stdin.close()
            proc.wait()

        threads = [threading.Thread(target=drive, args=(k,)) for k in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results


def c9aws_cwds(tmp):
    """The working directories c9aws runs in: the same files the CLI's child had (none for a
    corpus line, FOCUS_FILES for focus lines), since c9aws reads file:// parameters too."""
    cwds = {}
    for key, files in (("none", {}), ("focus", FOCUS_FILES)):
        d = os.path.join(tmp, "c9aws-cwd-" + key)
        os.makedirs(d, exist_ok=True)
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        cwds[key] = d
    return cwds


def run_c9aws(c9aws, argv, env, timeout=60, cwd=None):
    try:
        p = subprocess.run([c9aws, "explain", "--json", "--", *argv], env=env, capture_output=True,
                           timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"_crash": "timeout"}
    try:
        out = json.loads(p.stdout.decode("utf-8", "replace"))
        if not isinstance(out, dict):
            raise ValueError("not an object")
        return out
    except ValueError:
        return {"_crash": "exit %d, stdout %r, stderr %r" % (
            p.returncode, p.stdout[:200], p.stderr.decode("utf-8", "replace")[-300:])}


# --------------------------------------------------------------------------------------------
# What the CLI did, in the terms c9aws predicts

def cli_view(tr):
    """The trace reduced to the compared fields."""
    # v1's fetches of http(s):// parameter values are unsigned and not the call: the first
    # request compared is the first after them.
    reqs = [r for r in tr.get("requests") or [] if r.get("via") != "fetch"]
    first = reqs[0] if reqs else None
    limit = first["seq"] if first else float("inf")
    before = [c for c in tr.get("clients") or [] if c["seq"] < limit]
    services = sorted({c["service"] for c in before})
    primary = None
    for c in before:
        if c["service"] == tr.get("command_service"):
            primary = c
            break
    if primary is None and first is not None:
        primary = next((c for c in before if c["service"] == first.get("service")), None)
    if primary is None and before:
        primary = before[0]
    endpoints = {}
    for c in before:
        endpoints.setdefault(c["service"], c.get("endpoint"))
    return {
        "sends": first is not None,
        "first": first,
        "services": services,
        "region": primary["region"] if primary else None,
        "endpoints": endpoints,
        "host": first["host"] if first else None,
        "command": tr.get("command"),
        "operation": tr.get("operation"),
    }


# Clients a customization creates only after its first request has been answered, so a trace
# stopped at that request cannot see them; c9aws lists them (it must cover the credentials they
# use). Each from the CLI's code, both majors:
#   cloudtrail validate-logs: customizations/cloudtrail/validation.py creates an s3 client per
#     digest bucket's region (_create_client) once DescribeTrails has answered;
#   emr-containers update-role-trust-policy: update_role_trust_policy.py reads the cluster's OIDC
#     issuer with eks DescribeCluster first, then creates the iam client.
AFTER_FIRST_ANSWER = {
    ("cloudtrail", "validate-logs"): {"s3"},
    ("emr-containers", "update-role-trust-policy"): {"iam"},
}


def compare(tr, ours):
    """The fields that differ: {field: (cli, c9aws)}."""
    if "_crash" in ours:
        return {"c9aws": ("answer", ours["_crash"])}
    v = cli_view(tr)
    d = {}
    kind = ours.get("kind")
    if v["sends"] != (kind == "calls"):
        d["kind"] = ("sends" if v["sends"] else "sends nothing", kind)
    if v["sends"] or kind != "unpredictable":
        for f in ("command", "operation"):
            if v[f] != ours.get(f):
                d[f] = (v[f], ours.get(f))
    if not v["sends"] or kind != "calls":
        return d
    got = set(ours.get("services") or [])
    later = AFTER_FIRST_ANSWER.get((v["command"], v["operation"]), set())
    got = sorted(got - (later - set(v["services"])))
    if got != v["services"]:
        d["services"] = (v["services"], got)
    if v["region"] != ours.get("region"):
        d["region"] = (v["region"], ours.get("region"))
    eps = ours.get("endpoints") or {}
    bad = {s: (e, eps.get(s)) for s, e in v["endpoints"].items() if s in eps and eps[s] != e}
    if bad:
        d["endpoints"] = ({s: a for s, (a, _) in bad.items()}, {s: b for s, (_, b) in bad.items()})
    if v["host"] not in (ours.get("hosts") or []):
        d["hosts"] = (v["host"], ours.get("hosts"))
    return d


REASON_PATTERNS = [
    ("paramfile", r"Unable to load paramfile|Error parsing parameter '[^']*': Unable to"),
    ("bad-json", r"Invalid JSON|Expected: '[^']*', received|Error parsing parameter"),
    ("param-validation", r"Parameter validation failed|ParamValidation"),
    ("missing-required", r"the following arguments are required"),
    ("unknown-options", r"Unknown options"),
    ("invalid-choice", r"Invalid choice"),
    ("path-missing", r"does not exist|No such file or directory"),
    ("no-region", r"You must specify a region|NoRegion"),
    ("no-profile", r"config profile \([^)]*\) could not be found|ProfileNotFound"),
    ("no-credentials", r"Unable to locate credentials|NoCredentials"),
    ("endpoint-resolution", r"EndpointResolutionError"),
]


def no_send_cause(tr):
    """A short cause for a line where the CLI sent nothing."""
    if tr.get("harness_error"):
        return "harness"
    text = "%s %s %s" % (tr.get("usage_error") or "", tr.get("exception") or "",
                         tr.get("output") or "")
    for key, pat in REASON_PATTERNS:
        if re.search(pat, text):
            return key
    if tr.get("usage_error"):
        return "usage"
    if [p for p in tr.get("programs") or [] if "lsb_release" not in p]:
        return "runs-a-program"
    if tr.get("writes"):
        return "write-refused"
    if tr.get("rc") == 0:
        return "exit-0"
    return "exit-%s%s" % (tr.get("rc"), (" " + tr["exception"]) if tr.get("exception") else "")


def group_of(it, tr, ours, diff):
    """The group a miss is listed under: the field that differs first and why."""
    v = cli_view(tr)
    cmd = "%s %s" % (v["command"], v["operation"])
    if "c9aws" in diff:
        return "c9aws-crash"
    if "kind" in diff:
        if v["sends"]:
            return "kind: CLI sends, c9aws says %s" % ours.get("kind")
        return "kind: CLI sends nothing (%s), c9aws says calls" % no_send_cause(tr)
    if "command" in diff or "operation" in diff:
        return "command/operation"
    first = v["first"] or {}
    if first.get("via") in ("http", "socket"):
        # v1 fetches http(s):// parameter values (cli_follow_urlparam) before any client exists
        return "first request outside botocore's clients: %s" % (
            "an http(s):// parameter value fetched" if first.get("via") == "http"
            else "a direct connection")
    if "services" in diff:
        want, got = diff["services"]
        extra = sorted(set(got) - set(want))
        missing = sorted(set(want) - set(got))
        return "services: %s: CLI creates %s, c9aws %s" % (
            cmd, "+".join(missing) or "-", ("also " + "+".join(extra)) if extra else "-")
    parts = []
    if "region" in diff:
        parts.append("region")
    if "endpoints" in diff:
        parts.append("endpoint " + ",".join(sorted(diff["endpoints"][0])))
    if "hosts" in diff:
        host, hosts = diff["hosts"]
        first = v["first"] or {}
        if first.get("via") == "presign":
            parts.append("host of a presigned URL")
        elif any(host.endswith(h) for h in hosts or []):
            parts.append("host with a prefix")
        elif any(h.endswith("." + host) for h in hosts or []):
            parts.append("host without c9aws's bucket prefix (path style)")
        else:
            parts.append("host")
    svc = (v["first"] or {}).get("service") or tr.get("command_service")
    return "%s: %s" % (" + ".join(parts), svc)


# --------------------------------------------------------------------------------------------

def read_known(major):
    """{group: set(ids)} of the known-miss file for this major."""
    known = collections.defaultdict(set)
    if not os.path.exists(KNOWN_MISSES):
        return known
    group = None
    with open(KNOWN_MISSES, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^###\s+v(\d)\s+·\s+(.*?)\s+·\s+\d+ lines?\s*$", line)
            if m:
                group = m.group(2) if int(m.group(1)) == major else None
                continue
            if line.startswith("#"):
                group = None
                continue
            if group is not None and line.startswith("ids:"):
                known[group].update(re.findall(r"\b[0-9a-f]{10}\b", line))
    return known


def write_known(major, version, groups, reasons, examples):
    """Rewrites this major's part of the known-miss file; the other major's part is kept."""
    other = []
    if os.path.exists(KNOWN_MISSES):
        with open(KNOWN_MISSES, encoding="utf-8") as f:
            text = f.read()
        for sec in re.finditer(r"^## CLI v(\d).*?(?=^## CLI v\d|\Z)", text, re.S | re.M):
            if int(sec.group(1)) != major:
                other.append((int(sec.group(1)), sec.group(0).rstrip() + "\n"))
    out = [HEADER]
    mine = ["## CLI v%d (awscli %s): %d misses in %d groups\n\n"
            % (major, version, sum(len(v) for v in groups.values()), len(groups))]
    for g in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        ids = sorted(groups[g])
        mine.append("### v%d · %s · %d line%s\n\n" % (major, g, len(ids), "" if len(ids) == 1 else "s"))
        why = reasons.get(g)
        if why:
            mine.append(why.strip() + "\n\n")
        for ex in examples.get(g, [])[:2]:
            mine.append("    %s\n" % ex)
        mine.append("\n")
        for k in range(0, len(ids), 8):
            mine.append("ids: " + " ".join(ids[k:k + 8]) + "\n")
        mine.append("\n")
    sections = other + [(major, "".join(mine))]
    for _, s in sorted(sections):
        out.append(s.rstrip() + "\n\n")
    with open(KNOWN_MISSES, "w", encoding="utf-8") as f:
        f.write("".join(out).rstrip() + "\n")


HEADER = """\
# Known misses of the trace differential test

`tests/differential/trace.py` runs the AWS CLI itself on each command line (offline, hooked at
client creation and at the first request) and compares what it did with `c9aws explain --json`.
A miss listed here, under the group it falls in, does not fail the run; a new miss, or a listed
one that moved to another group, does. The groups are the to-do list of the modelling work: each
says what the CLI does that c9aws does not predict (or predicts wrongly) and why.

Regenerate after a change: `PY tests/differential/trace.py --c9aws target/debug/c9aws
--update-known-misses` for each major (the other major's part is kept); the reasons come from
`REASONS` in trace.py.

"""

# The reason of each group (by exact name or by the longest prefix), written into the known-miss
# file. A reason says what the CLI does there and what c9aws would have to model.
REASONS = {
    "kind: CLI sends nothing (paramfile)":
        "The example names a `file://` parameter file that does not exist here: the CLI stops "
        "while reading its arguments. c9aws does not read parameter files; it predicts the call "
        "the line would make with the file present. Harmless (nothing is sent either way); "
        "modelling it would mean stat()ing files on every call.",
    "kind: CLI sends nothing (missing-required)":
        "A required option is missing (examples with placeholders or split over lines): argparse "
        "stops the CLI. c9aws models each service operation's parser (`core::op_args`, "
        "`data/op-args-v*.tsv`) but gives no verdict where it is unsure: these lines have a "
        "`--opt=value`, a single-dash or `--` word, a `-` word with a space, an empty word, or "
        "are customizations (`emr schedule-hbase-backup`) the table leaves out.",
    "kind: CLI sends nothing (no-profile)":
        "`--profile` / `AWS_PROFILE` names a profile that is in neither file: the CLI stops with "
        "ProfileNotFound. c9aws reports it in the plan's credentials but still says `calls`; to "
        "do: make such a line `unpredictable` (plan.rs).",
    "kind: CLI sends nothing (no-region)":
        "No region anywhere (`--profile noregion`): botocore stops with NoRegionError when the "
        "client is created. c9aws has no endpoint for it (endpoint null) but says `calls`; to do: "
        "`unpredictable` when the primary client cannot be built (plan.rs).",
    "kind: CLI sends nothing (unknown-options)":
        "Options the operation does not have (typos, examples of other versions): the CLI stops "
        "with `Unknown options`. c9aws models each service operation's options "
        "(`core::op_args`) but gives no verdict where it is unsure: these lines have a "
        "`--opt=value`, or the operation has a positional of its own (`lambda invoke`'s "
        "outfile), which the table leaves out.",
    "kind: CLI sends nothing (bad-json)":
        "A parameter value the CLI cannot parse (shorthand/JSON syntax, blob without fileb://): "
        "the CLI stops before any client exists.",
    "kind: CLI sends nothing (param-validation)":
        "botocore's parameter validation refuses the example's values (lengths, types) after the "
        "client is created, before sending. Not modelled (needs the service models). CLI v2 "
        "reports its argparse errors (missing required options) as ParamValidation too: those "
        "`core::op_args` predicts; the ones left are value checks.",
    "kind: CLI sends nothing (path-missing)":
        "A local path of the example does not exist here (`s3 cp`/`mv` sources, `gamelift "
        "upload-build --build-root`): the CLI stops before sending.",
    "kind: CLI sends nothing (exit-255 RuntimeError)":
        "`deploy install`/`uninstall` refuse this machine's OS (only Ubuntu, RHEL and Windows "
        "Server) before any call; `deploy push` without an appspec.yml. Local checks c9aws does "
        "not model.",
    "kind: CLI sends nothing (exit-255 ValueError)":
        "Argument checks of customizations (an IAM user ARN, a key file path) stop the CLI.",
    "kind: CLI sends nothing (exit-255 InvalidTemplatePathError)":
        "`cloudformation package`/`deploy` with a template path that does not exist.",
    "kind: CLI sends nothing (exit-255 RequiredOptionsError)":
        "`emr create-cluster` without `--release-label`/`--ami-version`: the customization stops.",
    "kind: CLI sends nothing (usage)":
        "An option without its value (`--source-dest-check` at the end of the line): argparse "
        "stops the CLI.",
    "kind: CLI sends nothing (invalid-choice)":
        "A waiter name that does not exist: argparse stops the CLI (c9aws does not list waiters).",
    "kind: CLI sends nothing (runs-a-program)":
        "The CLI needs a program first (`ecs execute-command`: session-manager-plugin; v2 "
        "`deploy uninstall`): refused here, so it stops before sending.",
    "kind: CLI sends nothing (exit-0)":
        "The CLI exits 0 without sending or presigning anything (e.g. `cloudformation package` "
        "with no local artifact to upload).",
    "kind: CLI sends, c9aws says unpredictable":
        "The CLI sends, c9aws declined the line.",
    "host with a prefix: s3control":
        "S3 Control requests go to `{AccountId}.s3-control.{region}…`: the account id comes from "
        "the operation's input (`--account-id`) through the rule set. c9aws gives the "
        "operation-free host; to do: the AccountId endpoint parameter.",
    "host with a prefix: s3":
        "The bucket is named by an option c9aws does not read as a bucket (`deploy push "
        "--s3-location s3://b/k`, `configservice subscribe --s3-bucket`, `cloudformation package "
        "--s3-bucket`): the CLI's first request goes to the virtual-hosted bucket host. To do: "
        "those options in target.rs's bucket extraction.",
    "host with a prefix":
        "The operation has an endpoint `hostPrefix` in its service model (omics `control-storage-`"
        "/`analytics-`/`storage-`, iotsitewise `api.`/`monitor.`/`data.`, medical-imaging "
        "`runtime-`, servicediscovery `data-`, lakeformation `query-`, logs `stream-`, kinesis "
        "`{account}.control-`): the request host is the prefix plus the client's host. To do: hostPrefix "
        "per operation in the generated data (prefixes with `{Label}`s need the operation's "
        "input).",
    "host without c9aws's bucket prefix (path style): s3":
        "On a configured endpoint (`--endpoint-url`, AWS_ENDPOINT_URL, profile `endpoint_url`, "
        "`[services]`) botocore addresses buckets path style (`https://endpoint/bucket`), for "
        "both majors (ForcePathStyle = addressing_style != 'virtual' when an endpoint URL is "
        "given); c9aws's custom_bucket_host (plan.rs) puts the bucket in the host name.",
    "host: s3":
        "`s3 sync`/`cp` with `--source-region`: the first request goes to the source bucket in "
        "the source region; c9aws uses the one region for every bucket.",
    "host: dynamodb":
        "DynamoDB account-based endpoints: with a table/backup ARN in the input the request "
        "goes to `{account}.ddb.{region}.amazonaws.com` (rule-set parameter ResourceArn).",
    "host of a presigned URL: rds":
        "`rds generate-db-auth-token` presigns a URL for the database host itself "
        "(`--hostname`), not an RDS API endpoint; c9aws gives the RDS API host.",
    "host of a presigned URL: s3":
        "CLI v1 (botocore 1.x) presigns S3 URLs on the global endpoint "
        "(`bucket.s3.amazonaws.com`; FIPS: `s3-fips.us-east-1`) whatever the region; on a "
        "configured endpoint, path style. c9aws gives the regional request host. To do: "
        "presign hosts from botocore (gen_data.py) for `s3 presign`.",
    "endpoint emr + host: emr":
        "CLI v1's overridesslcommonname rewrites `emr` to `https://{region}.elasticmapreduce."
        "amazonaws.com` in the aws-partition regions it lists, as if `--endpoint-url` were given.",
    "endpoint sqs + host: sqs":
        "CLI v1's overridesslcommonname rewrites `sqs` to `https://{region}.queue.amazonaws.com` "
        "(us-east-1: `queue.amazonaws.com`, China: `.amazonaws.com.cn`) as if `--endpoint-url` "
        "were given; FIPS/dual-stack and AWS_ENDPOINT_URL* are then ignored.",
    "endpoint rds":
        "CLI v1's overridesslcommonname: `rds` in us-east-1 goes to `https://rds.amazonaws.com`.",
    "endpoint docdb":
        "CLI v1's overridesslcommonname: `docdb` in us-east-1 goes to `https://rds.amazonaws.com`.",
    "endpoint neptune":
        "CLI v1's overridesslcommonname: `neptune` in us-east-1 goes to `https://rds.amazonaws.com`.",
    "region + endpoint health":
        "CLI v1's overridesslcommonname: `health` goes to `https://health.us-east-1.amazonaws.com` "
        "(China: `health.cn-northwest-1…`) and the region becomes us-east-1 (cn-northwest-1).",
    "endpoint health":
        "CLI v1's overridesslcommonname: `health` goes to `https://health.us-east-1.amazonaws.com` "
        "(China: `health.cn-northwest-1…`) and the region becomes us-east-1 (cn-northwest-1).",
    "endpoint textract + host: textract":
        "A placeholder region (`--region region-name`) matches no partition's region pattern: "
        "botocore falls back to the aws partition (`textract.region-name.amazonaws.com`); c9aws "
        "gives no endpoint (unknown partition).",
    "endpoint s3control + host: s3control":
        "A placeholder region (`--region Region`) matches no partition's region pattern: "
        "botocore falls back to the aws partition; c9aws gives no endpoint (unknown partition).",
    "kind: CLI sends nothing (endpoint-resolution)":
        "CLI v2's endpoint rule set refuses the region for this service (EndpointResolutionError "
        "when the request is built, e.g. agent-toolkit outside the regions it runs in); c9aws "
        "has a client URL for it (client-level data) and says `calls`.",
    "endpoint rds + host of a presigned URL: rds":
        "`rds generate-db-auth-token` presigns a URL for the database host (`--hostname`); CLI "
        "v2 also builds that client on `http://rds.{region}.amazonaws.com` "
        "(CLI v1: `rds.amazonaws.com` in us-east-1, overridesslcommonname).",
    "endpoint dsql + host of a presigned URL: dsql":
        "`dsql generate-db-connect-auth-token` presigns a URL for the cluster host "
        "(`--hostname`) on a client built on `http://dsql.{region}.amazonaws.com`.",
    "services: emr-containers":
        "`emr-containers update-role-trust-policy` (and v2's `create-role-associations`/"
        "`delete-role-associations`) create an EKS client first (DescribeCluster), then IAM; "
        "no emr-containers client.",
    "first request outside botocore's clients: an http(s):// parameter value fetched":
        "CLI v1 follows `http(s)://` parameter values (cli_follow_urlparam, on by default in v1, "
        "off in v2) and fetches them before creating any client: an uncredentialed request to "
        "that host. c9aws does not predict it (no AWS credentials are used).",
    "services: eks get-token":
        "`eks get-token` creates only an STS client and presigns GetCallerIdentity with it (the "
        "token); with `--role-arn` it first sends AssumeRole. No EKS client. c9aws says eks.",
    "services: eks update-kubeconfig":
        "`eks update-kubeconfig` creates an STS client only with `--role-arn` (AssumeRole before "
        "DescribeCluster); c9aws adds sts always.",
    "services: cloudformation package":
        "`cloudformation package` creates only an S3 client (uploads artifacts, never calls "
        "CloudFormation); c9aws lists cloudformation too.",
    "services: cloudformation deploy":
        "`cloudformation deploy` creates its S3 client only with `--s3-bucket`; c9aws adds s3 "
        "always.",
    "services: cloudtrail create-subscription":
        "CLI v1's `cloudtrail create-subscription`/`update-subscription` create STS, S3, SNS and "
        "CloudTrail clients up front (GetCallerIdentity first); c9aws lists only cloudtrail.",
    "services: cloudtrail update-subscription":
        "CLI v1's `cloudtrail create-subscription`/`update-subscription` create STS, S3, SNS and "
        "CloudTrail clients up front (GetCallerIdentity first); c9aws lists only cloudtrail.",
    "services: cloudtrail validate-logs":
        "`cloudtrail validate-logs` creates CloudTrail and Organizations clients up front and S3 "
        "clients per bucket region only after the first answer: the trace stops at the first "
        "request, so c9aws's s3 cannot be confirmed here. Not a c9aws error.",
    "services: deploy register":
        "`deploy register` creates CodeDeploy and IAM clients, no S3 client; c9aws adds s3.",
    "services: dlm create-default-role":
        "`dlm create-default-role` creates only an IAM client (no DLM call); c9aws lists dlm.",
    "services: s3":
        "c9aws adds s3control and sts for every s3 command on an access-point ARN; the CLI "
        "creates them only for `s3 mv` with `--validate-same-s3-paths` (or "
        "AWS_CLI_S3_MV_VALIDATE_SAME_S3_PATHS=true) when the keys are the same (S3PathResolver).",
}


def reason_for(group):
    if group in REASONS:
        return REASONS[group]
    best = ""
    for k in REASONS:
        if group.startswith(k) and len(k) > len(best):
            best = k
    return REASONS.get(best)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", nargs=2, metavar=("HOME", "CWD"), help=argparse.SUPPRESS)
    ap.add_argument("--c9aws", help="path of the c9aws binary")
    ap.add_argument("--aws", help="the CLI c9aws should exec (default: v1 `aws` on PATH, "
                                  "v2 the `aws` next to this Python)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--grep", help="only lines whose argv (joined) matches this regex")
    ap.add_argument("--show", type=int, default=60)
    ap.add_argument("--dump", help="write every line with both answers to this JSON-lines file")
    ap.add_argument("--update-known-misses", action="store_true",
                    help="rewrite this major's part of the known-miss file (needs --full)")
    ap.add_argument("--reuse-traces", metavar="DUMP",
                    help="take the CLI's traces from an earlier --dump (same awscli version) and "
                         "run only c9aws: for iterating on c9aws")
    ap.add_argument("--full", action="store_true",
                    help="trace every example line, not the default half (see in_sample)")
    args = ap.parse_args()
    if args.worker:
        for k in [k for k in os.environ if k.startswith("AWS_") and k not in (
                "AWS_EC2_METADATA_DISABLED", "AWS_PAGER")]:
            del os.environ[k]
        worker_main(*args.worker)
        return 0
    if not args.c9aws:
        ap.error("--c9aws is required")
    tmp = tempfile.mkdtemp(prefix="c9aws-trace-")
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    t0 = time.time()
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    write_home(home)
    env = scrubbed_env(home)
    for k in list(os.environ):
        if k not in env:
            del os.environ[k]
    os.environ.update(env)
    sys.path.insert(0, HERE)
    import argv as argvmod  # the corpus extraction of the argv test
    info = CliInfo()
    major = info.major
    if args.aws:
        aws = args.aws
    elif major == 1:
        aws = shutil.which("aws")
    else:
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
    if not aws or not os.path.exists(aws):
        sys.exit("cannot find the CLI v%d `aws` (use --aws)" % major)
    c9aws = os.path.abspath(args.c9aws)
    cenv = dict(env, C9AWS_AWS=aws)

    items, n_corpus, n_examples, dropped = build_items(info, argvmod, args.full)
    if args.grep:
        items = [it for it in items if re.search(args.grep, shlex.join(it["argv"]))]
    if args.limit:
        items = items[: args.limit]
    n_corpus = sum(1 for it in items if it["origin"].startswith("corpus "))
    t1 = time.time()

    def progress(n):
        if n % 500 == 0:
            print("  traced %d/%d lines (%.0f s)" % (n, len(items), time.time() - t1), flush=True)

    if args.reuse_traces:
        # The CLI's answers do not change when c9aws does: take them from an earlier --dump of
        # the same CLI and run only c9aws.
        old = {}
        with open(args.reuse_traces) as f:
            for line in f:
                row = json.loads(line)
                if row.get("awscli") not in (None, info.version):
                    sys.exit("%s was made with awscli %s, not %s" % (
                        args.reuse_traces, row.get("awscli"), info.version))
                old[row["id"]] = row["trace"]
        traces = [old.get(line_id(major, it)) for it in items]
        missing = [it for it, tr in zip(items, traces) if tr is None]
        if missing:
            print("tracing %d lines the dump does not have" % len(missing))
            more = iter(Workers(args.jobs, tmp).run(missing, progress))
            traces = [tr if tr is not None else next(more) for tr in traces]
    else:
        traces = Workers(args.jobs, tmp).run(items, progress)
    t2 = time.time()

    warm = run_c9aws(c9aws, ["sts", "get-caller-identity"], cenv, timeout=120)
    if "_crash" in warm:
        print("c9aws does not answer: %s" % warm["_crash"])
        return 2
    import concurrent.futures
    cwds = c9aws_cwds(tmp)

    def ours_for(it):
        cwd = cwds["focus" if it.get("files") else "none"]
        return run_c9aws(c9aws, it["argv"], dict(cenv, **it["env"]), cwd=cwd)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, args.jobs)) as pool:
        ours = list(pool.map(ours_for, items))
    t3 = time.time()
    return report(args, major, info.version, items, traces, ours, n_corpus, n_examples, dropped,
                  (t0, t1, t2, t3))


def report(args, major, version, items, traces, ours, n_corpus, n_examples, dropped, times):
    t0, t1, t2, t3 = times
    harness = []
    direct = []
    misses = {}
    groups = collections.defaultdict(set)
    sends = agree_sends = agree_all = 0
    for it, tr, o in zip(items, traces, ours):
        lid = line_id(major, it)
        if tr.get("harness_error"):
            harness.append((lid, it, tr))
        if any(r["via"] == "socket" for r in tr.get("requests") or []):
            direct.append((lid, it, tr))
        d = compare(tr, o)
        v = cli_view(tr)
        if v["sends"]:
            sends += 1
            if not any(k in d for k in ("services", "region", "endpoints", "hosts", "kind", "c9aws")):
                agree_sends += 1
        if not d:
            agree_all += 1
            continue
        g = group_of(it, tr, o, d)
        misses[lid] = (it, tr, o, d, g)
        groups[g].add(lid)
    if args.dump:
        with open(args.dump, "w") as f:
            for it, tr, o in zip(items, traces, ours):
                lid = line_id(major, it)
                f.write(json.dumps({"id": lid, "awscli": version, "argv": it["argv"],
                                    "env": it["env"],
                                    "origin": it["origin"], "trace": tr, "c9aws": o,
                                    "diff": misses[lid][3] if lid in misses else None,
                                    "group": misses[lid][4] if lid in misses else None},
                                   default=str) + "\n")
    known = read_known(major)
    known_ids = {i: g for g, ids in known.items() for i in ids}
    new = [(lid, m) for lid, m in misses.items() if known_ids.get(lid) != m[4]]
    shown = 0
    for lid, (it, tr, o, d, g) in sorted(new, key=lambda x: x[1][4]):
        if shown >= args.show:
            break
        shown += 1
        v = cli_view(tr)
        print("MISS v%d %s (%s)  aws %s" % (major, lid, "moved from %r" % known_ids[lid]
                                            if lid in known_ids else "not listed",
                                            shlex.join(it["argv"])))
        if it["env"]:
            print("    env:   %s" % " ".join("%s=%s" % kv for kv in sorted(it["env"].items())))
        print("    from:  %s" % it["origin"])
        print("    group: %s" % g)
        print("    cli:   sends=%s first=%s services=%s region=%r rc=%s %s" % (
            v["sends"], (v["first"] or {}).get("url"), v["services"], v["region"], tr.get("rc"),
            no_send_cause(tr) if not v["sends"] else ""))
        print("    c9aws: kind=%r services=%r region=%r hosts=%r" % (
            o.get("kind"), o.get("services"), o.get("region"), o.get("hosts")))
        print("    diff:  %s" % "; ".join("%s: cli %r, c9aws %r" % (k, a, b)
                                           for k, (a, b) in d.items()))
    if len(new) > shown:
        print("... %d more new misses not shown" % (len(new) - shown))

    total = len(items)
    print()
    print("awscli %s: %d lines (%d of the %d example lines%s, %d dropped for shell constructs; "
          "%d focus/variant lines); trace %.0f s, c9aws %.0f s, total %.0f s"
          % (version, total, n_corpus, n_examples, "" if args.full else ": the default sample",
             dropped, total - n_corpus, t2 - t1, t3 - t2, t3 - t0))
    print("lines where the CLI sends: %d; agree on services, region, endpoints and host: %d "
          "(%.2f %%)" % (sends, agree_sends, 100.0 * agree_sends / max(1, sends)))
    print("all lines agreeing on every field: %d of %d (%.2f %%)"
          % (agree_all, total, 100.0 * agree_all / max(1, total)))
    print("miss groups (%d misses):" % len(misses))
    for g in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        print("  %5d  %s" % (len(groups[g]), g))
    stale = sorted(set(known_ids) - set(misses))
    ok = True
    partial = bool(args.limit or args.grep or not args.full)
    if args.update_known_misses and partial:
        print("--update-known-misses needs --full (and no --limit/--grep): the list covers the "
              "whole corpus")
        ok = False
    elif args.update_known_misses:
        examples = collections.defaultdict(list)
        for lid in sorted(misses):
            it, _, _, _, g = misses[lid]
            env = " ".join("%s=%s" % kv for kv in sorted(it["env"].items()))
            examples[g].append(("%s aws %s" % (env, shlex.join(it["argv"]))).strip()[:150]
                               .replace("\n", " "))
        write_known(major, version, groups, {g: reason_for(g) for g in groups}, examples)
        print("rewrote %s (v%d part)" % (os.path.relpath(KNOWN_MISSES), major))
    else:
        if stale and not partial:
            print("note: %d entries of %s no longer miss (run with --update-known-misses): %s"
                  % (len(stale), os.path.relpath(KNOWN_MISSES), " ".join(stale[:40])))
        if new:
            print("FAIL: %d misses not listed under their group in %s"
                  % (len(new), os.path.relpath(KNOWN_MISSES)))
            ok = False
    if direct:
        print("note: %d lines connect outside botocore (refused, compared as requests):" % len(direct))
        for lid, it, tr in direct[:10]:
            print("  %s aws %s: %s" % (lid, shlex.join(it["argv"])[:100], [
                r["host"] for r in tr["requests"] if r["via"] == "socket"]))
    if harness:
        ok = False
        print("FAIL: %d lines the harness could not trace cleanly:" % len(harness))
        for lid, it, tr in harness[:20]:
            print("  %s aws %s: %s" % (lid, shlex.join(it["argv"]), tr.get("harness_error") or
                                       [r for r in tr["requests"] if r["via"] == "socket"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
