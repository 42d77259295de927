"""c9aws lab plug-in: an SQS interface endpoint with private DNS, CLI v1 and v2 (issue 14).

run(lab) -> [(ok, text)] (LAB_PARTS=sqsvpce runs only this part; every CLI major of LAB_CLI; needs
the `public` scenario).

An interface VPC endpoint for SQS with private DNS makes `sqs.<region>.amazonaws.com` resolve to an
ENI address in the VPC: a call through it reaches AWS from the instance's private address, and AWS
refuses AMTC. Its private DNS covers only that name, not SQS's legacy `<region>.queue.amazonaws.com`,
which CLI v1 still calls (awscli's customizations/overridesslcommonname.py; v2 calls `sqs.…`).

The network is `public`'s (public subnet, internet gateway, IMDS public-ipv4 203.0.113.11) seen
through another DNS view: a second namespace name, `<prefix>i-sqsvpce`, bound to the same network
namespace, with its own hosts file (`ip netns exec` bind-mounts /etc/netns/<name>/hosts), in which
`sqs.ap-northeast-1.amazonaws.com` is the ENI 10.0.200.30 (added on the AWS side for this part and
reached without NAT, like the STS ENIs) and `ap-northeast-1.queue.amazonaws.com` stays public. No
scenario is added, so the `calls` part is unchanged. Per CLI major, in a fresh Cloud9 home per
tool (nothing cached from the other):

  dns      the view: sqs.… -> the ENI, the legacy host -> the public endpoint (getent, once)
  plain    `aws sqs list-queues` and `aws sqs get-queue-url --queue-name c9lab-queue`: the host
           the CLI really calls (front's log), the source address, key and verdict, exit status.
           Expected (written by hand, not derived from c9aws): v1 -> legacy host from the public
           IP, AMTC accepted, exit 0; v2 -> sqs.… from 10.0.1.10, AMTC refused, exit 254.
           v1 only, also `aws sqs list-queues --endpoint-url https://sqs.…` (`ep`): --endpoint-url
           beats the customization, so v1 meets the ENI too -> refused from 10.0.1.10, exit 255
  c9aws    the same calls through c9aws: v1 -> AMTC kept (same host, public IP, no fallback
           request), same stdout bytes as plain; v2 and v1 `ep` -> the fallback key only, accepted, on sqs.…
           (no AMTC request at all: decided before the call), exit 0, the queue in stdout
  explain  `c9aws explain --json sqs list-queues` (and v1's `ep`): the host it predicts is the host
           the CLI reached, the sqs verdict (v1 `public`, v2 and v1 `ep` `interface-endpoint`) and
           the action (keep AMTC / switch to c9-fallback)
"""
import concurrent.futures as cf
import json
import shutil
import time
import types
from pathlib import Path

from kube import base_env, nsrun, verdicts
from lab import NS_AWS, PFX, REGION, hosts_for, make_home, sh, who_of

ENI_SQS = "10.0.200.30"
STD_HOST = "sqs.%s.amazonaws.com" % REGION
LEGACY_HOST = "%s.queue.amazonaws.com" % REGION
QUEUE = "c9lab-queue"
ALIAS = PFX + "i-sqsvpce"

# What the CLI calls and what AWS makes of it, by hand (see the docstring).
HOST = {"v1": LEGACY_HOST, "v2": STD_HOST}
PLAIN_OK = {"v1": True, "v2": False}
OPS = [("list", ["sqs", "list-queues"], "ListQueues"),
       ("url", ["sqs", "get-queue-url", "--queue-name", QUEUE], "GetQueueUrl"),
       # v1 told the standard host: --endpoint-url beats overridesslcommonname, so v1 meets the ENI too
       ("ep", ["sqs", "list-queues", "--endpoint-url", "https://" + STD_HOST], "ListQueues")]


def ops_for(cli):
    return [o for o in OPS if o[0] != "ep" or cli == "v1"]


def expect(cli, op):
    """(host the CLI calls, AMTC accepted there)"""
    if op == "ep":
        return STD_HOST, False
    return HOST[cli], PLAIN_OK[cli]


