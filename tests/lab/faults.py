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

For every CLI major the lab drives (issue 18), two more steps:
  stdin      the faults that leave a route unknown where AWS refuses AMTC (IMDS down, IMDS refusing
             tokens, checkip refused / hanging on an instance whose IMDS claims a public IPv4 it does
             not egress from, a fallback without ec2:Describe* in `s3gw`), each with stdin a pipe,
             /dev/null and a terminal (`script`): an argv that cannot read stdin ends with the
             fallback's success, one copy of its output and no refusal shown; the refusal is in
             facts.json's `learnt`, and (pipe) the next call goes straight to the fallback. `s3 cp -`
             from a pipe (an argv that reads stdin) runs once: the CLI's refusal and exit status, as
             plain aws; learnt all the same, and the next upload is switched at once.
             `--cli-input-json file:///dev/stdin` from a pipe ends as plain aws does.
  unchanged  IMDS down in `public`: AMTC kept and accepted, so calls run under the safety net without
             a retry; exit status, stdout bytes, a piped binary upload and its download, and death by
             SIGINT (to the process group, as Ctrl-C) and SIGTERM are those of plain aws.
"""
import concurrent.futures as cf
import json
import os
import re
import shlex
import shutil
import signal
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
    def __init__(self, lab, cli=None):
        self.lab = lab
        self.cli = cli or lab.clis[0]
        self.sc = {s.name: s for s in lab.scens}
        self.checks = []
        self.helpers = []
        self.n = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.prefix = ""  # "v1 " / "v2 " for the steps run for every CLI major

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

    def run(self, sc, home, tag, argv, extra=None, timeout=60, wrap=None, stdin="null", data=b""):
        rc, out, err, secs = self.run_b(sc, home, tag, argv, extra, timeout, wrap, stdin, data)
        return rc, out.decode(errors="replace"), err, secs

    def run_b(self, sc, home, tag, argv, extra=None, timeout=60, wrap=None, stdin="null", data=b""):
        """stdin: "null" (/dev/null), "pipe" (a pipe carrying `data`, then closed) or "tty" (util-linux
        `script`: stdin, stdout and stderr on a new pty; script's own stdin is /dev/null, so the pty
        reads end of file at once and nothing waits for a keyboard). stdout comes back as bytes."""
        inner = list(argv)
        if wrap:
            inner = wrap + inner
        if stdin == "tty":
            inner = ["script", "-qec", shlex.join(inner), "/dev/null"]
        cmd = ["ip", "netns", "exec", sc.ns, "timeout", "-k", "3", str(timeout)] + inner
        kw = {"input": data} if stdin == "pipe" else {"stdin": subprocess.DEVNULL}
        t = time.time()
        try:
            r = subprocess.run(cmd, capture_output=True, env=self.env(sc, home, tag, extra), timeout=timeout + 10,
                               cwd=str(home), **kw)
            return r.returncode, r.stdout, r.stderr.decode(errors="replace"), time.time() - t
        except subprocess.TimeoutExpired:
            return 124, b"", "[python-side timeout]", time.time() - t

    def tag(self, name):
        """A call tag the User-Agent carries intact: letters, digits and dashes, unique per call."""
        with self.lock:
            self.calls += 1
            n = self.calls
        return "c9lab-faults-%s-%s-%d" % (self.cli, "".join(c if c.isalnum() else "-" for c in name).strip("-"), n)

    def keys(self, tag, svc):
        time.sleep(0.15)
        by_tag, _ = self.lab.parse_log()
        return [(who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(tag, []) if l.get("svc") == svc]

    def home(self, case, sc):
        with self.lock:
            self.n += 1
            n = self.n
        return make_home(self.lab.work, "faults%02d-%s-%s" % (n, case, self.cli), sc)

    STARTED = set()  # (namespace, port) of helpers started once for every CLI major

    def once(self, sc, port):
        with self.lock:
            if (sc.ns, port) in Faults.STARTED:
                return False
            Faults.STARTED.add((sc.ns, port))
            return True

    def helper(self, sc, mode, addr, port, hosts=None, ready=None, delay=0):
        argv = ["ip", "netns", "exec", sc.ns, sys.executable, "-c", HELPER, mode, addr, str(port),
                str(hosts or "/dev/null"), str(ready or "/dev/null"), str(delay)]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.helpers.append(p)
        time.sleep(0.4)
        return p

    def imds(self, sc, mode, port, config=None):
        lab = self.lab
        log = lab.work / ("imds-%s-%s-%d.log" % (sc.name, mode, port))
        ready = lab.work / ("imds-%s-%s-%d.ready" % (sc.name, mode, port))
        p = subprocess.Popen(["ip", "netns", "exec", sc.ns, sys.executable, str(Path(__file__).parent / "imds.py"),
                              "--config", str(config or lab.work / ("imds-%s.json" % sc.name)), "--port", str(port),
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
        with self.lock:
            self.checks.append((bool(ok), "%s%-34s %s" % (self.prefix, name, text)))

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
        self.imds_transient()
        for case, port in (("imds-down", 8199), ("imds-hang", 8101), ("imds-no-token", 8102)):
            extra = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:%d" % port}
            if pub:
                self.expect(case + "/public", pub, self.home(case, pub), "amtc", extra=extra)
            if prv:
                # No facts: the route is unknown, AMTC is kept (on_unknown = amtc), AWS refuses it
                # from behind the NAT, and the safety net retries with the fallback.
                self.expect(case + "/private", prv, self.home(case, prv), "fallback", extra=extra, safety_net=True)

    def imds_transient(self):
        """IMDS slow once (a loaded instance: the token at once, each read past the client's 500 ms read
        timeout), then answering again: the first call cannot know the route (safety net: AMTC refused,
        retried); the next one, with IMDS well, must see the NAT before the call. A read timeout after
        a token was issued is not "no IMDS here" (off EC2 the token PUT itself gets no answer)."""
        prv = self.sc.get("private")
        if not prv:
            return
        if self.once(prv, 8105):
            self.imds(prv, "slow-read", 8105)
        h = self.home("imds-slow", prv)
        self.expect("imds-slow-once/private", prv, h, "fallback",
                    extra={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:8105"}, safety_net=True)
        # Another service than the first call's: its refusal is learnt, and would switch sts anyway.
        self.expect("imds-slow-once/private: next call", prv, h, "fallback", argv=["sqs", "list-queues"], svc="sqs")

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
        # C9AWS_DEBUG: the prober's own account of a failed probe lands in its conc-N.err (never a secret).
        rc, out, err, secs = self.run(sc, h, base + "all", argv, timeout=240, extra={"C9AWS_DEBUG": "1"})
        time.sleep(0.3)
        by_tag, untagged = lab.parse_log()
        good = bad = ended = 0
        for i in range(1, n + 1):
            ks = [(who_of(l.get("key")), l.get("verdict")) for l in by_tag.get(base + str(i), [])
                  if l.get("svc") == "sts"]
            if ks and all(k == ("fallback", "accepted") for k in ks):
                good += 1
            else:
                bad += 1
            ended += bool(ks) and ks[-1] == ("fallback", "accepted") and len(ks) <= 2
        # Every call must succeed (a late decision is rescued by the safety net: AMTC refused, retried) ...
        self.add(ended == n and "done" in out, "concurrent-64/private: succeeded",
                 "%d of %d ended with the fallback accepted (at most one AMTC refusal before it)" % (ended, n))
        probes = sorted({l.split("debug: ", 1)[-1].strip()[:160] for f in h.glob("conc-*.err")
                         for l in f.read_text(errors="replace").splitlines()
                         if "debug" in l and ("IMDS" in l or "checkip" in l or "probe" in l.lower())})
        # ... and, unless the machine is starved (every probe has a deadline), be decided before the call.
        self.add(good == n, "concurrent-64/private: decisions",
                 "%d of %d cold c9aws processes signed with the fallback key only (%d not) in %.1fs%s" % (
                     good, n, bad, secs, "" if good == n else "; probe lines: %s; facts.json learnt: %s" % (
                         " | ".join(probes[:6]) or "none", self.learnt_all(h))))
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

    # -- stdin: the safety net with stdin as a pipe, /dev/null and a terminal (issue 18) -------------
    def learnt_all(self, home):
        try:
            return json.dumps(json.loads((home / ".cache" / "c9aws" / "facts.json").read_text()).get("learnt"))
        except (OSError, ValueError) as e:
            return "unreadable (%s)" % type(e).__name__

    def learnt(self, home, svc, name):
        """(ok, check name, text): the facts cache's learnt refusal for this service in the lab's region."""
        p = home / ".cache" / "c9aws" / "facts.json"
        k = "%s %s" % (svc, REGION)
        try:
            e = (json.loads(p.read_text()).get("learnt") or {}).get(k)
        except (OSError, ValueError) as x:
            return False, name + ": learnt", "no readable facts.json (%s)" % type(x).__name__
        ok = isinstance(e, dict) and e.get("value") == "refused" and abs(time.time() - e.get("at", 0)) < 300
        return ok, name + ": learnt", "facts.json learnt[%r] = %s (want refused, now)" % (k, json.dumps(e))

    def stdin_cases(self):
        """Every fault that leaves a route unknown where AWS refuses AMTC, with stdin as a pipe,
        /dev/null and a terminal: an argv that cannot read stdin ends with the fallback's success
        (one copy of its output, the refusal not shown), the refusal is learnt, and with a pipe
        the next call goes straight to the fallback. An argv that reads stdin (`s3 cp -`, a pipe)
        is not run twice: the CLI's own refusal error and exit status, learnt all the same, and
        the next such call switches at once."""
        lab = self.lab
        prv, s3gw = self.sc.get("private"), self.sc.get("s3gw")
        cases = []
        if prv:
            # IMDS on other ports of the private instance: refusing tokens, and one that claims a public
            # IPv4 the instance does not egress from (a subnet routed to a NAT gateway with an
            # auto-assigned public IP): there only checkip can tell, so a broken checkip leaves it unknown.
            cfg = json.loads((lab.work / ("imds-%s.json" % prv.name)).read_text())
            cfg["public_ipv4"] = "203.0.113.12"
            natpub_cfg = lab.work / ("imds-%s-natpub.json" % prv.name)
            natpub_cfg.write_text(json.dumps(cfg))
            if self.once(prv, 8112):
                self.imds(prv, "no-token", 8112)
            if self.once(prv, 8113):
                self.imds(prv, "normal", 8113, config=natpub_cfg)
            if self.once(prv, 8114):
                self.helper(prv, "hang", "127.0.0.1", 8114)
            natpub = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:8113"}
            # Control: with checkip working, the NAT is seen before the call (no refusal at all).
            self.expect("natpub-control/private", prv, self.home("natpub", prv), "fallback", extra=natpub)
            cases += [
                ("imds-down", prv, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:8199"}, "fallback"),
                ("imds-no-token", prv, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:8112"}, "fallback"),
                ("checkip-down", prv, dict(natpub, C9AWS_CHECKIP_URL="http://127.0.0.1:9/"), "fallback"),
                ("checkip-hang", prv, dict(natpub, C9AWS_CHECKIP_URL="http://127.0.0.1:8114/"), "fallback"),
            ]
        if s3gw:
            cases.append(("fallback-no-ec2-describe", s3gw, {}, "noec2"))
        # What plain aws does with `s3 cp -` (stdin piped) where AWS refuses AMTC: the reference.
        ref = {}
        for sc in {c[1].name: c[1] for c in cases}.values():
            h = self.home("stdin-plain", sc)
            tag = self.tag("stdin-plain-" + sc.name)
            rc, _, err, _ = self.run(sc, h, tag, ["aws"] + self.cp_argv("plain"), stdin="pipe", data=os.urandom(4096))
            ref[sc.name] = rc
            ks = self.keys(tag, "s3")
            self.add(rc != 0 and ks == [("amtc", "refused")], "stdin-reference/%s" % sc.name,
                     "plain aws s3 cp - s3://… < pipe: exit %d, keys %s (want non-zero, amtc:refused)" % (
                         rc, ",".join("%s:%s" % k for k in ks) or "none"))
        if prv:
            self.cli_input_json(prv, cases[0][2])
            self.stdin_loop(prv, cases[0][2])
        ex = cf.ThreadPoolExecutor(max_workers=lab.jobs)
        try:
            futs = [ex.submit(self.stdin_case, *c, ref=ref) for c in cases]
            got = [f.result() for f in futs]
        finally:
            ex.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            for g in got:  # in case order, whatever order the cases ended in
                self.checks.extend(g)

    def cp_argv(self, who):
        return ["s3", "cp", "-", "s3://c9lab-bucket/c9lab-stdin-%s-%s-%s.bin" % (self.cli, who, self.tag("k"))]

    def cli_input_json(self, sc, extra):
        """`--cli-input-json file:///dev/stdin` from a pipe: both CLI majors open /dev/stdin twice,
        so the second read of a pipe is empty and the CLI fails before any request. c9aws must end
        exactly so: same exit status and message, no request, nothing retried."""
        argv = CALL + ["--cli-input-json", "file:///dev/stdin"]
        h = self.home("cli-input-json", sc)
        tag = self.tag("cli-input-json-" + sc.name)
        arc, aout, aerr, _ = self.run(sc, h, tag + "-aws", ["aws"] + argv, extra, stdin="pipe", data=b"{}\n")
        crc, cout, cerr, secs = self.run(sc, h, tag, [self.lab.c9aws] + argv, extra, stdin="pipe", data=b"{}\n")
        last = lambda e: ([l for l in e.strip().splitlines() if l.strip()] or [""])[0]
        ks, wk = self.keys(tag, "sts"), self.keys(tag + "-aws", "sts")
        ok = crc == arc != 0 and cout == aout and last(cerr) == last(aerr) and not ks and not wk and secs < BOUND
        self.add(ok, "cli-input-json-stdin/%s" % sc.name, "imds down, sts get-caller-identity --cli-input-json "
                 "file:///dev/stdin < pipe '{}': exit c9aws %d / aws %d, requests %d / %d, first stderr line %s: %r "
                 "(%.1fs)" % (crc, arc, len(ks), len(wk), "same" if last(cerr) == last(aerr) else "DIFFERENT",
                              last(cerr)[:90], secs))

    def stdin_loop(self, sc, extra):
        """A script's `… | while read x; do aws …; done`: the calls share the loop's stdin. The first
        is refused and retried (its argv cannot read stdin), the next ones switch at once, and no
        line of the loop's input may be eaten by c9aws or the CLI."""
        h = self.home("stdin-loop", sc)
        tag = self.tag("stdin-loop")
        script = ('printf "a\\nb\\nc\\n" | while read x; do "$0" sts get-caller-identity >/dev/null 2>>"$HOME/loop.err" '
                  '|| echo "failed $x"; echo "got $x"; done')
        rc, out, err, secs = self.run(sc, h, tag, ["sh", "-c", script, self.lab.c9aws], extra, timeout=BOUND * 3)
        ks = self.keys(tag, "sts")
        want = [("amtc", "refused")] + [("fallback", "accepted")] * 3
        ok = rc == 0 and out.split("\n") == ["got a", "got b", "got c", ""] and ks == want and secs < BOUND * 3
        self.add(ok, "stdin-loop/%s" % sc.name, "imds down, printf 'a\\nb\\nc\\n' | while read x; do c9aws sts "
                 "get-caller-identity; done: loop saw %s, keys %s (want amtc:refused, then fallback:accepted x3), "
                 "%.1fs%s" % ([l for l in out.split("\n") if l], ",".join("%s:%s" % k for k in ks) or "none", secs,
                              "" if ok else "  " + ((h / "loop.err").read_text(errors="replace")[-300:]
                                                   if (h / "loop.err").exists() else err[-300:])))

    def stdin_case(self, case, sc, extra, fb, ref):
        out = []

        def add(ok, name, text):
            out.append((bool(ok), "%s%-34s %s" % (self.prefix, name, text)))

        argv, svc, marker = (["s3api", "list-buckets"], "s3", '"Buckets"') if sc.name == "s3gw" else (
            CALL, "sts", '"Arn"')
        for mode in ("pipe", "null", "tty"):
            name = "%s/%s/stdin-%s" % (case, sc.name, mode)
            h = self.home("stdin-" + case + "-" + mode, sc)
            if fb == "noec2":
                self.noec2_fallback(h)
            tag = self.tag(name)
            rc, outb, err, secs = self.run_b(sc, h, tag, [self.lab.c9aws] + argv, extra, stdin=mode,
                                             data=b"c9lab: bytes nobody reads\n", timeout=BOUND + 20)
            ks = self.keys(tag, svc)
            # On a terminal CLI v2 pages its output with `less` (TERM=dumb: a warning, then the text with
            # SGR resets); the pager reads end of file from the pty and goes on. Only the text is compared.
            text = re.sub(r"\x1b\[[0-9;]*m", "", outb.decode(errors="replace").replace("\r", ""))
            seen = text + (err if mode != "tty" else "")
            try:
                doc = json.loads(text[text.index("{"):text.rindex("}") + 1] if mode == "tty" else text)
                once = isinstance(doc, dict) and text.count(marker) == 1
            except ValueError:
                once = False
            hidden = not any(x in seen for x in ("InvalidClientTokenId", "InvalidToken", "security token"))
            ok = (rc == 0 and ks == [("amtc", "refused"), (fb, "accepted")] and once and hidden
                  and secs < BOUND + 20 and "panicked" not in seen)
            add(ok, name, "exit %d, keys %s (want amtc:refused,%s:accepted), stdout one %s document: %s, "
                "refusal not shown: %s, %.1fs%s" % (
                    rc, ",".join("%s:%s" % k for k in ks) or "none", fb, marker, once, hidden, secs,
                    "" if ok else "  stdout+stderr: " + seen.strip()[-300:]))
            add(*self.learnt(h, svc, name))
            if mode == "pipe":
                tag = self.tag(name + "-next")
                rc, _, err, secs = self.run(sc, h, tag, [self.lab.c9aws] + argv, extra, stdin=mode, data=b"x\n")
                ks = self.keys(tag, svc)
                ok = rc == 0 and ks == [(fb, "accepted")]
                add(ok, name + ": next call", "exit %d, keys %s (want %s:accepted only: switched at once)%s" % (
                    rc, ",".join("%s:%s" % k for k in ks) or "none", fb, "" if ok else "  " + err.strip()[-200:]))
        # An argv that reads stdin, from a pipe: run once; the CLI's own error and exit status.
        name = "%s/%s/reads-stdin-pipe" % (case, sc.name)
        h = self.home("stdin-" + case + "-reads", sc)
        if fb == "noec2":
            self.noec2_fallback(h)
        tag = self.tag(name)
        rc, _, err, secs = self.run(sc, h, tag, [self.lab.c9aws] + self.cp_argv("c9aws"), extra, stdin="pipe",
                                    data=os.urandom(4096), timeout=BOUND + 20)
        ks = self.keys(tag, "s3")
        says = any(x in err for x in ("InvalidClientTokenId", "InvalidToken", "security token"))
        ok = rc == ref.get(sc.name) and ks == [("amtc", "refused")] and says and secs < BOUND + 20 \
            and "panicked" not in err
        add(ok, name, "s3 cp - s3://… < pipe: exit %d (plain aws %s), keys %s (want amtc:refused only: not run "
            "twice), the CLI's refusal on stderr: %s, %.1fs%s" % (
                rc, ref.get(sc.name), ",".join("%s:%s" % k for k in ks) or "none", says, secs,
                "" if ok else "  stderr: " + err.strip()[-300:]))
        add(*self.learnt(h, "s3", name))
        tag = self.tag(name + "-next")
        rc, _, err, secs = self.run(sc, h, tag, [self.lab.c9aws] + self.cp_argv("c9aws"), extra, stdin="pipe",
                                    data=os.urandom(4096))
        ks = self.keys(tag, "s3")
        ok = rc == 0 and ks == [(fb, "accepted")]
        add(ok, name + ": next call", "the same upload < pipe: exit %d, keys %s (want %s:accepted only)%s" % (
            rc, ",".join("%s:%s" % k for k in ks) or "none", fb, "" if ok else "  " + err.strip()[-200:]))
        return out

    def noec2_fallback(self, h):
        (h / ".aws" / "config").write_text("[profile c9-fallback]\naws_access_key_id = %s\n"
                                           "aws_secret_access_key = %s\nregion = %s\n" % (
                                               NOEC2_KEY[0], NOEC2_KEY[1], REGION))

    # -- calls the safety net watches but does not retry: nothing may change ------------------
    def unchanged_cases(self):
        """IMDS down in the public subnet: every route is unknown, AMTC is kept and works, so c9aws
        runs the CLI as a child (the safety net) and never retries. Exit status, stdout bytes,
        stdin bytes and death by signal must be what plain aws gives on the same home."""
        pub = self.sc.get("public")
        if not pub:
            return
        extra = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254:8199"}
        h = self.home("unchanged", pub)
        # The premise: each of these calls is watched by the safety net (AMTC kept, retry armed), and
        # c9aws knows which of them read stdin.
        plans = []
        for argv in (CALL, ["s3", "ls", "s3://c9lab-no-such-bucket"], ["s3", "cp", "-", "s3://c9lab-bucket/k"],
                     ["s3", "cp", "s3://c9lab-bucket/k", "-"], ["sqs", "receive-message", "--queue-url", "q"]):
            rc, out, err, _ = self.run(pub, h, self.tag("unchanged-explain"), [self.lab.c9aws, "explain", "--json"]
                                       + argv, extra)
            try:
                doc = json.loads(out)
                plans.append((" ".join(argv[:4]), doc["decision"]["action"],
                              doc["decision"].get("retry_on_refusal"), doc.get("stdin")))
            except (ValueError, KeyError, TypeError):
                plans.append((" ".join(argv), "no plan (exit %d)" % rc, None, None))
        ok = all(a == "passthrough" and r is True for _, a, r, _ in plans) and \
            [st is not None for _, _, _, st in plans] == [False, False, True, False, False]
        self.add(ok, "unchanged/public: watched", "; ".join("%s: %s, retry armed %s, stdin %s" % p for p in plans))
        for cid, argv, svc in (("sts", CALL, "sts"), ("no-such-bucket", ["s3", "ls", "s3://c9lab-no-such-bucket"], "s3")):
            name = "unchanged/public/%s" % cid
            tag = self.tag(name)
            arc, aout, aerr, _ = self.run_b(pub, h, tag + "-aws", ["aws"] + argv, extra, stdin="pipe", data=b"x\n")
            crc, cout, cerr, secs = self.run_b(pub, h, tag, [self.lab.c9aws] + argv, extra, stdin="pipe", data=b"x\n")
            ks, wk = self.keys(tag, svc), self.keys(tag + "-aws", svc)
            last = lambda e: ([l for l in e.strip().splitlines() if l.strip()] or [""])[-1]
            ok = crc == arc and cout == aout and ks == wk and ks and all(k == ("amtc", "accepted") for k in ks) \
                and last(cerr) == last(aerr)
            self.add(ok, name, "exit c9aws %d / aws %d, stdout %d / %d bytes, %s, keys %s / %s, last stderr line "
                     "%s (%.1fs)" % (crc, arc, len(cout), len(aout), "identical" if cout == aout else "DIFFERENT",
                                     ",".join("%s:%s" % k for k in ks) or "none",
                                     ",".join("%s:%s" % k for k in wk) or "none",
                                     "same" if last(cerr) == last(aerr) else "%r vs %r" % (last(cerr), last(aerr)), secs))
        # stdin through the watched child, stdout relayed: a binary round trip.
        payload = os.urandom(96 * 1024) + b"\r\n\x00end"
        key = "s3://c9lab-bucket/c9lab-unchanged-%s.bin" % self.cli
        tag = self.tag("unchanged-up")
        rc1, _, err1, _ = self.run_b(pub, h, tag, [self.lab.c9aws, "s3", "cp", "-", key], extra, stdin="pipe",
                                     data=payload)
        tag2 = self.tag("unchanged-down")
        rc2, out2, err2, _ = self.run_b(pub, h, tag2, [self.lab.c9aws, "s3", "cp", key, "-"], extra, stdin="pipe",
                                        data=b"x\n")
        ks = self.keys(tag, "s3") + self.keys(tag2, "s3")
        ok = rc1 == 0 and rc2 == 0 and out2 == payload and all(k == ("amtc", "accepted") for k in ks) and ks
        self.add(ok, "unchanged/public/s3-cp-roundtrip", "s3 cp - (stdin piped, %d bytes) exit %d, s3 cp … - exit %d: "
                 "%d bytes, %s; keys %s%s" % (len(payload), rc1, rc2, len(out2),
                                              "equal" if out2 == payload else "NOT equal",
                                              ",".join("%s:%s" % k for k in ks) or "none",
                                              "" if ok else "  " + (err1 + err2).strip()[-300:]))
        # Signals: a long poll, interrupted as Ctrl-C does (the whole process group) and by SIGTERM
        # (to the process started); c9aws must end as plain aws does.
        for sig in (signal.SIGINT, signal.SIGTERM):
            got = {}
            for tool in ("aws", "c9aws"):
                got[tool] = self.signalled(pub, h, tool, sig, extra)
            ok = got["aws"][0] == got["c9aws"][0] and got["c9aws"][1] and got["aws"][1]
            self.add(ok, "unchanged/public/%s" % sig.name, "sqs receive-message (20 s long poll) sent %s %s: "
                     "c9aws returncode %s, plain aws %s (negative: died of that signal); in flight when sent: "
                     "c9aws %s, aws %s; %.1fs after the signal" % (
                         sig.name, "to the process group" if sig == signal.SIGINT else "to the process",
                         got["c9aws"][0], got["aws"][0], got["c9aws"][1], got["aws"][1], got["c9aws"][2]))

    def signalled(self, sc, home, tool, sig, extra):
        """Start a long poll, wait until the front has it, send sig; (returncode, in flight, secs to end)."""
        tag = self.tag("signal-%s-%s" % (sig.name, tool))
        prog = [self.lab.c9aws] if tool == "c9aws" else ["aws"]
        argv = ["ip", "netns", "exec", sc.ns] + prog + [
            "sqs", "receive-message", "--queue-url",
            "https://sqs.%s.amazonaws.com/123456789012/c9lab-queue" % REGION, "--wait-time-seconds", "20"]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=self.env(sc, home, tag, extra), cwd=str(home), start_new_session=True)
        # In flight: the namespace holds an established connection to the AWS side (nothing else runs
        # in `public` meanwhile). The front logs a request only when it is answered, 20 s later.
        inflight = False
        t_end = time.time() + 20
        while time.time() < t_end and p.poll() is None:
            r = subprocess.run(["ip", "netns", "exec", sc.ns, "ss", "-Htn", "state", "established"],
                               capture_output=True, text=True)
            if ":443" in r.stdout:
                inflight = True
                break
            time.sleep(0.2)
        time.sleep(0.5)
        t = time.time()
        try:
            if sig == signal.SIGINT:
                os.killpg(p.pid, sig)
            else:
                p.send_signal(sig)
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return "hung (killed)", inflight, time.time() - t
        except ProcessLookupError:
            p.wait()
        finally:
            if p.stderr:
                p.stderr.close()
        return p.returncode, inflight, time.time() - t



def run(lab):
    if lab.c9aws_problem:
        return [(False, "c9aws unavailable: %s" % lab.c9aws_problem)]
    f = Faults(lab)
    only = [c for c in (os.environ.get("LAB_FAULTS") or "").split(",") if c]
    steps = [("imds", f.imds_cases), ("checkip", f.checkip_cases), ("dns", f.dns_cases),
             ("fallback", f.fallback_cases), ("cache", f.cache_cases), ("files", f.file_cases),
             ("rewrite", f.rewrite_cases), ("concurrency", f.concurrency)]
    # The stdin matrix and the unchanged-call checks run for every CLI major the lab drives.
    per_cli = [Faults(lab, cli) for cli in lab.clis]
    for g in per_cli:
        g.prefix = g.cli + " "
    steps += [("stdin", lambda: [g.stdin_cases() for g in per_cli]),
              ("unchanged", lambda: [g.unchanged_cases() for g in per_cli])]
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
        for g in per_cli:
            g.stop_helpers()
    return f.checks + [c for g in per_cli for c in g.checks]
