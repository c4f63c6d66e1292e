import time


def handler(event, context):
    """Runs longer than its timeout: deploy with --timeout 3 and it answers 408."""
    time.sleep(10)
    return "too late"
