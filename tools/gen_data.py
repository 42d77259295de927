#!/usr/bin/env python3
"""Writes c9aws's endpoint and command data for the AWS CLI this Python runs.

  python3 tools/gen_data.py                    # CLI v1 (awscli + botocore on PATH's python)
  /opt/awscli-v2/bin/python tools/gen_data.py  # CLI v2 (vendored awscli.botocore)

Outputs (under data/):
  endpoints-v{1,2}.txt   client-level endpoint URL (client.meta.endpoint_url) for every botocore
                         service x region of aws / aws-cn / aws-us-gov x variant, S3 bucket hosts
  commands-v{1,2}.tsv    the CLI's top-level command table
  api-operations.tsv         iam / sts / cloud9 CLI operation names -> API operation names (both majors;
                         each run merges its rows into the file)
  op-args-v{1,2}.tsv     each service operation's argparse options (write_op_args; --only op-args)

Every host comes from botocore's own resolution, never from a template of ours: client URLs come
from the same ClientArgsCreator/ClientEndpointBridge a real client uses (taken from a real
create_client call of the CLI's own session), bucket hosts from the S3 endpoint rule set through
botocore's EndpointProvider. A sample of both is checked against real clients at the end
(`--check N` samples; 0 disables).

Format of endpoints-v*.txt (line based; a lookup finds "\n@<service>\n" and reads to the next "@"):
  # comment
  !version awscli X botocore Y
  !default sts_regional_endpoints <legacy|regional|->     (v1 only: the installed default)
  !default s3_us_east_1_regional_endpoint <legacy|regional|->
  !partition <index> <id> <dnsSuffix> <dualStackDnsSuffix> <regionRegex> <region>,<region>,...
                                                          (partition order = botocore's match order)
  @<service>
  <key> <partition|-> <default> [<region>,<region>...=<value> ...]
key = variant: p (plain) f (FIPS) d (dual-stack) fd (both); for v1 sts and s3 a suffix ":L" / ":R" for
sts_regional_endpoints / s3 us_east_1_regional_endpoint = legacy / regional.
"r" + key: the URL a request goes to (the endpoint rule set, operation-free), only where it
differs from the client-level line (absent = same as the client line; default "=" = the
client line's answer for the regions not listed).
"b" + key: S3 virtual-hosted bucket URL ({bucket} placeholder); "P" + key: S3 path-style URL.
<partition> is the index of a !partition line, or "-" = no region given: then <default> is the
whole answer (no macros).
{d} / {D} at the end of a host: that partition's dnsSuffix / dualStackDnsSuffix.
<value>: "{region}" stands for the region; no scheme means https://; "!kind" is an error
(!noregion, !variant, !invalid, !other). <region> "*" = a region matching the partition's regex
but not in its list.
"""
import collections
import json
import os
import random
import re
import sys

import awscli  # CLI v2 registers its vendored awscli.botocore as `botocore`: import it that way
import botocore as bc
from botocore import args as bc_args
from botocore.client import ClientEndpointBridge
from botocore.config import Config
from botocore.endpoint_provider import EndpointProvider
from botocore import exceptions as bc_exc
from botocore.utils import validate_region_name
MAJOR = int(awscli.__version__.split(".")[0])
import awscli
from awscli.clidriver import create_clidriver, ServiceCommand

PARTITIONS = ["aws", "aws-cn", "aws-us-gov"]
# The partition regexes botocore ships, which src/core/endpoints.rs matches without a regex engine:
# ^(a|b)\-\w+\-\d+$, ^prefix\-\w+\-\d+$ or ^prefix\-(a|b)\-\w+\-\d+$.
REGEX_FORM = r"^\^([a-z\\-]*\(([a-z]+\|)*[a-z]+\)|[a-z\\-]+)\\-\\w\+\\-\\d\+\$$"
VARIANTS = [("p", False, False), ("f", True, False), ("d", False, True), ("fd", True, True)]
PROBE = {"aws": "us-zzz-9", "aws-cn": "cn-zzz-9", "aws-us-gov": "us-gov-zzz-9"}
BUCKET = "c9aws-probe-bucket"
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def versions():
    bver = getattr(bc, "__version__", "unknown")
    if MAJOR == 2:
        bver = "vendored-" + bver
    return f"awscli {awscli.__version__} botocore {bver}"


