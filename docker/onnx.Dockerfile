# A slim CPU image of `rerankit serve onnx/...`: ONNX Runtime, no torch, no transformers.
#
#   rerankit export-onnx cross-encoder/ms-marco-MiniLM-L6-v2 ./model     # where torch is installed
#   docker build -f docker/onnx.Dockerfile -t rerankit-onnx .
#   docker run -p 8000:8000 -v "$PWD/model:/model:ro" rerankit-onnx
#
# Serves the exported directory mounted at /model (or any hub id: docker run ... rerankit-onnx
# onnx/cross-encoder/ms-marco-MiniLM-L6-v2, with HF_HUB_OFFLINE=0). See docs/backends/onnx.md.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

WORKDIR /src
COPY pyproject.toml README.md ./
COPY integrations ./integrations
RUN pip install ".[onnx,serve]" && rm -rf /src

RUN useradd --create-home rerankit
USER rerankit
EXPOSE 8000
ENTRYPOINT ["rerankit", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["onnx//model"]
