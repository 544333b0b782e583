"""Verifies and signs webhooks with the maintained `standardwebhooks` library (PyPI), not with the
service's code: the interop test of tests/interfaces.rs runs it as an agency integrator would.

    standard_webhooks.py verify WHSEC   stdin: {"headers": {...}, "body": "..."}; exit 0 if valid
    standard_webhooks.py sign WHSEC ID  stdin: the body; prints the three headers as JSON
"""
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    mode, secret = sys.argv[1], sys.argv[2]
    wh = Webhook(secret)
    if mode == "verify":
        message = json.load(sys.stdin)
        try:
            wh.verify(message["body"], message["headers"])
        except WebhookVerificationError as e:
            print(f"refused: {e}")
            return 1
        print("verified")
        return 0
    if mode == "sign":
        msg_id = sys.argv[3]
        body = sys.stdin.read()
        now = datetime.now(tz=timezone.utc)
        print(json.dumps({
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": wh.sign(msg_id, now, body),
        }))
        return 0
    print(f"unknown mode {mode}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