def error_kind(e):
    if isinstance(e, bc_exc.NoRegionError):
        return "!noregion"
    if isinstance(e, bc_exc.EndpointVariantError):
        return "!variant"
    if isinstance(e, bc_exc.InvalidRegionError):
        return "!invalid"
    return "!other"


class Grab(Exception):
    pass


class Resolver:
    """Client-level endpoint URL exactly as ClientCreator.create_client computes it, without
    building a client: the real ClientArgsCreator (grabbed from a real create_client call) and a
    real ClientEndpointBridge over the session's endpoint resolver."""

    def __init__(self, session):
        self.session = session
        orig = bc_args.ClientArgsCreator.get_client_args

        def grab(self_, *a, **k):
            raise Grab(self_)

        bc_args.ClientArgsCreator.get_client_args = grab
        try:
            session.create_client("sts", region_name="us-east-1",
                                  aws_access_key_id="a", aws_secret_access_key="b")
        except Grab as g:
            self.args_creator = g.args[0]
        else:
            raise SystemExit("could not reach botocore's ClientArgsCreator")
        finally:
            bc_args.ClientArgsCreator.get_client_args = orig
        self.endpoint_resolver = session._get_internal_component("endpoint_resolver")
        self.config_store = session.get_component("config_store")
        self.models = {}

    def model(self, service):
        if service not in self.models:
            self.models[service] = self.session.get_service_model(service)
        return self.models[service]

    def client_url(self, service, region, fips, dual, s3_regional=None):
        try:
            validate_region_name(region)
            sm = self.model(service)
            s3 = {"us_east_1_regional_endpoint": s3_regional} if s3_regional else None
            cfg = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dual, s3=s3)
            md = sm.metadata
            if md.get("auth"):
                from_auth = getattr(sys.modules[type(self.args_creator).__module__], "resolve_auth_type", None)
                sigv = from_auth(md["auth"]) if from_auth else md.get("signatureVersion")
            else:
                sigv = md.get("signatureVersion")
            bridge = ClientEndpointBridge(
                self.endpoint_resolver, None, cfg,
                service_signing_name=md.get("signingName"),
                config_store=self.config_store,
                service_signature_version=sigv,
            )
            ec = self.args_creator._compute_endpoint_config(
                service_name=sm.endpoint_prefix, region_name=region, endpoint_url=None,
                is_secure=True, endpoint_bridge=bridge,
                s3_config=self.args_creator.compute_s3_config(cfg),
            )
            return ec["endpoint_url"], ec["region_name"]
        except Exception as e:  # noqa: BLE001 - the kind is the answer
            return error_kind(e), None


class Rules:
    """The URL a request actually goes to: botocore resolves it per request from the service's
    endpoint rule set (client.meta.endpoint_url comes from the older endpoints.json bridge and
    differs for ~10 % of service/region/variant combinations). Operation-free: only the builtins
    botocore gives every request (region, FIPS, dual-stack, global STS/S3 endpoint), no
    operation context parameters, no account id."""

    def __init__(self, session, res):
        self.loader = session.get_component("data_loader")
        self.partitions = self.loader.load_data("partitions")
        self.res = res
        self.providers = {}

    def provider(self, svc):
        if svc not in self.providers:
            try:
                rs = self.loader.load_service_model(svc, "endpoint-rule-set-1")
                self.providers[svc] = (EndpointProvider(rs, self.partitions), rs["parameters"])
            except Exception:  # noqa: BLE001
                self.providers[svc] = None
        return self.providers[svc]

    def url(self, svc, region, fips, dual, sts_mode=None, s3r=None):
        client_url, ereg = self.res.client_url(svc, region, fips, dual, s3r)
        if client_url.startswith("!"):
            return client_url  # the client itself cannot be created
        pv = self.provider(svc)
        if pv is None:
            return client_url  # no rule set: the legacy endpoint is used
        provider, params = pv
        prefix = self.res.model(svc).endpoint_prefix
        # ClientArgsCreator._build_endpoint_resolver: s3, sts and no region use the bridge's region
        reg = ereg if (prefix in ("s3", "sts") or region is None) else region
        builtins = {
            "AWS::Region": reg,
            "AWS::UseFIPS": fips,
            "AWS::UseDualStack": dual,
            "AWS::STS::UseGlobalEndpoint": (MAJOR == 1 and (sts_mode or "regional") == "legacy"
                                            and reg in getattr(bc_args, "LEGACY_GLOBAL_STS_REGIONS", ())),
            "AWS::S3::UseGlobalEndpoint": (MAJOR == 1 and (s3r or "legacy") == "legacy"
                                           and reg in ("us-east-1", None)),
            "AWS::S3::Accelerate": False,
            "AWS::S3::ForcePathStyle": False,
            "AWS::S3::UseArnRegion": True,
            "AWS::S3Control::UseArnRegion": False,
            "AWS::S3::DisableMultiRegionAccessPoints": False,
            "AWS::Auth::AccountIdEndpointMode": "preferred",
        }
        kw = {}
        for name, d in params.items():
            b = d.get("builtIn")
            if b in builtins and builtins[b] is not None:
                kw[name] = builtins[b]
        try:
            return provider.resolve_endpoint(**kw).url
        except Exception:  # noqa: BLE001
            return "!rules"


