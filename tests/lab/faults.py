"""c9aws lab plug-in: the fault matrix and concurrency (issue 7; docs/reliability.md).

run(lab) -> [(ok, text)], called by lab.py after the CLI calls while the front, moto and the
fake IMDS servers are up (LAB_PARTS=faults runs only this part). Every check's text starts with
its name (`<case>/<scenario>`), the name docs/reliability.md's table uses.

Each case gets a fresh home (make_home), breaks one thing, runs `c9aws sts get-caller-identity`
(S3 for the route-table case) in the `public` and/or `private` scenario and checks:
  - the aws call ran: the front logged the call's own request (by its AWS_EXECUTION_ENV tag);
  - with the right key: AMTC in `public`, the fallback in `private` — or the documented safe
    default: an unknown route keeps AMTC and a refusal is retried once with the fallback;
  - no hang: the call ends within its bound (c9aws's probe deadline is 1.5 s; bounds are generous);
  - where the user must act, stderr says what (checked by a word of the message);
  - no panic.
Faults: IMDS down / hanging / refusing tokens (extra imds.py servers on other ports, through
AWS_EC2_METADATA_SERVICE_ENDPOINT); DNS slow / dead (the namespace's /etc/netns hosts and
resolv.conf swapped for a delaying / silent resolver on loopback, restored after); checkip down /
hanging / garbage (C9AWS_CHECKIP_URL at loopback helpers); fallback profile missing / broken /
without ec2:Describe*; facts cache corrupt / of another format / unwritable / read-only home
(a read-only bind mount in a private mount namespace: root ignores modes); malformed
~/.aws/config, credentials, alias file and c9aws config; the credentials file rewritten by
"Cloud9" during the calls. Then 64 cold c9aws processes at once in `private`.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from lab import REGION, FALLBACK_KEY, NOEC2_KEY, cloud9_credentials, make_home, who_of

CALL = ["sts", "get-caller-identity"]
# Generous bounds (seconds): a CLI v1 call here takes 1-3 s; c9aws's probes end at 1.5 s.
BOUND = 25
DNS_DELAY = 2.5   # the slow resolver: past c9aws's probe deadline, within glibc's timeout

HELPER = r"""
import socket, sys, threading, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
hosts = {}
if len(sys.argv) > 4:
    for line in open(sys.argv[4]):
        p = line.split()
        if len(p) >= 2 and "." in p[0] and ":" not in p[0]:
            for n in p[1:]:
                hosts[n.lower()] = p[0]
if mode in ("hang", "garbage"):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(128)
    open(sys.argv[5] if len(sys.argv) > 5 else "/dev/null", "w").close()
    held = []
    while True:
        c, _ = s.accept()
        if mode == "hang":
            held.append(c)        # accepted, never answered
            continue
        try:
            c.settimeout(2); c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<html>not an address</html>")
        except OSError:
            pass
        c.close()
else:  # dns-slow: answer A from the hosts map after a delay; dns-dead: read nothing
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((addr, port))
    if mode == "dns-dead":
        while True:
            time.sleep(3600)
    delay = float(sys.argv[6])
    def answer(q, peer):
        time.sleep(delay)
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace")); i += 1 + q[i]
        qtype = int.from_bytes(q[i + 1:i + 3], "big"); qend = i + 5
        name = ".".join(labels).lower()
        ip = hosts.get(name)
        rcode = 0 if ip else 3
        an = b""
        if ip and qtype == 1:
            an = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes(int(x) for x in ip.split("."))
        hdr = q[:2] + bytes([0x81, 0x80 | rcode]) + b"\x00\x01" + (b"\x00\x01" if an else b"\x00\x00") + b"\x00\x00\x00\x00"
        s.sendto(hdr + q[12:qend] + an, peer)
    while True:
        q, peer = s.recvfrom(4096)
        threading.Thread(target=answer, args=(q, peer), daemon=True).start()
