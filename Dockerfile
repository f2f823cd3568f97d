# elmokit embedding service: CPU-only torch, non-root, health-checked.
#   docker build -t elmokit-serve .
#   docker run --rm -p 127.0.0.1:8000:8000 -v $PWD/key.txt:/run/secrets/elmokit_key:ro \
#       elmokit-serve --host 0.0.0.0 --port 8000 --api-key-file /run/secrets/elmokit_key
# (Inside the container the server must bind 0.0.0.0; publish the port on 127.0.0.1 or put
# it behind a proxy, and give it an API key when others can reach it.)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# CPU torch first, from the CPU wheel index: the default index would pull a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /build
# .dockerignore keeps this to pyproject.toml, README.md and src/.
COPY . .
RUN pip install ".[serve]"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ELMOKIT_OFFLINE=1
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/elmokit elmokit
USER elmokit
WORKDIR /home/elmokit
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["elmokit", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
