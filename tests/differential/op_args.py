"""Soundness check of c9aws's operation-argument check (core::op_args) against the CLI's own parsers.

For a random sample of service operations, random variants of a command line (required options
given or one dropped, optional ones, unique abbreviations, unknown options, stray and empty words,
negative numbers, an option without its value) are parsed by the CLI's real parsers, in the CLI's
order (MainArgParser, ServiceArgParser, the operation's ArgTableArgParser with its `help`
positional, then `Unknown options` for anything left: ServiceOperation.__call__), and compared
with `c9aws explain --json`'s kind. A `fails` where the CLI's parsers do not stop is a false
verdict: any makes the run exit 1. Lines where a global option took a word are left out.

  python3 tests/differential/op_args.py target/release/c9aws $(command -v aws) 800 2
  /opt/awscli-v2/bin/python tests/differential/op_args.py target/release/c9aws /opt/awscli-v2/bin/aws 800 3
  (c9aws, the CLI it should measure, operations sampled, random seed)
"""
import os, sys, json, random, subprocess, tempfile
os.environ["HOME"] = tempfile.mkdtemp(); os.environ["AWS_CONFIG_FILE"] = os.devnull
import awscli
from awscli.clidriver import create_clidriver, ServiceCommand, ServiceOperation
from awscli.argparser import ArgTableArgParser
c9aws, aws, n_ops, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
driver = create_clidriver()
table = driver._get_command_table()
ops = []
for name in sorted(table):
    cmd = table[name]
    if isinstance(cmd, ServiceCommand):
        for op_name, op in cmd._get_command_table().items():
            if type(op).__call__ is ServiceOperation.__call__ and not getattr(op, "subcommand_table", None):
                ops.append((name, op_name, op))
sample = rnd.sample(ops, n_ops)

def cli_stops(cmd, op_name, op, args):
    parser = ArgTableArgParser(op.arg_table)
    op._add_help(parser)
    import io, contextlib
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            main = driver._create_parser(table) if hasattr(driver, "_create_parser") else driver.create_parser(table)
            g, rest = main.parse_known_args([cmd, op_name, *args])
            if g.region == "v" or g.profile is not None or g.debug:
                return None  # a global option took a word: not comparable
            sp = table[cmd]._create_parser() if hasattr(table[cmd], "_create_parser") else table[cmd].create_parser()
            sg, rest = sp.parse_known_args(rest)
            if sg.operation != op_name:
                return None
            ns, rem = parser.parse_known_args(list(rest))
    except Exception as e:
        if type(e).__name__ in ("ArgParseException",):
            return True
        raise
    except SystemExit:
        return True
    if ns.help == "help":
        return False
    if ns.help:
        rem.append(ns.help)
    return bool(rem)

def variants(op):
    parser = ArgTableArgParser(op.arg_table)
    acts = [a for a in parser._actions if a.option_strings and a.option_strings[0] not in
            ("--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton")]
    names = [a.option_strings[0] for a in acts]
    def give(a, name=None):
        name = name or a.option_strings[0]
        if a.nargs == 0: return [name]
        if a.nargs in ("*", "+"): return [name] + ["v"] * rnd.randint(1, 3)
        if a.nargs == "?": return [name] + ["v"] * rnd.randint(0, 1)
        return [name, rnd.choice(["v", "-1", "a=b", "{\"k\": 1}", "x y"])]
    def abbrev(name):
        for k in range(3, len(name) + 1):
            p = name[:k]
            if sum(1 for n in names + ["--cli-input-json", "--generate-cli-skeleton", "--cli-input-yaml"] if n.startswith(p)) == 1:
                return p
        return name
    req = [a for a in acts if a.required]
    opt = [a for a in acts if not a.required]
    out = []
    base = []
    for a in req: base += give(a)
    out.append(base)
    for _ in range(2):
        line = []
        chosen = req + rnd.sample(opt, min(len(opt), rnd.randint(0, 3)))
        rnd.shuffle(chosen)
        for a in chosen:
            line += give(a, abbrev(a.option_strings[0]) if rnd.random() < 0.3 else None)
        out.append(line)
    if req:
        drop = rnd.choice(req); line = []
        for a in req:
            if a is not drop: line += give(a)
        out.append(line)
    out.append(base + ["--zz-nosuch", "v"])
    out.append(base + ["stray"])
    out.append(["stray"] + base)
    if opt:
        a = rnd.choice(opt); out.append(base + give(a) + ["extra"])
        # a value-less use of a one-value option, an ambiguous prefix
        out.append(base + [a.option_strings[0]])
    out.append(base + ["--"[:2] + rnd.choice("abcdefghilmnoprstuvw")])
    out.append(base + ["-1"])
    out.append(base + [""])
    return out

env = dict(os.environ, C9AWS_AWS=aws, AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="us-east-1")
stats = {"lines": 0, "cli_stops": 0, "c9_fails": 0, "false_fails": 0, "misses": 0}
for cmd, op_name, op in sample:
    for args in variants(op):
        truth = cli_stops(cmd, op_name, op, args)
        if truth is None:
            continue
        p = subprocess.run([c9aws, "explain", "--json", "--", cmd, op_name, *args], env=env, capture_output=True)
        ours = json.loads(p.stdout)["kind"]
        stats["lines"] += 1
        stats["cli_stops"] += truth
        stats["c9_fails"] += ours == "fails"
        if ours == "fails" and not truth:
            stats["false_fails"] += 1
            print("FALSE FAIL", cmd, op_name, args, json.loads(p.stdout)["decision"]["reason"])
        if truth and ours != "fails":
            stats["misses"] += 1
print(awscli.__version__, stats)
sys.exit(1 if stats["false_fails"] else 0)
