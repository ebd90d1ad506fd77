"""A Python function as it is deployed to Lambda: handler `handler.main`.

Module-level code runs once per execution environment (the init phase, the
cold start); `main` runs for every event, warm after the first."""

import json
import os

GREETING = os.environ.get("GREETING", "Hello")


def main(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"{GREETING}, {name}! (request {context.aws_request_id}, {context.memory_limit_in_mb} MB)")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"{GREETING}, {name}!", "function": context.function_name}),
    }
