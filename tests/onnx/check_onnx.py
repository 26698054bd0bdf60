"""Checks every model of <dir>/cases.json with the onnx package: onnx.checker (full check, with
shape inference) and the inferred output shape (batch, outputs)."""
import json
import os
import sys

import onnx

def main(directory):
    cases = json.load(open(os.path.join(directory, "cases.json")))
    failed = 0
    for case in cases:
        model = onnx.load(os.path.join(directory, case["model"]))
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        out = inferred.graph.output[0]
        dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
        expected = ["batch", len(case["expected"][0])]
        ok = (out.name == "logits" and dims == expected and
              model.opset_import[0].version == 13 and
              [i.name for i in model.graph.input] == ["input"])
        print(("ok  " if ok else "FAIL"), case["model"], dims)
        failed += not ok
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed or not cases else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
