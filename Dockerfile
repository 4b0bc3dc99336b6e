# cac on CPU, installed from its wheel (no source tree in the image).
# Build: docker build -t cac .   Run: docker run --rm cac codes search "lap chole"
# Serve: docker run --rm -p 8000:8000 cac serve --host 0.0.0.0 --port 8000
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cac ./cac
COPY eval ./eval
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
# Everything cac reads or writes lives in these two places (README, "Where things live").
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 CAC_HOME=/var/lib/cac \
    CAC_MODELS_DIR=/opt/cac/models

# torch first and pinned. Put a CPU torch wheel in ./wheels (as on our dev machines) to avoid a
# multi-GB CUDA build; an empty ./wheels falls back to the package index.
COPY wheels/ /wheels/
RUN pip install --find-links /wheels "torch==2.13.0"
COPY constraints.txt /tmp/constraints.txt
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install -c /tmp/constraints.txt /tmp/dist/cac-*.whl && rm -rf /tmp/dist
COPY models /opt/cac/models
RUN cac kb build
WORKDIR /var/lib/cac

EXPOSE 8000

ENTRYPOINT ["cac"]
CMD ["--help"]