def s3_ruleset_url(provider, region_for_rules, fips, dual, use_global, bucket, path_style):
    try:
        ep = provider.resolve_endpoint(
            Region=region_for_rules, UseFIPS=fips, UseDualStack=dual, UseGlobalEndpoint=use_global,
            ForcePathStyle=path_style, Accelerate=False, Bucket=bucket,
            UseArnRegion=True, DisableMultiRegionAccessPoints=False,
        )
        return ep.url
    except Exception as e:  # noqa: BLE001
        return error_kind(e)


def short(url):
    return url[len("https://"):] if url.startswith("https://") else url


def templ(value, region):
    if value.startswith("!") or region is None:
        return value
    return value.replace(region, "{region}")


SUFFIX = {}  # partition -> (dnsSuffix, dualStackDnsSuffix), from partitions.json


def macro(value, part):
    """Lossless: the partition's own dnsSuffix / dualStackDnsSuffix at the end of the host
    become {d} / {D} (the reader expands them from the !partition line)."""
    if value.startswith("!"):
        return value
    host, sep, rest = value.partition("/")
    dns, dual = SUFFIX[part]
    if host.endswith("." + dns):
        host = host[: -len(dns)] + "{d}"
    elif host.endswith("." + dual):
        host = host[: -len(dual)] + "{D}"
    return host + sep + rest


def compact_line(key, part, answers):
    """answers: list of (region, value) with value already short(). '*' is the probe region.
    The default is the templated value ({region}) that, expanded, gives the right answer for the
    most listed regions; the other regions are grouped: region,region,...=value."""
    def expand(t, r):
        return t.replace("{region}", PROBE[part] if r == "*" else r)

    values = [(r, macro(v, part)) for r, v in answers]
    templated = [(r, macro(templ(v, PROBE[part] if r == "*" else r), part)) for r, v in answers]
    candidates = collections.Counter(t for r, t in templated if r != "*")
    candidates.update(v for r, v in values if r != "*")
    best = None
    for cand, _ in candidates.most_common():
        hits = sum(1 for r, v in values if r != "*" and expand(cand, r) == v)
        if best is None or hits > best[1]:
            best = (cand, hits)
    default = best[0]
    groups = {}
    for (r, v), (_, t) in zip(values, templated):
        if expand(default, r) != v:
            groups.setdefault(t, []).append(r)
    exc = [f"{','.join(rs)}={t}" for t, rs in groups.items()]
    return " ".join([key, str(PARTITIONS.index(part)), default] + exc)


