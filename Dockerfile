# cac on CPU. Build: docker build -t cac .   Run: docker run --rm cac codes search "lap chole"
# Serve: docker run --rm -p 8000:8000 cac serve --host 0.0.0.0 --port 8000
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 CAC_HOME=/var/lib/cac
WORKDIR /app

# torch first and pinned. Put a CPU torch wheel in ./wheels (as on our dev machines) to avoid a
# multi-GB CUDA build; an empty ./wheels falls back to the package index.
COPY wheels/ /wheels/
RUN pip install --find-links /wheels "torch==2.13.0"
COPY pyproject.toml README.md constraints.txt ./
COPY cac ./cac
COPY eval ./eval
COPY models ./models
RUN pip install -c constraints.txt -e . && cac kb build

EXPOSE 8000

ENTRYPOINT ["cac"]
CMD ["--help"]
