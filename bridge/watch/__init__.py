"""Watching DAW projects: recognise saves, debounce them, and run one job per project.

- :mod:`bridge.watch.saves`: which file events are project saves (and which are backups,
  temporaries or the bridge's own writes),
- :mod:`bridge.watch.events`: the debouncer that turns a burst of events into one save,
- :mod:`bridge.watch.observer`: watchdog on the project folders,
- :mod:`bridge.watch.jobs`: the one-worker job queue and the incremental labelling job.
"""
