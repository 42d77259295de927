#!/usr/bin/env python3
"""Writes data/endpoint-ids-v1.tsv or -v2.tsv: botocore service name -> the id botocore
uses for configured endpoints (AWS_ENDPOINT_URL_<ID> upper-cased, [services] key lower-cased).

Run with the Python of the CLI whose data you want:
  python3 tools/gen_endpoint_ids.py                    # CLI v1 on PATH's python
  /opt/awscli-v2/bin/python tools/gen_endpoint_ids.py  # CLI v2's venv
The ids come from botocore's own ConfiguredEndpointProvider, never from a rule of ours.
"""
import os
import sys

try:
    from awscli.botocore import session as bsession  # CLI v2 vendors botocore
    from awscli.botocore.configprovider import ConfiguredEndpointProvider
    import awscli
    major = "v2"
    bver = "awscli.botocore"
except ImportError:
    import awscli
    from botocore import session as bsession
    from botocore.configprovider import ConfiguredEndpointProvider
    import botocore
    major = "v1"
    bver = "botocore " + botocore.__version__

s = bsession.get_session()
names = sorted(s.get_available_services())
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", f"endpoint-ids-{major}.tsv")
with open(out, "w") as f:
    f.write(f"# awscli {awscli.__version__} {bver}: service<TAB>configured-endpoint id\n")
    for n in names:
        p = ConfiguredEndpointProvider(full_config={}, scoped_config={}, client_name=n, environ={})
        f.write(f"{n}\t{p._transformed_service_id}\n")
print(out, len(names))
