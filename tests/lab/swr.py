"""c9aws lab plug-in: stale-while-revalidate (issue 16) on the real CLI, in `public` and `s3gw`.

run(lab) -> [(ok, text)] (LAB_PARTS=swr runs only this part). For each CLI major, a Cloud9 home whose
facts cache is primed by one `c9aws s3 ls`, then aged past every TTL but within stale_limit (every
`at` in facts.json moved 700 s back), with `aws` reaching c9aws through a PATH shim (a symlink named
`aws`, as `c9aws setup --path-shim` makes) and C9AWS_AWS a wrapper of the real CLI that slows, hangs
or fails the route-table read (`ec2 describe-route-tables` / `describe-vpc-endpoints`) when SWR_SLOW,
SWR_HANG or SWR_FAIL is set; the detached refresher inherits the call's environment, so it is the
refresher that is slowed. Checks (the front's log says which key signed each call's S3 request):
  pipe/subst:  `aws s3 ls | head -1` and `x=$(aws s3 ls)` with the refresher slowed by 20 s return
               in the warm budget, with the right key, before the refresher has written anything;
  change:      (public) an S3 gateway endpoint added to the subnet's route table in the front's EC2
               state: the next (stale) call still decides on the old facts, the call after the refresh
               switches S3 to the fallback; the endpoint removed: back to AMTC the same way;
  killed:      a refresher SIGKILLed during its read leaves facts.json valid and unchanged; the next
               call runs with the right key;
  faults:      refresher hangs, refresher fails, cache directory read-only (a read-only bind mount)
               during the refresh: each call still runs, with the right key, within the warm budget.
Warm budget: the median of three warm calls of the same home plus 1.5 s (the CLI's own start is
~1 s of CPU; the lab's machine is shared); the documented cold budget is not needed by any case here.
"""
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from lab import FALLBACK_KEY, REGION, make_home, who_of

WRAPPER = r'''#!/bin/sh
case "$*" in *" ec2 describe-route-tables"*|*" ec2 describe-vpc-endpoints"*)
  [ -n "$SWR_SLOW" ] && sleep "$SWR_SLOW"
  [ -n "$SWR_HANG" ] && sleep 1000
  if [ -n "$SWR_FAIL" ]; then
    echo "An error occurred (UnauthorizedOperation) when calling the operation: lab refresher fault" >&2
    exit 254
  fi;;
esac
exec %s "$@"
'''
AGE = 700


