"""What one pass of a TFLite model costs, counted from its graph: the same on every machine.

Multiply-adds of the 2-D convolutions (plain and depthwise) and dense layers, from the
tensors' shapes: for the CNN classifiers this project runs, the rest is a rounding error
beside them (transposed and 3-D convolutions, batch matmuls are not counted). A decision
taken from this number (reuse: auto) cannot change with how busy the machine happens to be.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def multiply_adds(interpreter: Any) -> int | None:
    """Per pass, for a batch of one; None where the interpreter cannot list its ops."""
    try:
        ops = interpreter._get_ops_details()  # LiteRT, tflite-runtime and TensorFlow have it
    except Exception:  # a private API: missing or failing, the cost is unknown (reuse: off)
        return None
    shapes = {
        t["index"]: tuple(int(d) for d in t["shape"]) for t in interpreter.get_tensor_details()
    }
    total = 0
    for op in ops:
        name, inputs, outputs = op["op_name"], list(op["inputs"]), list(op["outputs"])
        if len(inputs) < 2 or not outputs or inputs[1] not in shapes:
            continue
        out = int(np.prod(shapes.get(outputs[0], (0,))))
        weights = shapes[inputs[1]]
        if name == "CONV_2D" and len(weights) == 4:  # (out_c, kh, kw, in_c)
            total += out * weights[1] * weights[2] * weights[3]
        elif name == "DEPTHWISE_CONV_2D" and len(weights) == 4:  # (1, kh, kw, out_c)
            total += out * weights[1] * weights[2]
        elif name == "FULLY_CONNECTED" and len(weights) == 2:  # (out, in)
            total += out * weights[1]
    return total
