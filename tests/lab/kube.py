"""c9aws lab plug-in: kubectl on Cloud9 (issue 15), end to end.

run(lab) -> [(ok, text)] (LAB_PARTS=kube runs only this part; both CLI majors under LAB_CLI=both).

An EKS-like verifier (tests/lab/eksverify.py) listens on 198.51.100.60:6443 on the AWS side: it
accepts a bearer token `k8s-aws-v1.<presigned sts:GetCallerIdentity URL>` only if the front accepts
that URL presented from the verifier's own address, as the EKS control plane does.  A fake
`kubectl` (a script, not a shell function; stdin a pipe; started directly, not from a shell) runs
the kubeconfig's exec plug-in `aws eks get-token --cluster-name c9lab [--role-arn …]` through PATH
and presents the token.  Per CLI major, in `public` and `private`:

  plain       PATH = the real aws: the token is signed with AMTC, refused from the verifier's
              address -> "You must be logged in to the server (Unauthorized)"; with --role-arn the
              CLI itself fails (sts:AssumeRole refused under AMTC: v1 exit 255, v2 254);
  setup/init  `c9aws setup --path-shim`, then the PATH that `eval "$(c9aws init bash)"` gives;
  shim        the same kubectl, same argv: accepted with and without --role-arn (the fallback
              signs; with --role-arn the fallback assumes the role and the role's key signs);
  doctor      `c9aws doctor --json` with that PATH: the `path` check is ok;
  explain     `c9aws explain --json eks get-token …`: verdict signed-for-elsewhere (public);
  remove      `c9aws setup --remove-path-shim` leaves no directory, and sh finds the real aws.
"""
import json
import os
import subprocess
import sys
import time

from lab import NS_AWS, EP_REGIONAL, make_home, who_of

VERIFIER = "198.51.100.60"
PORT = 6443
CLUSTER = "c9lab"
ROLE = "arn:aws:iam::123456789012:role/c9lab-eks-admin"

KUBECTL = r'''#!%(py)s
"""A fake kubectl: runs the kubeconfig's exec credential plug-in (`aws eks get-token ...`) through
PATH, as kubectl does, and presents the token to the API server (the lab's EKS-like verifier)."""
import http.client, json, os, subprocess, sys
args = json.loads(os.environ["KUBE_EXEC_ARGS"])
env = dict(os.environ, KUBERNETES_EXEC_INFO=json.dumps({"kind": "ExecCredential",
           "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {"interactive": False}}))
try:
    p = subprocess.run(["aws"] + args, input=b"", capture_output=True, env=env, timeout=60)
except FileNotFoundError:
    sys.stderr.write('Unable to connect to the server: getting credentials: exec: executable aws not found\n')
    sys.exit(1)
if p.returncode != 0:
    sys.stderr.write(p.stderr.decode(errors="replace"))
    sys.stderr.write("Unable to connect to the server: getting credentials: exec: executable aws failed "
                     "with exit code %%d\n" %% p.returncode)
    sys.exit(1)
try:
    token = json.loads(p.stdout)["status"]["token"]
except (ValueError, KeyError, TypeError) as e:
    sys.stderr.write("Unable to connect to the server: getting credentials: decoding stdout: %%s\n" %% e)
    sys.exit(1)
c = http.client.HTTPConnection("%(addr)s", %(port)d, timeout=30)
c.request("GET", "/api/v1/namespaces/default/pods", headers={
    "Authorization": "Bearer " + token, "X-Lab-Tag": os.environ.get("AWS_EXECUTION_ENV", "-")})
r = c.getresponse()
body = r.read().decode(errors="replace")
if r.status == 401:
    sys.stderr.write("error: You must be logged in to the server (Unauthorized)\n")
    sys.exit(1)
if r.status != 200:
    sys.stderr.write("Error from server: %%d %%s\n" %% (r.status, body))
    sys.exit(1)
print("No resources found in default namespace. (as %%s)" %% json.loads(body).get("user"))
'''


def start_verifier(lab):
    sh = lambda *c: subprocess.run(list(c), capture_output=True, text=True, timeout=30)  # noqa: E731
    sh("ip", "-n", NS_AWS, "addr", "add", VERIFIER + "/32", "dev", "lo")
    lifetime = str(int(os.environ.get("LAB_SERVER_LIFETIME") or 3600))
    lab.start(NS_AWS, [sys.executable, os.path.join(os.path.dirname(__file__), "eksverify.py"),
                       "--addr", VERIFIER, "--port", str(PORT), "--sts-addr", EP_REGIONAL, "--cluster", CLUSTER,
                       "--log", str(lab.work / "eksverify.log"), "--lifetime", lifetime,
                       "--ready", str(lab.work / "eksverify.ready")],
              lab.work / "eksverify.ready", "eksverify")


