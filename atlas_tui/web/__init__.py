"""The TUI in a web browser (`atlas-tui serve`, through textual-serve), and the rule every web
server of atlas-tui applies to a request before it answers it (`guard`, standard library only: the
web example uses it too).

- `guard`: which requests are answered: the served address only (DNS rebinding), no other origin,
  and the per-run token.
- `server`: textual-serve's server with that guard, a cap on app sessions, and a shutdown that
  ends every app it started.
- `apps`: the app processes of the browser sessions: counted, and stopped within a bound.
- `driver`: the app's side: textual's web driver, ending the app once the server's pipe is gone.
"""
