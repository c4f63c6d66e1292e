import yaml


def handler(event, context):
    """Answer the request body, parsed as YAML, as JSON."""
    data = event['data']
    if isinstance(data, bytes):
        data = data.decode('utf-8')
    if isinstance(data, str):
        return yaml.safe_load(data) or {}
    return {'yaml': yaml.safe_dump(data)}