def setup(pub):
    """The DNS view and the ENI; undone by teardown()."""
    sh("ip", "-n", NS_AWS, "addr", "replace", ENI_SQS + "/32", "dev", "lo")
    teardown(keep_eni=True)
    run_netns = Path("/run/netns")
    (run_netns / ALIAS).touch()
    sh("mount", "--bind", str(run_netns / pub.ns), str(run_netns / ALIAS))
    d = Path("/etc/netns") / ALIAS
    d.mkdir(parents=True, exist_ok=True)
    hosts = hosts_for(pub).splitlines()
    hosts = [l for l in hosts if not l.endswith("\t" + STD_HOST)] + ["%s\t%s" % (ENI_SQS, STD_HOST)]
    (d / "hosts").write_text("\n".join(hosts) + "\n")
    shutil.copy(Path("/etc/netns") / pub.ns / "resolv.conf", d / "resolv.conf")


def teardown(keep_eni=False):
    p = Path("/run/netns") / ALIAS
    if p.exists():
        # Only the name goes: the network namespace is public's and stays.
        sh("umount", str(p), check=False)
        p.unlink(missing_ok=True)
    shutil.rmtree(Path("/etc/netns") / ALIAS, ignore_errors=True)
    if not keep_eni:
        sh("ip", "-n", NS_AWS, "addr", "del", ENI_SQS + "/32", "dev", "lo", check=False)


def summ(lines):
    return ",".join("%s@%s:%s:%s(%s)" % (l.get("host"), l.get("src"), who_of(l.get("key")), l.get("verdict"),
                                         l.get("status")) for l in lines) or "no request"


def last_err(err):
    ls = [l.strip() for l in err.strip().splitlines() if l.strip()]
    return ls[-1][:160] if ls else ""


def unit(lab, cli, view):
    """Every call of one CLI major: ({(tool, op): (rc, out, err, secs, tag, action)}, {op: explain's})."""
    res = {}
    homes = {t: make_home(lab.work, "sqsvpce-%s-%s" % (cli, t), view.base) for t in ("aws", "c9aws")}
    for op, args, action in ops_for(cli):
        for tool in ("aws", "c9aws"):
            tag = "c9lab-sqsvpce-%s-%s-%s" % (cli, tool, op)
            env = base_env(lab, cli, view.base, homes[tool], tag)
            env["C9AWS_FALLBACK_PROFILE"] = "c9-fallback"
            prog = [lab.c9aws] if tool == "c9aws" else ["aws"]
            rc, out, err, secs = nsrun(lab, view, prog + args, env, homes[tool], timeout=lab.call_timeout)
            res[(tool, op)] = (rc, out, err, secs, tag, action)
    env = base_env(lab, cli, view.base, homes["c9aws"], "c9lab-sqsvpce-%s-explain" % cli)
    env["C9AWS_FALLBACK_PROFILE"] = "c9-fallback"
    ex = {}
    for op, args, _ in ops_for(cli):
        if op != "url":
            ex[op] = nsrun(lab, view, [lab.c9aws, "explain", "--json"] + args, env, homes["c9aws"],
                           timeout=lab.call_timeout)
    return res, ex


