# One image for every Carnation process (web, worker, beat, migrate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system carnation && useradd --system --gid carnation --home /app carnation
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflow ./workflow
COPY tasks ./tasks
COPY web ./web
COPY config ./config
RUN pip install . && mkdir -p /app/instance && chown carnation:carnation /app/instance
USER carnation
EXPOSE 5000
CMD ["carnation", "web", "--port", "5000"]
