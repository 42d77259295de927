#!/usr/bin/env python3
"""Differential test: c9aws's model of the AWS CLI's command line against the CLI's own parser.

Run it with the Python of the CLI under test:

    python3 tests/differential/argv.py --c9aws target/release/c9aws                 # CLI v1
    /opt/awscli-v2/bin/python tests/differential/argv.py --c9aws target/release/c9aws  # CLI v2

1. Corpus: every `aws ...` command line inside the code blocks of the installed awscli package's
   `examples/**/*.rst` (backslash continuations joined, shlex-split; lines with shell constructs
   dropped), plus a generated set (seeded) that puts global options anywhere, with and without
   region variables, and a set of lines going through `[toplevel]` aliases.
2. Oracle: the CLI's own objects, built as `CLIDriver.main` builds them (command table, main
   parser, alias injection), run up to the point where a request would be built: the main
   parser's `parse_known_args`, the alias commands' own `__call__`, then the ServiceArgParser
   (service commands) or the ArgTableArgParser (top-level custom commands such as `s3`).
   Nothing is sent anywhere: the leaf commands are replaced by recorders.
3. c9aws: `c9aws explain --json ARGV` with the same HOME (config + alias file) and environment.
4. Compare command, operation, region, usage error or not, and the first service.

Exit status: 0 when the match rate is >= 99.9 % and every miss is listed in
`tests/differential/argv_known_misses.md` (`- v1 <id>: ...`, the id is printed with each miss).
"""

import argparse
import concurrent.futures
import hashlib
import inspect
import io
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_MISSES = os.path.join(HERE, "argv_known_misses.md")
SEED = 20261128
TARGET_RATE = 0.999

# --------------------------------------------------------------------------------------------
# The environment both sides see. It must be in place before awscli is imported: the alias
# loader computes `~/.aws/cli/alias` when its module is imported.

CONFIG = """\
[default]
region = us-west-2
output = json

[profile p]
region = eu-north-1

[profile noregion]
output = text
"""

# `[toplevel]` aliases: plain, with global options, shadowing a service (and proxying to it),
# shadowing a service (and going elsewhere), alias to alias, an alias loop, unsupported global
# options, and a shell alias.
ALIASES = """\
[toplevel]
whoami = sts get-caller-identity
wr = sts get-caller-identity --region eu-central-1
two = wr --output text
sqs = sqs --region sa-east-1 --output text
dax = sts get-caller-identity
s3ls = s3 ls
mye = ec2 --reg=ap-south-1
myec2 = ec2
badp = sts get-caller-identity --profile p
badd = sts get-caller-identity --debug
loop1 = loop2
loop2 = loop1
multi =
    sts
    get-caller-identity
    --region us-east-2
shout = !f() { echo "$@"; }; f
"""

ALIAS_LINES = [
    "whoami",
    "whoami --region eu-west-3",
    "--region eu-west-3 whoami",
    "whoami --output json",
    "wr",
    "--region eu-west-3 wr",
    "wr --region eu-west-3",
    "two",
    "two --query Account",
    "--profile p two",
    "--profile p whoami",
    "sqs list-queues",
    "--region eu-west-3 sqs list-queues",
    "sqs --region eu-west-3 list-queues",
    "sqs list-queues --region=eu-west-3",
    "sqs",
    "sqs nosuch-operation",
    "dax describe-clusters",
    "dax",
    "s3ls",
    "s3ls s3://bucket/prefix/",
    "--region eu-west-3 s3ls s3://bucket",
    "mye describe-instances",
    "mye describe-instances --region eu-west-3",
    "myec2 describe-instances",
    "--reg us-east-2 myec2 describe-vpcs",
    "myec2",
    "badp",
    "badd",
    "loop1",
    "multi",
    "multi --region eu-west-3",
    "shout",
    "shout hello world",
    "--region eu-west-3 shout s3 ls",
    "--debug whoami",
    "whoami help",
    "myec2 help",
]