def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    pub = {s.name: s for s in lab.scens}.get("public")
    if pub is None:
        return [(True, "skipped: needs the public scenario (LAB_SCENARIOS)")]
    checks = []
    view = types.SimpleNamespace(ns=ALIAS, base=pub)  # what nsrun needs: the name
    try:
        setup(pub)
        r = sh("ip", "netns", "exec", ALIAS, "getent", "ahostsv4", STD_HOST, check=False)
        got_std = (r.stdout.split() or ["none"])[0]
        r = sh("ip", "netns", "exec", ALIAS, "getent", "ahostsv4", LEGACY_HOST, check=False)
        got_leg = (r.stdout.split() or ["none"])[0]
        ok = got_std == ENI_SQS and got_leg not in ("none", ENI_SQS) and not got_leg.startswith("10.")
        checks.append((ok, "dns    private DNS view: %s -> %s (want the ENI %s), %s -> %s (want public)" % (
            STD_HOST, got_std, ENI_SQS, LEGACY_HOST, got_leg)))
        ex = cf.ThreadPoolExecutor(max_workers=max(1, min(lab.jobs, len(lab.clis))))
        try:
            futs = {cli: ex.submit(unit, lab, cli, view) for cli in lab.clis}
            got = {cli: f.result() for cli, f in futs.items()}
        finally:
            ex.shutdown(wait=False, cancel_futures=True)
    finally:
        teardown()
    time.sleep(0.2)
    by_tag, _ = lab.parse_log()
    table = ["", "sqsvpce: SQS interface endpoint with private DNS (public subnet, IP %s; ENI %s)" % (
        pub.public_ip, ENI_SQS),
        "%-3s %-5s %-5s %-4s %-6s %s" % ("cli", "tool", "op", "exit", "secs", "front: host@source:key:verdict(status)")]
    for cli in lab.clis:
        res, exp = got[cli]
        plain_out = {}
        for op, args, action in ops_for(cli):
            want_host, amtc_ok = expect(cli, op)
            want_src = pub.public_ip if amtc_ok else pub.local_ip
            for tool in ("aws", "c9aws"):
                rc, out, err, secs, tag, _ = res[(tool, op)]
                lines = [l for l in by_tag.get(tag, []) if l.get("svc") == "sqs" and l.get("action") == action]
                name = "%s %-5s %-4s" % (cli, tool, op)
                table.append("%-3s %-5s %-5s %-4d %-6.1f %s" % (cli, tool, op, rc, secs, summ(lines)))
                hosts_ok = bool(lines) and all(l.get("host") == want_host and l.get("src") == want_src for l in lines)
                if tool == "aws":
                    plain_out[op] = out
                    if amtc_ok:
                        ok = rc == 0 and hosts_ok and all(
                            who_of(l.get("key")) == "amtc" and l.get("verdict") == "accepted" for l in lines)
                        want = "exit 0, %s@%s:amtc:accepted" % (want_host, want_src)
                    else:
                        ok = rc != 0 and hosts_ok and all(who_of(l.get("key")) == "amtc" for l in lines) and any(
                            l.get("verdict") == "refused" for l in lines)
                        want = "non-zero, %s@%s:amtc:refused" % (want_host, want_src)
                else:
                    want_who = "amtc" if amtc_ok else "fallback"
                    ok = rc == 0 and hosts_ok and all(
                        who_of(l.get("key")) == want_who and l.get("verdict") == "accepted" for l in lines)
                    want = "exit 0, %s@%s:%s:accepted only (%s)" % (
                        want_host, want_src, want_who,
                        "AMTC kept: the legacy host is public" if amtc_ok else
                        "switched before the call: sqs.… is the endpoint's ENI")
                    if ok and amtc_ok:
                        same = out == plain_out.get(op)
                        ok = same
                        want += ", stdout identical to plain's"
                    elif ok:
                        ok = QUEUE in out
                        want += ", %s in stdout" % QUEUE
                said = ""
                if tool == "aws" and not amtc_ok:
                    said = "; said %r" % last_err(err)[:110]
                checks.append((ok, "%s exit %d, front %s (want %s)%s%s" % (
                    name, rc, summ(lines), want, said, "" if ok or said else "  stderr: " + last_err(err))))
        # explain: the hosts and verdict c9aws predicts, against what the CLI did
        for op, args, _ in ops_for(cli):
            if op not in exp:
                continue
            want_host, amtc_ok = expect(cli, op)
            want_verdict = "public" if amtc_ok else "interface-endpoint"
            rc, out, err, secs = exp[op]
            try:
                doc = json.loads(out) if rc == 0 else {}
            except ValueError:
                doc = {}
            hosts = doc.get("service_hosts", {}).get("sqs") or doc.get("hosts") or []
            route = (doc.get("routes") or {}).get("sqs") or {}
            vs = verdicts(route) if route else verdicts(doc)
            decision = doc.get("decision")
            dtext = json.dumps(decision, sort_keys=True) if decision is not None else "?"
            switched = "c9-fallback" in " ".join(doc.get("exec") or [])
            ok = hosts == [want_host] and vs == [want_verdict] and switched == (not amtc_ok)
            checks.append((ok, "%s explain --json %s: hosts %s, sqs verdict %s, %s (want [%s], %s, %s)%s" % (
                cli, " ".join(args[:2] + (["--endpoint-url", "…"] if op == "ep" else [])), hosts, vs,
                "switch (--profile c9-fallback)" if switched else "AMTC kept", want_host, want_verdict,
                "AMTC kept" if amtc_ok else "switch",
                "" if ok else "  decision %s stderr %s" % (dtext[:200], last_err(err)))))
            table.append("%-3s explain %-4s: hosts %s, verdict %s -> %s; evidence: %s" % (
                cli, op, ",".join(hosts), ",".join(vs), "switch" if switched else "keep AMTC",
                "; ".join(route.get("evidence") or [])[:300]))
    print("\n".join(table), flush=True)
    return checks
