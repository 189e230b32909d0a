"""The torch-free ``onnx/`` backend; these tests also run in an environment without torch."""
