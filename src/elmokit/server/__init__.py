"""``elmokit serve``: an HTTP embedding service (FastAPI + uvicorn) with micro-batching.

>>> from elmokit.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(model="allennlp-tiny"))   # ASGI app; the model loads
...                                                            # in the lifespan, once

Modules: ``settings`` (limits, timeouts and knobs), ``schemas`` (request/response models),
``app`` (the app factory and lifespan), ``routes`` (the endpoints), ``deps`` (auth,
readiness, request parsing, limits), ``formats`` (JSON / .npy answers), ``errors`` (the one
error shape), ``middleware`` (body size and time guard, metrics), ``batching`` (dynamic
micro-batching off the event loop), ``metrics`` (Prometheus), ``protocol`` (uvicorn's HTTP
protocol with head and write timeouts), ``launch`` (``run_server``; the click command is
``elmokit.cli.serve``).
"""

from elmokit.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    # Lazy, so importing the settings does not import FastAPI.
    if name == "create_app":
        from elmokit.server.app import create_app

        return create_app
    raise AttributeError(name)
