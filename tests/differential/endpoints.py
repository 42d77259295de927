#!/usr/bin/env python3
"""Differential test: c9aws's endpoint table against real botocore clients.

Run with the Python of the CLI to compare against:
  C9AWS_BIN=target/release/c9aws python3 tests/differential/endpoints.py
  C9AWS_BIN=target/release/c9aws /opt/awscli-v2/bin/python tests/differential/endpoints.py

For every command of that CLI's command table that maps to a botocore service, a spread of
regions over aws / aws-cn / aws-us-gov (and no region), and the four variants (plain, FIPS,
dual-stack, both), it creates the real client through the CLI's own session
(awscli.clidriver.create_clidriver().session, so CLI customizations apply) and compares
client.meta.endpoint_url, or the error, with `$C9AWS_BIN __endpoints` (batch mode: one query a
line on stdin, `major service region fips dualstack [sts_regional [s3_regional]]`, one answer a line:
the URL or `error:<kind>`). For CLI v1 it also covers sts_regional_endpoints and
s3 us_east_1_regional_endpoint = legacy / regional.

The request level (`request`: the host a request goes to, from the client's own rule-set resolver
for an operation without context parameters) is compared too.
S3 bucket requests (virtual-hosted, dotted and upper-case names, path style) are compared with the
URL a real ListObjectsV2 request goes to (caught before sending).

Prints `N passed, M failed`, lists each miss, exits 1 on any miss.
Options: --jobs N (processes, default: CPU count), --regions a,b,c, --max-misses N (listing).
"""
import argparse
import multiprocessing
import os
import subprocess
import sys
import time

REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1", "cn-north-1", "cn-northwest-1",
           "us-gov-west-1", None]
VARIANTS = [(False, False), (True, False), (False, True), (True, True)]


def cli_major():
    import awscli
    return int(awscli.__version__.split(".")[0])


def real_error_kind(e):
    import botocore.exceptions as x
    if isinstance(e, x.NoRegionError):
        return "error:noregion"
    return "error:unsupported"


_session = None


def _worker_init():
    global _session
    from awscli.clidriver import create_clidriver
    _session = create_clidriver().session


def _plain_operation(service):
    """An operation without endpoint context parameters: the rule set then gives the host every
    such request goes to (None when the service has none)."""
    sm = _session.get_service_model(service)
    for o in sm.operation_names:
        om = sm.operation_model(o)
        if not om.static_context_parameters and not om.context_parameters:
            return om
    return None


def real_answers(task):
    """task: (service, [(region, fips, dual, sts, s3), ...]) -> list of (client answer, request
    answer or None), same order. client.meta.endpoint_url and the client's own rule-set resolver.
    One service per task, so the service model is loaded once per worker and reused."""
    from botocore.config import Config
    service, queries = task
    op = _plain_operation(service)
    out = []
    for region, fips, dual, sts, s3 in queries:
        _session.set_config_variable("sts_regional_endpoints",
                                     None if sts is None else ("regional" if sts else "legacy"))
        s3cfg = None if s3 is None else {"us_east_1_regional_endpoint": "regional" if s3 else "legacy"}
        try:
            c = _session.create_client(
                service, region_name=region, aws_access_key_id="x", aws_secret_access_key="y",
                config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dual, s3=s3cfg))
        except Exception as e:  # noqa: BLE001 - the error is the answer
            out.append((real_error_kind(e), real_error_kind(e)))
            continue
        req = None
        if op is not None and c._ruleset_resolver is not None:
            try:
                req = c._ruleset_resolver.construct_endpoint(op, {}, {}).url.rstrip("/")
            except Exception:  # noqa: BLE001
                req = "error:unsupported"
        out.append((c.meta.endpoint_url, req))
    _session.set_config_variable("sts_regional_endpoints", None)
    return out


BUCKETS = ["c9aws-diff-bucket", "c9aws.dotted.bucket", "C9aws-Upper"]


class _Sent(Exception):
    pass


def _capture(request, **kwargs):
    raise _Sent(request.url)


