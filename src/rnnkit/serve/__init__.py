"""``rnnkit serve``: trained runs behind a JSON API with micro-batching, limits and a page per run.

Needs the ``serve`` extra (FastAPI, uvicorn)::

    import rnnkit as rk
    from rnnkit.serve import create_app
    app = create_app({"imdb": rk.load("runs/imdb")})   # any ASGI server runs it; rnnkit serve uses uvicorn
"""

from .app import create_app
from .limits import ServeLimits
from .runs import load_runs, run_names

__all__ = ["ServeLimits", "create_app", "load_runs", "run_names"]