class Home:
    def __init__(self, lab, cli, sc):
        self.lab, self.cli, self.sc = lab, cli, sc
        self.home = make_home(lab.work, "swr-" + cli, sc)
        self.cache = self.home / ".cache" / "c9aws"
        self.facts = self.cache / "facts.json"
        d = lab.work / ("swr-%s-%s" % (cli, sc.name))
        (d / "shim").mkdir(parents=True)
        os.symlink(lab.c9aws, d / "shim" / "aws")
        real = str(Path(lab.cli_path[cli]) / "aws")
        w = d / "aws-wrapper"
        w.write_text(WRAPPER % real)
        w.chmod(0o755)
        self.shim, self.wrapper = str(d / "shim"), str(w)
        self.n = 0

    def env(self, tag, extra=None):
        e = {"PATH": self.shim + ":" + self.lab.cli_path[self.cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOME": str(self.home), "USER": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
             "AWS_CA_BUNDLE": str(self.lab.work / "ca.pem"), "SSL_CERT_FILE": str(self.lab.work / "ca.pem"),
             "AWS_EXECUTION_ENV": tag, "C9AWS_FALLBACK_PROFILE": "c9-fallback", "C9AWS_AWS": self.wrapper,
             # the wrapper slows the CLI's route-table read: keep that read on the CLI
             "C9AWS_ROUTE_TABLES_READ": "cli",
             "C9_PID": "1234", "C9_USER": "c9lab-user", "C9_PROJECT": "c9lab-" + self.sc.name}
        e.update(extra or {})
        return e

    def sh(self, line, extra=None, timeout=60):
        """`sh -c LINE` in the instance namespace: (rc, stdout, secs, tag)."""
        self.n += 1
        tag = "c9lab-swr-%s-%s-%d" % (self.cli, self.sc.name, self.n)
        t = time.time()
        try:
            r = subprocess.run(["ip", "netns", "exec", self.sc.ns, "sh", "-c", line], capture_output=True,
                               env=self.env(tag, extra), timeout=timeout, cwd=str(self.home), stdin=subprocess.DEVNULL)
            rc, out = r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, out = 124, "[timeout]"
        return rc, out, time.time() - t, tag

    def keys(self, tag, svc="s3"):
        time.sleep(0.2)
        by_tag, _ = self.lab.parse_log()
        return ["%s:%s" % (who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(tag, []) if l.get("svc") == svc]

    def routing_at(self):
        try:
            doc = json.loads(self.facts.read_text())
        except (OSError, ValueError):
            return None
        return max((v.get("at", 0) for v in doc.get("routing", {}).values()), default=None)

    def valid(self):
        try:
            json.loads(self.facts.read_text())
            return True
        except (OSError, ValueError):
            return False

    def age(self, secs=AGE):
        """Every fact `secs` old (from now, not from its own time: aging twice must not pass the hard limit)."""
        at = int(time.time()) - secs

        def walk(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "at" and isinstance(x, int):
                        v[k] = at
                    else:
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        doc = json.loads(self.facts.read_text())
        walk(doc)
        tmp = self.facts.with_suffix(".swr-tmp")
        tmp.write_text(json.dumps(doc))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.facts)
        st = self.cache / "facts.json.refresh"
        if st.exists():
            st.unlink()  # a failed refresh is not retried for 60 s; each case starts clean

    def refreshers(self):
        """Pids of this home's detached refreshers (started by this plug-in's calls)."""
        out = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
                env = (p / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"__refresh" in cmd and ("HOME=%s" % self.home).encode() in env:
                out.append(int(p.name))
        return out

    def wait(self, what, cond, limit=40):
        until = time.time() + limit
        while time.time() < until:
            if cond():
                return True
            time.sleep(0.2)
        return False

    def kill_refreshers(self):
        for pid in self.refreshers():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self.wait("refreshers gone", lambda: not self.refreshers(), 10)


def fallback_ec2(lab, sc, home, args):
    env = home.env("c9lab-swr-admin", {"PATH": home.lab.cli_path[home.cli] + ":/usr/bin:/bin"})
    r = subprocess.run(["ip", "netns", "exec", sc.ns, str(Path(lab.cli_path[home.cli]) / "aws"),
                        "--profile", "c9-fallback", "--region", REGION, "--output", "json", "ec2"] + args,
                       capture_output=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def run(lab):
    checks = []
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    for cli in lab.clis:
        for sc in lab.scens:
            if sc.name not in ("public", "s3gw"):
                continue
            checks += scenario(lab, cli, sc)
    return checks


def scenario(lab, cli, sc):
    checks = []
    h = Home(lab, cli, sc)
    want = "fallback" if sc.name == "s3gw" else "amtc"
    name = "%s %-6s" % (cli, sc.name)

    def add(ok, text):
        checks.append((ok, "%s %s" % (name, text)))

    def call_ok(case, line, want_key, extra=None, budget=None, before=None):
        rc, out, secs, tag = h.sh(line, extra)
        keys = h.keys(tag)
        ok = rc == 0 and keys and all(k == want_key + ":accepted" for k in keys)
        if budget is not None:
            ok = ok and secs <= budget
        if before is not None:
            ok = ok and h.routing_at() == before
        add(ok, "%-10s %s: exit %d in %.2fs%s, keys %s (want %s:accepted)%s%s" % (
            case, line, rc, secs, "" if budget is None else " (budget %.2fs)" % budget, ",".join(keys) or "none",
            want_key, "" if before is None else ", cache untouched at return" if h.routing_at() == before
            else ", cache already refreshed at return", "" if ok else "  " + out.strip()[-300:]))
        return ok

    # Prime (cold: route table read in the foreground) and three warm calls for the budget.
    rc, out, secs, tag = h.sh("aws s3 ls")
    add(rc == 0 and h.routing_at() is not None, "prime      aws s3 ls (cold): exit %d in %.2fs, routing cached %s%s" % (
        rc, secs, h.routing_at() is not None, "" if rc == 0 else "  " + out.strip()[-300:]))
    if rc != 0 or h.routing_at() is None:
        return checks
    warm = []
    for _ in range(3):
        warm.append(h.sh("aws s3 ls")[2])
    budget = statistics.median(warm) + 1.5

    # Pipelines with stale facts and a slowed refresher.
    for case, line in (("pipe", "aws s3 ls | head -1"), ("subst", 'x=$(aws s3 ls); printf "%s\\n" "$x"')):
        h.age()
        before = h.routing_at()
        call_ok(case, line, want, {"SWR_SLOW": "20"}, budget, before)
        h.kill_refreshers()

    # A route table changed between two refreshes (public: an S3 gateway endpoint added, then removed).
    if sc.name == "public":
        rtb = lab.topology.get(sc.name, {}).get("route_table_id")
        vpc = lab.topology.get(sc.name, {}).get("vpc_id")
        rc, out, err = fallback_ec2(lab, sc, h, ["create-vpc-endpoint", "--vpc-id", str(vpc), "--service-name",
                                                 "com.amazonaws.%s.s3" % REGION, "--vpc-endpoint-type", "Gateway",
                                                 "--route-table-ids", str(rtb)])
        vpce = None
        try:
            vpce = json.loads(out)["VpcEndpoint"]["VpcEndpointId"]
        except (ValueError, KeyError):
            pass
        add(rc == 0 and vpce, "change     S3 gateway endpoint added to %s: %s%s" % (rtb, vpce, "" if rc == 0 else " " + err[-200:]))
        if vpce:
            for phase, after in (("added", "fallback"), ("removed", "amtc")):
                if phase == "removed":
                    rc, out, err = fallback_ec2(lab, sc, h, ["delete-vpc-endpoints", "--vpc-endpoint-ids", vpce])
                    add(rc == 0, "change     S3 gateway endpoint %s deleted: exit %d %s" % (vpce, rc, err[-200:]))
                h.age()
                before = h.routing_at()
                prev = "amtc" if phase == "added" else "fallback"
                call_ok("change", "aws s3 ls", prev)  # stale: the old facts decide; refresher started
                h.wait("refresh", lambda: (h.routing_at() or 0) > (before or 0) and not h.refreshers())
                call_ok("change", "aws s3 ls", after)  # after the refresh: the new route table

    # A refresher SIGKILLed midway.
    h.age()
    before = h.routing_at()
    call_ok("killed", "aws s3 ls", want, {"SWR_SLOW": "30"}, budget)
    got = h.wait("refresher", lambda: bool(h.refreshers()), 10)
    pids = h.refreshers()
    time.sleep(0.5)
    for pid in pids:
        os.kill(pid, 9)
    h.wait("gone", lambda: not h.refreshers(), 10)
    add(got and pids and h.valid() and h.routing_at() == before,
        "killed     refresher %s SIGKILLed during its read: facts.json valid %s, routing unchanged %s" % (
            pids, h.valid(), h.routing_at() == before))
    call_ok("killed", "aws s3 ls", want, None, budget)
    h.wait("refresh", lambda: not h.refreshers(), 30)

    # Faults during the refresh.
    h.age()
    call_ok("hang", "aws s3 ls", want, {"SWR_HANG": "1"}, budget)
    h.wait("refresher", lambda: bool(h.refreshers()), 5)
    call_ok("hang", "aws s3 ls", want, None, budget)  # while the refresher hangs
    h.kill_refreshers()

    h.age()
    call_ok("fail", "aws s3 ls", want, {"SWR_FAIL": "1"}, budget)
    st = h.cache / "facts.json.refresh"
    h.wait("failure recorded", st.exists, 30)
    add(st.exists() and h.valid(), "fail       refresh outcome recorded for doctor (%s), facts.json valid %s" % (
        st.exists(), h.valid()))
    call_ok("fail", "aws s3 ls", want, None, budget)  # stale facts keep serving
    h.wait("refresh", lambda: not h.refreshers(), 30)

    h.age()
    before = h.routing_at()
    mounted = subprocess.run(["mount", "--bind", str(h.cache), str(h.cache)]).returncode == 0 and \
        subprocess.run(["mount", "-o", "remount,bind,ro", str(h.cache)]).returncode == 0
    try:
        add(mounted, "readonly   %s mounted read-only: %s" % (h.cache, mounted))
        call_ok("readonly", "aws s3 ls", want, None, budget)
        h.wait("refresh", lambda: not h.refreshers(), 30)
        call_ok("readonly", "aws s3 ls", want, None, budget)
        h.wait("refresh", lambda: not h.refreshers(), 30)
        add(h.valid() and h.routing_at() == before, "readonly   facts.json valid %s and unchanged %s" % (
            h.valid(), h.routing_at() == before))
    finally:
        subprocess.run(["umount", str(h.cache)])
    return checks
