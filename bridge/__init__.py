"""Studio Bridge: a studio assistant that writes its results into the DAW session."""

__version__ = "0.1.0"