"""


class Faults:
    def __init__(self, lab):
        self.lab = lab
        self.cli = lab.clis[0]
        self.sc = {s.name: s for s in lab.scens}
        self.checks = []
        self.helpers = []
        self.n = 0
        self.calls = 0

    # -- plumbing ------------------------------------------------------------------------------
    def env(self, sc, home, tag, extra=None):
        lab = self.lab
        env = {
            "PATH": lab.cli_path[self.cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home), "USER": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
            "AWS_CA_BUNDLE": str(lab.work / "ca.pem"), "SSL_CERT_FILE": str(lab.work / "ca.pem"),
            "AWS_EXECUTION_ENV": tag, "C9AWS_FALLBACK_PROFILE": "c9-fallback",
        }
        if sc.cloud9:
            env.update({"C9_PID": "1234", "C9_USER": "c9lab-user", "C9_PROJECT": "c9lab-" + sc.name})
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, sc, home, tag, argv, extra=None, timeout=60, wrap=None):
        inner = list(argv)
        if wrap:
            inner = wrap + inner
        cmd = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(timeout)] + inner
        t = time.time()
        try:
            r = subprocess.run(cmd, capture_output=True, env=self.env(sc, home, tag, extra), timeout=timeout + 10,
                               cwd=str(home), stdin=subprocess.DEVNULL)
            return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), time.time() - t
        except subprocess.TimeoutExpired:
            return 124, "", "[python-side timeout]", time.time() - t

    def tag(self, name):
        """A call tag the User-Agent carries intact: letters, digits and dashes, unique per call."""
        self.calls += 1
        return "c9lab-faults-%s-%d" % ("".join(c if c.isalnum() else "-" for c in name).strip("-"), self.calls)

    def keys(self, tag, svc):
        time.sleep(0.15)
        by_tag, _ = self.lab.parse_log()
        return [(who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(tag, []) if l.get("svc") == svc]

    def home(self, case, sc):
        self.n += 1
        return make_home(self.lab.work, "faults%02d-%s-%s" % (self.n, case, self.cli), sc)

    def helper(self, sc, mode, addr, port, hosts=None, ready=None, delay=0):
        argv = ["ip", "netns", "exec", sc.ns, sys.executable, "-c", HELPER, mode, addr, str(port),
                str(hosts or "/dev/null"), str(ready or "/dev/null"), str(delay)]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.helpers.append(p)
        time.sleep(0.4)
        return p

    def imds(self, sc, mode, port):
        lab = self.lab
        log = lab.work / ("imds-%s-%s.log" % (sc.name, mode))
        ready = lab.work / ("imds-%s-%s.ready" % (sc.name, mode))
        p = subprocess.Popen(["ip", "netns", "exec", sc.ns, sys.executable, str(Path(__file__).parent / "imds.py"),
                              "--config", str(lab.work / ("imds-%s.json" % sc.name)), "--port", str(port),
                              "--mode", mode, "--lifetime", "600", "--log", str(log), "--ready", str(ready)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.helpers.append(p)
        t_end = time.time() + 15
        while time.time() < t_end and not ready.exists():
            time.sleep(0.05)

    def stop_helpers(self):
        for p in self.helpers:  # only the processes this plug-in started, by their pid
            if p.poll() is None:
                p.terminate()
        for p in self.helpers:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()

    def add(self, ok, name, text):
        self.checks.append((bool(ok), "%-34s %s" % (name, text)))

    # -- one c9aws call and its verdict -----------------------------------------------------------
    def expect(self, name, sc, home, want, argv=None, extra=None, svc="sts", safety_net=False, says=None,
               wrap=None, bound=BOUND, want_rc=0, verdict="accepted"):
        """Run c9aws; want = the label of the key the call's last request carries ("amtc", "fallback", ...),
        with this verdict. safety_net: a first AMTC refusal followed by the fallback is the documented
        outcome (an unknown route keeps AMTC; the refusal is retried once)."""
        tag = self.tag(name)
        rc, out, err, secs = self.run(sc, home, tag, [self.lab.c9aws] + (argv or CALL), extra, wrap=wrap)
        ks = self.keys(tag, svc)
        if want is None:
            key_ok = True
        elif safety_net:
            key_ok = bool(ks) and ks[-1] == (want, "accepted") and all(
                k == ("amtc", "refused") for k in ks[:-1]) and len(ks) <= 2
        else:
            key_ok = bool(ks) and all(k == (want, verdict) for k in ks)
        says_ok = says is None or says.lower() in err.lower()
        ok = rc == want_rc and key_ok and secs < bound and says_ok and "panicked" not in err
        self.add(ok, name, "exit %d (want %d), %.1fs (bound %ds), keys %s (want %s:%s%s)%s%s" % (
            rc, want_rc, secs, bound, ",".join("%s:%s" % k for k in ks) or "none", want, verdict,
            ", AMTC refusal retried" if safety_net else "", "" if says is None else ", stderr says %r: %s" % (
                says, says_ok), "" if ok else "  stderr: " + err.strip()[-400:]))
        return rc, out, err, secs

    def same_as_aws(self, name, sc, home, argv=None, extra=None, says=None):
        """Both tools on the same broken home: c9aws exits as plain aws does, without panicking or hanging."""
        tag = self.tag(name)
        arc, _, aerr, asecs = self.run(sc, home, tag + "-aws", ["aws"] + (argv or CALL), extra)
        crc, _, cerr, csecs = self.run(sc, home, tag, [self.lab.c9aws] + (argv or CALL), extra)
        ks = self.keys(tag, "sts")
        wk = self.keys(tag + "-aws", "sts")
        says_ok = says is None or says.lower() in cerr.lower()
        ok = crc == arc and ks == wk and csecs < asecs + 15 and "panicked" not in cerr and says_ok
        self.add(ok, name, "c9aws exit %d, aws exit %d; keys c9aws %s, aws %s; %.1fs vs %.1fs%s%s" % (
            crc, arc, ",".join("%s:%s" % k for k in ks) or "none", ",".join("%s:%s" % k for k in wk) or "none",
            csecs, asecs, "" if says is None else "; stderr says %r: %s" % (says, says_ok),
            "" if ok else "  c9aws stderr: " + cerr.strip()[-300:]))

    # -- the cases -----------------------------------------------------------------------------
    def imds_cases(self):
        pub, prv = self.sc.get("public"), self.sc.get("private")
        for mode, port in (("hang", 8101), ("no-token", 8102)):
            for sc in (pub, prv):
                if sc:
                    self.imds(sc, mode, port)
        for case, port in (("imds-down", 8199), ("imds-hang", 8101), ("imds-no-token", 8102)):
            extra = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:%d" % port}
            if pub:
                self.expect(case + "/public", pub, self.home(case, pub), "amtc", extra=extra)
            if prv:
                # No facts: the route is unknown, AMTC is kept (on_unknown = amtc), AWS refuses it
                # from behind the NAT, and the safety net retries with the fallback.
                self.expect(case + "/private", prv, self.home(case, prv), "fallback", extra=extra, safety_net=True)

    def checkip_cases(self):
        pub, prv = self.sc.get("public"), self.sc.get("private")
        for sc in (pub, prv):
            if sc:
                self.helper(sc, "hang", "127.0.0.1", 8103)
                self.helper(sc, "garbage", "127.0.0.1", 8104)
        for case, url in (("checkip-down", "http://127.0.0.1:9/"), ("checkip-hang", "http://127.0.0.1:8103/"),
                          ("checkip-garbage", "http://127.0.0.1:8104/")):
            extra = {"C9AWS_CHECKIP_URL": url}
            if pub:
                self.expect(case + "/public", pub, self.home(case, pub), "amtc", extra=extra)
            if prv:
                self.expect(case + "/private", prv, self.home(case, prv), "fallback", extra=extra)

    def dns_cases(self):
        for sc in (self.sc.get("public"), self.sc.get("private")):
            if not sc:
                continue
            d = Path("/etc/netns") / sc.ns
            saved = {f: (d / f).read_bytes() for f in ("hosts", "resolv.conf") if (d / f).exists()}
            full = self.lab.work / ("hosts-%s" % sc.name)
            full.write_bytes(saved.get("hosts", b""))
            # Only the machine's own names stay in the hosts file: the AWS names go to the resolver.
            own = b"".join(l + b"\n" for l in saved.get("hosts", b"").splitlines()
                           if b"amazonaws.com" not in l or b"compute.internal" in l)
            self.helper(sc, "dns-slow", "127.0.0.2", 53, hosts=full, delay=DNS_DELAY)
            self.helper(sc, "dns-dead", "127.0.0.3", 53)
            try:
                (d / "hosts").write_bytes(own)
                (d / "resolv.conf").write_text("nameserver 127.0.0.2\noptions timeout:5 attempts:1\n")
                # Slow DNS: c9aws's lookups end at its deadline (route unknown in public: AMTC kept,
                # which AWS accepts; private: no public IPv4 is enough to switch).
                self.expect("dns-slow/" + sc.name, sc, self.home("dns-slow", sc),
                            "amtc" if sc.public_ip else "fallback", bound=BOUND + 20)
                (d / "resolv.conf").write_text("nameserver 127.0.0.3\noptions timeout:1 attempts:1\n")
                # Dead DNS: the CLI cannot resolve its endpoint either; c9aws must add no hang and
                # end as the CLI does ("Could not connect to the endpoint URL").
                # One attempt per CLI call (both tools alike) keeps the case short.
                self.same_as_aws("dns-dead/" + sc.name, sc, self.home("dns-dead", sc), says="Could not connect",
                                 extra={"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"})
            finally:
                for f, b in saved.items():
                    (d / f).write_bytes(b)

    def fallback_cases(self):
        pub, prv, s3gw = self.sc.get("public"), self.sc.get("private"), self.sc.get("s3gw")
        if prv:
            # Missing: c9aws names the profile and runs the call unswitched (AWS refuses AMTC here).
            h = self.home("fb-missing", prv)
            self.expect("fallback-missing/private", prv, h, "amtc", extra={"C9AWS_FALLBACK_PROFILE": "c9-nosuch"},
                        says="c9-nosuch", want_rc=255 if self.cli == "v1" else 254, verdict="refused")
            # Broken: keys without a secret. The switch happens; the CLI says what is wrong.
            h = self.home("fb-broken", prv)
            cfg = h / ".aws" / "config"
            cfg.write_text("[profile c9-fallback]\naws_access_key_id = %s\nregion = %s\n" % (FALLBACK_KEY[0], REGION))
            rc, _, err, secs = self.run(prv, h, "c9lab-faults-fb-broken", [self.lab.c9aws] + CALL)
            ok = rc != 0 and secs < BOUND and "panicked" not in err and (
                "c9-fallback" in err or "partial credentials" in err.lower())
            self.add(ok, "fallback-broken/private", "exit %d, %.1fs; stderr: %s" % (rc, secs, err.strip()[-240:]))
        if pub:
            h = self.home("fb-missing", pub)
            self.expect("fallback-missing/public", pub, h, "amtc", extra={"C9AWS_FALLBACK_PROFILE": "c9-nosuch"})
        if s3gw:
            # No ec2:Describe*: the route table is unreadable (c9aws says so), S3's route is unknown,
            # AMTC is kept, S3 refuses it through the gateway endpoint, the safety net switches.
            h = self.home("fb-noec2", s3gw)
            (h / ".aws" / "config").write_text("[profile c9-fallback]\naws_access_key_id = %s\n"
                                               "aws_secret_access_key = %s\nregion = %s\n" % (
                                                   NOEC2_KEY[0], NOEC2_KEY[1], REGION))
            self.expect("fallback-no-ec2-describe/s3gw", s3gw, h, "noec2", argv=["s3api", "list-buckets"], svc="s3",
                        safety_net=True, says="route table", bound=BOUND + 20)

    def cache_cases(self):
        prv = self.sc.get("private")
        if not prv:
            return
        # Corrupt.
        h = self.home("cache-corrupt", prv)
        c = h / ".cache" / "c9aws"
        c.mkdir(parents=True, mode=0o700)
        (c / "facts.json").write_bytes(b'{"format": 1, "machine": \x00\xff garbage')
        self.expect("cache-corrupt/private", prv, h, "fallback")
        self.cache_sane("cache-corrupt/private: rewritten", c / "facts.json")
        # Another format version (claiming a public IPv4 here): ignored.
        h = self.home("cache-version", prv)
        c = h / ".cache" / "c9aws"
        c.mkdir(parents=True, mode=0o700)
        now = int(time.time())
        (c / "facts.json").write_text(json.dumps({"format": 999, "machine": "x", "instance": {
            "at": now, "value": {"public_ipv4": "203.0.113.12"}}, "egress": {"at": now, "value": "203.0.113.12"}}))
        self.expect("cache-other-version/private", prv, h, "fallback")
        self.cache_sane("cache-other-version/private: rewritten", c / "facts.json")
        # Unwritable: ~/.cache is a file, so no cache directory can exist (root ignores modes).
        h = self.home("cache-unwritable", prv)
        (h / ".cache").write_text("not a directory\n")
        self.expect("cache-unwritable/private", prv, h, "fallback", says="cannot write its cache")
        self.expect("cache-unwritable/private: again", prv, h, "fallback", says="cannot write its cache")
        # Read-only home: a read-only bind mount in a private mount namespace.
        h = self.home("home-ro", prv)
        wrap = ["unshare", "-m", "sh", "-c",
                'mount --bind "$HOME" "$HOME" && mount -o remount,bind,ro "$HOME" && '
                '! touch "$HOME/.rw-probe" 2>/dev/null && exec "$@"', "sh"]
        self.expect("home-read-only/private", prv, h, "fallback", wrap=wrap, says="cannot write its cache")
        self.add(not (h / ".cache").exists() and not (h / ".rw-probe").exists(), "home-read-only/private: untouched",
                 "nothing written to the read-only home")

    def cache_sane(self, name, p):
        try:
            doc = json.loads(p.read_text())
            st, dst = p.stat(), p.parent.stat()
            ok = doc.get("format") == 1 and stat.S_IMODE(st.st_mode) == 0o600 and stat.S_IMODE(dst.st_mode) == 0o700
            self.add(ok, name, "valid JSON, format %s, mode %o in a %o directory" % (
                doc.get("format"), stat.S_IMODE(st.st_mode), stat.S_IMODE(dst.st_mode)))
        except (OSError, ValueError) as e:
            self.add(False, name, "not valid JSON: %s" % e)

    def file_cases(self):
        pub, prv = self.sc.get("public"), self.sc.get("private")
        if not pub:
            return
        h = self.home("bad-config", pub)
        (h / ".aws" / "config").write_text("[profile c9-fallback\naws_access_key_id = x\n  = broken\n")
        self.same_as_aws("aws-config-malformed/public", pub, h)
        h = self.home("bad-creds", pub)
        cr = h / ".aws" / "credentials"
        cr.write_text(cr.read_text() + "\n[broken\nthis is not = \n\x00\n")
        self.same_as_aws("aws-credentials-malformed/public", pub, h)
        h = self.home("bad-alias", pub)
        (h / ".aws" / "cli").mkdir()
        (h / ".aws" / "cli" / "alias").write_text("[toplevel]\nwhoami = sts get-caller-identity '\n[broken\n")
        self.same_as_aws("alias-malformed/public", pub, h)
        if prv:
            h = self.home("bad-c9config", prv)
            (h / ".config" / "c9aws" / "config").write_text("fallback_profile = c9-fallback\n[service s3\nroute\n")
            self.expect("c9aws-config-malformed/private", prv, h, "fallback", says="line")

    def rewrite_cases(self):
        for sc in (self.sc.get("public"), self.sc.get("private")):
            if not sc:
                continue
            h = self.home("rewrite", sc)
            cr = h / ".aws" / "credentials"
            stop = threading.Event()

            def rewriter():
                i = 0
                while not stop.is_set():  # as Cloud9 refreshes AMTC: a new secret and token, atomically
                    i += 1
                    tmp = cr.with_name(".credentials.c9tmp")
                    tmp.write_text(cloud9_credentials(sc, "c9labRewritten%026d" % i, "IQoJrewritten%060d" % i,
                                                      time.strftime("%a %b %d %Y %H:%M:%S GMT+0000")))
                    os.replace(tmp, cr)
                    time.sleep(0.005)

            t = threading.Thread(target=rewriter, daemon=True)
            t.start()
            try:
                for i in range(4):
                    self.expect("credentials-rewritten/%s#%d" % (sc.name, i), sc, h,
                                "amtc" if sc.public_ip else "fallback")
            finally:
                stop.set()
                t.join()

    # -- concurrency --------------------------------------------------------------------------
    def concurrency(self, n=64):
        sc = self.sc.get("private")
        if not sc:
            return
        lab = self.lab
        h = self.home("concurrent", sc)
        imds_log = lab.work / ("imds-%s.log" % sc.name)
        imds_before = imds_log.read_text(errors="replace").count("PUT /latest/api/token")
        front_before = len(lab.front_log.read_text(errors="replace").splitlines())
        base = "c9lab-faults-conc-%d-" % os.getpid()
        script = 'AWS_EXECUTION_ENV="%s$1" exec "%s" sts get-caller-identity >/dev/null 2>"$HOME/conc-$1.err"' % (
            base, lab.c9aws)
        argv = ["sh", "-c", 'seq 1 %d | xargs -P %d -I{} sh -c \'%s\' sh {}; echo done' % (n, n, script)]
        rc, out, err, secs = self.run(sc, h, base + "all", argv, timeout=240)
        time.sleep(0.3)
        by_tag, untagged = lab.parse_log()
        good = bad = 0
        for i in range(1, n + 1):
            ks = [(who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(base + str(i), [])
                  if l.get("svc") == "sts"]
            if ks and all(k == ("fallback", "accepted") for k in ks):
                good += 1
            else:
                bad += 1
        self.add(good == n, "concurrent-64/private: decisions",
                 "%d of %d cold c9aws processes signed with the fallback key only (%d not) in %.1fs" % (
                     good, n, bad, secs))
        p = h / ".cache" / "c9aws" / "facts.json"
        self.cache_sane("concurrent-64/private: cache", p)
        new = lab.front_log.read_text(errors="replace").splitlines()[front_before:]
        checkips = sum(1 for l in new if "svc=checkip" in l and " src=%s " % "203.0.113.100" in " " + l + " ")
        tokens = imds_log.read_text(errors="replace").count("PUT /latest/api/token") - imds_before
        self.add(1 <= checkips <= 4, "concurrent-64/private: checkip once",
                 "%d checkip request(s) for %d processes (want 1..4: one prober, plus any whose wait ran out)" % (
                     checkips, n))
        self.add(1 <= tokens <= 4, "concurrent-64/private: IMDS once",
                 "%d IMDS token request(s) for %d processes (want 1..4)" % (tokens, n))
        errs = [f for f in h.glob("conc-*.err") if "panicked" in f.read_text(errors="replace")]
        self.add(not errs, "concurrent-64/private: no panic", "%d stderr(s) with a panic" % len(errs))


def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    f = Faults(lab)
    only = [c for c in (os.environ.get("LAB_FAULTS") or "").split(",") if c]
    steps = [("imds", f.imds_cases), ("checkip", f.checkip_cases), ("dns", f.dns_cases),
             ("fallback", f.fallback_cases), ("cache", f.cache_cases), ("files", f.file_cases),
             ("rewrite", f.rewrite_cases), ("concurrency", f.concurrency)]
    try:
        for name, step in steps:
            if only and name not in only:
                continue
            t = time.time()
            try:
                step()
            except Exception as e:  # noqa: BLE001 - one crashing step is one failure
                import traceback
                f.add(False, name + ": crashed", "%s\n%s" % (e, traceback.format_exc()))
            print("faults: %s done in %.1fs" % (name, time.time() - t), flush=True)
    finally:
        f.stop_helpers()
    return f.checks