def base_env(lab, cli, sc, home, tag):
    env = {"PATH": lab.cli_path[cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(home), "USER": "ec2-user", "LOGNAME": "ec2-user", "LANG": "C.UTF-8",
           "AWS_CA_BUNDLE": str(lab.work / "ca.pem"), "SSL_CERT_FILE": str(lab.work / "ca.pem"),
           "AWS_EXECUTION_ENV": tag}
    if sc.cloud9:
        env.update({"C9_PID": "1234", "C9_USER": "c9lab-user", "C9_PROJECT": "c9lab-" + sc.name})
    return env


def nsrun(lab, sc, argv, env, cwd, timeout=90):
    """argv in the scenario's namespace, stdin a pipe (kubectl's exec plug-ins get no terminal)."""
    cmd = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(timeout)] + argv
    t = time.time()
    try:
        r = subprocess.run(cmd, input=b"", capture_output=True, env=env, timeout=timeout + 10, cwd=str(cwd))
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), time.time() - t
    except subprocess.TimeoutExpired:
        return 124, "", "[python-side timeout]", time.time() - t


def requests(lab, tag):
    time.sleep(0.1)
    by_tag, _ = lab.parse_log()
    return by_tag.get(tag, [])


def summary(lines):
    return ",".join("%s:%s:%s@%s" % (l.get("action"), who_of(l.get("key")), l.get("verdict"), l.get("src"))
                    for l in lines) or "no request"


def verdicts(doc):
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "verdict" and isinstance(v, str):
                out.append(v)
            out += verdicts(v)
    elif isinstance(doc, list):
        for v in doc:
            out += verdicts(v)
    return out


