"""c9aws lab plug-in: switched calls keep the plain call's region (issue 18).

run(lab) -> [(ok, text)], called by lab.py after the CLI calls while the front, moto and the fake
IMDS servers are up (LAB_PARTS=regions runs only this part). Needs the `public` and `private`
scenarios. For every CLI major the lab drives:

A fallback profile WITHOUT a region, and a default profile (Cloud9's credentials file) that is
  cred-region    Cloud9's credentials file as Cloud9 writes it, `region = ap-northeast-1` (the
                 instance's region); fallback: static keys, no region
  config-region  no region in the credentials file; `region = eu-west-1` and `output = text` under
                 [default] in ~/.aws/config (a region other than IMDS's, so that CLI v2 falling
                 back to IMDS would show); fallback: `credential_process = c9aws credential-process`
                 (what `c9aws setup --instance-role` writes: no region)
  no-region      no region anywhere: CLI v2 takes IMDS's (ap-northeast-1); CLI v1 has none
plain `aws` runs each call in the public subnet (where AMTC works: the host it reaches there is the
reference) and `c9aws` the same call behind the NAT gateway (where AWS refuses AMTC, so c9aws
switches to the fallback). The front's log gives each request's Host and SigV4 region:
  plain   the plain call reached the host written by hand in PLAIN_HOST (checks the lab and the
          CLI: e.g. CLI v1 without a region fails before any request for regional services)
  host    the switched call reached the same host, signed for the same region, with the fallback's
          key only (no AMTC refusal: decided before the call); no request where plain made none
  exit    same exit status
  output  same stdout: identical bytes for the listings (they do not depend on the caller), the
          same format (json / text) for sts; where plain failed before any request, the same last
          stderr line
"""
import concurrent.futures as cf
import time

from lab import FALLBACK_KEY, REGION, make_home, who_of

CALLS = [
    ("sts", ["sts", "get-caller-identity"], "sts", {"GetCallerIdentity"}),
    ("s3-ls", ["s3", "ls"], "s3", {"ListBuckets"}),
    ("sqs", ["sqs", "list-queues"], "sqs", {"ListQueues"}),
    ("ddb", ["dynamodb", "list-tables"], "dynamodb", {"ListTables"}),
    ("ec2", ["ec2", "describe-vpcs"], "ec2", {"DescribeVpcs"}),
]
OTHER_REGION = "eu-west-1"


class Variant:
    def __init__(self, name, cred_region, config_default, fallback, output):
        self.name = name
        self.cred_region = cred_region        # region line in Cloud9's credentials file, or None
        self.config_default = config_default  # lines under [default] in ~/.aws/config
        self.fallback = fallback              # "static" | "process"
        self.output = output                  # the stdout format the default profile gives

    def region(self, cli):
        """The region plain aws uses (written by hand, as the CLIs document it)."""
        if self.cred_region:
            return self.cred_region
        for line in self.config_default:
            if line.startswith("region = "):
                return line.split(" = ", 1)[1]
        return REGION if cli == "v2" else None  # v2: IMDS's placement; v1: none


VARIANTS = [
    Variant("cred-region", REGION, [], "static", "json"),
    Variant("config-region", None, ["region = %s" % OTHER_REGION, "output = text"], "process", "text"),
    Variant("no-region", None, [], "static", "json"),
]

# CLI v1 without any region (botocore 1.43): a global endpoint for the services that have one,
# NoRegionError ("You must specify a region.") before any request for the others.
V1_NO_REGION = {"sts": "sts.amazonaws.com", "s3-ls": "s3.amazonaws.com", "sqs": None, "ddb": None, "ec2": None}


def plain_host(cli, v, call_id):
    region = v.region(cli)
    if region is None:
        return V1_NO_REGION[call_id]
    if call_id == "sqs" and cli == "v1":
        return "%s.queue.amazonaws.com" % region
    prefix = {"sts": "sts", "s3-ls": "s3", "sqs": "sqs", "ddb": "dynamodb", "ec2": "ec2"}[call_id]
    return "%s.%s.amazonaws.com" % (prefix, region)


