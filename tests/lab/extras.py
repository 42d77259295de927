"""c9aws lab plug-in: `doctor`, `credential-process` and `exec`, proven in every scenario.

run(lab) -> [(ok, text)], called by lab.py after the CLI calls, while the front, moto and the
fake IMDS servers are still up (LAB_PARTS=extras runs only this part).
  doctor:  `c9aws doctor --json` diagnoses each scenario (AMTC, NAT, endpoints, fallback signs);
  role:    a fallback profile `credential_process = <c9aws> credential-process` makes the refused
           calls succeed with the instance role's key (the front's log says which key signed);
  exec:    `c9aws exec -- python3 boto3-script` gives an SDK program the right identity.
"""
import json
import subprocess
import time

from lab import REGION, ROLE_KEY, make_home, who_of

BOTO3_SCRIPT = (
    "import boto3; print(boto3.client('sts', region_name='%s').get_caller_identity()['Arn'])" % REGION
)


def _env(lab, sc, home, tag, extra=None):
    env = {
        "PATH": lab.cli_path[lab.clis[0]] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home), "USER": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
        "AWS_CA_BUNDLE": str(lab.work / "ca.pem"), "SSL_CERT_FILE": str(lab.work / "ca.pem"),
        "AWS_EXECUTION_ENV": tag, "C9AWS_FALLBACK_PROFILE": "c9-fallback",
    }
    if sc.cloud9:
        env.update({"C9_PID": "1234", "C9_USER": "c9lab-user", "C9_PROJECT": "c9lab-" + sc.name})
    env.update(extra or {})
    return env


def _run(lab, sc, home, tag, argv, extra=None, timeout=90):
    cmd = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(timeout)] + argv
    t = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, env=_env(lab, sc, home, tag, extra), timeout=timeout + 10,
                           cwd=str(home), stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), time.time() - t
    except subprocess.TimeoutExpired:
        return 124, "", "[python-side timeout]", time.time() - t


def _keys(lab, tag):
    time.sleep(0.1)
    by_tag, _ = lab.parse_log()
    return [(l.get("svc"), who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(tag, [])]


def _status(doc, name):
    for c in doc.get("checks", []):
        if c.get("name") == name:
            return c.get("status"), c.get("summary", "") + " " + " ".join(c.get("evidence") or [])
    return "absent", ""


# What doctor must say per scenario: (check, status, text the summary/evidence must contain or None).
DOCTOR_WANT = {
    "public": [("cloud9", "ok", None), ("imds", "ok", "public IPv4 203.0.113.11"), ("egress", "ok", None),
               ("endpoints", "ok", None), ("fallback-sign", "ok", "arn:")],
    "private": [("cloud9", "ok", None), ("imds", "ok", "no public IPv4"), ("egress", "warn", "NAT"),
                ("fallback-sign", "ok", "arn:")],
    "stsvpce": [("egress", "ok", None), ("endpoints", "info", "sts: interface-endpoint"),
                ("fallback-sign", "ok", "arn:")],
    "s3gw": [("egress", "ok", None), ("endpoints", "info", "s3: gateway-endpoint"), ("fallback-sign", "ok", "arn:")],
    "vpcenodns": [("egress", "ok", None), ("endpoints", "ok", None), ("fallback-sign", "ok", "arn:")],
    "nonc9": [("cloud9", "info", "not in play"), ("network", "info", None)],
}


def run(lab):
    checks = []
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    cli = lab.clis[0]
    for sc in lab.scens:
        home = make_home(lab.work, "extras-" + cli, sc)
        # -- doctor ----------------------------------------------------------------------------
        tag = "c9lab-extras-%s-doctor" % sc.name
        rc, out, err, secs = _run(lab, sc, home, tag, [lab.c9aws, "doctor", "--json"])
        try:
            doc = json.loads(out)
        except ValueError:
            checks.append((False, "%-9s doctor: no JSON (exit %d): %s" % (sc.name, rc, err.strip()[-300:])))
            continue
        want_rc = 0 if sc.name != "nonc9" else 0
        checks.append((rc == want_rc and doc.get("healthy") is True,
                       "%-9s doctor: exit %d, healthy=%s (want %d, true) in %.1fs" % (
                           sc.name, rc, doc.get("healthy"), want_rc, secs)))
        for name, status, text in DOCTOR_WANT.get(sc.name, []):
            got, what = _status(doc, name)
            ok = got == status and (text is None or text in what)
            checks.append((ok, "%-9s doctor: %s is %s, want %s%s  [%s]" % (
                sc.name, name, got, status, "" if text is None else " with %r" % text, what.strip()[:160])))
        if not sc.cloud9:
            continue
        # -- credential-process fallback: the instance role's key -----------------------------
        cfg = home / ".aws" / "config"
        cfg.write_text(cfg.read_text() + "\n[profile c9-role]\ncredential_process = %s credential-process\n"
                       "region = %s\n" % (lab.c9aws, REGION))
        for call, argv, svc in (("iam", ["iam", "create-user", "--user-name", "c9lab-role-%s" % sc.name], "iam"),
                                ("sts", ["sts", "get-caller-identity"], "sts")):
            if call == "sts" and sc.name not in ("private", "stsvpce"):
                continue  # AMTC works for sts here: nothing is switched
            tag = "c9lab-extras-%s-role-%s" % (sc.name, call)
            rc, out, err, _ = _run(lab, sc, home, tag, [lab.c9aws] + argv, {"C9AWS_FALLBACK_PROFILE": "c9-role"})
            keys = [k for k in _keys(lab, tag) if k[0] == svc]
            ok = rc == 0 and keys and all(w == "role" and v == "accepted" for _, w, v in keys)
            checks.append((ok, "%-9s credential-process fallback: c9aws %s -> exit %d, keys %s (want role:accepted)%s" % (
                sc.name, " ".join(argv), rc, ",".join("%s:%s" % (w, v) for _, w, v in keys) or "none",
                "" if ok else "  " + err.strip()[-200:])))
        # -- exec: an SDK program's identity -------------------------------------------------
        if sc.name in ("public", "private"):
            tag = "c9lab-extras-%s-exec" % sc.name
            import sys
            rc, out, err, _ = _run(lab, sc, home, tag, [lab.c9aws, "exec", "--", sys.executable, "-c", BOTO3_SCRIPT])
            keys = [k for k in _keys(lab, tag) if k[0] == "sts"]
            want = "fallback" if sc.name == "private" else "amtc"
            ok = rc == 0 and keys and all(w == want and v == "accepted" for _, w, v in keys)
            checks.append((ok, "%-9s exec boto3 sts get-caller-identity: exit %d, keys %s (want %s:accepted)%s" % (
                sc.name, rc, ",".join("%s:%s" % (w, v) for _, w, v in keys) or "none", want,
                "" if ok else "  " + (err.strip()[-200:] or out.strip()[-200:]))))
    return checks