# (option tokens, versions it exists in). Values are chosen so that both sides could act.
GLOBAL_SNIPPETS = [
    (["--region", "eu-west-1"], (1, 2)),
    (["--region=ap-northeast-1"], (1, 2)),
    (["--reg", "us-east-2"], (1, 2)),
    (["--reg=ca-west-1"], (1, 2)),
    (["--regi", "il-central-1"], (1, 2)),
    (["--profile", "p"], (1, 2)),
    (["--prof", "p"], (1, 2)),
    (["--profile=noregion"], (1, 2)),
    (["--profile", "nosuch"], (1, 2)),
    (["--output", "json"], (1, 2)),
    (["--output=text"], (1, 2)),
    (["--out", "table"], (1, 2)),
    (["--debug"], (1, 2)),
    (["--deb"], (1, 2)),
    (["--"], (1, 2)),
    (["--no-paginate"], (1, 2)),
    (["--no-pag"], (1, 2)),
    (["--no-verify-ssl"], (1, 2)),
    (["--no-sign-request"], (1, 2)),
    (["--endpoint-url", "https://example.com"], (1, 2)),
    (["--endpoint", "https://vpce.example.com"], (1, 2)),
    (["--query", "Items[0]"], (1, 2)),
    (["--color", "off"], (1, 2)),
    (["--ca-bundle", "/tmp/ca.pem"], (1, 2)),
    (["--cli-read-timeout", "5"], (1, 2)),
    (["--cli-connect-timeout=0"], (1, 2)),
    # usage errors and other edges
    (["--output", "xml"], (1, 2)),
    (["--no"], (1, 2)),
    (["--region"], (1, 2)),
    (["--cli-read-timeout", "five"], (1, 2)),
    (["--debug=1"], (1, 2)),
    (["--version"], (1, 2)),
    (["--c"], (1, 2)),
    (["-x"], (1, 2)),
    (["--region", "--output", "json"], (1, 2)),
    # v1 only
    (["--v2-debug"], (1,)),
    (["--v2"], (1,)),
    # v2 only
    (["--no-cli-pager"], (2,)),
    (["--cli-binary-format", "raw-in-base64-out"], (2,)),
    (["--cli-error-format=json"], (2,)),
    (["--no-cli-p"], (2,)),
    (["--output", "yaml"], (1, 2)),
]

ENV_VARIANTS = [
    {},
    {"AWS_DEFAULT_REGION": "ca-central-1"},
    {"AWS_REGION": "me-south-1"},
    {"AWS_REGION": "me-south-1", "AWS_DEFAULT_REGION": "ca-central-1"},
]

# Top-level commands that are not ServiceCommands: the service they call, None if local.
CUSTOM_TOP_LEVEL = {"s3": "s3", "ddb": "dynamodb"}


def setup_home():
    home = tempfile.mkdtemp(prefix="c9aws-argv-")
    os.makedirs(os.path.join(home, ".aws", "cli"))
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(home, ".aws", "cli", "alias"), "w") as f:
        f.write(ALIASES)
    return home


def base_env(home):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("C9AWS_") and not k.startswith("C9_")
    }
    env["HOME"] = home
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PAGER"] = ""
    return env


# --------------------------------------------------------------------------------------------
# Corpus

SHELL_PUNCT = set("();<>|&")
DIRECTIVE = re.compile(r"^\s*\.\.\s+(code-block|code|sourcecode)::")


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def code_blocks(text):
    """Yields the lines of each RST literal block (after `::` or a code directive)."""
    lines = text.splitlines()
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.rstrip()
        if stripped.endswith("::") or DIRECTIVE.match(line):
            base = indent_of(line)
            j = i + 1
            block = []
            while j < n:
                l = lines[j]
                if l.strip() == "":
                    block.append("")
                elif indent_of(l) > base:
                    block.append(l)
                elif DIRECTIVE.match(lines[i]) and l.lstrip().startswith(":"):
                    block.append("")  # directive options
                else:
                    break
                j += 1
            yield block
            i = j
        else:
            i += 1


