# One image for web and workers. A GPU host builds with TORCH_INDEX set to its CUDA wheel index, e.g.
#   docker compose build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
# bookworm: its postgresql-client is PostgreSQL 15's, the server's version (`manage.py backup` needs pg_dump).
FROM python:3.11-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0
COPY . .
RUN pip install -c constraints.txt -e . && DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput
# Not root: a path an import is given, or a bug, must not reach /etc/shadow. MEDIA_ROOT's volume takes this owner.
RUN useradd --create-home --uid 1000 lima && mkdir -p /data/media /app/var && chown -R lima /data /app/var
USER lima
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
