"""Prints what template.yaml grants each function, for the IAM-vs-ports test
(shared/lambda/tests/aws.rs): {logical id: {"binary": ..., "grants": [[action, resource], ...]}}.

A resource is named by the template's logical id: `!GetAtt Table.Arn` is `Table`,
`!Sub "${Table.Arn}/index/*"` is `Table/index/*`, `!Ref WebhookKeysSecretArn` is
`WebhookKeysSecretArn`. The KMS statement every function carries under `HasKmsKey` (decrypting
what the customer-managed key encrypts, whichever port reads it) is left out: it follows from the
deployment's key, not from a port.

Usage: policies.py [template.yaml]
"""

import json
import re
import sys

from cfnlint.decode import cfn_yaml


def resource_name(node):
    if isinstance(node, dict):
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return name
        if "Ref" in node:
            return node["Ref"]
        if "Fn::Sub" in node:
            text = node["Fn::Sub"]
            m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}(.*)", text)
            if m:
                return m.group(1) + m.group(2)
    raise SystemExit(f"unreadable resource {node!r}")


def as_list(v):
    return v if isinstance(v, list) else [v]


def statements(policy):
    for s in as_list(policy.get("Statement", [])):
        if isinstance(s, dict) and "Fn::If" in s:
            continue  # the KMS statement (HasKmsKey)
        yield s


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    template = json.loads(json.dumps(cfn_yaml.load(path), default=str))
    out = {}
    for name, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        grants = set()
        for policy in as_list(res.get("Properties", {}).get("Policies", [])):
            for s in statements(policy):
                if s.get("Effect") != "Allow":
                    raise SystemExit(f"{name}: only Allow statements are expected")
                for action in as_list(s["Action"]):
                    for r in as_list(s["Resource"]):
                        grants.add((action, resource_name(r)))
        out[name] = {
            "binary": res["Metadata"]["BuildProperties"]["Binary"],
            "grants": sorted(grants),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
