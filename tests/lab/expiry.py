"""c9aws lab plug-in: expired AMTC and a long call across a token rotation (issue 15).

run(lab) -> [(ok, text)] (LAB_PARTS=expiry runs only this part; every CLI major of LAB_CLI).

Lab AMTC session tokens may carry their expiry (`c9exp<unix seconds>`, as real STS tokens encode
theirs); the front answers ExpiredToken past it (tests/lab/front.py).  In `public`, per CLI major:

  aged     Cloud9's credentials file as the IDE left it 20 minutes ago (token expired 5 minutes ago,
           mtime 20 minutes back): plain `aws sts get-caller-identity` and `aws s3 ls` fail with
           ExpiredToken from the front; `c9aws sts get-caller-identity` succeeds with the fallback
           (no AMTC request at all) and `explain --json` says verdict `expired`;
  fresh    the file rewritten by "Cloud9" right after: c9aws uses AMTC again (nothing cached
           across the change), `explain` no longer says `expired`;
  long     `s3 cp` of a 20 MiB file in 5 MiB parts, one at a time, each UploadPart held 3 s by the
           front (`-slow3s` in the key), AMTC living LAB_LONG_LIFE (6) seconds and "Cloud9"
           rewriting the file every 2 s with a fresh token.  Control: the same upload with a token
           that outlives it completes.  Plain aws dies with ExpiredToken at an UploadPart (LIMIT,
           aws/aws-cli#4562: the CLI reads static keys once).  c9aws (amtc_life = LAB_LONG_LIFE
           through C9AWS_AMTC_LIFE) keeps AMTC and, `s3 cp` being a long-looking call, gives the CLI
           AWS_SHARED_CREDENTIALS_FILE = a generated file whose credential_process is
           `c9aws __amtc-credentials` re-reading Cloud9's file: the upload completes with the AMTC
           key only; the helper's runs are counted with `strace -e trace=execve` (when present).
           Experiment (kept for comparison): the CLI given the keys through a script reporting the
           token's real expiry (config and credentials files redirected) completes too, but the
           process runs before every request (botocore refreshes process credentials that expire
           within 15 minutes).
"""
import json
import os
import re
import shutil
import sys
import threading
import time

from kube import base_env, nsrun, summary, verdicts
from lab import REGION, cloud9_credentials, make_home, who_of

LIFE = float(os.environ.get("LAB_LONG_LIFE") or 6)
ROTATE = LIFE / 3
PART_MB = 5
PARTS = 4
SLOW = 3

REREAD = r'''#!%(py)s
"""credential_process: Cloud9's credentials file, re-read at every run (the lab's experiment)."""
import configparser, datetime, json, re, sys
path, count = sys.argv[1], sys.argv[2]
open(count, "a").write("x\n")
c = configparser.RawConfigParser()
c.read(path)
d = c["default"]
m = re.search(r"c9exp(\d+)", d["aws_session_token"])
exp = datetime.datetime.fromtimestamp(int(m.group(1)), datetime.timezone.utc)
print(json.dumps({"Version": 1, "AccessKeyId": d["aws_access_key_id"], "SecretAccessKey": d["aws_secret_access_key"],
                  "SessionToken": d["aws_session_token"], "Expiration": exp.strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ")}))
'''


def write_creds(sc, home, exp, mtime=None):
    """What Cloud9 writes: a new token (expiring at exp) under the environment's AMTC key."""
    token = "IQoJb3JpZ2luX2VjE" + "c9exp%dZ" % int(exp) + "0" * 96
    when = time.strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", time.gmtime(mtime or time.time()))
    path = home / ".aws" / "credentials"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cloud9_credentials(sc, "c9labAmtcSecret" + "0" * 25, token, when))
    os.replace(tmp, path)
    if mtime:
        os.utime(path, (mtime, mtime))


class Rotator(threading.Thread):
    """Cloud9 with the IDE open, scaled down: a fresh token every ROTATE s, each living LIFE s."""

    def __init__(self, sc, home):
        super().__init__(daemon=True)
        self.sc, self.home, self.stop, self.n = sc, home, threading.Event(), 0

    def run(self):
        while not self.stop.wait(ROTATE):
            write_creds(self.sc, self.home, time.time() + LIFE)
            self.n += 1