def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    checks = []
    start_verifier(lab)
    kbin = lab.work / "kube-bin"
    kbin.mkdir(exist_ok=True)
    (kbin / "kubectl").write_text(KUBECTL % {"py": sys.executable, "addr": VERIFIER, "port": PORT})
    os.chmod(kbin / "kubectl", 0o755)
    kubectl = str(kbin / "kubectl")
    plain_rc = {"v1": 255, "v2": 254}
    for cli in lab.clis:
        for sc in lab.scens:
            if sc.name not in ("public", "private"):
                continue
            home = make_home(lab.work, "kube-" + cli, sc)
            name = "%s %-7s" % (cli, sc.name)

            def kube(tool, role, path):
                tag = "c9lab-kube-%s-%s-%s-%s" % (cli, sc.name, tool, "role" if role else "plain")
                args = ["eks", "get-token", "--cluster-name", CLUSTER] + (["--role-arn", ROLE] if role else [])
                env = base_env(lab, cli, sc, home, tag)
                env["PATH"] = path
                env["KUBE_EXEC_ARGS"] = json.dumps(args)
                rc, out, err, secs = nsrun(lab, sc, [kubectl, "get", "pods"], env, home)
                return rc, out, err, secs, requests(lab, tag)

            plain_path = base_env(lab, cli, sc, home, "-")["PATH"]
            # -- plain aws: the token is signed with AMTC --------------------------------------------
            rc, out, err, secs, lines = kube("aws", False, plain_path)
            gci = [l for l in lines if l.get("action") == "GetCallerIdentity"]
            ok = rc == 1 and "You must be logged in to the server (Unauthorized)" in err and gci and \
                all(who_of(l.get("key")) == "amtc" and l.get("verdict") == "refused" and l.get("src") == VERIFIER
                    for l in gci)
            checks.append((ok, "%s plain aws eks get-token: kubectl exit %d, %r; STS saw %s (want Unauthorized, "
                               "AMTC refused from the verifier's %s)" % (
                                   name, rc, err.strip().splitlines()[-1][:90] if err.strip() else "", summary(lines),
                                   VERIFIER)))
            rc, out, err, secs, lines = kube("aws", True, plain_path)
            want = "failed with exit code %d" % plain_rc[cli]
            ok = rc == 1 and want in err and any(
                l.get("action") == "AssumeRole" and who_of(l.get("key")) == "amtc" and l.get("verdict") == "refused"
                for l in lines) and not any(l.get("action") == "GetCallerIdentity" for l in lines)
            errl = [x for x in err.strip().splitlines() if "error occurred" in x]
            checks.append((ok, "%s plain aws eks get-token --role-arn: kubectl exit %d, %r; STS saw %s (want the "
                               "CLI to fail: %s, AssumeRole refused)" % (
                                   name, rc, (errl[0] if errl else err.strip()[-120:])[:120], summary(lines), want)))
            # -- setup --path-shim and the init line -------------------------------------------------
            env = base_env(lab, cli, sc, home, "c9lab-kube-%s-%s-setup" % (cli, sc.name))
            rc, out, err, _ = nsrun(lab, sc, [lab.c9aws, "setup", "--path-shim"], env, home)
            shim = home / ".local" / "share" / "c9aws" / "bin"
            ok = rc == 0 and os.path.islink(shim / "aws") and os.path.samefile(shim / "aws", lab.c9aws)
            checks.append((ok, "%s c9aws setup --path-shim: exit %d, %s/aws -> %s%s" % (
                name, rc, shim, os.readlink(shim / "aws") if os.path.islink(shim / "aws") else "absent",
                "" if ok else "  " + (err or out).strip()[-200:])))
            rc, out, err, _ = nsrun(lab, sc, ["bash", "-c", 'eval "$("$0" init bash)" && printf %s "$PATH"', lab.c9aws],
                                    env, home)
            shim_path = out if rc == 0 else plain_path
            ok = rc == 0 and out.split(":")[0] == str(shim) and out.count(str(shim)) == 1
            checks.append((ok, "%s init bash puts the shim dir first on PATH: %s" % (name, out[:120] or err[-160:])))
            # -- through the PATH shim: the same kubectl, the same argv ------------------------------
            rc, out, err, secs, lines = kube("shim", False, shim_path)
            gci = [l for l in lines if l.get("action") == "GetCallerIdentity"]
            ok = rc == 0 and gci and all(who_of(l.get("key")) == "fallback" and l.get("verdict") == "accepted"
                                         and l.get("src") == VERIFIER for l in gci)
            checks.append((ok, "%s via PATH shim eks get-token: kubectl exit %d in %.1fs; STS saw %s (want the "
                               "fallback's token accepted from the verifier)%s" % (
                                   name, rc, secs, summary(lines), "" if ok else "  " + err.strip()[-200:])))
            rc, out, err, secs, lines = kube("shim", True, shim_path)
            ar = [l for l in lines if l.get("action") == "AssumeRole"]
            gci = [l for l in lines if l.get("action") == "GetCallerIdentity"]
            ok = rc == 0 and ar and all(who_of(l.get("key")) == "fallback" and l.get("verdict") == "accepted"
                                        for l in ar) and gci and \
                all(who_of(l.get("key")) == "other" and l.get("verdict") == "accepted" for l in gci)
            checks.append((ok, "%s via PATH shim eks get-token --role-arn: kubectl exit %d in %.1fs; STS saw %s "
                               "(want AssumeRole by the fallback, the role's token accepted)%s" % (
                                   name, rc, secs, summary(lines), "" if ok else "  " + err.strip()[-200:])))
            # -- doctor's PATH check, explain's verdict ----------------------------------------------
            env = base_env(lab, cli, sc, home, "c9lab-kube-%s-%s-doctor" % (cli, sc.name))
            env["PATH"] = shim_path
            rc, out, err, _ = nsrun(lab, sc, [lab.c9aws, "doctor", "--json"], env, home)
            try:
                got = [c for c in json.loads(out).get("checks", []) if c.get("name") == "path"]
            except ValueError:
                got = []
            st = got[0].get("status") if got else "absent"
            checks.append((st == "ok", "%s doctor path check with the init PATH: %s  [%s]" % (
                name, st, (got[0].get("summary", "") if got else err.strip()[-160:])[:150])))
            if sc.name == "public":
                for role in (False, True):
                    argv = [lab.c9aws, "explain", "--json", "eks", "get-token", "--cluster-name", CLUSTER] + \
                        (["--role-arn", ROLE] if role else [])
                    rc, out, err, _ = nsrun(lab, sc, argv, env, home)
                    try:
                        doc = json.loads(out)
                    except ValueError:
                        doc = {}
                    vs = verdicts(doc)
                    act = (doc.get("decision") or {}).get("action")
                    ok = "signed-for-elsewhere" in vs and act == "switch"
                    checks.append((ok, "%s explain --json eks get-token%s: verdicts %s, action %s (want "
                                       "signed-for-elsewhere, switch)" % (name, " --role-arn" if role else "",
                                                                          sorted(set(vs)), act)))
            # -- removal leaves nothing ---------------------------------------------------------------
            rc, out, err, _ = nsrun(lab, sc, [lab.c9aws, "setup", "--remove-path-shim"], env, home)
            rc2, out2, _, _ = nsrun(lab, sc, ["sh", "-c", "command -v aws"], env, home)
            ok = rc == 0 and not (home / ".local" / "share" / "c9aws").exists() and \
                out2.strip() == os.path.join(lab.cli_path[cli], "aws")
            checks.append((ok, "%s setup --remove-path-shim: exit %d, %s gone: %s; sh then finds %s" % (
                name, rc, home / ".local/share/c9aws", not (home / ".local" / "share" / "c9aws").exists(),
                out2.strip())))
    return checks
