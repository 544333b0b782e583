"""moto's server with IAM enforcement that checks resources, for the deployed-shape test.

moto can authenticate requests and evaluate the caller's IAM policies (switched on at run time
with POST /moto-api/reset-auth), but for most services it asks about resource "*", so a
statement scoped to a table, queue or secret ARN — as every statement of template.yaml is —
would never match, and it asks about the API operation, where IAM asks about the action that
authorises it (TransactWriteItems is authorised item by item by PutItem, UpdateItem, DeleteItem
and ConditionCheckItem on each item's table; SendMessageBatch by SendMessage). This launcher
fills in what IAM evaluates for the operations the functions call on DynamoDB, SQS and Secrets
Manager, then runs moto's own server. S3 requests keep moto's own resource-level check; for a
presigned URL (which moto would fail on, having no Authorization header) the permission of the
identity that signed it is checked, as S3 does, but not the signature itself.

Usage: moto_iam.py -p <port>   (the arguments of moto_server)
"""

import json
import sys
from urllib.parse import parse_qs, urlparse

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import AssumedRoleAccessKey, IAMRequest, S3IAMRequest

PARTITION = "aws-cn"


def table_arn(region, account, table, index=None):
    arn = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def dynamodb_checks(action, body, region, account):
    if action == "TransactWriteItems":
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
        return [
            (kinds[kind], table_arn(region, account, item[kind]["TableName"]))
            for item in body.get("TransactItems", [])
            for kind in item
        ]
    if action == "TransactGetItems":
        return [("GetItem", table_arn(region, account, i["Get"]["TableName"])) for i in body.get("TransactItems", [])]
    # The batch operations are IAM actions of their own, on each table they name.
    if action in ("BatchWriteItem", "BatchGetItem"):
        return [(action, table_arn(region, account, t)) for t in body.get("RequestItems", {})]
    if "TableName" in body:
        return [(action, table_arn(region, account, body["TableName"], body.get("IndexName")))]
    return [(action, "*")]


def sqs_checks(action, body, region, account):
    batched = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
               "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
    url = body.get("QueueUrl")
    if not url:
        return [(action, "*")]
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return [(batched.get(action, action), f"arn:{PARTITION}:sqs:{region}:{account}:{name}")]


def secretsmanager_checks(action, body, region, account):
    secret = body.get("SecretId", "")
    if secret.startswith("arn:"):
        return [(action, secret)]
    from moto.secretsmanager.models import secretsmanager_backends

    found = secretsmanager_backends[account][region].secrets.get(secret)
    return [(action, found.arn if found else "*")]


CHECKS = {"dynamodb": dynamodb_checks, "sqs": sqs_checks, "secretsmanager": secretsmanager_checks}


def authorize(self, resource="*"):
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    service = type(self).__module__.split(".")[1]
    action = self._get_action()
    checks = [(action, resource)]
    if service in CHECKS:
        body = self.body
        if not isinstance(body, dict):
            try:
                body = json.loads(body or b"{}")
            except ValueError:
                body = {}
        checks = CHECKS[service](action, body, self.region, self.current_account)
    path = self.uri
    first = True
    for action, resource in checks:
        request = IAMRequest(
            account_id=self.current_account, method=self.method, path=path, data=self.data,
            # The bytes that were signed (moto's DynamoDB handler has parsed self.body by now).
            body=getattr(self, "raw_body", self.body), headers=self.headers, action=action,
        )
        if first:
            request.check_signature()
            first = False
        request.check_action_permitted(resource)


ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize

_s3_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action


def s3_authorize(self, bucket_name=None, key_name=None):
    query = parse_qs(urlparse(self.uri).query)
    if "Authorization" in self.headers or "X-Amz-Credential" not in query:
        return _s3_authorize(self, bucket_name=bucket_name, key_name=key_name)
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    headers = dict(self.headers)
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={query['X-Amz-Credential'][0]}, SignedHeaders=host, Signature=-"
    )
    if "X-Amz-Security-Token" in query:
        headers["X-Amz-Security-Token"] = query["X-Amz-Security-Token"][0]
    target = f"{bucket_name or '*'}/{key_name}" if key_name else (bucket_name or "*")
    request = S3IAMRequest(
        account_id=self.current_account, method=self.method, path=self.uri, data=self.data,
        body=self.body, headers=headers, action=self._get_action(),
    )
    request.check_action_permitted(f"arn:{PARTITION}:s3:::{target}")


ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = s3_authorize

_collect = AssumedRoleAccessKey.collect_policies


def without_no_value(document):
    """A statement `!If [cond, ..., !Ref AWS::NoValue]` is removed by CloudFormation when the
    condition is false; moto's stack keeps it as null."""
    statements = document.get("Statement", [])
    if isinstance(statements, list):
        document = dict(document, Statement=[s for s in statements if s is not None])
    return document


def collect_policies(self):
    """A role's inline policies, as moto's evaluator reads them: CloudFormation stores them as
    parsed documents, the evaluator expects JSON text."""
    return [
        json.dumps(without_no_value(p)) if isinstance(p, dict) and "Statement" in p else p
        for p in _collect(self)
    ]


AssumedRoleAccessKey.collect_policies = collect_policies

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