def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    sc = {s.name: s for s in lab.scens}.get("public")
    if sc is None:
        return [(False, "needs the public scenario (LAB_SCENARIOS)")]
    checks = []
    for cli in lab.clis:
        home = make_home(lab.work, "expiry-" + cli, sc)
        name = "%s public" % cli

        def call(tool, args, what, extra=None, timeout=90, wrap=None):
            tag = "c9lab-expiry-%s-%s-%s" % (cli, tool, what)
            env = base_env(lab, cli, sc, home, tag)
            env.update(extra or {})
            prog = (wrap or []) + ([lab.c9aws] if tool == "c9aws" else ["aws"])
            rc, out, err, secs = nsrun(lab, sc, prog + args, env, home, timeout=timeout)
            time.sleep(0.1)
            by_tag, _ = lab.parse_log()
            return rc, out, err, secs, by_tag.get(tag, [])

        def last_err(err):
            errl = [x for x in err.strip().splitlines() if x.strip()]
            return errl[-1][:130] if errl else ""

        # -- aged: the IDE closed 20 minutes ago --------------------------------------------------
        now = time.time()
        write_creds(sc, home, exp=now - 300, mtime=now - 1200)
        for what, args, svc in (("aged-sts", ["sts", "get-caller-identity"], "sts"), ("aged-s3", ["s3", "ls"], "s3")):
            rc, out, err, secs, lines = call("aws", args, what)
            own = [l for l in lines if l.get("svc") == svc]
            ok = rc != 0 and "(ExpiredToken)" in err and own and all(
                who_of(l.get("key")) == "amtc" and l.get("verdict") == "refused"
                and (l.get("reason") or "").startswith("ExpiredToken") for l in own)
            checks.append((ok, "%s aged file: plain aws %s -> exit %d, %r; front %s (want ExpiredToken)" % (
                name, " ".join(args), rc, last_err(err), summary(own))))
        rc, out, err, secs, lines = call("c9aws", ["sts", "get-caller-identity"], "aged-c9aws")
        ok = rc == 0 and lines and all(who_of(l.get("key")) == "fallback" and l.get("verdict") == "accepted"
                                       for l in lines)
        checks.append((ok, "%s aged file: c9aws sts get-caller-identity -> exit %d; front %s (want the fallback "
                           "only, no AMTC request)%s" % (name, rc, summary(lines), "" if ok else "  " + last_err(err))))
        rc, out, err, secs, _ = call("c9aws", ["explain", "--json", "sts", "get-caller-identity"], "aged-explain")
        vs = verdicts(json.loads(out)) if rc == 0 and out.strip().startswith("{") else []
        ev = re.search(r"Cloud9 last wrote [^\"]*", out)
        checks.append(("expired" in vs, "%s aged file: explain --json verdicts %s (want expired)  [%s]" % (
            name, sorted(set(vs)), ev.group(0)[:140] if ev else last_err(err))))
        # -- fresh again: Cloud9 rewrote it ---------------------------------------------------------
        write_creds(sc, home, exp=time.time() + 900)
        rc, out, err, secs, lines = call("c9aws", ["sts", "get-caller-identity"], "fresh-c9aws")
        ok = rc == 0 and lines and all(who_of(l.get("key")) == "amtc" and l.get("verdict") == "accepted"
                                       for l in lines)
        checks.append((ok, "%s rewritten fresh: c9aws sts get-caller-identity -> exit %d; front %s (want AMTC "
                           "again, nothing cached)" % (name, rc, summary(lines))))
        rc, out, err, secs, _ = call("c9aws", ["explain", "--json", "sts", "get-caller-identity"], "fresh-explain")
        vs = verdicts(json.loads(out)) if rc == 0 and out.strip().startswith("{") else ["?"]
        checks.append(("expired" not in vs and "?" not in vs, "%s rewritten fresh: explain --json verdicts %s "
                                                              "(want no expired)" % (name, sorted(set(vs)))))
        # -- long call across rotations -------------------------------------------------------------
        cfg = home / ".aws" / "config"
        s3cfg = "s3 =\n    multipart_threshold = %dMB\n    multipart_chunksize = %dMB\n    max_concurrent_requests = 1\n" % (
            PART_MB, PART_MB)
        cfg.write_text("[default]\n" + s3cfg + "\n" + cfg.read_text())
        big = home / "big.bin"
        big.write_bytes(os.urandom(PART_MB * PARTS << 20))

        def upload(tool, what, rotate, extra=None, wrap=None):
            key = "s3://c9lab-bucket/c9lab-long-%s-%s-%s-slow%ds.bin" % (cli, tool, what, SLOW)
            rot = Rotator(sc, home)
            write_creds(sc, home, exp=time.time() + (LIFE if rotate else 900))
            if rotate:
                rot.start()
            try:
                rc, out, err, secs, lines = call(tool, ["s3", "cp", "--no-progress", str(big), key], "long-" + what,
                                                 extra, timeout=120, wrap=wrap)
            finally:
                rot.stop.set()
            ups = [l for l in lines if l.get("action") == "UploadPart"]
            acc = sum(1 for l in ups if l.get("verdict") == "accepted")
            first_ref = next((i + 1 for i, l in enumerate(ups) if l.get("verdict") == "refused"), None)
            return rc, err, secs, lines, acc, first_ref, rot.n

        rc, err, secs, lines, acc, ref, n = upload("aws", "control", False)
        checks.append((rc == 0 and acc == PARTS, "%s long call, control (token outlives it): plain aws s3 cp %d MiB "
                                                 "-> exit %d in %.1fs, %d UploadPart accepted%s" % (
                                                     name, PART_MB * PARTS, rc, secs, acc,
                                                     "" if rc == 0 else "  " + last_err(err))))
        plain = upload("aws", "rotate", True)
        rc, err, secs, lines, acc, ref, n = plain
        ok = rc != 0 and "ExpiredToken" in err and ref is not None
        checks.append((ok, "%s long call across rotations (LIMIT, aws-cli#4562): plain aws s3 cp -> exit %d in "
                           "%.1fs, %d parts accepted, ExpiredToken at UploadPart %s, %d rewrites meanwhile; %r" % (
                               name, rc, secs, acc, ref, n, last_err(err))))
        # c9aws: the same upload completes, AMTC re-read through `c9aws __amtc-credentials`.
        trace = lab.work / ("long-call-%s.strace" % cli)
        strace = shutil.which("strace")
        wrap = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=execve", "-e", "signal=none",
                "-o", str(trace)] if strace else None
        rc, err, secs, lines, acc, ref, n = upload("c9aws", "rotate", True,
                                                   {"C9AWS_AMTC_LIFE": "%d" % LIFE}, wrap=wrap)
        runs = sum(1 for l in trace.read_text().splitlines()
                   if "__amtc-credentials" in l and "execve(" in l) if strace and trace.exists() else -1
        keys = {who_of(l.get("key")) for l in lines if l.get("svc") == "s3"}
        ok = rc == 0 and acc == PARTS and ref is None and keys == {"amtc"}
        checks.append((ok, "%s long call across rotations: c9aws s3 cp -> exit %d in %.1fs (plain %d), %d "
                           "UploadPart accepted, keys %s, `c9aws __amtc-credentials` ran %s times for %d "
                           "requests, %d rewrites (want exit 0, all %d parts, AMTC only)%s" % (
                               name, rc, secs, plain[0], acc, sorted(keys), runs if runs >= 0 else "?",
                               len(lines), n, PARTS, "" if ok else "  " + last_err(err))))
        # Experiment: a credential_process that re-reads Cloud9's file (redirected config files).
        script = lab.work / ("reread-%s.py" % cli)
        script.write_text(REREAD % {"py": sys.executable})
        os.chmod(script, 0o755)
        count = lab.work / ("reread-%s.count" % cli)
        count.write_text("")
        alt = lab.work / ("reread-%s.config" % cli)
        alt.write_text("[default]\nregion = %s\ncredential_process = %s %s %s\n%s" % (
            REGION, script, home / ".aws" / "credentials", count, s3cfg))
        empty = lab.work / "empty-credentials"
        empty.write_text("")
        rc, err, secs, lines, acc, ref, n = upload("aws", "reread", True, {
            "AWS_CONFIG_FILE": str(alt), "AWS_SHARED_CREDENTIALS_FILE": str(empty)})
        runs = len(count.read_text().split())
        keys = {who_of(l.get("key")) for l in lines}
        ok = rc == 0 and acc == PARTS and keys == {"amtc"}
        checks.append((ok, "%s long call across rotations, experiment: plain aws with a credential_process "
                           "re-reading Cloud9's file -> exit %d in %.1fs, %d UploadPart accepted, keys %s, the "
                           "process ran %d times for %d requests, %d rewrites%s" % (
                               name, rc, secs, acc, sorted(keys), runs, len(lines), n,
                               "" if ok else "  " + last_err(err))))
    return checks
