"""AudioLDM Bridge engine: model loading, sampling, DSP and output writing.

Nothing in this package imports Qt, OSC or MIDI libraries; the GUI and the DAW bridge build a
:class:`engine.request.RenderRequest` and hand it to :func:`engine.pipeline.render`.
"""

__version__ = "0.1.0"