def split_command(text):
    """shlex-splits a joined command; None when it has shell constructs we cannot model."""
    if "$(" in text or "`" in text:
        return None
    try:
        lex = shlex.shlex(text, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        for tok in lex:
            if tok and all(c in SHELL_PUNCT for c in tok):
                return None
        return shlex.split(text)
    except ValueError:
        return None


def commands_in_block(block):
    """`aws ...` command lines of one literal block, continuations joined."""
    out = []
    i = 0
    n = len(block)
    while i < n:
        s = block[i].strip()
        if s.startswith("$ aws "):
            s = s[2:]
        if not s.startswith("aws "):
            i += 1
            continue
        text = s
        j = i + 1
        # backslash-newline continuations, then unterminated quotes running over lines
        while True:
            while text.endswith("\\") and j < n:
                text = text[:-1] + "\n" + block[j].strip()
                j += 1
            try:
                shlex.split(text)
                break
            except ValueError:
                if j < n and j - i < 200:
                    text = text + "\n" + block[j]
                    j += 1
                    continue
                text = None
                break
        if text is not None:
            if text.endswith("\\"):
                text = text[:-1]
            out.append(text)
        i = j
    return out


def build_corpus(examples_dir):
    seen = set()
    corpus = []
    dropped = 0
    for root, dirs, files in os.walk(examples_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".rst"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            rel = os.path.relpath(path, examples_dir)
            for block in code_blocks(text):
                for cmd in commands_in_block(block):
                    toks = split_command(cmd)
                    if not toks or toks[0] != "aws":
                        dropped += 1
                        continue
                    argv = tuple(toks[1:])
                    if argv in seen:
                        continue
                    seen.add(argv)
                    corpus.append({"argv": list(argv), "env": {}, "origin": "corpus " + rel})
    return corpus, dropped


def generated(corpus, major, count):
    rng = random.Random(SEED + major)
    snippets = [s for s, versions in GLOBAL_SNIPPETS if major in versions]
    out = []
    picks = rng.sample(range(len(corpus)), min(count, len(corpus)))
    for k, idx in enumerate(sorted(picks)):
        argv = list(corpus[idx]["argv"])
        for _ in range(rng.choice((1, 1, 2, 3))):
            snip = rng.choice(snippets)
            where = rng.random()
            if where < 0.3:
                pos = 0
            elif where < 0.6:
                pos = len(argv)
            else:
                pos = rng.randint(0, len(argv))
            argv[pos:pos] = snip
        env = ENV_VARIANTS[k % len(ENV_VARIANTS)]
        out.append({"argv": argv, "env": dict(env), "origin": "generated from " + corpus[idx]["origin"]})
    for k, line in enumerate(ALIAS_LINES):
        out.append({"argv": shlex.split(line), "env": dict(ENV_VARIANTS[k % 2]), "origin": "alias"})
    # Bare edges.
    for line in ["", "--region eu-west-1", "--version", "help", "s3", "ec2", "ec2 help", "s3 help",
                 "nosuch", "ec2 nosuch-operation", "-- ec2 describe-vpcs", "ec2 -- describe-vpcs",
                 "--debug --version --output xml", "--output xml --version", "configure",
                 "configure list", "history list", "sts get-caller-identity --",
                 "--region -1 sts get-caller-identity", "s3 ls --reg=", "ec2 --describe-vpcs"]:
        out.append({"argv": shlex.split(line), "env": {}, "origin": "edge"})
    return out


def miss_id(major, item):
    key = json.dumps([major, item["argv"], sorted(item["env"].items())])
    return hashlib.sha1(key.encode()).hexdigest()[:10]


# --------------------------------------------------------------------------------------------
# The CLI's own answer

class Oracle:
    """The installed CLI's objects, driven as CLIDriver.main drives them, minus the requests."""

    def __init__(self):
        import awscli
        from awscli import clidriver
        from awscli.alias import ExternalAliasCommand
        from awscli.argparser import ArgTableArgParser
        from awscli.customizations.commands import BasicCommand
        from botocore.exceptions import ProfileNotFound

        self.version = awscli.__version__
        self.major = int(self.version.split(".")[0])
        self._ArgTableArgParser = ArgTableArgParser
        self._ProfileNotFound = ProfileNotFound
        try:
            from awscli.argparser import ArgParseException  # v2 raises it for usage errors
            self._parse_errors = (SystemExit, ArgParseException)
        except ImportError:
            self._parse_errors = (SystemExit,)
        try:
            from awscli.lazy import LazyCommand
        except ImportError:
            LazyCommand = None
        from awscli.help import HelpCommand

        from awscli.utils import emit_top_level_args_parsed_event
        self._emit = emit_top_level_args_parsed_event
        self._emit_takes_remaining = len(inspect.signature(self._emit).parameters) >= 3
        self.driver = clidriver.create_clidriver()
        self.session = self.driver.session
        self.command_table = self.driver._get_command_table()
        create = getattr(self.driver, "create_parser", None) or self.driver._create_parser
        self.parser = create(self.command_table)
        self.driver._add_aliases(self.command_table, self.parser)
        self.examples_dir = os.path.join(os.path.dirname(awscli.__file__), "examples")

        # Replace every command a dispatch can end in by a recorder. Alias commands keep their
        # own __call__, so expansion, shadowing and global-option merging are the CLI's.
        oracle = self

        def record_service(cmd, args, parsed_globals):
            create = getattr(cmd, "create_parser", None) or cmd._create_parser
            parsed, remaining = create().parse_known_args(args)
            oracle._result = {"status": "ok", "command": cmd.name, "operation": parsed.operation,
                              "service": cmd._service_name, "remaining": remaining,
                              "globals": parsed_globals}
            return 0

        def record_basic(cmd, name, args, parsed_globals):
            parser = ArgTableArgParser(cmd.arg_table, cmd.subcommand_table)
            parsed, remaining = parser.parse_known_args(args)
            op = getattr(parsed, "subcommand", None)
            if op is None and getattr(parsed, "help", None) == "help":
                op = "help"
            if op is None and needs_subcommand(cmd):
                raise ValueError("%s: a subcommand is required (the command's _run_main)" % name)
            oracle._result = {"status": "ok", "command": name, "operation": op,
                              "service": CUSTOM_TOP_LEVEL.get(name), "remaining": remaining,
                              "globals": parsed_globals}
            return 0

        def needs_subcommand(cmd):
            try:
                src = inspect.getsource(type(cmd)._run_main)
            except (OSError, TypeError):
                return False
            return "subcommand is None" in src

        def recorder(self_, args, parsed_globals):
            if isinstance(self_, clidriver.ServiceCommand):
                return record_service(self_, args, parsed_globals)
            if isinstance(self_, ExternalAliasCommand):
                oracle._result = {"status": "external", "globals": parsed_globals}
                return 0
            if isinstance(self_, HelpCommand):
                oracle._result = {"status": "ok", "command": "help", "operation": None,
                                  "service": None, "remaining": [], "globals": parsed_globals}
                return 0
            name = self_.name
            real = self_._resolve() if LazyCommand and isinstance(self_, LazyCommand) else self_
            if isinstance(real, BasicCommand):
                return record_basic(real, name, args, parsed_globals)
            raise RuntimeError("unexpected command type %r" % type(self_))

        classes = {clidriver.ServiceCommand, ExternalAliasCommand, HelpCommand, BasicCommand}
        if LazyCommand:
            classes.add(LazyCommand)
        for cmd in list(self.command_table.values()):
            if type(cmd).__name__ not in ("ServiceAliasCommand",):
                classes.add(type(cmd))
        for cls in classes:
            cls.__call__ = recorder

    def run(self, argv, env):
        """What the CLI does with argv: status ok|error|version|external, command, ..."""
        self._result = None
        saved_out, saved_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()
        try:
            parsed, remaining = self.parser.parse_known_args(list(argv))
            # CLIDriver._handle_top_level_args: the handlers of this event convert the global
            # options (int() of the timeouts, verify-ssl, no-sign-request); a failure there
            # stops the CLI (exit 255) before any command runs.
            if self._emit_takes_remaining:
                self._emit(self.session, parsed, remaining)
            else:
                self._emit(self.session, parsed)
            self.command_table[parsed.command](remaining, parsed)
        except SystemExit as e:
            if e.code in (0, None):
                return {"status": "version"}
            return {"status": "error", "why": "exit %s" % e.code}
        except self._parse_errors as e:
            return {"status": "error", "why": str(e).split("\n")[0]}
        except RecursionError:
            return {"status": "error", "why": "alias recursion"}
        except Exception as e:  # InvalidAliasException and friends: the CLI stops, exit 255
            return {"status": "error", "why": "%s: %s" % (type(e).__name__, str(e).split("\n")[0])}
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
        r = self._result
        if r is None:
            return {"status": "error", "why": "no command ran"}
        g = r.pop("globals")
        if r["status"] != "ok":
            return r
        r["region"] = self.region(g, env)
        op = r["operation"]
        rem = r.pop("remaining")
        r["local"] = r["service"] is None or op == "help" or (rem[:1] == ["help"])
        return r

    def region(self, g, env):
        # The CLI hands parsed_globals.region to create_client as it is, even when empty
        # (`--region ""`, `--reg=`): botocore then fails on the endpoint `https://s3..amazonaws.com`.
        if getattr(g, "region", None) is not None:
            return g.region
        saved_env = {k: os.environ.get(k) for k in ("AWS_REGION", "AWS_DEFAULT_REGION")}
        saved_vars = dict(self.session._session_instance_vars)
        try:
            for k in saved_env:
                os.environ.pop(k, None)
            os.environ.update(env)
            if getattr(g, "profile", None):
                self.session.set_config_variable("profile", g.profile)
            return self.session.get_config_variable("region")
        except self._ProfileNotFound:
            return None
        finally:
            self.session._session_instance_vars.clear()
            self.session._session_instance_vars.update(saved_vars)
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# --------------------------------------------------------------------------------------------
# c9aws's answer and the comparison

def run_c9aws(c9aws, argv, env, timeout=60):
    try:
        # `--` first: explain's own parser (clap) eats one `--`, so ARGV reaches c9aws verbatim
        # even when it starts with `--` or with one of explain's own options.
        p = subprocess.run([c9aws, "explain", "--json", "--", *argv], env=env, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"_crash": "timeout"}
    try:
        out = json.loads(p.stdout.decode("utf-8", "replace"))
        if not isinstance(out, dict):
            raise ValueError("not an object")
        return out
    except ValueError:
        return {"_crash": "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[:200],
                                                           p.stderr.decode("utf-8", "replace")[-300:])}


# Commands (by the service the parser names) with customizations whose clients are not the
# command's own service (c9aws core::target CUSTOM_CLIENTS, Clients::Only).
SERVICES_OF_CUSTOM = {"eks", "cloudformation", "dlm", "emr-containers"}


def compare(cli, ours):
    """None when ours agrees with the CLI's, else the list of differences."""
    if "_crash" in ours:
        return ["c9aws failed: " + ours["_crash"]]
    diffs = []
    kind = ours.get("kind")
    st = cli["status"]
    if st in ("error", "external"):
        if kind != "unpredictable":
            diffs.append("kind %r, want unpredictable (%s)" % (kind, st))
        if ours.get("command") is not None or ours.get("operation") is not None:
            diffs.append("command/operation %r/%r, want null/null (%s)"
                         % (ours.get("command"), ours.get("operation"), st))
        return diffs or None
    if st == "version":
        if kind != "local":
            diffs.append("kind %r, want local (--version)" % kind)
        return diffs or None
    for key in ("command", "operation", "region"):
        if ours.get(key) != cli[key]:
            diffs.append("%s %r, want %r" % (key, ours.get(key), cli[key]))
    services = ours.get("services") or []
    if cli["local"]:
        if kind != "local":
            diffs.append("kind %r, want local" % kind)
    elif kind == "fails":
        # c9aws says the CLI stops before sending (no such profile, no region, an unreadable
        # file:// parameter): past the parser, so trace.py, which runs the CLI, is the judge.
        pass
    else:
        if kind != "calls":
            diffs.append("kind %r, want calls" % kind)
        # A customization may call other services than its command's (eks get-token: sts only,
        # cloudformation package: s3 only); trace.py checks every client the CLI creates.
        if services[:1] != [cli["service"]] and not (cli["service"] in SERVICES_OF_CUSTOM
                                                     and services):
            diffs.append("services %r, want %r first" % (services, cli["service"]))
    return diffs or None


def known_misses(major):
    ids = set()
    if os.path.exists(KNOWN_MISSES):
        with open(KNOWN_MISSES, encoding="utf-8") as f:
            for m in re.finditer(r"^\s*[-*]\s+v(\d)\s+([0-9a-f]{10})\b", f.read(), re.M):
                if int(m.group(1)) == major:
                    ids.add(m.group(2))
    return ids


def fmt_cli(cli):
    if cli["status"] != "ok":
        return "%s%s" % (cli["status"], (" (" + cli["why"] + ")") if cli.get("why") else "")
    return "command=%r operation=%r service=%r region=%r local=%s" % (
        cli["command"], cli["operation"], cli["service"], cli["region"], cli["local"])


def fmt_ours(o):
    if "_crash" in o:
        return o["_crash"]
    return "kind=%r command=%r operation=%r services=%r region=%r" % (
        o.get("kind"), o.get("command"), o.get("operation"), o.get("services"), o.get("region"))


# --------------------------------------------------------------------------------------------

def self_test():
    rst = """Title
=====

**Example 1**

The following example. ::

    aws ec2 describe-instances \\
        --instance-ids i-1234567890abcdef0

Output::

    aws is not a command here? it is inside Output, still a block

.. code-block:: bash

    $ aws s3 cp a.txt s3://b/ > out.txt
    aws sqs send-message --message-body '{
      "a": 1
    }' --queue-url x
    aws lambda invoke --function-name f $(cat x)
"""
    blocks = list(code_blocks(rst))
    cmds = [c for b in blocks for c in commands_in_block(b)]
    assert cmds[0] == "aws ec2 describe-instances \n--instance-ids i-1234567890abcdef0", cmds
    argvs = [split_command(c) for c in cmds]
    assert argvs[0] == ["aws", "ec2", "describe-instances", "--instance-ids", "i-1234567890abcdef0"], argvs
    assert argvs[2] is None, argvs          # redirection
    assert argvs[3][:3] == ["aws", "sqs", "send-message"] and argvs[3][-1] == "x", argvs
    assert argvs[4] is None, argvs          # command substitution
    assert split_command("aws s3 ls 's3://a|b'") == ["aws", "s3", "ls", "s3://a|b"]
    assert split_command("aws s3 ls s3://a && echo") is None
    o = Oracle()
    cases = [
        ("s3 ls", "ok", "s3", "ls", "us-west-2"),
        ("--region eu-west-1 ec2 describe-vpcs", "ok", "ec2", "describe-vpcs", "eu-west-1"),
        ("ec2 describe-vpcs --reg=eu-west-2", "ok", "ec2", "describe-vpcs", "eu-west-2"),
        ("--profile p sts get-caller-identity", "ok", "sts", "get-caller-identity", "eu-north-1"),
        ("deploy list-applications", "ok", "deploy", "list-applications", "us-west-2"),
        ("wr", "ok", "sts", "get-caller-identity", "eu-central-1"),
        ("--region x wr", "ok", "sts", "get-caller-identity", "eu-central-1"),
        ("sqs list-queues --region eu-west-3", "ok", "sqs", "list-queues", "sa-east-1"),
        ("loop1", "error", None, None, None),
        ("badp", "error", None, None, None),
        ("shout x", "external", None, None, None),
        ("--version", "version", None, None, None),
        ("--output xml s3 ls", "error", None, None, None),
        ("ec2", "error", None, None, None),
        ("ec2 nosuch", "error", None, None, None),
        ("s3 ls --cli-read-timeout five", "error", None, None, None),
        ("--version --cli-read-timeout five", "version", None, None, None),
        ("--debug=1 --version", "error", None, None, None),
        ("--version --debug=1", "version", None, None, None),
        ("-- --region x s3 ls", "error", None, None, None),
        ("s3", "error", None, None, None),
        ("configure", "ok", "configure", None, "us-west-2"),
    ]
    for line, st, cmd, op, region in cases:
        r = o.run(shlex.split(line), {})
        assert r["status"] == st, (line, r)
        assert "NameError" not in r.get("why", ""), (line, r)
        if st == "ok":
            assert (r["command"], r["operation"], r["region"]) == (cmd, op, region), (line, r)
    assert o.run(["s3", "ls"], {"AWS_DEFAULT_REGION": "ca-central-1"})["region"] == "ca-central-1"
    want = "me-south-1" if o.major == 2 else "us-west-2"
    assert o.run(["s3", "ls"], {"AWS_REGION": "me-south-1"})["region"] == want
    assert o.run(["s3", "help"], {})["local"]
    assert o.run(["configure", "list"], {})["local"]
    corpus, dropped = build_corpus(o.examples_dir)
    assert len(corpus) > 5000, len(corpus)
    print("self-test ok: awscli %s, corpus %d lines (%d dropped)" % (o.version, len(corpus), dropped))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--c9aws", help="path of the c9aws binary")
    ap.add_argument("--aws", help="the CLI c9aws should exec (default: v1 `aws` on PATH, "
                                  "v2 the `aws` next to this Python)")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--generated", type=int, default=2000, help="generated lines (default 2000)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N lines (debugging)")
    ap.add_argument("--self-test", action="store_true", help="check the harness, no c9aws needed")
    ap.add_argument("--show", type=int, default=200, help="misses printed in full (default 200)")
    ap.add_argument("--dump", help="write every line with both answers to this JSON-lines file")
    args = ap.parse_args()

    home = setup_home()
    env = base_env(home)
    # Our own process is the oracle: same HOME and environment as c9aws gets.
    for k in list(os.environ):
        if k not in env:
            del os.environ[k]
    os.environ.update(env)
    try:
        if args.self_test:
            self_test()
            return 0
        if not args.c9aws:
            ap.error("--c9aws is required")
        return run(args, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args, env):
    t0 = time.time()
    c9aws = os.path.abspath(args.c9aws)
    oracle = Oracle()
    major = oracle.major
    if args.aws:
        aws = args.aws
    elif major == 1:
        aws = shutil.which("aws")
    else:
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
    if not aws or not os.path.exists(aws):
        sys.exit("cannot find the CLI v%d `aws` (use --aws)" % major)
    env = dict(env, C9AWS_AWS=aws)

    corpus, dropped = build_corpus(oracle.examples_dir)
    items = corpus + generated(corpus, major, args.generated)
    if args.limit:
        items = items[: args.limit]
    for it in items:
        it["cli"] = oracle.run(it["argv"], it["env"])
    t1 = time.time()

    # One call first: c9aws may run `aws --version` once and cache it.
    warm = run_c9aws(c9aws, ["sts", "get-caller-identity"], env, timeout=120)
    if "_crash" in warm:
        print("c9aws does not answer: %s" % warm["_crash"])
        return 2
    if str(warm.get("cli_major")) not in (str(major), "v%d" % major, "V%d" % major):
        print("warning: c9aws says cli_major %r, the oracle is awscli %s"
              % (warm.get("cli_major"), oracle.version))

    def job(it):
        return run_c9aws(c9aws, it["argv"], dict(env, **it["env"]))

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        ours = list(pool.map(job, items))
    t2 = time.time()

    if args.dump:
        with open(args.dump, "w") as f:
            for it, o in zip(items, ours):
                f.write(json.dumps({"id": miss_id(major, it), "argv": it["argv"], "env": it["env"],
                                    "origin": it["origin"], "cli": it["cli"], "c9aws": o}) + "\n")
    known = known_misses(major)
    failed = []
    for it, o in zip(items, ours):
        d = compare(it["cli"], o)
        if d:
            failed.append((it, o, d))
    unlisted = []
    for n, (it, o, d) in enumerate(failed):
        mid = miss_id(major, it)
        listed = mid in known
        if not listed:
            unlisted.append(mid)
        if n < args.show:
            print("MISS v%d %s%s  aws %s" % (major, mid, "" if listed else " (not listed)",
                                            shlex.join(it["argv"])))
            if it["env"]:
                print("    env:   %s" % " ".join("%s=%s" % kv for kv in sorted(it["env"].items())))
            print("    from:  %s" % it["origin"])
            print("    cli:   %s" % fmt_cli(it["cli"]))
            print("    c9aws: %s" % fmt_ours(o))
            print("    diff:  %s" % "; ".join(d))
    if len(failed) > args.show:
        print("... %d more misses not shown" % (len(failed) - args.show))

    total = len(items)
    passed = total - len(failed)
    rate = passed / total if total else 0.0
    statuses = {}
    for it in items:
        statuses[it["cli"]["status"]] = statuses.get(it["cli"]["status"], 0) + 1
    print("awscli %s: %d lines (%d corpus from examples, %d dropped for shell constructs, "
          "%d generated); CLI outcomes %s; oracle %.1fs, c9aws %.1fs"
          % (oracle.version, total, len(corpus), dropped, total - len(corpus),
             ", ".join("%s %d" % kv for kv in sorted(statuses.items())), t1 - t0, t2 - t1))
    corpus_failed = sum(1 for it, _, _ in failed if it["origin"].startswith("corpus "))
    print("examples corpus alone: %d of %d match (%.4f %%)"
          % (len(corpus) - corpus_failed, len(corpus),
             100.0 * (len(corpus) - corpus_failed) / max(1, len(corpus))))
    print("%d passed, %d failed" % (passed, len(failed)))
    print("match rate %.4f %% (target %.1f %%)" % (100.0 * rate, 100.0 * TARGET_RATE))
    missed_ids = {miss_id(major, it) for it, _, _ in failed}
    stale = sorted(known - missed_ids)
    if stale and not args.limit:
        print("note: %d entries of %s no longer miss (delete them): %s"
              % (len(stale), os.path.relpath(KNOWN_MISSES), " ".join(stale)))
    ok = True
    if rate < TARGET_RATE:
        print("FAIL: match rate under %.1f %%" % (100.0 * TARGET_RATE))
        ok = False
    if unlisted:
        print("FAIL: %d misses not listed in %s: %s" % (len(unlisted), os.path.relpath(KNOWN_MISSES),
                                                      " ".join(unlisted[:50])))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
