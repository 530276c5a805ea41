"""The dashboard: static files (HTML, CSS, JavaScript modules) served by the API at ``/``.

No build step and nothing from the internet: the page, its styles and its charts (SVG drawn by
the page's own code) are files of this package, so werk's dashboard works on a plant network
without outside access.
"""

from pathlib import Path

STATIC = Path(__file__).with_name("static")
