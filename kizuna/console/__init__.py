"""The admin console: a web UI and its REST API under /v2/console, on `console.port` (7351).

The console is a transport, like kizuna/api: it parses, authorises and calls core/ and ops/.
- `app.py` builds the aiohttp application (its own listener, separate from the game API):
  errors in Nakama's shape, authentication for every route but sign-in, the audit record of every
  change, and the routes of each area module (AREAS).
- `auth.py`: the operator's sign-in (console.username / console.password), console tokens signed
  with console.signing_key, HTTP Basic, and the lock-out after repeated failures.
- `pages.py`: server-rendered pages (Jinja2 templates in templates/), signed in by a cookie that
  holds the console token. Pages read through the same functions as the API; every change a page
  makes goes through the REST API (static/console.js sends the form as JSON with the token).
- One module per area (status, accounts, storage, ...), each with `register(app)` adding its API
  routes and pages; `areas.py` lists them and the navigation.
"""

