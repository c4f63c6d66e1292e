def handler(event, context):
    """Raises: the call answers 500, the traceback is in the log, the next call works."""
    raise ValueError("something went wrong in the function")
