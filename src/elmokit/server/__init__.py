"""``elmokit serve``: an HTTP embedding service (FastAPI + uvicorn) with micro-batching.

>>> from elmokit.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(model="allennlp-tiny"))   # ASGI app; the model loads
...                                                            # in the lifespan, once

Modules: ``settings`` (limits and knobs), ``schemas`` (request/response models),
``batching`` (dynamic micro-batching off the event loop), ``metrics`` (Prometheus),
``app`` (the app factory, routes, errors), ``cli`` (the click command).
"""

from elmokit.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    # Lazy, so importing the settings does not import FastAPI.
    if name == "create_app":
        from elmokit.server.app import create_app

        return create_app
    raise AttributeError(name)
