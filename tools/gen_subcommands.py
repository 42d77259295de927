#!/usr/bin/env python3
"""Writes data/subcommands-v1.tsv or -v2.tsv: for every top-level command of the CLI
this Python runs, the subcommand names its parser accepts (service operations,
`wait`, customizations, `help`). One line per command: name<TAB>op op op…
A command whose line is `name<TAB>*` takes no subcommand choice (its parser
accepts any positional). Taken from the CLI's own command tables.

  python3 tools/gen_subcommands.py                    # CLI v1
  /opt/awscli-v2/bin/python tools/gen_subcommands.py  # CLI v2
"""
import os
import sys
import tempfile

os.environ["HOME"] = tempfile.mkdtemp()  # no user aliases or plugins
os.environ["AWS_CONFIG_FILE"] = os.devnull
import awscli
from awscli import clidriver

major = awscli.__version__.split(".")[0]
driver = clidriver.create_clidriver()
table = driver._get_command_table()
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", f"subcommands-v{major}.tsv")
lines = []
for name in sorted(table):
    cmd = table[name]
    ops = None
    if isinstance(cmd, clidriver.ServiceCommand):
        ops = list(cmd._get_command_table().keys())
    else:
        sub = getattr(cmd, "subcommand_table", None)
        if sub:
            ops = list(sub.keys())
    if ops is None:
        lines.append(f"{name}\t*")
    else:
        # `help` is accepted as the subcommand everywhere.
        ops = sorted(set(ops) | {"help"})
        lines.append(f"{name}\t{' '.join(ops)}")
with open(out, "w") as f:
    f.write(f"# awscli {awscli.__version__}: command<TAB>subcommands accepted (space separated; * = any)\n")
    f.write("\n".join(lines) + "\n")
print(out, len(lines))
