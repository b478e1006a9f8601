"""From a raw run folder to tables, charts and a report; reads files only, never runs anything.

Data flows one way, each step a module with one job:

    runformat (read, shape-check, migrate) -> load (Run, Cell) -> cell (one cell's numbers)
      -> tidy (the frame) -> aggregate (repeats, once) -> ranking, saturation
      -> analyze (the Analysis: all of the above, computed once)
      -> tables (CSV), charts (PNG), problems, report (HTML)

Thresholds and flag rules: flags. Column orders: columns. Histogram and
latency-record numbers: hist. Resource samples: samples. Statistics: stats.
"""