def home_for(lab, cli, sc, v, tool, c9aws):
    home = make_home(lab.work, "regions-%s-%s-%s" % (v.name, cli, tool), sc)
    cr = home / ".aws" / "credentials"
    lines = [l for l in cr.read_text().splitlines() if not l.startswith("region = ")]
    if v.cred_region:
        lines.append("region = %s" % v.cred_region)
    cr.write_text("\n".join(lines) + "\n")
    cfg = []
    if v.config_default:
        cfg += ["[default]"] + v.config_default + [""]
    cfg.append("[profile c9-fallback]")
    if v.fallback == "static":
        cfg += ["aws_access_key_id = %s" % FALLBACK_KEY[0], "aws_secret_access_key = %s" % FALLBACK_KEY[1]]
    else:
        cfg += ["credential_process = %s credential-process" % c9aws]
    (home / ".aws" / "config").write_text("\n".join(cfg) + "\n")
    return home


def env_for(lab, cli, sc, home, tag):
    env = {
        "PATH": lab.cli_path[cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home), "USER": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
        "AWS_CA_BUNDLE": str(lab.work / "ca.pem"), "SSL_CERT_FILE": str(lab.work / "ca.pem"),
        "AWS_EXECUTION_ENV": tag, "C9AWS_FALLBACK_PROFILE": "c9-fallback",
        "C9_PID": "1234", "C9_USER": "c9lab-user", "C9_PROJECT": "c9lab-" + sc.name,
    }
    return env


def run_one(lab, cli, sc, home, tag, argv):
    import subprocess
    cmd = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(lab.call_timeout)] + argv
    t = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, env=env_for(lab, cli, sc, home, tag),
                           timeout=lab.call_timeout + 10, cwd=str(home), stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr.decode(errors="replace"), time.time() - t
    except subprocess.TimeoutExpired:
        return 124, b"", "[python-side timeout]", time.time() - t


def out_class(b):
    s = b.strip()
    if not s:
        return "empty"
    return "json" if s[:1] in (b"{", b"[") else "text"


def last_line(err):
    ls = [l.strip() for l in err.strip().splitlines() if l.strip() and not l.startswith("c9aws: ")]
    return ls[-1] if ls else ""


def unit(lab, cli, v, pub, prv):
    """Both tools, every call, one variant: [(call_id, plain result, c9aws result)]."""
    hp = home_for(lab, cli, pub, v, "aws", lab.c9aws)
    hc = home_for(lab, cli, prv, v, "c9aws", lab.c9aws)
    out = []
    for cid, args, svc, actions in CALLS:
        tp = "c9lab-%s-regions-%s-aws-%s" % (cli, v.name, cid)
        tc = "c9lab-%s-regions-%s-c9aws-%s" % (cli, v.name, cid)
        p = run_one(lab, cli, pub, hp, tp, ["aws"] + args)
        c = run_one(lab, cli, prv, hc, tc, [lab.c9aws] + args)
        out.append((cid, svc, actions, tp, p, tc, c))
    return out