def real_bucket_answers(task):
    """task: ("s3-buckets", [(region, fips, dual, s3_regional, bucket, path), ...]): the URL a real
    ListObjectsV2 request goes to (query and trailing slash dropped), caught before sending."""
    from botocore.config import Config
    _, queries = task
    out = []
    for region, fips, dual, s3r, bucket, path in queries:
        s3cfg = {}
        if s3r is not None:
            s3cfg["us_east_1_regional_endpoint"] = "regional" if s3r else "legacy"
        if path:
            s3cfg["addressing_style"] = "path"
        try:
            c = _session.create_client(
                "s3", region_name=region, aws_access_key_id="x", aws_secret_access_key="y",
                config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dual, s3=s3cfg or None))
            c.meta.events.register("before-send", _capture)
            c.list_objects_v2(Bucket=bucket)
            out.append("error:sent")
        except _Sent as e:
            out.append(str(e).split("?")[0].rstrip("/"))
        except Exception as e:  # noqa: BLE001
            out.append(real_error_kind(e))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--regions", default=None)
    ap.add_argument("--max-misses", type=int, default=40)
    ap.add_argument("--services", default=None, help="comma list (default: all of the table)")
    a = ap.parse_args()
    binary = os.environ.get("C9AWS_BIN")
    if not binary:
        sys.exit("set C9AWS_BIN to the c9aws binary (it must answer `__endpoints` queries)")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        sys.exit(f"C9AWS_BIN={binary} is not an executable file")
    major = cli_major()
    regions = REGIONS if not a.regions else [None if r == "-" else r for r in a.regions.split(",")]

    from awscli.clidriver import create_clidriver, ServiceCommand
    table = create_clidriver()._get_command_table()
    services = sorted({c._service_name for c in table.values() if isinstance(c, ServiceCommand)})
    if a.services:
        services = [s for s in services if s in a.services.split(",")]

    tasks = []
    for svc in services:
        modes = [(None, None)]
        if major == 1 and svc == "sts":
            modes += [(False, None), (True, None)]
        if major == 1 and svc == "s3":
            modes += [(None, False), (None, True)]
        qs = [(r, f, d, sts, s3) for r in regions for f, d in VARIANTS for sts, s3 in modes]
        tasks.append((svc, qs))

    bucket_qs = []
    if "s3" in services:
        s3modes = [None, False, True] if major == 1 else [None]
        bucket_qs = [(r, f, d, m, b, p) for r in regions for f, d in VARIANTS for m in s3modes
                     for b in BUCKETS for p in (False, True)]

    t0 = time.time()
    with multiprocessing.Pool(a.jobs, initializer=_worker_init) as pool:
        bucket_real = pool.apply_async(real_bucket_answers, (("s3-buckets", bucket_qs),))
        real = pool.map(real_answers, tasks, chunksize=4)
        real.append([(u, None) for u in bucket_real.get()])

    def flag(b):
        return "-" if b is None else ("1" if b else "0")

    lines, expected = [], []
    for (svc, qs), answers in zip(tasks, real):
        for (r, f, d, sts, s3), (client, request) in zip(qs, answers):
            q = f"{major} {svc} {r or '-'} {int(f)} {int(d)} {flag(sts)} {flag(s3)}"
            lines.append(q)
            expected.append(client)
            if request is not None:
                lines.append(q + " request")
                expected.append(request)
    for (r, f, d, m, b, p), (want, _) in zip(bucket_qs, real[-1]):
        lines.append(f"{major} s3 {r or '-'} {int(f)} {int(d)} - {flag(m)} bucket={b}"
                     + (" path" if p else ""))
        expected.append(want)
    proc = subprocess.run([binary, "__endpoints"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, check=False)
    ours = proc.stdout.splitlines()
    if proc.returncode != 0 or len(ours) != len(lines):
        print(f"{binary} __endpoints failed (exit {proc.returncode}, {len(ours)} answers for "
              f"{len(lines)} queries): {proc.stderr.strip()[:500]}")
        sys.exit(1)

    misses = [(q, want, got) for q, want, got in zip(lines, expected, ours) if want != got]
    passed = len(lines) - len(misses)
    for q, want, got in misses[: a.max_misses]:
        print(f"MISS {q}: botocore {want} c9aws {got}")
    if len(misses) > a.max_misses:
        print(f"... {len(misses) - a.max_misses} more misses")
    print(f"CLI v{major}: {len(services)} services x {len(regions)} regions x {len(VARIANTS)} variants "
          f"in {time.time() - t0:.0f} s")
    print(f"{passed} passed, {len(misses)} failed")
    sys.exit(1 if misses else 0)


if __name__ == "__main__":
    main()
