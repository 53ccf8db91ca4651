"""Record a session's market stream and time-dependent steps; replay them through the engine.

``codec.py`` (records <-> bytes), ``files.py`` (segments: framing, gzip, rotation, reading),
``recorder.py`` (the recording timeline and REST wrapper), ``replay_source.py`` (the replay
timeline, feed, REST and clock), ``replay.py`` (``laptop-agents replay``). docs/replay.md.
"""
