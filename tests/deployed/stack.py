"""Deploys the real template.yaml into moto's server, as `sam deploy` would, for the deployed-shape
test (tests/deployed.rs).

The template is packaged (each function's CodeUri replaced by an S3 object, as `sam package`
does) and transformed by the AWS SAM translator — the library CloudFormation's
AWS::Serverless-2016-10-31 transform is built from — then created as a CloudFormation stack in
moto. What the stack made is read back from moto: each function's environment as CloudFormation
resolved it, and its execution role, which this script assumes to hand the function the role's
credentials. Two things moto cannot do are left to the test and said here: it does not run the
functions (the test runs the real binaries under a Lambda runtime API), and the SQS event source
mappings are dropped from the stack (moto would try to invoke the functions in Docker; the test
plays the mapping: receive, invoke, delete what the function did not report failed).

Usage: stack.py <moto url> <webhook keys file> <parameters json>   (prints the stack as JSON)
"""

import io
import json
import sys
import zipfile

import boto3
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.translator import Translator

REGION = "cn-northwest-1"
ARTIFACTS = "newborn-deploy-artifacts"
STACK = "newborn"


def client(name, url):
    return boto3.client(
        name,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def plain(value):
    """cfn-lint's YAML nodes as plain dicts, lists and strings."""
    return json.loads(json.dumps(value, default=str))


def main():
    url, keys_file, parameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    secrets, s3, cfn = client("secretsmanager", url), client("s3", url), client("cloudformation", url)
    lam, sts, iam = client("lambda", url), client("sts", url), client("iam", url)

    # What the deploy guide has the operator make before the stack: the webhook-keys secret.
    with open(keys_file, encoding="utf-8") as f:
        secret = secrets.create_secret(Name="newborn/webhook-keys", SecretString=f.read())
    parameters["WebhookKeysSecretArn"] = secret["ARN"]

    # `sam package`: every function's code as an S3 object (the test runs the real binaries; the
    # object only has to exist for CloudFormation to create the function).
    template = plain(cfn_yaml.load("template.yaml"))
    s3.create_bucket(
        Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    binaries = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        binaries[name] = binary
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("bootstrap", f"#!/bin/sh\n# {binary}: run by the test\n")
        s3.put_object(Bucket=ARTIFACTS, Key=f"{binary}.zip", Body=archive.getvalue())
        resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/{binary}.zip"

    # The translator, as CloudFormation runs it: in the stack's region and partition (aws-cn).
    loader = ManagedPolicyLoader(client("iam", url))
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    translated = Translator(None, Parser(), boto_session=session).translate(
        template, parameter_values=dict(parameters), get_managed_policy_map=loader.load
    )
    dropped = [
        name
        for name, r in list(translated["Resources"].items())
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    for name in dropped:
        del translated["Resources"][name]

    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        sys.exit(f"stack {stack['StackStatus']}: {json.dumps(events, default=str)[:4000]}")
    resources = {
        r["LogicalResourceId"]: r
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }

    functions = {}
    for name, binary in binaries.items():
        physical = resources[name]["PhysicalResourceId"]
        config = lam.get_function_configuration(FunctionName=physical)
        role = config["Role"]
        creds = sts.assume_role(RoleArn=role, RoleSessionName=binary)["Credentials"]
        functions[binary] = {
            "logical_id": name,
            "function_name": physical,
            "environment": config.get("Environment", {}).get("Variables", {}),
            "memory": config.get("MemorySize", 256),
            "timeout": config.get("Timeout", 30),
            "role": role,
            "credentials": {
                "access_key_id": creds["AccessKeyId"],
                "secret_access_key": creds["SecretAccessKey"],
                "session_token": creds["SessionToken"],
            },
        }

    # The test itself (playing the event source mappings and the operator) as an IAM user with
    # every permission: once authentication is on, only IAM identities are let in.
    iam.create_user(UserName="deployed-test")
    iam.put_user_policy(
        UserName="deployed-test",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="deployed-test")["AccessKey"]
    queues = {
        name: resources[name]["PhysicalResourceId"]
        for name, r in translated["Resources"].items()
        if r["Type"] == "AWS::SQS::Queue"
    }
    json.dump(
        {
            "functions": functions,
            "queues": queues,
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "dropped": dropped,
            "resource_types": sorted({r["Type"] for r in translated["Resources"].values()}),
            "operator": {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]},
        },
        sys.stdout,
        indent=1,
    )


if __name__ == "__main__":
    main()
