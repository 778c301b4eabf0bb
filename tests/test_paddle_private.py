"""Every private Paddle name hubtrain uses still exists: an upgrade that removes one fails here,
naming it, before anything else breaks in a stranger way."""
import paddle
import pytest
from paddle.hapi import model as hapi_model
from paddle.static import InputSpec

from hubtrain.compat import paddle_private


def _holder(where):
    if where == "paddle.Model instance":
        model = paddle.Model(paddle.nn.Linear(2, 2), [InputSpec([None, 2], "float32", "x")])
        return model
    if where == "paddle.optimizer.Optimizer instance":
        return paddle.optimizer.SGD(0.1, parameters=paddle.nn.Linear(2, 2).parameters())
    return {"paddle.Model": paddle.Model, "paddle.hapi.model": hapi_model, "paddle": paddle}[where]


@pytest.mark.parametrize("where,name", paddle_private.NAMES)
def test_private_name_exists(where, name):
    assert hasattr(_holder(where), name), (
        f"Paddle {paddle.__version__} has no {where}.{name}, which hubtrain/compat/paddle_private.py uses: "
        f"rewrite the function there that uses it.")


def test_every_private_name_used_is_listed():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(paddle_private))
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")}
    assert used == {name for _, name in paddle_private.NAMES}