def main():
    if "--only" in sys.argv:
        # Only the small tables, without the endpoint data (minutes): --only host-prefixes,cli-endpoints
        only = sys.argv[sys.argv.index("--only") + 1].split(",")
        driver = create_clidriver()
        for name in only:
            {"host-prefixes": write_host_prefixes,
             "cli-endpoints": write_cli_endpoints,
             "arn-endpoints": write_arn_endpoints,
             "paramfile-disabled": write_paramfile_disabled,
             "op-args": lambda _s: write_op_args(driver)}[name](driver.session)
        return
    check = 40
    if "--check" in sys.argv:
        check = int(sys.argv[sys.argv.index("--check") + 1])
    driver = create_clidriver()
    session = driver.session
    res = Resolver(session)
    loader = session.get_component("data_loader")
    partitions = loader.load_data("partitions")["partitions"]
    endpoints = loader.load_data("endpoints")["partitions"]
    regions = {}
    regex = {}
    for p in partitions:
        if p["id"] in PARTITIONS:
            regions[p["id"]] = set(p["regions"])
            regex[p["id"]] = p["regionRegex"]
    for p in endpoints:
        if p["partition"] in PARTITIONS:
            regions[p["partition"]] |= set(p["regions"])
            assert regex[p["partition"]] == p["regionRegex"], p["partition"]
    # no listed region may match another partition's regex first (the lookup relies on lists first)
    order = [p["partition"] for p in endpoints if p["partition"] in PARTITIONS]
    for pid in order:
        assert re.match(REGEX_FORM, regex[pid]), regex[pid]
    # The partitions without data (ISO, EUSC): a region of theirs is one c9aws cannot answer for;
    # a region in no partition at all is the aws partition's (botocore's aws.partition default).
    nodata = []
    for p in partitions:
        if p["id"] not in PARTITIONS:
            assert re.match(REGEX_FORM, p["regionRegex"]), p["regionRegex"]
            listed = sorted(r for r in p["regions"] if not re.match(p["regionRegex"], r))
            nodata.append(f"!nodata {p['id']} {p['regionRegex']} {','.join(listed)}".rstrip())

    sts_default = s3_default = "-"
    sts_modes = s3_modes = [None]
    if MAJOR == 1:
        sts_default = session.get_config_variable("sts_regional_endpoints") or "regional"
        s3_default = "legacy"  # ClientArgsCreator._should_force_s3_global's default
        sts_modes = ["legacy", "regional"]
        s3_modes = ["legacy", "regional"]

    services = sorted(session.get_available_services())
    out = [f"# c9aws endpoint data for CLI v{MAJOR}; generated by tools/gen_data.py; do not edit",
           f"!version {versions()}",
           f"!default sts_regional_endpoints {sts_default}",
           f"!default s3_us_east_1_regional_endpoint {s3_default}"]
    assert order == PARTITIONS, order
    for p in partitions:
        if p["id"] in PARTITIONS:
            SUFFIX[p["id"]] = (p["outputs"]["dnsSuffix"], p["outputs"]["dualStackDnsSuffix"])
    for i, pid in enumerate(order):
        out.append(f"!partition {i} {pid} {SUFFIX[pid][0]} {SUFFIX[pid][1]} {regex[pid]} "
                   f"{','.join(sorted(regions[pid]))}")
    out.extend(nodata)

    loader = session.get_component("data_loader")
    s3_rules = loader.load_service_model("s3", "endpoint-rule-set-1")
    s3_provider = EndpointProvider(s3_rules, loader.load_data("partitions"))

    samples = []
    rsamples = []
    rules = Rules(session, res)
    for n, svc in enumerate(services):
        out.append(f"@{svc}")
        modes = [None]
        if svc == "sts" and MAJOR == 1:
            modes = [("sts", m) for m in sts_modes]
        if svc == "s3" and MAJOR == 1:
            modes = [("s3", m) for m in s3_modes]
        for mode in modes:
            for vkey, fips, dual in VARIANTS:
                key = vkey + (f":{mode[1][0].upper()}" if mode else "")
                if mode and mode[0] == "sts":
                    session.set_config_variable("sts_regional_endpoints", mode[1])
                s3r = mode[1] if mode and mode[0] == "s3" else None
                stsm = mode[1] if mode and mode[0] == "sts" else None
                url, _ = res.client_url(svc, None, fips, dual, s3r)
                out.append(f"{key} - {short(url)}")
                samples.append((svc, None, fips, dual, mode, url))
                rurl = rules.url(svc, None, fips, dual, stsm, s3r)
                if rurl != url:
                    out.append(f"r{key} - {short(rurl)}")
                rsamples.append((svc, None, fips, dual, mode, rurl))
                for pid in order:
                    answers, ranswers = [], []
                    for r in sorted(regions[pid]) + ["*"]:
                        rr = PROBE[pid] if r == "*" else r
                        url, _ = res.client_url(svc, rr, fips, dual, s3r)
                        answers.append((r, short(url)))
                        samples.append((svc, rr, fips, dual, mode, url))
                        rurl = rules.url(svc, rr, fips, dual, stsm, s3r)
                        ranswers.append((r, short(rurl)))
                        rsamples.append((svc, rr, fips, dual, mode, rurl))
                    out.append(compact_line(key, pid, answers))
                    if ranswers != answers:
                        full = compact_line("r" + key, pid, ranswers)
                        # or only the regions where the request differs from the client ("=")
                        groups = {}
                        for (r, v), (_, rv) in zip(answers, ranswers):
                            if v != rv:
                                rr = PROBE[pid] if r == "*" else r
                                groups.setdefault(macro(templ(rv, rr), pid), []).append(r)
                        delta = " ".join([f"r{key} {PARTITIONS.index(pid)} ="]
                                         + [f"{','.join(rs)}={t}" for t, rs in groups.items()])
                        out.append(min(full, delta, key=len))
                if svc == "s3":
                    # bucket hosts: the S3 rule set, with the builtins botocore gives it
                    for style, path_style in (("b", False), ("P", True)):
                        def bucket_url(region):
                            # botocore gives the S3 rule set the bridge's region (endpoint_region_name)
                            url0, rfr = res.client_url("s3", region, fips, dual, s3r)
                            if rfr is None:
                                return url0  # the client itself fails
                            glob = MAJOR == 1 and (s3r or s3_default) == "legacy" and rfr == "us-east-1"
                            u = s3_ruleset_url(s3_provider, rfr, fips, dual, glob, BUCKET, path_style)
                            return short(u).replace(BUCKET, "{bucket}")
                        out.append(f"{style}{key} - {bucket_url(None)}")
                        for pid in order:
                            answers = [(r, bucket_url(PROBE[pid] if r == "*" else r))
                                       for r in sorted(regions[pid]) + ["*"]]
                            out.append(compact_line(style + key, pid, answers))
        if svc == "sts" and MAJOR == 1:
            session.set_config_variable("sts_regional_endpoints", None)
        if n % 50 == 0:
            print(f"{n}/{len(services)} {svc}", file=sys.stderr)
    path = os.path.join(DATA, f"endpoints-v{MAJOR}.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(path, os.path.getsize(path), "bytes", file=sys.stderr)

    write_commands(driver, session)
    write_operations(session)
    write_host_prefixes(session)
    write_cli_endpoints(session)
    write_arn_endpoints(session)
    write_paramfile_disabled(session)
    if check:
        verify(session, samples, check)
        verify_rules(session, rsamples, check)


def write_commands(driver, session):
    table = driver._get_command_table()
    rows = []
    custom_service = {"s3": "s3", "ddb": "dynamodb", "sdb": "sdb"}
    for name in sorted(table):
        cmd = table[name]
        if isinstance(cmd, ServiceCommand):
            kind, svc = "service", cmd._service_name
        else:
            kind, svc = "custom", custom_service.get(name, "-")
        sid = "-"
        if svc != "-":
            try:
                sid = session.get_service_model(svc).metadata["serviceId"]
            except Exception:  # noqa: BLE001
                svc = "-"
        rows.append(f"{name}\t{kind}\t{svc}\t{sid}")
    write_tsv(f"commands-v{MAJOR}.tsv", "name<TAB>kind<TAB>botocore service<TAB>serviceId", rows,
              "commands")


def write_operations(session):
    path = os.path.join(DATA, "api-operations.tsv")
    rows = set()
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                rows.add(line.rstrip("\n"))
    for svc in ("iam", "sts", "cloud9"):
        sm = session.get_service_model(svc)
        for op in sm.operation_names:
            rows.add(f"{svc}\t{cli_name(op)}\t{op}")
    with open(path, "w") as f:
        f.write("# service<TAB>cli-operation-name<TAB>ApiOperationName (union of CLI v1 and v2)\n")
        f.write("\n".join(sorted(rows)) + "\n")
    print(path, len(rows), "operations", file=sys.stderr)


def write_host_prefixes(session):
    """host-prefixes-v{1,2}.tsv: operations whose request host gets a prefix before the endpoint's
    host (the model's endpoint.hostPrefix, e.g. omics' "{AccountId}." or "workflows-"), with
    the CLI option that carries each label. s3control's "{AccountId}." is put there by its rule
    set instead (botocore removes the model's prefix then); the host is the same."""
    from botocore import xform_name
    rows = []
    for svc in sorted(session.get_available_services()):
        sm = session.get_service_model(svc)
        for op, name in cli_operations(session, svc):
            om = sm.operation_model(op)
            ep = om.endpoint or {}
            prefix = ep.get("hostPrefix")
            if not prefix:
                continue
            labels = []
            if om.input_shape is not None:
                for member, shape in om.input_shape.members.items():
                    if shape.serialization.get("hostLabel"):
                        labels.append(f"{member}=--{xform_name(member, '-')}")
            rows.append(f"{svc}\t{name}\t{prefix}\t{','.join(labels) or '-'}")
    write_tsv(f"host-prefixes-v{MAJOR}.tsv",
              "service<TAB>cli-operation<TAB>hostPrefix<TAB>Label=--cli-option,...", sorted(rows),
              "host prefixes")


def cli_operations(session, svc):
    """(API operation, the CLI's name for a line that calls it first): each operation under its
    own name, and each waiter as "wait/<waiter>" (`aws svc wait <waiter>` polls its operation)."""
    from botocore import xform_name
    sm = session.get_service_model(svc)
    out = [(op, cli_name(op)) for op in sm.operation_names]
    try:
        config = session.get_waiter_model(svc).waiter_names
        model = session.get_waiter_model(svc)
    except Exception:  # noqa: BLE001 - services without waiters
        return out
    for w in config:
        out.append((model.get_waiter(w).operation, "wait/" + xform_name(w, "-")))
    return out


def write_arn_endpoints(session):
    """arn-endpoints-v{1,2}.tsv: operations whose rule set takes the endpoint's account from an
    ARN argument, with the CLI options that carry it (in the rule set's order) and the operation's
    OperationType where the host has it: DynamoDB's ResourceArn ({account}.ddb.{region}), Kinesis's
    StreamARN, ConsumerARN, ResourceARN ({account}.{control|data}-kinesis.{region})."""
    from botocore import xform_name
    loader = session.get_component("data_loader")
    rows = []
    for svc in sorted(session.get_available_services()):
        try:
            rules = loader.load_service_model(svc, "endpoint-rule-set-1")
        except Exception:  # noqa: BLE001 - no rule set
            continue
        # The top-level branches `isSet(P)` that build a host from an ARN's account, in order.
        arn_params = []
        for rule in rules["rules"]:
            conds = rule.get("conditions") or []
            if (svc in ("dynamodb", "kinesis") and conds and conds[0]["fn"] == "isSet"
                    and "#accountId}" in json.dumps(rule)):
                name = conds[0]["argv"][0].get("ref")
                if name and name not in arn_params:
                    arn_params.append(name)
        if svc == "dynamodb":
            arn_params = ["ResourceArn"]  # its branches test the endpoint mode first
        if not arn_params:
            continue
        sm = session.get_service_model(svc)
        for op, name in cli_operations(session, svc):
            om = sm.operation_model(op)
            members = {cp.name: cp.member_name for cp in om.context_parameters}
            options = [f"--{xform_name(members[p], '-')}" for p in arn_params if p in members]
            if not options:
                continue
            optype = {sp.name: sp.value for sp in om.static_context_parameters}.get("OperationType", "")
            rows.append(f"{svc}\t{name}\t{','.join(options)}\t{optype}".rstrip("\t"))
    write_tsv(f"arn-endpoints-v{MAJOR}.tsv",
              "service<TAB>cli-operation<TAB>--options holding the ARN, first given wins<TAB>"
              "OperationType", sorted(rows), "ARN-endpoint operations")


def write_tsv(name, columns, rows, what):
    """data/<name>: a `# <versions>: <columns>` header, then one row a line; says how many."""
    path = os.path.join(DATA, name)
    with open(path, "w") as f:
        f.write(f"# {versions()}: {columns}\n")
        f.write("\n".join(rows) + ("\n" if rows else ""))
    print(path, len(rows), what, file=sys.stderr)


def write_paramfile_disabled(session):
    """paramfile-disabled-v{1,2}.tsv: the options whose file:// / http(s):// values the CLI passes
    on as they are (awscli/paramfile.py PARAMFILE_DISABLED), as command<TAB>operation<TAB>--option."""
    from awscli import paramfile
    rows = []
    # v2 has no such list: every option's value is read (paramfile.URIArgumentHandler)
    for q in sorted(getattr(paramfile, "PARAMFILE_DISABLED", ())):
        command, op, option = q.split(".")
        rows.append(f"{command}\t{op}\t--{option}")
    write_tsv(f"paramfile-disabled-v{MAJOR}.tsv",
              "command<TAB>operation<TAB>--option whose value is never read as a file", rows,
              "options without paramfile")


def write_cli_endpoints(session):
    """cli-endpoints-v{1,2}.tsv: the endpoint URL the CLI layer itself sets for a command before
    any client exists (v1's customizations/overridesslcommonname: SSL_COMMON_NAMES, as if
    --endpoint-url had been given, and the health region move). v2 has no such layer: the file
    holds only its header."""
    rows = []
    try:
        from awscli.customizations import overridesslcommonname as o
    except ImportError:
        o = None
    if o is not None:
        for command, table in sorted(o.SSL_COMMON_NAMES.items()):
            for region, host in sorted(table.items()):
                moved = "-"
                if command == "health":
                    part = o.REGION_TO_PARTITION_OVERRIDE.get(region) or session.get_partition_for_region(region)
                    moved = "cn-northwest-1" if part == "aws-cn" else "us-east-1"
                rows.append(f"{command}\t{region}\thttps://{host}\t{moved}")
    write_tsv(f"cli-endpoints-v{MAJOR}.tsv",
              "command<TAB>region<TAB>endpoint URL<TAB>region moved to (or -)", rows,
              "CLI endpoint rewrites")


# Options every service operation has, which data/op-args-v*.tsv leaves out: c9aws gives no
# verdict on a line that names any of them (they lift the required options).
IMPLICIT_OPTIONS = {"--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton"}
# Operations whose parser another handler changes from the command line (before-building-
# argument-table-parser): left out. emr's handler lifts "required" for options set in the config
# file, so emr keeps its options but no required mark.
OP_ARGS_SKIPPED = {("ecs", "create-express-gateway-service"), ("ecs", "delete-express-gateway-service"),
                   ("ecs", "update-express-gateway-service")}
OP_ARGS_NO_REQUIRED = {"emr"}


def write_op_args(driver):
    """op-args-v{1,2}.tsv: each service operation's own argparse parser, as the CLI builds it
    (awscli ArgTableArgParser over the operation's argument table, customizations applied), for
    c9aws's check of lines the CLI stops on before sending (core::op_args). A block "@command"
    per command, then one line per operation, sorted: operation<TAB>options. Waiters are under
    operation `wait/<waiter>`. Each option is its name without `--` and a suffix: "!" required,
    "0" takes no value (store_true/false), "~" the pair --x / --no-x (both no value), "*" / "+" /
    "?" its nargs; none: exactly one value. "%" stands for the pagination options
    starting-token page-size max-items. Options of IMPLICIT_OPTIONS are left out. Only
    operations whose class parses its arguments as ServiceOperation does (no subcommands or
    positionals of their own)."""
    from awscli.clidriver import ServiceOperation
    from awscli.argparser import ArgTableArgParser
    table = driver._get_command_table()
    rows = []
    skipped = 0

    def encode(command, op_name, op):
        nonlocal skipped
        if type(op).__call__ is not ServiceOperation.__call__ or (command, op_name) in OP_ARGS_SKIPPED:
            skipped += 1
            return None
        if getattr(op, "subcommand_table", None):
            skipped += 1
            return None
        parser = ArgTableArgParser(op.arg_table)
        opts = []
        seen = set()
        for action in parser._actions:
            if not action.option_strings:
                # a positional of the operation parser itself: not modelled
                skipped += 1
                return None
            for name in action.option_strings:
                assert name.startswith("--") and " " not in name and "=" not in name, name
                if name in IMPLICIT_OPTIONS:
                    continue
                seen.add(name)
                if action.nargs == 0:
                    suffix = "0"
                elif action.nargs is None:
                    suffix = ""
                elif action.nargs in ("*", "+", "?"):
                    suffix = action.nargs
                else:
                    raise SystemExit(f"{command} {op_name} {name}: nargs {action.nargs!r}")
                if action.required and command not in OP_ARGS_NO_REQUIRED:
                    suffix += "!"
                opts.append(name[2:] + suffix)
        # the --x / --no-x pairs of boolean members, and the pagination triple
        out = []
        for o in opts:
            if o.startswith("no-") and o.endswith("0") and out and out[-1] == o[3:]:
                out[-1] = o[3:-1] + "~"
            else:
                out.append(o)
        paging = ["starting-token", "page-size", "max-items"]
        if all(p in out for p in paging):
            out = [o for o in out if o not in paging] + ["%"]
        return op_name + "\t" + " ".join(out)

    for name in sorted(table):
        cmd = table[name]
        if not isinstance(cmd, ServiceCommand):
            continue
        ops = cmd._get_command_table()
        lines = []
        for op_name in sorted(ops):
            op = ops[op_name]
            if isinstance(op, ServiceOperation):
                lines.append(encode(name, op_name, op))
            elif op_name == "wait" and getattr(op, "subcommand_table", None):
                for w in sorted(op.subcommand_table):
                    lines.append(encode(name, f"wait/{w}", op.subcommand_table[w]))
        # sorted by operation, byte-wise: c9aws binary-searches a block's lines
        rows.append("@" + name)
        rows.extend(sorted((ln for ln in lines if ln), key=lambda ln: ln.split("\t")[0].encode()))
    path = os.path.join(DATA, f"op-args-v{MAJOR}.tsv")
    with open(path, "w") as f:
        f.write(f"# {versions()}: @command, then operation<TAB>options (name, then ! required, 0 no "
                "value, ~ --x/--no-x, * + ? nargs; % pagination); --cli-input-json/yaml and "
                "--generate-cli-skeleton left out\n")
        f.write("\n".join(rows) + "\n")
    print(path, sum(1 for r in rows if not r.startswith("@")), "operations,", skipped, "left out",
          file=sys.stderr)


def cli_name(op):
    # the CLI's own name for an operation: xform_name(op, '-')
    from botocore import xform_name
    return xform_name(op, "-")


class Stop(Exception):
    pass


def verify(session, samples, n):
    """Real clients through the CLI's session must give the same client.meta.endpoint_url, and
    a real S3 request for a bucket must go where the bucket lines say."""
    rnd = random.Random(7)
    pick = rnd.sample(samples, min(n, len(samples)))
    pick += [s for s in samples if s[0] in ("s3", "sts", "iam", "sqs") and s[1] in (None, "us-east-1", "cn-north-1")]
    bad = 0
    for svc, region, fips, dual, mode, want in pick:
        if mode and mode[0] == "sts":
            session.set_config_variable("sts_regional_endpoints", mode[1])
        s3 = {"us_east_1_regional_endpoint": mode[1]} if mode and mode[0] == "s3" else None
        try:
            c = session.create_client(svc, region_name=region, aws_access_key_id="a",
                                      aws_secret_access_key="b",
                                      config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dual, s3=s3))
            got = c.meta.endpoint_url
        except Exception as e:  # noqa: BLE001
            got = error_kind(e)
        session.set_config_variable("sts_regional_endpoints", None)
        if got != want:
            bad += 1
            print("MISMATCH", svc, region, fips, dual, mode, "fast:", want, "real:", got, file=sys.stderr)
    print(f"verified {len(pick)} samples against real clients, {bad} mismatches", file=sys.stderr)
    if bad:
        sys.exit(1)