def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    scs = {s.name: s for s in lab.scens}
    pub, prv = scs.get("public"), scs.get("private")
    if not pub or not prv:
        return [(True, "skipped: needs the public and private scenarios (LAB_SCENARIOS)")]
    units = [(cli, v) for cli in lab.clis for v in VARIANTS]
    ex = cf.ThreadPoolExecutor(max_workers=lab.jobs)
    try:
        futs = {(cli, v.name): ex.submit(unit, lab, cli, v, pub, prv) for cli, v in units}
        res = {k: f.result() for k, f in futs.items()}
    finally:
        ex.shutdown(wait=False, cancel_futures=True)
    time.sleep(0.2)
    by_tag, _ = lab.parse_log()
    checks = []
    table = ["", "regions: hosts reached (plain aws, public subnet  vs  c9aws switched, NAT subnet; "
             "host/SigV4 region, key)"]
    table.append("%-3s %-14s %-6s %-44s %s" % ("cli", "default region", "call", "plain aws (public)",
                                                 "c9aws (NAT, switched)"))
    for cli, v in units:
        for cid, svc, actions, tp, p, tc, c in res[(cli, v.name)]:
            name = "%s %-13s %-6s" % (cli, v.name, cid)

            def reqs(tag):
                return [l for l in by_tag.get(tag, []) if l.get("svc") == svc and l.get("action") in actions]
            pl, cl = reqs(tp), reqs(tc)
            want_host = plain_host(cli, v, cid)
            p_hosts = sorted({(l.get("host"), l.get("region")) for l in pl})
            c_hosts = sorted({(l.get("host"), l.get("region")) for l in cl})
            fmt = lambda hs: ",".join("%s/%s" % h for h in hs) or "no request"
            p_keys = ",".join("%s:%s" % (who_of(l.get("key")), l.get("verdict")) for l in pl) or "none"
            c_keys = ",".join("%s:%s" % (who_of(l.get("key")), l.get("verdict")) for l in cl) or "none"
            want_who = "fallback" if v.fallback == "static" else "role"
            # plain: the reference itself
            if want_host is None:
                ok = p[0] != 0 and not pl
                want = "no request, non-zero exit (no region)"
            else:
                ok = p[0] == 0 and [h for h, _ in p_hosts] == [want_host] and all(
                    who_of(l.get("key")) == "amtc" and l.get("verdict") == "accepted" for l in pl)
                want = "%s, amtc:accepted, exit 0" % want_host
            checks.append((ok, "%s plain  public subnet: exit %d, %s, keys %s (want %s)%s" % (
                name, p[0], fmt(p_hosts), p_keys, want, "" if ok else "  stderr: " + last_line(p[2])[:200])))
            # host: the switched call reaches what plain reached, with the fallback only
            if pl:
                ok = c_hosts == p_hosts and bool(cl) and all(
                    who_of(l.get("key")) == want_who and l.get("verdict") == "accepted" for l in cl)
                want = "%s, %s:accepted only" % (fmt(p_hosts), want_who)
            else:
                ok = not cl
                want = "no request, as plain"
            checks.append((ok, "%s host   switched %s (want %s), keys %s%s" % (
                name, fmt(c_hosts), want, c_keys, "" if ok else "  stderr: " + last_line(c[2])[:200])))
            checks.append((c[0] == p[0], "%s exit   c9aws %d, plain %d" % (name, c[0], p[0])))
            if pl:
                # The listings do not depend on the caller (moto: one account for every key), so their
                # bytes must be equal; sts names the caller, so only its format can be compared.
                oc, op = out_class(c[1]), out_class(p[1])
                want = "text" if cid == "s3-ls" else v.output  # `s3 ls` has its own format
                same = oc == op if cid == "sts" else c[1] == p[1]
                ok = same and op in (want, "empty")
                checks.append((ok, "%s output c9aws %s, plain %s (want %s%s), %s" % (
                    name, oc, op, want, "" if cid == "s3-ls" else ": the default profile's",
                    ("same format" if oc == op else "DIFFERENT formats") if cid == "sts" else
                    ("identical bytes (%d)" % len(p[1]) if c[1] == p[1] else "DIFFERENT bytes (%d vs %d)" % (
                        len(c[1]), len(p[1]))))))
            else:
                ok = last_line(c[2]) == last_line(p[2]) and c[1] == p[1]
                checks.append((ok, "%s output same stdout (%d bytes) and last stderr line: %r%s" % (
                    name, len(c[1]), last_line(p[2])[:80], "" if ok else " vs c9aws %r" % last_line(c[2])[:120])))
            table.append("%-3s %-14s %-6s %-44s %s" % (
                cli, v.region(cli) or "none", cid, fmt(p_hosts) if pl else "no request (exit %d)" % p[0],
                (fmt(c_hosts) + " " + (cl[-1].get("who") if cl else "")) if cl else "no request (exit %d)" % c[0]))
    print("\n".join(table), flush=True)
    if not checks:
        checks.append((False, "no call ran"))
    return checks
