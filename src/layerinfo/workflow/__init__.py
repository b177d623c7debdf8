"""What only the workflow needs: config validation and run lists (``config``), job logging
(``jobs``), device choice (``devices``), container recipe checks (``recipes``) and the
kill-and-resume check (``killtest``). Imported by scripts, rules and tests, never by the science.
"""
