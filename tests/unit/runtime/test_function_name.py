"""context['function-name'] is what Kubeless gives: the handler's function name."""

from kubeless_runtime.runtime.config import from_env
from kubeless_runtime.runtime.worker import function_context


def test_function_name_is_the_handlers_name_not_the_deployments():
    config = from_env({"MOD_NAME": "hello", "FUNC_HANDLER": "foo", "FUNC_NAME": "my-deployment",
                       "KUBELESS_FUNC_NAME": "my-deployment"})
    assert config.context["function-name"] == "foo"

    def real_name(event, context):
        return None

    # Kubeless's Python runtime gives func.__name__: an alias exported as FUNC_HANDLER keeps
    # the name it was defined with.
    assert function_context(config, real_name)["function-name"] == "real_name"
    assert function_context(config, object())["function-name"] == "foo"