def verify_rules(session, samples, n):
    """The request-level lines against a real client's own rule-set resolver, for an operation
    without static context parameters."""
    rnd = random.Random(11)
    pick = rnd.sample(samples, min(n, len(samples)))
    pick += [s for s in samples if s[0] in ("s3", "sts", "iam", "application-signals", "artifact")
             and s[1] in (None, "us-east-1", "eu-west-1", "cn-north-1")]
    bad = checked = 0
    for svc, region, fips, dual, mode, want in pick:
        if want.startswith("!"):
            continue
        sm = session.get_service_model(svc)
        ops = [o for o in sm.operation_names
               if not sm.operation_model(o).static_context_parameters
               and not sm.operation_model(o).context_parameters]
        if not ops:
            continue
        if mode and mode[0] == "sts":
            session.set_config_variable("sts_regional_endpoints", mode[1])
        s3 = {"us_east_1_regional_endpoint": mode[1]} if mode and mode[0] == "s3" else None
        try:
            c = session.create_client(svc, region_name=region, aws_access_key_id="a",
                                      aws_secret_access_key="b",
                                      config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dual, s3=s3))
            got = c._ruleset_resolver.construct_endpoint(sm.operation_model(ops[0]), {}, {}).url
        except Exception as e:  # noqa: BLE001
            got = "!rules:" + type(e).__name__
        session.set_config_variable("sts_regional_endpoints", None)
        checked += 1
        if got != want:
            bad += 1
            print("RULES MISMATCH", svc, region, fips, dual, mode, "ours:", want, "real:", got, file=sys.stderr)
    print(f"verified {checked} request-level samples against real rule-set resolvers, {bad} mismatches",
          file=sys.stderr)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
